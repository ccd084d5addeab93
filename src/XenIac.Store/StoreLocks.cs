using XenIac.Store.Backends;

namespace XenIac.Store;

/// <summary>
/// Who is using a store right now, so that gc never deletes a chunk a push is about to reference. Pushes, pulls
/// and verifies share the store; gc needs it alone. A lock is an object under <c>locks/</c> that its holder
/// refreshes; each side writes its own lock first and then lists the others, so of two that start together at
/// least one sees the other and backs off (the scheme restic uses, which needs no atomic create on S3).
/// </summary>
/// <remarks>
/// A lock is stale, and ignored, once it has not been refreshed for <see cref="StaleAfter"/>, or at once when it
/// names this machine and a process that no longer runs (a killed push does not block gc for minutes).
/// </remarks>
internal sealed class StoreLocks : IAsyncDisposable
{
    public static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(30);
    public const string Exclusive = "gc";

    private readonly IStoreBackend _backend;
    private readonly string _key;
    private readonly StoreLockRecord _record;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _refresher;

    private StoreLocks(IStoreBackend backend, string key, StoreLockRecord record)
    {
        _backend = backend;
        _key = key;
        _record = record;
        _refresher = RefreshAsync();
    }

    /// <summary>No lock at all: a reader of a store this process cannot write (see <see cref="AcquireAsync"/>).</summary>
    private StoreLocks(IStoreBackend backend)
    {
        _backend = backend;
        _key = "";
        _record = new StoreLockRecord("none", "", 0, default, default);
        _refresher = Task.CompletedTask;
    }

    /// <summary>The kinds that only read: on a store nobody here may write they go without a lock.</summary>
    private static bool OnlyReads(string kind) => kind is "pull" or "verify" or DryRunOfReadOnly;

    /// <summary>
    /// A gc --dry-run of a store this process cannot write: it only reports, so it may look without a lock. (Where
    /// the store can be written, a dry run takes the exclusive lock, so that a push under way does not make its new
    /// packs look unused.)
    /// </summary>
    public const string DryRunOfReadOnly = "gc-dry-run";

    /// <remarks>
    /// A pull or verify of a folder store this process cannot write (a read-only mount of a mirror, a folder shared
    /// read-only) takes no lock, as it cannot write one: a gc run elsewhere meanwhile can then make the pull fail on a
    /// missing chunk (it writes nothing then), never make it wrong, since every chunk and the whole file are checked.
    /// </remarks>
    public static async Task<StoreLocks> AcquireAsync(IStoreBackend backend, string kind, TimeSpan wait, CancellationToken cancellationToken)
    {
        if (backend is FolderBackend { CanWrite: false })
        {
            if (OnlyReads(kind)) return new StoreLocks(backend);
            throw new StoreException(StoreError.Unavailable,
                $"the store '{backend.Location}' cannot be written here (a read-only mount, or no permission to write): a {kind} writes to it; pull, verify and ls read it as it is");
        }
        var deadline = DateTimeOffset.UtcNow + wait;
        var key = StoreKeys.Lock($"{kind}-{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        while (true)
        {
            var now = DateTimeOffset.UtcNow;
            var record = new StoreLockRecord(kind, Environment.MachineName, Environment.ProcessId, now, now);
            await backend.PutAsync(key, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(record, StoreJson.Default.StoreLockRecord), cancellationToken).ConfigureAwait(false);
            var conflict = await FindConflictAsync(backend, key, kind, cancellationToken).ConfigureAwait(false);
            if (conflict is null) return new StoreLocks(backend, key, record);
            await backend.DeleteAsync(key, CancellationToken.None).ConfigureAwait(false);
            if (DateTimeOffset.UtcNow >= deadline)
                throw new StoreException(StoreError.Busy,
                    $"the store '{backend.Location}' is in use: {Describe(conflict)} (wait for it, or retry with --lock-timeout)");
            // Jitter, so two that keep seeing each other do not retry in step.
            await Task.Delay(TimeSpan.FromMilliseconds(200 + Random.Shared.Next(800)), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Removes locks that are stale (gc does this while it holds the store alone).</summary>
    public static async Task<int> RemoveStaleAsync(IStoreBackend backend, CancellationToken cancellationToken)
    {
        var removed = 0;
        await foreach (var o in backend.ListAsync(StoreKeys.Locks, cancellationToken).ConfigureAwait(false))
        {
            var record = await ReadAsync(backend, o.Key, cancellationToken).ConfigureAwait(false);
            if (record is null || IsStale(record))
            {
                await backend.DeleteAsync(o.Key, cancellationToken).ConfigureAwait(false);
                removed++;
            }
        }
        return removed;
    }

    private static async Task<StoreLockRecord?> FindConflictAsync(IStoreBackend backend, string own, string kind, CancellationToken cancellationToken)
    {
        await foreach (var o in backend.ListAsync(StoreKeys.Locks, cancellationToken).ConfigureAwait(false))
        {
            if (o.Key == own) continue;
            var other = await ReadAsync(backend, o.Key, cancellationToken).ConfigureAwait(false);
            if (other is null || IsStale(other)) continue;
            if (kind == Exclusive || other.Kind == Exclusive) return other;
        }
        return null;
    }

    private static async Task<StoreLockRecord?> ReadAsync(IStoreBackend backend, string key, CancellationToken cancellationToken)
    {
        var data = await backend.GetAsync(key, 64 << 10, cancellationToken).ConfigureAwait(false);
        if (data is null) return null;
        try { return StoreJson.Parse(data, key, StoreJson.Default.StoreLockRecord); }
        catch (StoreException) { return null; } // a torn lock from a killed writer on a folder store holds nothing
    }

    private static bool IsStale(StoreLockRecord record)
    {
        if (DateTimeOffset.UtcNow - record.Refreshed > StaleAfter) return true;
        return record.Host == Environment.MachineName && record.Pid != Environment.ProcessId && !IsAlive(record.Pid);
    }

    private static bool IsAlive(int pid) => !OperatingSystem.IsLinux() || Directory.Exists($"/proc/{pid}");

    private static string Describe(StoreLockRecord r) =>
        $"{(r.Kind == Exclusive ? "a gc" : "a " + r.Kind)} by process {r.Pid} on {r.Host} since {r.Created:u}";

    private async Task RefreshAsync()
    {
        try
        {
            while (true)
            {
                await Task.Delay(RefreshEvery, _stop.Token).ConfigureAwait(false);
                var refreshed = _record with { Refreshed = DateTimeOffset.UtcNow };
                try
                {
                    await _backend.PutAsync(_key, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(refreshed, StoreJson.Default.StoreLockRecord), _stop.Token).ConfigureAwait(false);
                }
                catch (StoreException) { } // the next refresh tries again; staleness takes minutes
            }
        }
        catch (OperationCanceledException) { }
    }

    public async ValueTask DisposeAsync()
    {
        if (_key.Length == 0) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        await _refresher.ConfigureAwait(false);
        _stop.Dispose();
        try { await _backend.DeleteAsync(_key, CancellationToken.None).ConfigureAwait(false); }
        catch (StoreException) { } // a lock left behind goes stale
    }
}
