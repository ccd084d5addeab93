using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Hosts.Embedded;
using XenIac.Hosts.Remote;
using XenIac.Hosts.Tests.Embedded;

namespace XenIac.Hosts.Tests.Remote;

/// <summary>
/// Every <see cref="IXenHost"/> operation through the protocol (client and server in this process over OS pipes),
/// against embedded hosts: what a local caller sees of a remote host, savefiles local to the caller.
/// </summary>
public sealed class RemoteHostTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-remote-").FullName;
    private EmbeddedHost _a = null!, _b = null!;
    private Loopback _toA = null!, _toB = null!;
    private string Temp => Path.Combine(_dir, "server-temp");

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(Temp);
        _a = EmbeddedHost.Open(Path.Combine(_dir, "a"));
        _b = EmbeddedHost.Open(Path.Combine(_dir, "b"));
        _toA = Loopback.Start(_a, Temp);
        _toB = Loopback.Start(_b, Temp);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _toA.DisposeAsync();
        await _toB.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static ConfigText Hvm(string name, int mib = 8) => ConfigText.FromText(EmbeddedHostTests.HvmConfig(name, mib));

    private sealed class Recorder : IProgress<long>
    {
        public List<long> Values { get; } = [];
        public void Report(long value) { lock (Values) Values.Add(value); }
    }

    [Fact]
    public async Task Info_list_find_create_pause_config_and_destroy_answer_as_the_host_does()
    {
        var info = await _toA.Client.GetHostInfoAsync();
        Assert.Equal(await _a.GetHostInfoAsync(), info);

        var created = await _toA.Client.CreateAsync(Hvm("web"));
        Assert.Equal("web", created.Name);
        Assert.Equal(DomainState.Running, created.State);
        Assert.Equal(8 * 1024, created.MemoryKiB);
        Assert.Equal((await _a.ListDomainsAsync()).Single(), Assert.Single(await _toA.Client.ListDomainsAsync()));

        await _toA.Client.PauseAsync("web");
        Assert.Equal(DomainState.Paused, (await _a.FindDomainAsync("web"))!.State);
        await _toA.Client.UnpauseAsync("web");
        Assert.Equal(DomainState.Running, (await _toA.Client.FindDomainAsync("web"))!.State);
        Assert.Null(await _toA.Client.FindDomainAsync("nothing"));

        var config = await _toA.Client.GetConfigAsync("web");
        Assert.Equal((await _a.GetConfigAsync("web")).Text, config.Text);
        Assert.Equal(SaveFileConfigFormat.Json, config.Language);

        await _toA.Client.DestroyAsync("web");
        Assert.Empty(await _a.ListDomainsAsync());
    }

    [Fact]
    public async Task Errors_come_back_typed_with_the_hosts_message()
    {
        var missing = await Assert.ThrowsAsync<XenHostException>(() => _toA.Client.DestroyAsync("ghost"));
        var local = await Assert.ThrowsAsync<XenHostException>(() => _a.DestroyAsync("ghost"));
        Assert.Equal(XenHostError.DomainNotFound, missing.Error);
        Assert.Equal(local.Message, missing.Message);

        await _toA.Client.CreateAsync(Hvm("web"));
        var twice = await Assert.ThrowsAsync<XenHostException>(() => _toA.Client.CreateAsync(Hvm("web")));
        Assert.Equal(XenHostError.DomainExists, twice.Error);
        // The connection still serves after errors.
        Assert.Single(await _toA.Client.ListDomainsAsync());
    }

    [Fact]
    public async Task A_save_on_A_lands_here_and_restores_on_B_with_the_same_memory()
    {
        await _toA.Client.CreateAsync(Hvm("web"));
        await _a.WriteMemoryAsync("web", 4096 * 3 + 5, "guest bytes"u8.ToArray());
        using var before = new MemoryStream();
        await _a.ReadMemoryAsync("web", before);

        var local = Path.Combine(_dir, "local", "web.xlsave");
        Directory.CreateDirectory(Path.GetDirectoryName(local)!);
        var saveProgress = new Recorder();
        var saved = await _toA.Client.SaveAsync("web", local, new SaveOptions { Progress = saveProgress });

        Assert.Equal(local, saved.SavefilePath);
        Assert.Equal(new FileInfo(local).Length, saved.Bytes);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(local));
        Assert.Equal(SaveFileConfigFormat.Json, saved.Header.ConfigFormat);
        Assert.Empty(await _a.ListDomainsAsync()); // a plain save destroys, once the file is here
        Assert.NotEmpty(saveProgress.Values);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Temp)); // the remote's copy is gone

        var restoreProgress = new Recorder();
        var restored = await _toB.Client.RestoreAsync(local, new RestoreOptions { Progress = restoreProgress });
        Assert.Equal("web", restored.Domain.Name);
        Assert.Equal(DomainState.Running, restored.Domain.State);
        Assert.False(restored.ConfigOverridden);
        Assert.Equal(saved.Bytes, restoreProgress.Values[^1]);
        using var after = new MemoryStream();
        await _b.ReadMemoryAsync("web", after);
        Assert.Equal(before.ToArray(), after.ToArray());
    }

    [Fact]
    public async Task A_checkpoint_keeps_the_domain_running_and_leave_paused_keeps_it_paused()
    {
        await _toA.Client.CreateAsync(Hvm("web"));
        var file = Path.Combine(_dir, "cp.xlsave");
        var fingerprint = "sha256:" + new string('c', 64);
        await _toA.Client.SaveAsync("web", file, new SaveOptions { Mode = SaveMode.Checkpoint, Fingerprint = fingerprint });
        Assert.Equal(DomainState.Running, (await _a.FindDomainAsync("web"))!.State);
        Assert.True(File.Exists(file));
        // The fingerprint crosses the connection and lands in the savefile written here.
        using (var reader = XenIac.Core.SaveFiles.SaveFileReader.Open(file))
            Assert.Equal(fingerprint, reader.Header.Fingerprint);

        await _toA.Client.SaveAsync("web", file, new SaveOptions { LeavePaused = true });
        Assert.Equal(DomainState.Paused, (await _a.FindDomainAsync("web"))!.State);

        // A checkpoint of a paused domain leaves it paused, as it was.
        await _toA.Client.SaveAsync("web", file, new SaveOptions { Mode = SaveMode.Checkpoint });
        Assert.Equal(DomainState.Paused, (await _a.FindDomainAsync("web"))!.State);
    }

    [Fact]
    public async Task A_streamed_restore_with_an_override_and_a_clone_reports_what_the_host_did()
    {
        await _a.CreateAsync(Hvm("web"));
        var file = Path.Combine(_dir, "web.xlsave");
        await _a.SaveAsync("web", file, SaveOptions.Default);

        await using (var stream = File.OpenRead(file))
        {
            var paused = await _toB.Client.RestoreAsync(stream, "a pipe", new RestoreOptions { Paused = true });
            Assert.Equal(DomainState.Paused, paused.Domain.State);
        }

        var pool = new MacPool();
        var clone = await _toB.Client.RestoreAsync(file, new RestoreOptions
        {
            Fixups = new CloneFixups { Name = "web-2", DiskPattern = CloneFixups.DefaultDiskPattern }, Macs = pool,
        });
        Assert.Equal("web-2", clone.Domain.Name);
        Assert.NotNull(clone.Cloned);
        Assert.Equal("web-2", clone.Cloned.Name);
        var mac = Assert.Single(clone.Cloned.Macs);
        Assert.StartsWith("00:16:3e:", mac, StringComparison.Ordinal);
        Assert.NotEqual("00:16:3e:01:02:03", mac);
        Assert.Equal("/srv/web-2-xvda.img", Assert.Single(clone.Cloned.Disks).To);
        Assert.NotEmpty(clone.Findings);
        Assert.Equal(2, (await _b.ListDomainsAsync()).Count);
    }

    [Fact]
    public async Task A_broken_savefile_restores_nothing_and_says_why()
    {
        var bad = Path.Combine(_dir, "bad.xlsave");
        await File.WriteAllBytesAsync(bad, new byte[5000]);
        var e = await Assert.ThrowsAnyAsync<Exception>(() => _toB.Client.RestoreAsync(bad, RestoreOptions.Default));
        Assert.IsType<XenHostException>(e);
        Assert.Contains("xl", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(await _toB.Client.ListDomainsAsync());
    }

    [Fact]
    public async Task A_missing_local_savefile_is_named_before_anything_is_sent()
    {
        var e = await Assert.ThrowsAsync<XenHostException>(() => _toB.Client.RestoreAsync(Path.Combine(_dir, "nope.xlsave"), RestoreOptions.Default));
        Assert.Contains("nope.xlsave", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Parallel_calls_share_one_connection()
    {
        // More restores than a connection runs at once: the client queues the rest instead of hearing "busy".
        var n = Frames.MaxRestoresAtOnce + 4;
        await Task.WhenAll(Enumerable.Range(0, n).Select(i => _toA.Client.CreateAsync(Hvm($"d{i}", 4))));
        var files = Enumerable.Range(0, n).Select(i => Path.Combine(_dir, $"d{i}.xlsave")).ToArray();
        await Task.WhenAll(Enumerable.Range(0, n).Select(i => _toA.Client.SaveAsync($"d{i}", files[i], SaveOptions.Default)));
        await Task.WhenAll(files.Select(f => _toB.Client.RestoreAsync(f, RestoreOptions.Default)));
        Assert.Equal(n, (await _toB.Client.ListDomainsAsync()).Count);
        Assert.Empty(await _toA.Client.ListDomainsAsync());
    }
}
