using System.Diagnostics;
using System.Text.Json;
using XenIac.Core;

namespace XenIac.Hosts;

/// <summary>Who holds a lock: written beside it so a refused caller can say whom it waits for.</summary>
public sealed record LockOwner(int ProcessId, string Host, string User, DateTimeOffset Since, string? Purpose)
{
    public override string ToString() =>
        $"process {ProcessId} on {Host} (user {User}) since {Since:u}{(Purpose is null ? "" : $": {Purpose}")}";
}

/// <summary>
/// An exclusive, cross-process lock on a file: what keeps two processes working on one host (an embedded host's
/// registry and domains, an apply per host, the apply journal) apart. It lives with the hosts, not the codecs,
/// which read and write files without needing to know who else works on them.
/// The OS releases it when the holder dies (on Unix .NET takes a
/// flock for <see cref="FileShare.None"/>), so a killed process never leaves a lock behind. The owner is recorded
/// in a separate "*.owner" file because the locked file itself cannot be opened by anyone else.
/// </summary>
public sealed class FileLock : IDisposable
{
    private readonly FileStream _handle;
    private readonly string _ownerPath;
    private readonly string _ownerRecord;

    private FileLock(FileStream handle, string ownerPath, string ownerRecord)
    {
        _handle = handle;
        _ownerPath = ownerPath;
        _ownerRecord = ownerRecord;
    }

    public string Path => _handle.Name;

    private static FileStreamOptions PrivateOptions(FileMode mode, FileAccess access)
    {
        var options = new FileStreamOptions { Mode = mode, Access = access, Share = FileShare.None, BufferSize = 1 };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        return options;
    }

    /// <summary>Takes the lock once; returns null (and who holds it) when another process has it.</summary>
    public static FileLock? TryAcquire(string path, string? purpose, out LockOwner? holder)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        try
        {
            // 0600 like the files it guards: the owner record names the user, the process and what it works on.
            var handle = new FileStream(path, PrivateOptions(FileMode.OpenOrCreate, FileAccess.ReadWrite));
            var ownerPath = path + ".owner";
            var owner = new LockOwner(Environment.ProcessId, Environment.MachineName, Environment.UserName, DateTimeOffset.UtcNow, purpose);
            // Who holds the lock is a courtesy for whoever waits; failing to write it must not lose (or leak) the lock.
            // Written to a temp file and renamed, so a reader sees the whole record or none, never a half-written one.
            var temp = $"{ownerPath}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
            var record = JsonSerializer.Serialize(owner, HostJson.Default.LockOwner);
            try
            {
                using (var file = new FileStream(temp, PrivateOptions(FileMode.CreateNew, FileAccess.Write)))
                    file.Write(System.Text.Encoding.UTF8.GetBytes(record));
                File.Move(temp, ownerPath, overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                try { File.Delete(temp); } catch (Exception d) when (d is IOException or UnauthorizedAccessException) { }
            }
            holder = null;
            return new FileLock(handle, ownerPath, record);
        }
        catch (IOException) when (File.Exists(path))
        {
            holder = ReadOwner(path);
            return null;
        }
    }

    /// <summary>
    /// Takes the lock, waiting up to <paramref name="timeout"/> (zero: fail at once). Throws
    /// <see cref="LockBusyException"/> naming the holder when it cannot.
    /// </summary>
    public static async Task<FileLock> AcquireAsync(string path, TimeSpan timeout, string? purpose, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            var acquired = TryAcquire(path, purpose, out var holder);
            if (acquired is not null) return acquired;
            if (clock.Elapsed >= timeout)
                throw new LockBusyException(path, holder ?? await ReadOwnerPatientlyAsync(path, cancellationToken).ConfigureAwait(false), timeout);
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 250));
        }
    }

    /// <summary>The recorded holder of the lock at <paramref name="path"/>; null when none is recorded or the record is stale.</summary>
    public static LockOwner? ReadOwner(string path)
    {
        LockOwner? owner;
        try { owner = JsonSerializer.Deserialize(File.ReadAllText(path + ".owner"), HostJson.Default.LockOwner); }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException) { return null; }
        // A record left by a holder that died names nobody (the OS released its lock); the new holder is about to replace it.
        return owner is not null && owner.Host == Environment.MachineName && !IsAlive(owner.ProcessId) ? null : owner;
    }

    /// <summary>How long a refused caller waits for a new holder to record itself (it writes just after taking the lock).</summary>
    internal static readonly TimeSpan OwnerRecordWait = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The holder takes the lock, then records itself; a caller refused in between would read nothing (or a dead
    /// holder's record). Reads again for a moment, so the message names the holder whenever it is alive to be named.
    /// </summary>
    private static async Task<LockOwner?> ReadOwnerPatientlyAsync(string path, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (ReadOwner(path) is { } owner) return owner;
            if (clock.Elapsed >= OwnerRecordWait) return null;
            await Task.Delay(25, cancellationToken).ConfigureAwait(false);
        }
    }

    private static bool IsAlive(int processId)
    {
        // Linux: a process exists while /proc has its folder (cheaper and surer than opening a Process for a stranger).
        if (Directory.Exists("/proc/self")) return Directory.Exists($"/proc/{processId}");
        try
        {
            using var process = Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException) { return false; }
    }

    /// <summary>
    /// Releases the lock, then removes the owner record if it is still this holder's. In that order, anyone refused
    /// while the lock was held finds the record (deleting first left a moment where the lock was held by nobody named).
    /// </summary>
    public void Dispose()
    {
        _handle.Dispose();
        try
        {
            if (File.ReadAllText(_ownerPath) == _ownerRecord) File.Delete(_ownerPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}

/// <summary>A lock is held by someone else.</summary>
public sealed class LockBusyException : XenIacException
{
    public LockBusyException(string path, LockOwner? holder, TimeSpan waited)
        : base($"{path} is locked by {holder?.ToString() ?? "another process that is starting or stopping (it has recorded no owner)"}" +
               (waited > TimeSpan.Zero ? $" (waited {waited.TotalSeconds:0.#} s)" : ""))
    {
        LockPath = path;
        Holder = holder;
    }

    public string LockPath { get; }
    public LockOwner? Holder { get; }
}
