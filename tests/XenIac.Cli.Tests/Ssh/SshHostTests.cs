using XenIac.Core.Config;
using XenIac.Hosts;
using XenIac.Hosts.Embedded;
using XenIac.Hosts.Remote;
using XenIac.Tests;

namespace XenIac.Cli.Tests.Ssh;

/// <summary>
/// ssh:// hosts through a real OpenSSH server on loopback and the tool under test as the remote xen-iac: two embedded
/// hosts behind it, a savefile moving from one to the other through this machine, a connection killed mid-save,
/// and a host nobody answers for.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class SshHostTests : IDisposable
{
    private readonly LoopbackSshd _sshd;
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-ssh-").FullName;

    public SshHostTests(SshdFixture sshd)
    {
        _sshd = sshd.Server;
        // What a user sets to point XenIac's ssh at a config (like GIT_SSH_COMMAND); only these tests connect over ssh.
        Environment.SetEnvironmentVariable(SshTarget.CommandVariable, sshd.Server.SshCommand);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string Folder(string name) => Path.Combine(_dir, name);

    private const string Config = """
        name = "web"
        type = "hvm"
        memory = 16
        vcpus = 1
        disk = [ '/srv/web.img,raw,xvda,rw' ]
        """;

    [SkippableFact]
    public async Task A_domain_created_on_A_is_saved_here_and_restored_on_B()
    {
        Skip.If(_sshd.SkipReason is not null, _sshd.SkipReason);
        await using var a = HostSpec.Parse(_sshd.Spec(Folder("A"))).Open();
        await using var b = HostSpec.Parse(_sshd.Spec(Folder("B"))).Open();
        Assert.StartsWith("ssh://xeniac-test?host=embedded:", a.Spec, StringComparison.Ordinal);

        var info = await a.GetHostInfoAsync();
        Assert.False(string.IsNullOrEmpty(info.XenVersion));
        await a.CreateAsync(ConfigText.FromText(Config));
        var local = Path.Combine(_dir, "here", "web.xlsave");
        Directory.CreateDirectory(Path.GetDirectoryName(local)!);
        var progress = new List<long>();
        var saved = await a.SaveAsync("web", local, new SaveOptions { Progress = new Progress<long>(v => { lock (progress) progress.Add(v); }) });
        Assert.True(File.Exists(local));
        Assert.True(saved.Bytes > 16 << 20, $"a 16 MiB domain's savefile holds its memory ({saved.Bytes} bytes)");

        var restored = await b.RestoreAsync(local, RestoreOptions.Default);
        Assert.Equal("web", restored.Domain.Name);
        Assert.Empty(await a.ListDomainsAsync());
        Assert.Equal(DomainState.Running, Assert.Single(await b.ListDomainsAsync()).State);
        Assert.Empty(RemoteTempFiles());
    }

    /// <summary>
    /// plan said "create + save" into a savefileDir not made yet; over ssh the apply created the domain and then
    /// failed its save ("the folder … does not exist"), where the embedded host made the folder.
    /// </summary>
    [SkippableFact]
    public async Task Apply_over_ssh_makes_the_manifests_savefile_folder_as_a_local_apply_does()
    {
        Skip.If(_sshd.SkipReason is not null, _sshd.SkipReason);
        var project = Folder("project");
        Directory.CreateDirectory(project);
        File.WriteAllText(Path.Combine(project, "web.cfg"), Config);
        File.WriteAllText(Path.Combine(project, "xen-iac.yaml"),
            $"defaults:\n  host: \"{_sshd.Spec(Folder("A"))}\"\n  savefileDir: saves\ndomains:\n  - name: web\n    config: web.cfg\n    state: saved\n");
        var apply = await CliRunner.RunAsync(["apply", "--auto-approve"], workingDirectory: project);
        Assert.True(apply.ExitCode == 0, apply.StdErr);
        Assert.True(File.Exists(Path.Combine(project, "saves", "web.xlsave")));
        Assert.Equal(0, (await CliRunner.RunAsync(["plan", "--detailed-exitcode"], workingDirectory: project)).ExitCode);
    }

    [SkippableFact]
    public async Task Killing_the_connection_mid_save_leaves_the_domain_running_and_no_file_anywhere()
    {
        Skip.If(_sshd.SkipReason is not null, _sshd.SkipReason);
        var folder = Folder("slow");
        // The remote embedded host writes at 8 MiB/s: the 16 MiB save takes two seconds, time to cut it.
        var spec = _sshd.Spec(folder, $"env {EmbeddedHostOptions.ThrottleVariable}=8 {_sshd.RemoteTool}");
        await using (var setup = HostSpec.Parse(_sshd.Spec(folder)).Open())
            await setup.CreateAsync(ConfigText.FromText(Config));

        var here = Path.Combine(_dir, "here");
        Directory.CreateDirectory(here);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = HostSpec.Parse(spec).Open();
        var save = host.SaveAsync("web", Path.Combine(here, "web.xlsave"),
            new SaveOptions { Progress = new Progress<long>(v => { if (v > 0) started.TrySetResult(); }) });
        await started.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(_sshd.KillConnections() > 0, "no sshd connection process to kill");

        var e = await Assert.ThrowsAsync<XenHostException>(() => save);
        Assert.Equal(XenHostError.Unavailable, e.Error);
        Assert.Contains(spec.Split('?')[0], e.Message, StringComparison.Ordinal);
        Assert.Contains("ssh exited with code 255", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);

        // The remote xen-iac saw its input end, cancelled the save and cleaned up; look at its folder directly.
        var embedded = EmbeddedHost.Open(folder);
        DomainInfo? domain = null;
        for (var i = 0; i < 200; i++)
        {
            domain = await embedded.FindDomainAsync("web");
            if (domain?.State == DomainState.Running && !RemoteTempFiles().Any()) break;
            await Task.Delay(100);
        }
        Assert.NotNull(domain);
        Assert.Equal(DomainState.Running, domain.State);
        Assert.Empty(RemoteTempFiles());
        Assert.Empty(Directory.EnumerateFileSystemEntries(here));
        await embedded.DisposeAsync();

        // The same host object connects anew on its next call (sshd's listener still runs).
        Assert.Equal(DomainState.Running, (await host.FindDomainAsync("web"))?.State);
    }

    private IEnumerable<string> RemoteTempFiles() =>
        Directory.EnumerateFileSystemEntries(_sshd.RemoteTemp).Where(e => e.Contains(XenHostServer.TempPrefix, StringComparison.Ordinal));

    [SkippableFact]
    public async Task A_closed_port_fails_with_one_line_naming_the_host_and_ssh()
    {
        Skip.If(_sshd.SkipReason is not null, _sshd.SkipReason);
        var port = ClosedPort();
        await using var host = HostSpec.Parse($"ssh://root@127.0.0.1:{port}").Open();
        var e = await Assert.ThrowsAsync<XenHostException>(() => host.ListDomainsAsync());
        Assert.Equal(XenHostError.Unavailable, e.Error);
        Assert.Contains($"ssh://root@127.0.0.1:{port}", e.Message, StringComparison.Ordinal);
        Assert.Contains("ssh exited with code 255", e.Message, StringComparison.Ordinal);
        Assert.Contains("Connection refused", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [SkippableFact]
    public async Task The_cli_reads_host_info_and_lists_domains_over_ssh_and_names_a_dead_host_in_one_error_line()
    {
        Skip.If(_sshd.SkipReason is not null, _sshd.SkipReason);
        var env = new Dictionary<string, string> { [SshTarget.CommandVariable] = _sshd.SshCommand };
        var spec = _sshd.Spec(Folder("cli"));
        Directory.CreateDirectory(Folder("cli"));
        var info = await CliRunner.RunAsync(["host", "info", "--host", spec, "--json"], environment: env);
        Assert.True(info.ExitCode == 0, info.StdErr);
        Assert.Contains("\"cpuVendor\"", info.StdOut, StringComparison.Ordinal);
        Assert.Contains("ssh://xeniac-test", info.StdOut, StringComparison.Ordinal);

        var created = await CliRunner.RunAsync(["domain", "create", "--host", spec, WriteConfig()], environment: env);
        Assert.True(created.ExitCode == 0, created.StdErr);
        var list = await CliRunner.RunAsync(["domain", "list", "--host", spec], environment: env);
        Assert.True(list.ExitCode == 0, list.StdErr);
        Assert.Contains("web", list.StdOut, StringComparison.Ordinal);

        var dead = await CliRunner.RunAsync(["domain", "list", "--host", $"ssh://root@127.0.0.1:{ClosedPort()}"], environment: env);
        Assert.Equal(1, dead.ExitCode);
        var line = Assert.Single(dead.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ssh://root@127.0.0.1:", line, StringComparison.Ordinal);
        Assert.Contains("Connection refused", line, StringComparison.Ordinal);
    }

    private string WriteConfig()
    {
        var path = Path.Combine(_dir, "web.cfg");
        File.WriteAllText(path, Config);
        return path;
    }

    private static int ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
