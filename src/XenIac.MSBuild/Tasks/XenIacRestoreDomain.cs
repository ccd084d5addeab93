using Microsoft.Build.Framework;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;

namespace XenIac.MSBuild;

/// <summary>
/// <c>xl restore</c> as a task: starts a domain from <see cref="Savefile"/>, with its stored config or
/// <see cref="Config"/>. With <see cref="Replace"/> a domain of the same name is destroyed first, which is how a
/// test VM is rolled back to a known state. With <see cref="Store"/> the snapshot is first pulled from that store
/// into <see cref="Savefile"/> (atomically, checked byte for byte), which is how a fresh CI agent gets a warm VM.
/// </summary>
public sealed class XenIacRestoreDomain : XenIacHostTask
{
    [Required] public string Savefile { get; set; } = "";

    /// <summary>A config file used instead of the one stored in the savefile.</summary>
    public string? Config { get; set; }

    /// <summary>Leave the restored domain paused (<c>xl restore -p</c>).</summary>
    public bool Paused { get; set; }

    /// <summary>Destroy a running domain of the same name before restoring.</summary>
    public bool Replace { get; set; }

    /// <summary>
    /// Restore with a stored config even when it makes dom0 run a program or open a host path that
    /// <see cref="ConsentConfig"/> does not name (the CLI's <c>--trust-config</c>).
    /// </summary>
    public bool TrustConfig { get; set; }

    /// <summary>A config the project wrote (the snapshot's own <c>XenIacDomainConfig</c>): what it names needs no trust.</summary>
    public string? ConsentConfig { get; set; }

    /// <summary>A snapshot store (a folder, relative to the project, or <c>s3://bucket/prefix</c>) to pull <see cref="Savefile"/> from first.</summary>
    public string? Store { get; set; }

    /// <summary>The tag to pull (its newest snapshot).</summary>
    public string? StoreTag { get; set; }

    /// <summary>The snapshot to pull: an id or a tag (instead of <see cref="StoreTag"/>).</summary>
    public string? Snapshot { get; set; }

    /// <summary>Key file of an encrypted store.</summary>
    public string? StoreKeyFile { get; set; }

    /// <summary>
    /// The fingerprint of the inputs the snapshot must have been made from (<see cref="XenIacFingerprint"/>): a savefile
    /// that records another one, or none, is refused with XIAC0021 before the host is touched.
    /// </summary>
    public string? Fingerprint { get; set; }

    /// <summary>Id of the snapshot pulled from <see cref="Store"/>; empty without a store.</summary>
    [Output] public string? SnapshotId { get; set; }

    [Output] public string? DomainName { get; set; }

    [Output] public int DomId { get; set; }

    private protected override async Task ExecuteAsync(CancellationToken cancellationToken)
    {
        if (SavefilePath(Savefile) is not { } savefile) return;
        var reference = SnapshotReference(Store, StoreTag, Snapshot, out var invalid);
        if (invalid) return;
        if (reference is not null)
        {
            // Before anything touches the host: a snapshot that is missing, damaged or locked away by a key fails here
            // with the savefile as it was and no domain.
            Operation = $"Pulling snapshot '{reference}' to '{savefile}'";
            SnapshotId = (await PullSnapshotAsync(Store!, StoreKeyFile, reference, savefile, cancellationToken).ConfigureAwait(false)).Id;
        }
        Operation = $"Restoring from '{savefile}'";
        if (!IsReadableSavefile(savefile)) return;

        if (!string.IsNullOrWhiteSpace(Fingerprint) && !IsFingerprint(Fingerprint)) return;
        if (!string.IsNullOrWhiteSpace(Fingerprint) && !IsFresh(savefile, Fingerprint.Trim())) return;

        ConfigText? overrideConfig = null;
        string? name;
        if (!string.IsNullOrEmpty(Config))
        {
            overrideConfig = await LoadConfigAsync(Config, cancellationToken).ConfigureAwait(false);
            if (overrideConfig is null) return;
            name = ConfigNames.Find(overrideConfig.Text, overrideConfig.Language);
        }
        else
        {
            // Only the header is read here; a savefile that is not valid fails now with XIAC0006, before the host is touched.
            using var reader = SaveFileReader.Open(savefile);
            name = ConfigNames.Find(reader.Header.ConfigText, reader.Header.ConfigFormat);
            // The stored config is whoever wrote the file's: what it makes dom0 run or open needs consent first.
            if (!TrustConfig && reader.Header.ConfigText is { } stored && !await IsTrustedAsync(savefile, stored, ConsentConfig, cancellationToken).ConfigureAwait(false))
                return;
        }
        CurrentDomain = name;

        await using var host = OpenHost(Host);
        if (name is not null && await host.FindDomainAsync(name, cancellationToken).ConfigureAwait(false) is not null)
        {
            if (!Replace)
            {
                LogCodedError(Strings.DomainExists, name, host.Spec, "a restore would create a second domain of that name");
                return;
            }
            // The running domain goes only for a restore that can work: a damaged snapshot or a config that does not
            // fit its image destroyed the VM a failed test run had kept for a look, and then failed anyway.
            if (!CanReplaceWith(savefile, overrideConfig)) return;
            Log.LogMessage(MessageImportance.Normal, "XenIac: destroying the running domain '{0}' on {1} before restoring it (Replace)", name, host.Spec);
            await host.DestroyAsync(name, cancellationToken).ConfigureAwait(false);
        }

        Log.LogMessage(MessageImportance.Normal, "XenIac: restoring {0} on {1}{2}", savefile, host.Spec,
            overrideConfig is null ? "" : " with config " + FullPath(Config!));
        RestoreResult result;
        try
        {
            result = await host.RestoreAsync(savefile,
                new RestoreOptions { Paused = Paused, OverrideConfig = overrideConfig, Progress = ByteProgress("restored") },
                cancellationToken).ConfigureAwait(false);
        }
        catch (XenHostException e) when (e.Error == XenHostError.DomainExists && Replace)
        {
            // Replace made way for it, and another process restored the name in between: two builds sharing a host and
            // a VM name. XIAC0004's advice ("set Replace") was already taken; this is the host being busy.
            LogCodedError(Strings.HostBusy, host.Spec, $"another process restored '{name}' while this build was replacing it " +
                "(two builds on one host with one VM name take turns destroying each other's VM: give each its own XenIacHost)");
            return;
        }
        DomainName = result.Domain.Name;
        DomId = checked((int)result.Domain.DomId);
        Log.LogMessage(MessageImportance.High, "XenIac: restored domain '{0}' (id {1}, {2}) from {3}",
            result.Domain.Name, result.Domain.DomId, result.Domain.State, savefile);
    }

    /// <summary>
    /// What can be known of the restore without the host: the image reads through to its end, and the override
    /// config fits the stored one. Logs XIAC0006 or XIAC0007 and returns false when not.
    /// </summary>
    private bool CanReplaceWith(string savefile, ConfigText? overrideConfig)
    {
        using var reader = SaveFileReader.Open(savefile);
        var verification = SaveFileVerification.Verify(reader);
        if (!verification.IsValid)
        {
            LogCodedError(Strings.SavefileInvalid, savefile, $"{verification.Problem?.ToString() ?? "the image stream is not valid"} (the running domain was kept)");
            return false;
        }
        if (overrideConfig is null || reader.Header.ConfigText is not { } stored) return true;
        var storedModel = ConfigModel(new ConfigText(stored.TrimEnd('\0'), reader.Header.ConfigFormat), savefile + " (stored config)");
        try
        {
            SavefileConfigEditor.CheckReplacement(FullPath(Config!), ConfigModel(overrideConfig, FullPath(Config!)), storedModel, $"the config stored in '{savefile}'", force: false);
            return true;
        }
        catch (IncompatibleConfigException e)
        {
            LogCodedError(Strings.ConfigInvalid, $"{e.Message} (the running domain was kept)");
            return false;
        }
    }

    private bool IsFresh(string savefile, string expected)
    {
        using var reader = SaveFileReader.Open(savefile);
        var recorded = reader.Header.Fingerprint;
        if (recorded == expected) return true;
        LogCodedError(Strings.SnapshotStale, savefile, recorded is null ? "it records no fingerprint" : $"it records {recorded}", expected);
        return false;
    }
}
