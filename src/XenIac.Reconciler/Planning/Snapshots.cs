using XenIac.Core;
using XenIac.Reconciler.Manifests;
using XenIac.Store;

namespace XenIac.Reconciler.Planning;

/// <summary>
/// The stores a plan or an apply looks into, each opened once. For a domain kept under a snapshot tag, the tag's
/// newest snapshot plays the part a savefile on disk plays for other domains.
/// </summary>
internal sealed class Snapshots : IAsyncDisposable
{
    private readonly Dictionary<(string, string?), SnapshotStore?> _open = [];

    /// <summary>The store, or null when nothing was ever pushed there (a store is made by its first push).</summary>
    public async Task<SnapshotStore?> OpenAsync(SnapshotRef where, bool create, CancellationToken cancellationToken)
    {
        if (_open.TryGetValue((where.Store, where.KeyFile), out var known) && (known is not null || !create)) return known;
        SnapshotStore? store;
        try
        {
            store = await SnapshotStore.OpenAsync(where.Store, new StoreOptions { KeyFile = where.KeyFile }, create, cancellationToken).ConfigureAwait(false);
        }
        catch (StoreException e) when (e.Error == StoreError.NotFound && !create)
        {
            store = null;
        }
        _open[(where.Store, where.KeyFile)] = store;
        return store;
    }

    /// <summary>The tag's newest snapshot as a savefile status (header read from the store), or missing.</summary>
    public async Task<SavefileStatus> ObserveAsync(SnapshotRef where, CancellationToken cancellationToken)
    {
        try
        {
            var store = await OpenAsync(where, create: false, cancellationToken).ConfigureAwait(false);
            if (store is null) return SavefileStatus.Missing;
            SnapshotManifest snapshot;
            try { snapshot = await store.ResolveAsync(where.Tag, cancellationToken).ConfigureAwait(false); }
            catch (StoreException e) when (e.Error == StoreError.NotFound) { return SavefileStatus.Missing; }
            var header = await store.ReadHeaderAsync(snapshot, cancellationToken).ConfigureAwait(false);
            if (header.ConfigFormat == Core.SaveFiles.SaveFileConfigFormat.None)
                return new SavefileStatus(true, false, $"snapshot {snapshot.Id} ({where.Tag}) stores no config", header, snapshot.Bytes) { SnapshotId = snapshot.Id };
            return new SavefileStatus(true, true, null, header, snapshot.Bytes) { SnapshotId = snapshot.Id, SavedAt = snapshot.Created };
        }
        catch (XenIacException e)
        {
            return new SavefileStatus(true, false, $"store {where.Store}: {e.Message}", null, 0);
        }
    }

    /// <summary>
    /// The CPU vendor of a snapshot's CPUID policy, read from the head of its stream (static data only: the read
    /// stops before the first page); null when it has none or the store has no such snapshot.
    /// </summary>
    public async Task<Core.Config.SavedImage?> ImageAsync(SnapshotRef where, string? snapshotId, CancellationToken cancellationToken)
    {
        var store = await OpenAsync(where, create: false, cancellationToken).ConfigureAwait(false);
        if (store is null) return null;
        var snapshot = await store.ResolveAsync(snapshotId ?? where.Tag, cancellationToken).ConfigureAwait(false);
        await using var stream = store.OpenRead(snapshot, cancellationToken);
        using var reader = await Core.SaveFiles.SaveFileReader.OpenAsync(stream, leaveOpen: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        return Core.Config.Placement.ReadImage(reader);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var store in _open.Values)
            if (store is not null) await store.DisposeAsync().ConfigureAwait(false);
        _open.Clear();
    }
}
