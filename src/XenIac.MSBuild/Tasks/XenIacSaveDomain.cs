using XenIac.Core.SaveFiles;
using Microsoft.Build.Framework;
using XenIac.Core.Config;
using XenIac.Core.IO;
using XenIac.Hosts;
using XenIac.Store;

namespace XenIac.MSBuild;

/// <summary>
/// <c>xl save</c> as a task: saves <see cref="Domain"/> into <see cref="Savefile"/>. With <see cref="Checkpoint"/> the
/// domain keeps running (<c>xl save -c</c>); otherwise it is gone after a good save. The host writes a temp file and
/// renames it, so a failed or cancelled save leaves the previous savefile (if any) untouched. With <see cref="Store"/>
/// the savefile is then pushed to that snapshot store (tagged <see cref="StoreTag"/>), where other CI agents pull it.
/// </summary>
public sealed class XenIacSaveDomain : XenIacHostTask
{
    [Required] public string Domain { get; set; } = "";

    [Required] public string Savefile { get; set; } = "";

    public bool Checkpoint { get; set; }

    /// <summary>Leave the domain paused after the save (<c>xl save -p</c>).</summary>
    public bool LeavePaused { get; set; }

    /// <summary>
    /// A config file to store in the savefile instead of the one the host remembers. It is checked against that
    /// one first (the rule of <c>xen-iac savefile set-config</c>); an incompatible one is refused unless <see cref="Force"/>.
    /// </summary>
    public string? Config { get; set; }

    /// <summary>Store <see cref="Config"/> even when it is not compatible with the domain's config.</summary>
    public bool Force { get; set; }

    private protected override bool HasForce => true;

    /// <summary>A snapshot store (a folder, relative to the project, or <c>s3://bucket/prefix</c>) to push the savefile to after the save.</summary>
    public string? Store { get; set; }

    /// <summary>The tag of the pushed snapshot (<c>testvm@ci</c>); a restore or pull by tag gets the newest one.</summary>
    public string? StoreTag { get; set; }

    /// <summary>Key file of an encrypted store (a store is encrypted from its first push on if this is given then).</summary>
    public string? StoreKeyFile { get; set; }

    /// <summary>What the snapshot was made from (<see cref="XenIacFingerprint"/>), recorded in the savefile.</summary>
    public string? Fingerprint { get; set; }

    /// <summary>Size of the written savefile.</summary>
    [Output] public long Bytes { get; set; }

    /// <summary>Id of the snapshot pushed to <see cref="Store"/>; empty without a store.</summary>
    [Output] public string? SnapshotId { get; set; }

    private protected override async Task ExecuteAsync(CancellationToken cancellationToken)
    {
        Operation = $"Saving domain '{Domain}'";
        CurrentDomain = Domain;
        if (SavefilePath(Savefile) is not { } savefile) return;

        ConfigText? alternative = null;
        if (!string.IsNullOrEmpty(Config))
        {
            alternative = await LoadConfigAsync(Config, cancellationToken).ConfigureAwait(false);
            if (alternative is null) return;
        }

        if (!string.IsNullOrWhiteSpace(Fingerprint) && !IsFingerprint(Fingerprint)) return;

        var pushing = !string.IsNullOrWhiteSpace(Store);
        if (!pushing && !string.IsNullOrWhiteSpace(StoreTag))
        {
            LogCodedError(Strings.InvalidParameter, "StoreTag", "a tag names a snapshot in a store; set Store (XenIacStore) too");
            return;
        }
        if (pushing && !string.IsNullOrWhiteSpace(StoreTag))
        {
            try { SnapshotStore.CheckTag(StoreTag.Trim()); }
            catch (StoreException e)
            {
                LogCodedError(Strings.InvalidParameter, "StoreTag", e.Message);
                return;
            }
        }

        await using var host = OpenHost(Host);
        // Asked first so a wrong name gets its own code whatever the host's save reports.
        if (await host.FindDomainAsync(Domain, cancellationToken).ConfigureAwait(false) is null)
        {
            LogCodedError(Strings.DomainNotFound, Domain, host.Spec, "no domain of that name is on the host");
            return;
        }

        // Everything that can refuse the save does so before it: a plain save stops the domain.
        if (alternative is not null)
        {
            var current = await host.GetConfigAsync(Domain, cancellationToken).ConfigureAwait(false);
            var findings = SavefileConfigEditor.CheckReplacement(FullPath(Config!), ConfigModel(alternative, FullPath(Config!)),
                ConfigModel(current, $"domain '{Domain}' (host config)"), $"the config of domain '{Domain}'", Force);
            foreach (var f in findings.Where(f => f.Severity != FindingSeverity.Ok))
                Log.LogMessage(MessageImportance.High, "XenIac: config {0} {1}: {2} -> {3} ({4})", f.Severity, f.Setting, f.Old, f.New, f.Reason);
        }
        // The store is opened (and made, on a first push) before the save: a plain save stops the domain, so a store
        // that cannot be used, or a wrong key, refuses before it rather than after.
        await using var store = pushing ? await OpenStoreAsync(Store!, StoreKeyFile, create: true, cancellationToken).ConfigureAwait(false) : null;
        CreateFolderFor(savefile);
        SaveFileHeader.CheckTarget(savefile);
        Log.LogMessage(MessageImportance.Normal, "XenIac: {0} ({1}) on {2} to {3}",
            Operation, Checkpoint ? "checkpoint, keeps running" : LeavePaused ? "left paused" : "domain stops after the save", host.Spec, savefile);
        var options = new SaveOptions
        {
            Mode = Checkpoint ? SaveMode.Checkpoint : SaveMode.Plain,
            LeavePaused = LeavePaused,
            AlternativeConfig = alternative,
            Fingerprint = string.IsNullOrWhiteSpace(Fingerprint) ? null : Fingerprint.Trim(),
            Progress = ByteProgress("saved"),
        };
        var result = await host.SaveAsync(Domain, savefile, options, cancellationToken).ConfigureAwait(false);
        Bytes = result.Bytes;
        Log.LogMessage(MessageImportance.High, "XenIac: {0} domain '{1}' to {2} ({3:N0} bytes)",
            Checkpoint ? "checkpointed" : "saved", Domain, result.SavefilePath, result.Bytes);

        if (store is null) return;
        // The savefile stays where it is whatever the push does: a failed push costs the sharing, not the snapshot.
        Operation = $"Pushing '{result.SavefilePath}' to the snapshot store";
        var tag = string.IsNullOrWhiteSpace(StoreTag) ? null : StoreTag.Trim();
        CurrentSnapshot = tag;
        var pushed = await store.PushAsync(result.SavefilePath, tag, ByteProgress("pushed"), cancellationToken).ConfigureAwait(false);
        SnapshotId = pushed.Snapshot.Id;
        Log.LogMessage(MessageImportance.High, "XenIac: pushed {0} to {1} as snapshot {2}{3}: {4:N0} of {5:N0} chunks new, {6:N0} bytes added",
            result.SavefilePath, store.Location, pushed.Snapshot.Id, tag is null ? "" : $" ({tag})", pushed.NewChunks, pushed.Snapshot.Chunks, pushed.StoredBytes);    }
}
