using System.Globalization;
using System.Text.Json;
using Microsoft.Build.Framework;
using TaskItem = Microsoft.Build.Utilities.TaskItem;
using XenIac.Core.IO;
using XenIac.Core.SaveFiles;
using XenIac.Reconciler.Cloning;

namespace XenIac.MSBuild;

/// <summary>
/// A warm pool for the tests: <see cref="Count"/> clones of one snapshot restored in parallel, each with its own
/// name (PREFIX-1..N), MACs (Xen OUI, unique on the host), disk copies and VM generation ID, by the same rules as
/// <c>xen-iac domain clone</c>. Clones left by an earlier run (one whose tests failed before the teardown) are torn
/// down first. The pool is written to <see cref="PoolFile"/> and named in the environment of the test run.
/// </summary>
public sealed class XenIacCloneDomains : XenIacHostTask
{
    /// <summary>The environment variable the test process finds the clone names in (comma-separated).</summary>
    public const string NamesVariable = "XENIAC_TEST_CLONES";

    /// <summary>The environment variable naming <see cref="PoolFile"/>.</summary>
    public const string FileVariable = "XENIAC_TEST_CLONES_FILE";

    [Required] public string Savefile { get; set; } = "";

    [Required] public int Count { get; set; }

    /// <summary>Clones are named PREFIX-1..N; default: the name in the savefile's config.</summary>
    public string? NamePrefix { get; set; }

    public int Parallelism { get; set; } = 4;

    /// <summary>Give each clone its own copy of every writable file disk (default); false: they share the source's disks.</summary>
    public bool CopyDisks { get; set; } = true;

    /// <summary>cp, qcow2 or none (<see cref="CloneDiskCopyWords"/>); wins over <see cref="CopyDisks"/> when set.</summary>
    public string? DiskCopy { get; set; }

    /// <summary>The fingerprint the snapshot must record (XIAC0021 otherwise).</summary>
    public string? Fingerprint { get; set; }

    /// <summary>Restore even when the stored config makes dom0 run a program or open a host path (as XenIacRestoreDomain).</summary>
    public bool TrustConfig { get; set; }

    /// <summary>A config the project wrote (the snapshot's own <c>XenIacDomainConfig</c>): what it names needs no trust.</summary>
    public string? ConsentConfig { get; set; }

    /// <summary>Where the pool is described as JSON (name, number, domid, MACs, disk copies per clone).</summary>
    [Required] public string PoolFile { get; set; } = "";

    /// <summary>The prefix the clones got (what XenIacTeardownClones takes).</summary>
    [Output] public string? NamePrefixUsed { get; set; }

    /// <summary>The clones, with metadata DomId, Number and Macs.</summary>
    [Output] public ITaskItem[] Clones { get; set; } = [];

    private protected override async Task ExecuteAsync(CancellationToken cancellationToken)
    {
        if (SavefilePath(Savefile) is not { } savefile) return;
        Operation = $"Cloning '{savefile}'";
        if (Count is < 1 or > CloneBatch.MaxCount)
        {
            LogCodedError(Strings.InvalidParameter, "Count", $"it is 1 to {CloneBatch.MaxCount} (XenIacTestVmClones in the XenIac targets), not {Count}");
            return;
        }
        var diskCopy = CopyDisks ? CloneDiskCopy.Copy : CloneDiskCopy.None;
        if (!string.IsNullOrWhiteSpace(DiskCopy) && !CloneDiskCopyWords.TryParse(DiskCopy, out diskCopy))
        {
            LogCodedError(Strings.InvalidParameter, "DiskCopy", $"it is {CloneDiskCopyWords.List} (XenIacCloneDiskCopy in the XenIac targets), not '{DiskCopy.Trim()}'");
            return;
        }
        if (!IsReadableSavefile(savefile)) return;
        string? stored;
        SaveFileConfigFormat format;
        using (var reader = SaveFileReader.Open(savefile))
        {
            stored = reader.Header.ConfigText;
            format = reader.Header.ConfigFormat;
            if (!string.IsNullOrWhiteSpace(Fingerprint))
            {
                if (!IsFingerprint(Fingerprint)) return;
                if (reader.Header.Fingerprint != Fingerprint.Trim())
                {
                    LogCodedError(Strings.SnapshotStale, savefile,
                        reader.Header.Fingerprint is { } recorded ? $"it records {recorded}" : "it records no fingerprint", Fingerprint.Trim());
                    return;
                }
            }
        }
        if (!TrustConfig && stored is not null && !await IsTrustedAsync(savefile, stored, ConsentConfig, cancellationToken).ConfigureAwait(false))
            return;
        // Before any clone is made: a pool file that cannot be written (a folder, a link, a device) was found only
        // after the clones ran, and they were left running with no pool file naming them.
        var pool = FullPath(PoolFile);
        try
        {
            CreateFolderFor(pool);
            // Only an earlier pool file (or an empty one) is replaced: a typo naming the snapshot or the config
            // replaced it with this JSON, and the next build failed on the "savefile" it had become.
            AtomicFile.CheckTargetOfKind(pool, "clone pool file", IsPoolFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogCodedError(Strings.InvalidParameter, "PoolFile", e.Message);
            return;
        }

        await using var host = OpenHost(Host);
        var prefix = string.IsNullOrWhiteSpace(NamePrefix) ? ConfigNames.Find(stored, format) : NamePrefix.Trim();
        NamePrefixUsed = prefix;
        IReadOnlyList<MadeClone> made;
        try
        {
            if (prefix is not null)
                foreach (var left in await CloneBatch.TeardownAsync(host, prefix, cancellationToken).ConfigureAwait(false))
                    Log.LogMessage(MessageImportance.High, "XenIac: tore down clone '{0}' left by an earlier run", left);
            made = await CloneBatch.RestoreAsync(host, savefile, new CloneBatchOptions
            {
                Count = Count,
                Prefix = prefix,
                Parallelism = Math.Max(1, Parallelism),
                DiskCopy = diskCopy,
                Warn = message => Log.LogWarning("XenIac: {0}", message),
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (CloneException e)
        {
            LogCodedError(Strings.CloneRefused, savefile, host.Spec, e.Message);
            return;
        }
        catch (CloneFailedException e)
        {
            LogCodedError(Strings.CloneRefused, savefile, host.Spec, e.Message);
            return;
        }

        // Without a prefix given or in the config, the batch took the source's name: the clones are PREFIX-N all the same.
        prefix ??= made.Count > 0 ? made[0].Name[..made[0].Name.LastIndexOf('-')] : null;
        NamePrefixUsed = prefix;
        var json = new System.Text.Json.Nodes.JsonArray([.. made.Select(c => (System.Text.Json.Nodes.JsonNode)new System.Text.Json.Nodes.JsonObject
        {
            ["name"] = c.Name,
            ["number"] = c.Number,
            ["domid"] = c.Result.Domain.DomId,
            ["macs"] = new System.Text.Json.Nodes.JsonArray([.. c.Result.Cloned!.Macs.Select(m => (System.Text.Json.Nodes.JsonNode)m)]),
            ["disks"] = new System.Text.Json.Nodes.JsonArray([.. c.Result.Cloned.Disks.Select(d => (System.Text.Json.Nodes.JsonNode)new System.Text.Json.Nodes.JsonObject { ["vdev"] = d.Vdev, ["target"] = d.To })]),
        })]);
        var text = System.Text.Encoding.UTF8.GetBytes(json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        try
        {
            await AtomicFile.WriteAsync(pool, (stream, ct) => stream.WriteAsync(text, ct).AsTask(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A pool nobody can find is one nobody tears down: it goes, as a failed batch does.
            if (prefix is not null) await CloneBatch.TeardownAsync(host, prefix, CancellationToken.None).ConfigureAwait(false);
            LogCodedError(Strings.CloneRefused, savefile, host.Spec, $"the pool file cannot be written ({e.Message}); the clones were torn down");
            return;
        }

        // The test run (vstest.console and its testhost) is started by this build process after this task: it inherits these.
        Environment.SetEnvironmentVariable(NamesVariable, string.Join(',', made.Select(c => c.Name)));
        Environment.SetEnvironmentVariable(FileVariable, pool);
        Clones = [.. made.Select(c =>
        {
            var item = new TaskItem(c.Name);
            item.SetMetadata("DomId", c.Result.Domain.DomId.ToString(CultureInfo.InvariantCulture));
            item.SetMetadata("Number", c.Number.ToString(CultureInfo.InvariantCulture));
            item.SetMetadata("Macs", string.Join(';', c.Result.Cloned!.Macs));
            return (ITaskItem)item;
        })];
        Log.LogMessage(MessageImportance.High, "XenIac: restored {0} clones of {1} on {2}: {3} (pool in {4})",
            made.Count, savefile, host.Spec, string.Join(", ", made.Select(c => c.Name)), pool);
    }

    /// <summary>Whether <paramref name="path"/> holds a pool this task wrote: a JSON array of clones with names and numbers.</summary>
    private static bool IsPoolFile(string path)
    {
        try
        {
            return System.Text.Json.Nodes.JsonNode.Parse(SmallFile.ReadAllBytes(path)) is System.Text.Json.Nodes.JsonArray clones
                && clones.All(c => c is System.Text.Json.Nodes.JsonObject o && o["name"] is System.Text.Json.Nodes.JsonValue && o["number"] is System.Text.Json.Nodes.JsonValue);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException or XenIac.Core.XenIacException)
        {
            return false;
        }
    }
}

/// <summary>Destroys a clone pool (PREFIX-1..N) and the disk copies it was given.</summary>
public sealed class XenIacTeardownClones : XenIacHostTask
{
    [Required] public string NamePrefix { get; set; } = "";

    private protected override async Task ExecuteAsync(CancellationToken cancellationToken)
    {
        Operation = $"Tearing down clones '{NamePrefix}-N'";
        await using var host = OpenHost(Host);
        try
        {
            var gone = await CloneBatch.TeardownAsync(host, NamePrefix.Trim(), cancellationToken).ConfigureAwait(false);
            Log.LogMessage(MessageImportance.High, "XenIac: tore down {0} clones on {1}{2}", gone.Count, host.Spec, gone.Count == 0 ? "" : ": " + string.Join(", ", gone));
        }
        catch (CloneException e)
        {
            LogCodedError(Strings.InvalidParameter, "NamePrefix", e.Message);
        }
    }
}
