using System.Diagnostics;
using XenIac.Hosts.Remote;

namespace XenIac.Cli.Tests.Ssh;

/// <summary>
/// What stands behind ssh is not always xen-iac: $XENIAC_SSH set to a script plays a remote that prints something
/// else, and either ends or waits. The command must say which, promptly, with ssh's exit code where there is one.
/// </summary>
public sealed class FakeSshTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-fakessh-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private Dictionary<string, string> FakeSsh(string body)
    {
        var script = Path.Combine(_dir, "ssh");
        File.WriteAllText(script, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return new Dictionary<string, string> { [SshTarget.CommandVariable] = script };
    }

    [Fact]
    public async Task A_remote_without_xen_iac_is_quoted_with_ssh_s_exit_code()
    {
        var result = await CliRunner.RunAsync(["domain", "list", "--host", "ssh://somewhere"],
            environment: FakeSsh("echo 'bash: line 1: xen-iac: command not found'; exit 127"));
        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.StdErr.TrimEnd().Split('\n'));
        Assert.Contains("it wrote: 'bash: line 1: xen-iac: command not found'", line, StringComparison.Ordinal);
        // Not killed as a remote that hangs: it ended by itself, and its code says so.
        Assert.Contains("ssh exited with code 127", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_remote_that_writes_a_banner_and_waits_is_refused_at_once_and_stopped()
    {
        // It held the command until ssh ended (30 s here).
        var clock = Stopwatch.StartNew();
        var result = await CliRunner.RunAsync(["domain", "list", "--host", "ssh://somewhere"],
            environment: FakeSsh("printf 'Welcome to'; exec sleep 30"));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.StdErr.TrimEnd().Split('\n'));
        Assert.Contains("it wrote: 'Welcome to'", line, StringComparison.Ordinal);
        Assert.Contains("ssh was stopped", line, StringComparison.Ordinal);
    }
}
