using Microsoft.Build.Framework;

namespace XenIac.MSBuild;

/// <summary>
/// Pulls a snapshot from a store into <see cref="Savefile"/> without restoring it: the package's targets run it
/// before <c>XenIacCreateSnapshot</c>, so an agent without the savefile takes the shared one instead of making its
/// own, and with <see cref="AllowMissing"/> the first agent (the store has no such snapshot yet) makes and pushes it.
/// </summary>
public sealed class XenIacPullSnapshot : XenIacTask
{
    /// <summary>The snapshot store: a folder (relative to the project) or <c>s3://bucket/prefix</c>.</summary>
    [Required] public string Store { get; set; } = "";

    [Required] public string Savefile { get; set; } = "";

    /// <summary>The tag to pull (its newest snapshot).</summary>
    public string? StoreTag { get; set; }

    /// <summary>The snapshot to pull: an id or a tag (instead of <see cref="StoreTag"/>).</summary>
    public string? Snapshot { get; set; }

    /// <summary>Key file of an encrypted store.</summary>
    public string? StoreKeyFile { get; set; }

    /// <summary>A store without that snapshot (or no store yet) is a message, not XIAC0017; <see cref="SnapshotId"/> stays empty.</summary>
    public bool AllowMissing { get; set; }

    /// <summary>Id of the pulled snapshot; empty when it was missing and <see cref="AllowMissing"/> is set.</summary>
    [Output] public string? SnapshotId { get; set; }

    private protected override async Task ExecuteAsync(CancellationToken cancellationToken)
    {
        if (SavefilePath(Savefile) is not { } savefile) return;
        var reference = SnapshotReference(Store, StoreTag, Snapshot, out var invalid);
        if (invalid || reference is null) return;
        Operation = $"Pulling snapshot '{reference}' to '{savefile}'";
        try
        {
            SnapshotId = (await PullSnapshotAsync(Store, StoreKeyFile, reference, savefile, cancellationToken).ConfigureAwait(false)).Id;
        }
        catch (XenIac.Store.StoreException e) when (AllowMissing && e.Error == XenIac.Store.StoreError.NotFound)
        {
            Log.LogMessage(MessageImportance.High, "XenIac: the snapshot store {0} has no snapshot '{1}' yet ({2}); it is made here", CurrentStore, reference, e.Message);
        }
    }
}
