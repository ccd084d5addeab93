using XenIac.Core.Config;
using XenIac.Hosts.Embedded;
using XenIac.Hosts.Tests.Embedded;

namespace XenIac.Hosts.Tests.Remote;

/// <summary>
/// A save that does not finish (the caller cancels, the connection drops) leaves the remote as a local failure
/// would: the domain there, running, and no savefile or temp file on either side.
/// </summary>
public sealed class RemoteSafetyTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-remote-safety-").FullName;
    private EmbeddedHost _host = null!;
    private Loopback _loop = null!;
    private string Temp => Path.Combine(_dir, "server-temp");
    private string Local => Path.Combine(_dir, "local");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Temp);
        Directory.CreateDirectory(Local);
        // 16 MiB at 8 MiB/s: two seconds of save, long enough to interrupt half-way.
        _host = EmbeddedHost.Open(Path.Combine(_dir, "host"), new EmbeddedHostOptions { ThrottleMiBs = 8 });
        await _host.CreateAsync(ConfigText.FromText(EmbeddedHostTests.HvmConfig("web", 16)));
        _loop = Loopback.Start(_host, Temp);
    }

    public async Task DisposeAsync()
    {
        await _loop.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>Progress that signals once the save is under way.</summary>
    private sealed class FirstReport : IProgress<long>
    {
        public TaskCompletionSource Seen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public void Report(long value) { if (value > 0) Seen.TrySetResult(); }
    }

    private async Task AssertNothingLostAsync()
    {
        // The server cleans up after the call has ended on this side too; give it a moment.
        for (var i = 0; i < 100 && Directory.EnumerateFileSystemEntries(Temp).Any(); i++) await Task.Delay(100);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Temp));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Local));
        var domain = await _host.FindDomainAsync("web");
        Assert.NotNull(domain);
        Assert.Equal(DomainState.Running, domain.State);
    }

    /// <summary>
    /// A server killed mid-save left its save folder (guest memory) in the temp folder for good. The next server
    /// removes those of processes that are gone, and nothing else.
    /// </summary>
    [Fact]
    public async Task A_new_server_removes_the_save_folders_of_dead_servers_only()
    {
        var temp = Path.Combine(_dir, "other-temp");
        var dead = Path.Combine(temp, $"xeniac-serve-{int.MaxValue}-0123abcd");
        var alive = Path.Combine(temp, $"xeniac-serve-{Environment.ProcessId}-4567ef01");
        var unrelated = Path.Combine(temp, "xeniac-serve-notmine");
        foreach (var folder in new[] { dead, alive, unrelated })
        {
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "domain.save"), "guest memory");
        }
        await using (var loop = Loopback.Start(_host, temp))
            Assert.Contains(await loop.Client.ListDomainsAsync(), d => d.Name == "web");
        Assert.False(Directory.Exists(dead), "the dead server's folder stayed");
        Assert.True(File.Exists(Path.Combine(alive, "domain.save")));
        Assert.True(File.Exists(Path.Combine(unrelated, "domain.save")));
    }

    [Fact]
    public async Task A_cancelled_save_resumes_the_domain_and_leaves_no_file()
    {
        using var cancel = new CancellationTokenSource();
        var progress = new FirstReport();
        var save = _loop.Client.SaveAsync("web", Path.Combine(Local, "web.xlsave"), new SaveOptions { Progress = progress }, cancel.Token);
        await progress.Seen.Task.WaitAsync(TimeSpan.FromSeconds(20));
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => save);
        await AssertNothingLostAsync();
        // The connection still serves.
        Assert.Single(await _loop.Client.ListDomainsAsync());
    }

    [Fact]
    public async Task A_dropped_connection_mid_save_resumes_the_domain_and_names_the_host()
    {
        var progress = new FirstReport();
        var save = _loop.Client.SaveAsync("web", Path.Combine(Local, "web.xlsave"), new SaveOptions { Progress = progress });
        await progress.Seen.Task.WaitAsync(TimeSpan.FromSeconds(20));
        _loop.Drop();
        var e = await Assert.ThrowsAsync<XenHostException>(() => save);
        Assert.Equal(XenHostError.Unavailable, e.Error);
        Assert.Contains("ssh://test-host", e.Message, StringComparison.Ordinal);
        Assert.Contains("the test cut the pipes", e.Message, StringComparison.Ordinal);
        await _loop.Server.WaitAsync(TimeSpan.FromSeconds(20)); // the server noticed, cleaned up and ended
        await AssertNothingLostAsync();
        // A later call connects anew; over these cut pipes that fails at once, naming the host, not a hang.
        var again = await Assert.ThrowsAsync<XenHostException>(() => _loop.Client.ListDomainsAsync()).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(XenHostError.Unavailable, again.Error);
        Assert.Contains("ssh://test-host", again.Message, StringComparison.Ordinal);
    }

    /// <summary>A savefile of the running domain, made directly on the host (the restore tests send it back).</summary>
    private async Task<string> SavefileAsync()
    {
        var path = Path.Combine(_dir, "web.xlsave");
        await using var fast = EmbeddedHost.Open(Path.Combine(_dir, "host"));
        await fast.SaveAsync("web", path, SaveOptions.Default);
        return path;
    }

    [Fact]
    public async Task A_cancelled_restore_leaves_no_domain_and_the_connection_serving()
    {
        var savefile = await SavefileAsync();
        using var cancel = new CancellationTokenSource();
        var progress = new FirstReport();
        var restore = _loop.Client.RestoreAsync(savefile, new RestoreOptions { Progress = progress }, cancel.Token);
        await progress.Seen.Task.WaitAsync(TimeSpan.FromSeconds(20));
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => restore);
        Assert.Empty(await _loop.Client.ListDomainsAsync());
        Assert.Empty(await _host.ListDomainsAsync());
    }

    [Fact]
    public async Task A_dropped_connection_mid_restore_leaves_no_domain()
    {
        var savefile = await SavefileAsync();
        var progress = new FirstReport();
        var restore = _loop.Client.RestoreAsync(savefile, new RestoreOptions { Progress = progress });
        await progress.Seen.Task.WaitAsync(TimeSpan.FromSeconds(20));
        _loop.Drop();
        var e = await Assert.ThrowsAsync<XenHostException>(() => restore);
        Assert.Equal(XenHostError.Unavailable, e.Error);
        await _loop.Server.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Empty(await _host.ListDomainsAsync());
        var left = Directory.EnumerateFiles(Path.Combine(_dir, "host", "domains"), "*", SearchOption.AllDirectories).ToList();
        Assert.True(left.Count == 0, string.Join(", ", left));
    }
}
