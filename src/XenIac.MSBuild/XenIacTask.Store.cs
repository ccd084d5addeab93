using XenIac.Core.SaveFiles;
using Microsoft.Build.Framework;
using XenIac.Core.IO;
using XenIac.Store;

namespace XenIac.MSBuild;

/// <summary>
/// The snapshot store as the tasks use it: a save pushes its savefile, a restore (or <see cref="XenIacPullSnapshot"/>)
/// pulls one first. The store's own checks (chunk digests, whole-file SHA-256, atomic write) do the work; this
/// part resolves the parameters and turns <see cref="StoreException"/> into the XIAC0016-0020 errors.
/// </summary>
public abstract partial class XenIacTask
{
    /// <summary>The store location in use, and the snapshot asked for, so a failure names them.</summary>
    private protected string? CurrentStore { get; set; }
    private protected string? CurrentSnapshot { get; set; }

    /// <summary>A folder store resolves against the project like every other path; an s3:// location is taken as given.</summary>
    private protected string StoreLocation(string store) =>
        store.Contains("://", StringComparison.Ordinal) ? store : FullPath(store);

    private protected async Task<SnapshotStore> OpenStoreAsync(string store, string? keyFile, bool create, CancellationToken cancellationToken)
    {
        var location = CurrentStore = StoreLocation(store);
        var options = new StoreOptions { KeyFile = string.IsNullOrWhiteSpace(keyFile) ? null : FullPath(keyFile) };
        Log.LogMessage(MessageImportance.Low, "XenIac: opening snapshot store {0}{1}", location, options.KeyFile is null ? "" : " with key file " + options.KeyFile);
        return await SnapshotStore.OpenAsync(location, options, create, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The snapshot a pulling task asks for: <c>Snapshot</c> (an id or a tag) or <c>StoreTag</c>, which need
    /// <c>Store</c>. Null with nothing to pull (no store given) or after logging XIAC0002 (<paramref name="invalid"/>).
    /// </summary>
    private protected string? SnapshotReference(string? store, string? storeTag, string? snapshot, out bool invalid)
    {
        invalid = false;
        var hasStore = !string.IsNullOrWhiteSpace(store);
        var hasTag = !string.IsNullOrWhiteSpace(storeTag);
        var hasSnapshot = !string.IsNullOrWhiteSpace(snapshot);
        string? problem = null;
        if (!hasStore && (hasTag || hasSnapshot)) problem = "StoreTag and Snapshot name a snapshot in a store; set Store (XenIacStore) too";
        else if (hasStore && !hasTag && !hasSnapshot) problem = "a store is given but no snapshot in it; set StoreTag (XenIacStoreTag) or Snapshot (an id or tag)";
        else if (hasTag && hasSnapshot && storeTag != snapshot) problem = $"StoreTag '{storeTag}' and Snapshot '{snapshot}' name two snapshots; give one";
        if (problem is not null)
        {
            LogCodedError(Strings.InvalidParameter, "Store", problem);
            invalid = true;
            return null;
        }
        return !hasStore ? null : hasSnapshot ? snapshot!.Trim() : storeTag!.Trim();
    }

    /// <summary>
    /// Writes the snapshot <paramref name="reference"/> names to <paramref name="savefile"/>: atomically (a failed or
    /// damaged pull leaves whatever was there), mode 0600, checked against the snapshot's SHA-256.
    /// </summary>
    private protected async Task<SnapshotManifest> PullSnapshotAsync(string store, string? keyFile, string reference, string savefile,
        CancellationToken cancellationToken)
    {
        CurrentSnapshot = reference;
        await using var opened = await OpenStoreAsync(store, keyFile, create: false, cancellationToken).ConfigureAwait(false);
        var snapshot = await opened.ResolveAsync(reference, cancellationToken).ConfigureAwait(false);
        CreateFolderFor(savefile);
        SaveFileHeader.CheckTarget(savefile);
        // A persistent agent restores the same snapshot run after run: reading the local file costs less than
        // fetching and decompressing it again, and the whole-file digest is the same check a pull ends with.
        if (await HoldsSnapshotAsync(savefile, snapshot, cancellationToken).ConfigureAwait(false))
        {
            Log.LogMessage(MessageImportance.High, "XenIac: {0} already holds snapshot {1}{2} (same SHA-256); not pulled again",
                savefile, snapshot.Id, snapshot.Tag is null ? "" : $" ({snapshot.Tag})");
            return snapshot;
        }
        Log.LogMessage(MessageImportance.Normal, "XenIac: pulling snapshot {0}{1} ({2:N0} bytes) from {3} to {4}",
            snapshot.Id, snapshot.Tag is null ? "" : $" ({snapshot.Tag})", snapshot.Bytes, opened.Location, savefile);
        await opened.PullAsync(snapshot.Id, savefile, ByteProgress("pulled"), cancellationToken).ConfigureAwait(false);
        Log.LogMessage(MessageImportance.High, "XenIac: pulled snapshot {0}{1} from {2} to {3} ({4:N0} bytes, sha256 {5})",
            snapshot.Id, snapshot.Tag is null ? "" : $" ({snapshot.Tag})", opened.Location, savefile, snapshot.Bytes, snapshot.Sha256);
        return snapshot;
    }

    private static async Task<bool> HoldsSnapshotAsync(string savefile, SnapshotManifest snapshot, CancellationToken cancellationToken)
    {
        var info = new FileInfo(savefile);
        if (!info.Exists || info.Length != snapshot.Bytes) return false;
        await using var file = new FileStream(savefile, new FileStreamOptions
        {
            Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.Read, BufferSize = 1 << 20, Options = FileOptions.SequentialScan,
        });
        var digest = await System.Security.Cryptography.SHA256.HashDataAsync(file, cancellationToken).ConfigureAwait(false);
        return Convert.ToHexStringLower(digest) == snapshot.Sha256;
    }

    /// <summary>The default checkpoint savefile lives under obj/xeniac/, which a clean build removes: create it, and say so.</summary>
    private protected void CreateFolderFor(string savefile)
    {
        var folder = Path.GetDirectoryName(savefile)!;
        if (Directory.Exists(folder)) return;
        Log.LogMessage(MessageImportance.Normal, "XenIac: creating folder {0} for the savefile", folder);
        Directory.CreateDirectory(folder);
    }

    private void LogStoreError(StoreException e)
    {
        var store = CurrentStore ?? "(store)";
        switch (e.Error)
        {
            case StoreError.Unavailable: LogCodedError(Strings.StoreUnavailable, store, e.Message); break;
            case StoreError.NotFound: LogCodedError(Strings.SnapshotNotFound, store, CurrentSnapshot ?? "(none)", e.Message); break;
            case StoreError.Damaged: LogCodedError(Strings.SnapshotDamaged, store, e.Message); break;
            case StoreError.Key: LogCodedError(Strings.StoreKeyInvalid, store, e.Message); break;
            case StoreError.Busy: LogCodedError(Strings.StoreBusy, store, e.Message); break;
            case StoreError.InvalidArgument: LogCodedError(Strings.InvalidParameter, CurrentSnapshot is null ? "Store" : "Store/StoreTag/Snapshot", e.Message); break;
            default: LogCodedError(Strings.OperationFailed, Operation, CurrentHost ?? "(none)", e.Message); break;
        }
    }
}
