using XenIac.Hosts;

namespace XenIac.Reconciler.Manifests;

/// <summary>A place in a manifest file, 1-based like editors show it.</summary>
/// <summary>A place in a file; line 0 is the file as a whole (what a command-line option found wrong with it).</summary>
public sealed record SourceLocation(string File, int Line, int Column)
{
    public override string ToString() => Line <= 0 ? File : $"{File}:{Line}:{Column}";
}

public enum DesiredState
{
    /// <summary>The domain runs on the host (restored from its savefile when there is one, else created).</summary>
    Running,
    /// <summary>The domain does not run and its savefile is valid.</summary>
    Saved,
    /// <summary>The domain does not run. Its savefile, if any, is kept: XenIac never deletes guest data.</summary>
    Absent,
}

public enum SavefileFormat
{
    /// <summary>Today's xl format: header, config, image.</summary>
    Xl,
    /// <summary>The old configless format: image only; the config comes from the manifest when restoring.</summary>
    Legacy,
}

/// <summary>A setting value written inline in the manifest: a string, a number or a list of strings, as in xl.cfg.</summary>
public sealed record SettingValue
{
    public string? String { get; init; }
    public long? Number { get; init; }
    public IReadOnlyList<string>? List { get; init; }

    public override string ToString() =>
        String is not null ? $"\"{String}\"" : Number is not null ? Number.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)
        : $"[{string.Join(", ", List!.Select(s => $"\"{s}\""))}]";

    /// <summary>The value as xl.cfg writes it; one conversion for the loader's check and the planner's merge.</summary>
    internal XenIac.Core.Config.XlValue ToXl() =>
        Number is { } n ? XenIac.Core.Config.XlValue.Number(n)
        : String is { } s ? XenIac.Core.Config.XlValue.String(s)
        : XenIac.Core.Config.XlValue.List(List!.ToArray());
}

/// <summary>One domain of the manifest, with every path already resolved against the manifest's folder.</summary>
public sealed record DomainSpec
{
    public required string Name { get; init; }
    /// <summary>Base config (xl.cfg or libxl JSON), used to create the domain.</summary>
    public string? ConfigPath { get; init; }
    public required string SavefilePath { get; init; }
    public DesiredState State { get; init; } = DesiredState.Running;
    /// <summary>Alternative config used when restoring and stored when saving.</summary>
    public string? OverrideConfigPath { get; init; }
    /// <summary>Settings merged onto the config used when restoring and stored when saving (xl.cfg keys).</summary>
    public IReadOnlyList<KeyValuePair<string, SettingValue>> OverrideSettings { get; init; } = [];
    public bool Checkpoint { get; init; }
    public bool Paused { get; init; }
    /// <summary>
    /// <c>paused: reconcile</c>: the domain is observed and reported (plan, status) but never changed by apply or
    /// reconcile, as Crossplane's observe-only resources. Not the same as <see cref="Paused"/> (restore paused).
    /// </summary>
    public bool ObserveOnly { get; init; }
    /// <summary>
    /// <c>keep: N</c>: how many savefiles a save or checkpoint keeps (history copies beside the savefile, or the
    /// newest N snapshots of the domain's tag); null keeps only the current one, as before.
    /// </summary>
    public int? Keep { get; init; }
    public SavefileFormat Format { get; init; } = SavefileFormat.Xl;
    /// <summary>
    /// <c>clones: N</c>: apply keeps N clones of the domain's savefile running on its host, named
    /// <c>NAME-1</c>..<c>NAME-N</c> (<see cref="Cloning.CloneBatch"/>'s fixups); 0: none (those apply made are torn down).
    /// </summary>
    public int Clones { get; init; }
    /// <summary><c>cloneDiskCopy</c>: how each clone gets its own writable disks (cp, qcow2 or none).</summary>
    public Cloning.CloneDiskCopy CloneDiskCopy { get; init; } = Cloning.CloneDiskCopy.Copy;
    /// <summary>
    /// The host the domain lives on; <see cref="HostSpec.Default"/> when the manifest names none. For a domain placed
    /// by <see cref="HostSelector"/> it is the default until the planner has chosen (a plan's spec holds the choice).
    /// </summary>
    public HostSpec Host { get; init; }
    /// <summary>The name in the manifest's <c>hosts:</c> of <see cref="Host"/>, when it has one.</summary>
    public string? HostName { get; init; }
    /// <summary><c>host: {label: rack=a}</c>: placement picks one of the matching hosts of <c>hosts:</c>.</summary>
    public LabelSelector? HostSelector { get; init; }
    /// <summary>Where <c>host:</c> is written (the domain's location when it is not).</summary>
    public SourceLocation? HostLocation { get; init; }
    /// <summary>Apply even when the override config is incompatible with the saved one.</summary>
    public bool Force { get; init; }
    /// <summary>
    /// Restore with the savefile's stored config even where it makes dom0 run a program or open a host path
    /// (<see cref="XenIac.Core.Config.HostEffects"/>) that the manifest's own configs do not name.
    /// </summary>
    public bool TrustConfig { get; init; }
    /// <summary>Where the domain's entry starts (its name).</summary>
    public required SourceLocation Location { get; init; }
    /// <summary>Where the savefile path is written (the domain's location when it is the default path).</summary>
    public SourceLocation? SavefileLocation { get; init; }
    /// <summary>Where the config path is written (the domain's location when there is none).</summary>
    public SourceLocation? ConfigLocation { get; init; }
    /// <summary>Where the overrides are written (the domain's location when there are none).</summary>
    public SourceLocation? OverridesLocation { get; init; }

    /// <summary>
    /// The snapshot tag the domain's savefile is kept under in a store, when it names one: saves and checkpoints
    /// are pushed there, and a restore takes the tag's newest snapshot (pulled to <see cref="SavefilePath"/>, which
    /// is then only a local working copy).
    /// </summary>
    public SnapshotRef? Snapshot { get; init; }

    /// <summary>Free key/value labels (<c>labels: {rack: a}</c>), for selecting domains with <c>--target label:rack=a</c>.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = EmptyLabels;

    private static readonly IReadOnlyDictionary<string, string> EmptyLabels = new Dictionary<string, string>(StringComparer.Ordinal);

    public bool HasOverrides => OverrideConfigPath is not null || OverrideSettings.Count > 0;
}

/// <summary>A tag in a snapshot store: the store's location (folder or s3://) and its key file when encrypted.</summary>
public sealed record SnapshotRef(string Tag, string Store, string? KeyFile);

/// <summary>A host of the manifest's <c>hosts:</c> section: a name for a spec, and labels a domain's <c>host:</c> can select.</summary>
public sealed record ManifestHost(string Name, HostSpec Spec, IReadOnlyDictionary<string, string> Labels, SourceLocation Location);

/// <summary>A loaded, validated manifest.</summary>
public sealed record Manifest(string Path, IReadOnlyList<DomainSpec> Domains)
{
    public string Directory => System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;

    /// <summary>The <c>hosts:</c> section in the order written; empty when the manifest has none.</summary>
    public IReadOnlyList<ManifestHost> Hosts { get; init; } = [];

    /// <summary>Every host spec the manifest can reach: those of <c>hosts:</c>, then those domains name directly.</summary>
    public IEnumerable<HostSpec> HostSpecs => Hosts.Select(h => h.Spec).Concat(Domains.Where(d => d.HostSelector is null).Select(d => d.Host)).Distinct();

    /// <summary>More than one host: plans name each action's host.</summary>
    public bool IsMultiHost => HostSpecs.Skip(1).Any();

    /// <summary>The name <c>hosts:</c> gives <paramref name="spec"/>, or null.</summary>
    public string? NameOf(HostSpec spec) => Hosts.FirstOrDefault(h => h.Spec == spec)?.Name;
}
