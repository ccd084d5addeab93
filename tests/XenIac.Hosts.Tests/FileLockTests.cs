namespace XenIac.Hosts.Tests;

/// <summary>The lock holder is always named, and only while it lives (moved from the reconciler's hardening pass).</summary>
public sealed class FileLockTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-filelock-").FullName;

    private string P(string name) => Path.Combine(_dir, name);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task A_lock_whose_owner_record_comes_late_is_still_named()
    {
        var path = P("late.lock");
        // The holder has the OS lock but has not recorded itself yet (the window between the two).
        using var held = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        var refused = Assert.ThrowsAsync<LockBusyException>(() => FileLock.AcquireAsync(path, TimeSpan.Zero, "second"));
        // The record comes 300 ms into the refused caller's 2 s wait, from a thread of its own: a Task.Delay here
        // waited for a thread-pool thread, which under load (xunit runs the other classes' tests beside this one)
        // came after the wait had ended, and the test failed about once in 20 runs.
        var owner = new LockOwner(Environment.ProcessId, Environment.MachineName, "someone", DateTimeOffset.UtcNow, "first apply");
        var recorder = new Thread(() =>
        {
            Thread.Sleep(300);
            File.WriteAllText(path + ".owner", System.Text.Json.JsonSerializer.Serialize(owner));
        });
        recorder.Start();
        var e = await refused;
        recorder.Join();
        Assert.Contains("first apply", e.Message);
        Assert.Equal(Environment.ProcessId, e.Holder!.ProcessId);
    }

    [Fact]
    public async Task A_dead_holders_record_is_not_taken_for_the_holder()
    {
        var path = P("stale.lock");
        using var dead = System.Diagnostics.Process.Start("true")!;
        dead.WaitForExit();
        File.WriteAllText(path + ".owner", System.Text.Json.JsonSerializer.Serialize(
            new LockOwner(dead.Id, Environment.MachineName, "ghost", DateTimeOffset.UtcNow, "long gone")));
        using var held = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        var e = await Assert.ThrowsAsync<LockBusyException>(() => FileLock.AcquireAsync(path, TimeSpan.Zero, "second"));
        Assert.DoesNotContain("long gone", e.Message);
        Assert.Contains("starting or stopping", e.Message);
    }
}
