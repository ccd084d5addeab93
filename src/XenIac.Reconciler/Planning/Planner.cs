using XenIac.Core.IO;
using XenIac.Core;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;
using XenIac.Reconciler.Manifests;

namespace XenIac.Reconciler.Planning;

/// <summary>
/// Compares a manifest with reality — the hosts' domains and the savefiles on disk — and decides per domain what
/// to do. There is no state file: what is on the host and on disk is the state, so nothing can drift from it.
/// </summary>
public static partial class Planner
{
    /// <summary>Plans every domain (or only <paramref name="targets"/>), opening each host once.</summary>
    public static Task<Plan> PlanAsync(Manifest manifest, IHostProvider hosts, IReadOnlyCollection<string>? targets = null,
        CancellationToken cancellationToken = default) => PlanAsync(manifest, hosts, targets, PlanOptions.Default, cancellationToken);

    /// <summary>Plans with <paramref name="options"/> (--force, --trust-config).</summary>
    public static async Task<Plan> PlanAsync(Manifest manifest, IHostProvider hosts, IReadOnlyCollection<string>? targets, PlanOptions options,
        CancellationToken cancellationToken = default)
    {
        var selected = Targets.Select(manifest, targets);
        var replace = ReplaceSet(manifest, selected, options.Replace);
        var plans = new DomainPlan[selected.Count];
        await using var stores = new Snapshots();
        var fleet = await Fleet.OpenAsync(manifest, selected, hosts, cancellationToken).ConfigureAwait(false);
        // Once: Directory resolves the manifest's path against the working directory (a getcwd each time).
        var manifestDirectory = manifest.Directory;
        var lastStarted = new Lazy<IReadOnlyDictionary<string, Applying.JournalEntry>>(() =>
            LastStarted(Path.Combine(manifestDirectory, ".xen-iac", "journal.jsonl")));
        for (var index = 0; index < selected.Count; index++)
        {
            var spec = selected[index];
            plans[index] = await PlaceAsync(spec, fleet, stores, hosts, options, manifestDirectory, lastStarted, cancellationToken).ConfigureAwait(false);
            if (replace.Contains(spec.Name) && plans[index].Observed.HostError is null)
                plans[index] = await ReplaceAsync(plans[index], hosts, options, cancellationToken).ConfigureAwait(false);
        }
        // Pools whose domain left the manifest are found only in a plan of the whole manifest, not of some targets.
        var pools = await PlanPoolsAsync(manifest, plans, fleet, hosts, options, allDomains: targets is null or { Count: 0 }, cancellationToken).ConfigureAwait(false);
        return new Plan(manifest, [.. plans, .. pools]);
    }

    /// <summary>Header-only look at the savefile: enough to know it is one, and cheap for a thousand domains.</summary>
    internal static SavefileStatus ObserveSavefile(DomainSpec spec)
    {
        var info = new FileInfo(spec.SavefilePath);
        // A link's own FileInfo has the link's length; the savefile is the file it points to. The attributes come from
        // the lstat that Exists makes anyway; asking for the link target of every savefile costs a readlink each.
        if (info.Exists && info.Attributes.HasFlag(FileAttributes.ReparsePoint))
        {
            // A link that loops or points nowhere is a file that is there and is no savefile: nothing may be created
            // to be saved onto it (a save never replaces a link), and a loop is this domain's problem, not the plan's.
            FileSystemInfo? target;
            try { target = info.ResolveLinkTarget(returnFinalTarget: true); }
            catch (IOException) { return new SavefileStatus(true, false, "a symbolic link that loops: too many levels of links to reach a file", null, 0); }
            if (target is FileInfo file)
            {
                if (!file.Exists) return new SavefileStatus(true, false, $"a symbolic link to {file.FullName}, which does not exist", null, 0);
                info = file;
            }
        }
        if (!info.Exists) return SavefileStatus.Missing;
        // Never opened: a FIFO would hold the plan until some process wrote to it, a device would never end.
        if (!AtomicFile.IsRegularFile(info.FullName))
            return new SavefileStatus(true, false, "not a regular file (a FIFO, device or socket); a savefile is a file on disk", null, 0);
        try
        {
            if (spec.Format == SavefileFormat.Legacy)
            {
                if (info.Length == 0) return new SavefileStatus(true, false, "the file is empty", null, 0);
                if (SaveFileHeader.LooksLikeXlSavefile(spec.SavefilePath))
                    return new SavefileStatus(true, false, "the manifest says legacy, but the file has an xl header (format: xl?)", null, info.Length);
                return new SavefileStatus(true, true, null, SaveFileHeader.Legacy, info.Length) { SavedAt = info.LastWriteTimeUtc };
            }
            using var reader = SaveFileReader.Open(spec.SavefilePath, SaveFileReaderOptions.Inspection);
            if (reader.Header.ConfigFormat == SaveFileConfigFormat.None)
                return new SavefileStatus(true, false, "the savefile stores no config", reader.Header, info.Length);
            if (reader.Header.ImageLengthProblem(info.Length) is { } problem)
                return new SavefileStatus(true, false, problem, reader.Header, info.Length);
            return new SavefileStatus(true, true, null, reader.Header, info.Length) { SavedAt = info.LastWriteTimeUtc };
        }
        catch (XenFormatException e)
        {
            return new SavefileStatus(true, false, e.Message, null, info.Length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new SavefileStatus(true, false, e.Message, null, info.Length);
        }
    }

    internal static async Task<DomainPlan> DecideAsync(DomainSpec spec, DomainObservation observed, IHostProvider hosts, CancellationToken cancellationToken,
        PlanOptions? options = null, string? manifestDirectory = null)
    {
        options ??= PlanOptions.Default;
        var plan = await DecideCoreAsync(spec, observed, hosts, options, cancellationToken).ConfigureAwait(false);
        if (plan.Error is null && WritesSavefile(plan) && SaveTargetProblem(spec.SavefilePath) is { } problem)
            return Failed(spec, observed, plan.Action, $"{spec.SavefileLocation ?? spec.Location}: the plan saves to {spec.SavefilePath}, but {problem}");
        var warnings = new List<string>(plan.Warnings);
        // A manifest can name any path; one it writes outside its own folder deserves a look before apply.
        if (manifestDirectory is not null && !IsInside(spec.SavefilePath, manifestDirectory))
            warnings.Insert(0, $"{spec.SavefileLocation ?? spec.Location}: savefile {spec.SavefilePath} is outside the manifest's folder {manifestDirectory}");
        // paused: reconcile: the drift is shown as what apply would do, and apply leaves it (DomainPlan.IsChange).
        var reason = spec.ObserveOnly && plan.Action != PlanAction.None && plan.Error is null
            ? $"{plan.Reason} (observe only, paused: reconcile: not changed)" : plan.Reason;
        return plan with { Warnings = warnings, Reason = reason };
    }

    /// <summary>
    /// A domain's config that does not read: placed at the manifest's <c>config:</c> line, and the message names the
    /// config file and its own line (it said "config:3:8", after the domain's name).
    /// </summary>
    private static string ConfigProblem(DomainSpec spec, Exception e) =>
        e.Message.Contains(spec.ConfigPath!, StringComparison.Ordinal)
            ? $"{spec.ConfigLocation ?? spec.Location}: {e.Message}"
            : $"{spec.ConfigLocation ?? spec.Location}: config {spec.ConfigPath}: {e.Message}";

    /// <summary>Whether carrying the plan out writes the domain's savefile (a save or checkpoint, a replace of a running domain).</summary>
    private static bool WritesSavefile(DomainPlan plan) =>
        plan.Steps.Any(s => s is PlanAction.Save or PlanAction.Checkpoint) || plan.Action is PlanAction.Save or PlanAction.Checkpoint ||
        (plan.Action == PlanAction.Replace && plan.Observed.Domain is not null);

    /// <summary>
    /// What makes a save to <paramref name="path"/> fail that the plan can see now, so apply does not create a domain
    /// and then fail to save it: a link there (a save replaces the file atomically and never a link), or a file where
    /// one of its folders would be. Missing folders are fine: the save makes them.
    /// </summary>
    private static string? SaveTargetProblem(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is { } target)
            return $"it is a symbolic link (to {target}), and a save replaces the file atomically, never a link: name the file it points to";
        if (Directory.Exists(path)) return "it is a folder";
        for (var folder = info.Directory; folder is not null; folder = folder.Parent)
        {
            if (folder.Exists) return null;
            if (File.Exists(folder.FullName)) return $"{folder.FullName} is a file, not a folder";
        }
        return null;
    }

    /// <summary>The domain a savefile at the manifest's path was saved from (its stored name, or this one's when it stores none); null when there is no readable savefile there.</summary>
    private static string? UnpushedSavefileOf(DomainSpec spec)
    {
        if (!Core.IO.AtomicFile.IsRegularFile(spec.SavefilePath)) return null;
        try
        {
            using var file = Core.IO.InputFile.Open(spec.SavefilePath);
            return StoredName(SaveFileHeader.Read(file)) ?? spec.Name;
        }
        catch (Exception e) when (e is XenIacException or IOException or UnauthorizedAccessException) { return null; }
    }

    private static bool IsInside(string path, string directory)
    {
        var relative = System.IO.Path.GetRelativePath(directory, path);
        return relative != ".." && !relative.StartsWith(".." + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal)
            && !System.IO.Path.IsPathRooted(relative);
    }

    private static async Task<DomainPlan> DecideCoreAsync(DomainSpec spec, DomainObservation observed, IHostProvider hosts, PlanOptions options,
        CancellationToken cancellationToken)
    {
        var savefileAt = spec.SavefileLocation ?? spec.Location;
        // A savefile observed as a file is not a folder: only a missing one (or a snapshot's path) needs the look.
        if (spec.State != DesiredState.Absent && (spec.Snapshot is not null || !observed.Savefile.Exists) && Directory.Exists(spec.SavefilePath))
            return Failed(spec, observed, PlanAction.None, $"{savefileAt}: savefile {spec.SavefilePath} is a folder; name a file in it (e.g. {System.IO.Path.Combine(spec.SavefilePath, spec.Name + ".xlsave")})");
        // The store has no snapshot of the tag, yet the local savefile holds this domain: an apply stopped between its
        // save (which ended the domain) and the push. Planning "create + save" would boot a fresh guest and save it over
        // the only copy of the saved one; the push is the user's to finish.
        if (spec.Snapshot is { } snapshot && spec.State != DesiredState.Absent && observed.Domain is null && !observed.Savefile.Exists
            && UnpushedSavefileOf(spec) is { } unpushed)
            return Failed(spec, observed, PlanAction.None,
                $"{savefileAt}: the store has no snapshot tagged {snapshot.Tag}, but {spec.SavefilePath} holds a savefile of {unpushed} (a save whose push did not finish?): " +
                $"push it with 'xen-iac store push {spec.SavefilePath} --store {snapshot.Store} --tag {snapshot.Tag}'{(snapshot.KeyFile is { } key ? $" --key {key}" : "")}, or move it away to start from the config");
        if (!TryComposeOverride(spec, out var overrideConfig, out var overrideError))
            return Failed(spec, observed, PlanAction.None, $"{spec.OverridesLocation ?? spec.Location}: overrides: {overrideError}");

        var domain = observed.Domain;
        return spec.State switch
        {
            DesiredState.Absent => domain is null
                ? Plan(spec, observed, PlanAction.None, "not running, as desired")
                : Plan(spec, observed, PlanAction.Destroy, $"running as domid {domain.DomId} but desired absent (the savefile is kept)"),
            DesiredState.Running => await DecideRunningAsync(spec, observed, overrideConfig, hosts, options, cancellationToken).ConfigureAwait(false),
            DesiredState.Saved => await DecideSavedAsync(spec, observed, overrideConfig, hosts, options, cancellationToken).ConfigureAwait(false),
            _ => throw new ArgumentOutOfRangeException(nameof(spec), spec.State, "unknown desired state"),
        };
    }

    /// <summary>
    /// The domain's override config (a whole config, settings merged on, the manifest's name written in), checked to
    /// be one xl can use (vcpus: "two", maxmem below memory...) now, at the manifest's line, not after apply has
    /// created the domain. Null config when the domain has no overrides.
    /// </summary>
    private static bool TryComposeOverride(DomainSpec spec, out ConfigText? config, out string? error)
    {
        error = null;
        try
        {
            config = OverrideConfigs.Compose(spec);
            if (config is not null)
            {
                OverrideConfigs.Model(config);
                config = OverrideConfigs.WithName(config, spec.Name);
            }
            return true;
        }
        catch (Exception e) when (e is XenIacException or IOException or UnauthorizedAccessException or ArgumentException or FormatException)
        {
            config = null;
            error = e.Message;
            return false;
        }
    }

    private static async Task<DomainPlan> DecideRunningAsync(DomainSpec spec, DomainObservation observed, ConfigText? overrideConfig,
        IHostProvider hosts, PlanOptions options, CancellationToken cancellationToken)
    {
        var domain = observed.Domain;
        var savefile = observed.Savefile;
        var savefileAt = spec.SavefileLocation ?? spec.Location;
        if (domain is not null)
        {
            if (spec.Checkpoint && !savefile.Valid)
            {
                if (savefile.Exists && !options.ReplaceInvalidSavefiles)
                    return Failed(spec, observed, PlanAction.Checkpoint, RefuseToReplace(spec, savefile));
                return await WithOverridesAsync(spec, observed, PlanAction.Checkpoint, [PlanAction.Checkpoint],
                    savefile.Exists ? $"running; the file at the checkpoint path is not a valid savefile ({savefile.Problem}) and is replaced (--force)" : "running; no checkpoint savefile yet",
                    overrideConfig, hosts, Against.Running, null, cancellationToken).ConfigureAwait(false);
            }
            if (spec.Checkpoint && options.CheckpointEvery is { } every && savefile.SavedAt is { } savedAt && DateTimeOffset.UtcNow - savedAt >= every)
                return await WithOverridesAsync(spec, observed, PlanAction.Checkpoint, [PlanAction.Checkpoint],
                    string.Create(System.Globalization.CultureInfo.InvariantCulture, $"running; the checkpoint is older than {every.TotalSeconds:0.#} s (--checkpoint-every)"),
                    overrideConfig, hosts, Against.Running, null, cancellationToken).ConfigureAwait(false);
            return Plan(spec, observed, PlanAction.None,
                domain.State == DomainState.Paused ? $"running (paused) as domid {domain.DomId}" : $"running as domid {domain.DomId}");
        }
        if (savefile.Valid)
            return await RestoreAsync(spec, observed, overrideConfig, hosts, options, cancellationToken).ConfigureAwait(false);
        if (savefile.Exists)
            return Failed(spec, observed, PlanAction.Restore, $"{savefileAt}: cannot restore: {spec.SavefilePath} is not a valid savefile ({savefile.Problem}); fix or remove it");
        if (spec.ConfigPath is null)
            return Failed(spec, observed, PlanAction.Create, "not running, no savefile and no 'config' to create it from");
        return await CreateAsync(spec, observed,
            spec.Checkpoint ? "not running and no savefile: create from config, then checkpoint" : "not running and no savefile: create from config",
            spec.Checkpoint ? [PlanAction.Create, PlanAction.Checkpoint] : [PlanAction.Create], overrideConfig, hosts, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<DomainPlan> DecideSavedAsync(DomainSpec spec, DomainObservation observed, ConfigText? overrideConfig,
        IHostProvider hosts, PlanOptions options, CancellationToken cancellationToken)
    {
        var domain = observed.Domain;
        var savefile = observed.Savefile;
        var savefileAt = spec.SavefileLocation ?? spec.Location;
        if (domain is not null)
        {
            if (savefile.Exists && !savefile.Valid && !options.ReplaceInvalidSavefiles)
                return Failed(spec, observed, PlanAction.Save, RefuseToReplace(spec, savefile));
            return await WithOverridesAsync(spec, observed, PlanAction.Save, [PlanAction.Save],
                !savefile.Exists ? $"running as domid {domain.DomId}; save it"
                : savefile.Valid ? $"running as domid {domain.DomId}; save it (replacing the existing savefile)"
                : $"running as domid {domain.DomId}; save it (replacing a file that is not a valid savefile: --force)",
                overrideConfig, hosts, Against.Running, null, cancellationToken).ConfigureAwait(false);
        }
        if (savefile.Valid) return Plan(spec, observed, PlanAction.None, "saved, as desired") with { Warnings = OtherDomainsSavefile(spec, savefile) };
        if (savefile.Exists)
            return Failed(spec, observed, PlanAction.Save, $"{savefileAt}: not running and {spec.SavefilePath} is not a valid savefile ({savefile.Problem})");
        if (spec.ConfigPath is null)
            return Failed(spec, observed, PlanAction.Save, "not running, no savefile and no 'config' to create it from");
        return await CreateAsync(spec, observed, "not running and no savefile: create from config, then save",
            [PlanAction.Create, PlanAction.Save], overrideConfig, hosts, cancellationToken).ConfigureAwait(false);
    }

    internal static string RefuseToReplace(DomainSpec spec, SavefileStatus savefile) =>
        $"{spec.SavefileLocation ?? spec.Location}: {spec.SavefilePath} exists and is not a valid savefile ({savefile.Problem}); " +
        "it is not replaced unless you pass --force (or move it away)";

    private enum Against { Running, Savefile, CreateConfig }

    /// <summary>
    /// Create (then save or checkpoint): the domain is created from the base config with the manifest's name, and
    /// an override stored by the save that follows is checked against that config, which is what the domain runs.
    /// </summary>
    private static async Task<DomainPlan> CreateAsync(DomainSpec spec, DomainObservation observed, string reason, IReadOnlyList<PlanAction> steps,
        ConfigText? overrideConfig, IHostProvider hosts, CancellationToken cancellationToken)
    {
        ConfigText createConfig;
        var warnings = new List<string>();
        try
        {
            var document = ConfigText.FromText(await ConfigText.ReadTextAsync(spec.ConfigPath!, cancellationToken).ConfigureAwait(false), spec.ConfigPath);
            createConfig = Renamed(spec, document, spec.ConfigPath!, warnings);
        }
        catch (Exception e) when (e is XenIacException or IOException or UnauthorizedAccessException or ArgumentException or FormatException)
        {
            return Failed(spec, observed, steps[0], ConfigProblem(spec, e));
        }
        // The override matters only when a save or checkpoint stores it.
        var stores = steps.Count > 1 ? overrideConfig : null;
        var action = spec.State == DesiredState.Saved ? PlanAction.Save : PlanAction.Create;
        var plan = await WithOverridesAsync(spec, observed, action, steps, reason, stores, hosts,
            Against.CreateConfig, createConfig, cancellationToken).ConfigureAwait(false);
        return plan with
        {
            CreateConfig = createConfig,
            OverrideConfig = stores,
            Warnings = [.. warnings, .. plan.Warnings],
        };
    }

    /// <summary>
    /// Restore: with the override config when there is one (the operator's), else with the savefile's stored config
    /// — which came from wherever the file came from, so what it makes dom0 run or open must be named by the
    /// manifest's own config or trusted explicitly.
    /// </summary>
    private static async Task<DomainPlan> RestoreAsync(DomainSpec spec, DomainObservation observed, ConfigText? overrideConfig,
        IHostProvider hosts, PlanOptions options, CancellationToken cancellationToken)
    {
        var warnings = new List<string>();
        var source = observed.Savefile.SnapshotId is { } id ? $"snapshot {id} ({spec.Snapshot!.Tag})" : "its savefile";
        var reason = overrideConfig is null ? $"not running; restore from {source}" : $"not running; restore from {source} with the override config";
        if (overrideConfig is not null)
            return await WithOverridesAsync(spec, observed, PlanAction.Restore, [PlanAction.Restore], reason, overrideConfig, hosts, Against.Savefile, null,
                cancellationToken).ConfigureAwait(false);
        if (spec.Format == SavefileFormat.Legacy)
        {
            // A legacy savefile stores no config: it is restored with the domain's base config, the operator's own.
            try
            {
                var baseConfig = ConfigText.FromText(await ConfigText.ReadTextAsync(spec.ConfigPath!, cancellationToken).ConfigureAwait(false), spec.ConfigPath);
                return Plan(spec, observed, PlanAction.Restore, reason) with { RestoreConfig = Renamed(spec, baseConfig, spec.ConfigPath!, warnings), Warnings = warnings };
            }
            catch (Exception e) when (e is XenIacException or IOException or UnauthorizedAccessException or ArgumentException or FormatException)
            {
                return Failed(spec, observed, PlanAction.Restore, ConfigProblem(spec, e));
            }
        }

        var header = observed.Savefile.Header!;
        var stored = new ConfigText(header.ConfigText!, header.ConfigFormat);
        var (storedModel, error) = await CheckStoredConfigAsync(spec, stored, options, warnings, cancellationToken).ConfigureAwait(false);
        if (error is not null) return Failed(spec, observed, PlanAction.Restore, error);
        // The manifest's name wins: a stored config that names the domain otherwise is restored under the manifest's name.
        var restoreConfig = storedModel!.Name == spec.Name ? null : Renamed(spec, stored, spec.SavefilePath + " (stored config)", warnings);
        return Plan(spec, observed, PlanAction.Restore, reason) with { RestoreConfig = restoreConfig, Warnings = warnings };
    }

    /// <summary>
    /// The savefile's stored config, read, and what it makes dom0 run or open that the domain's own config does not
    /// name: an error unless the domain or the operator trusts it (then a warning in <paramref name="warnings"/>).
    /// </summary>
    private static async Task<(DomainConfig? Stored, string? Error)> CheckStoredConfigAsync(DomainSpec spec, ConfigText stored, PlanOptions options,
        List<string> warnings, CancellationToken cancellationToken)
    {
        DomainConfig storedModel;
        DomainConfig? consented = null;
        try
        {
            storedModel = OverrideConfigs.Model(stored);
            if (spec.ConfigPath is not null)
                consented = OverrideConfigs.Model(ConfigText.FromText(await ConfigText.ReadTextAsync(spec.ConfigPath, cancellationToken).ConfigureAwait(false), spec.ConfigPath));
        }
        catch (Exception e) when (e is XenIacException or IOException or UnauthorizedAccessException or ArgumentException or FormatException)
        {
            return (null, $"{spec.SavefileLocation ?? spec.Location}: cannot read the stored config of {spec.SavefilePath}: {e.Message}");
        }
        var effects = HostEffects.NotIn(storedModel, consented);
        if (effects.Count > 0)
        {
            var list = string.Join("; ", effects);
            if (!spec.TrustConfig && !options.TrustConfig)
                return (storedModel, $"{spec.SavefileLocation ?? spec.Location}: the stored config of {spec.SavefilePath} names what the manifest's config does not: {list}. " +
                    "Restore it only if you trust the file: set trustConfig: true on the domain or pass --trust-config (or give overrides.config)");
            warnings.Add($"trusted stored config of {spec.SavefilePath}: {list}");
        }
        return (storedModel, null);
    }

    /// <summary>
    /// A savefile kept for a saved domain whose stored config names another domain: another domain's savefile copied
    /// or moved over this one's. Nothing to do while it stays saved, so plan and drift said nothing, and the next
    /// restore brought the other domain back under this name. Said as a warning; which file is right is the person's call.
    /// </summary>
    private static IReadOnlyList<string> OtherDomainsSavefile(DomainSpec spec, SavefileStatus savefile) =>
        OtherDomainIn(spec, savefile) is { } name
            ? [$"its savefile {spec.SavefilePath} holds the domain '{name}' (its stored config names it); a restore would bring that domain back as '{spec.Name}'"]
            : [];

    /// <summary>The domain the savefile's stored config names when that is not <paramref name="spec"/>'s; else null.</summary>
    internal static string? OtherDomainIn(DomainSpec spec, SavefileStatus savefile)
    {
        var name = savefile.Header is { } header ? StoredName(header) : null;
        return name is null || name == spec.Name ? null : name;
    }

    /// <summary>The domain name the savefile's stored config gives; null when it stores no config, an unreadable one or no name.</summary>
    private static string? StoredName(SaveFileHeader header)
    {
        if (header.ConfigFormat == SaveFileConfigFormat.None || header.ConfigText is not { } text) return null;
        try { return OverrideConfigs.Model(new ConfigText(text, header.ConfigFormat)).Name; }
        catch (Exception e) when (e is XenIacException or ArgumentException or FormatException) { return null; }
    }

    /// <summary>The config under the manifest's name; a different name in it is reported, not an error.</summary>
    private static ConfigText Renamed(DomainSpec spec, ConfigText document, string source, List<string> warnings)
    {
        var name = OverrideConfigs.Model(document).Name;
        if (name == spec.Name) return document;
        warnings.Add($"{source} names the domain '{name ?? "(none)"}'; the manifest's name '{spec.Name}' is used");
        return OverrideConfigs.WithName(document, spec.Name);
    }

    /// <summary>
    /// An action that uses the override config: check it against the config it replaces — the savefile's for a
    /// restore, the running domain's for a save, the base config for a save right after create — and block an
    /// incompatible one unless the domain says force.
    /// </summary>
    private static async Task<DomainPlan> WithOverridesAsync(DomainSpec spec, DomainObservation observed, PlanAction action, IReadOnlyList<PlanAction> steps,
        string reason, ConfigText? overrideConfig, IHostProvider hosts, Against against, ConfigText? createConfig,
        CancellationToken cancellationToken)
    {
        if (overrideConfig is null) return Plan(spec, observed, action, reason, steps, null);
        // A legacy savefile stores no config; without a base config the override is the only config there is.
        if (against == Against.Savefile && spec.Format == SavefileFormat.Legacy && spec.ConfigPath is null)
            return Plan(spec, observed, action, reason + " (legacy savefile: nothing stored to check the override against)", steps, overrideConfig)
                with { RestoreConfig = overrideConfig };
        IReadOnlyList<CompatibilityFinding> findings;
        var what = against switch { Against.Running => "the running domain's", Against.CreateConfig => "the config the domain is created from", _ => "the saved one" };
        try
        {
            var current = against switch
            {
                Against.Running => await hosts.Get(spec.Host).GetConfigAsync(spec.Name, cancellationToken).ConfigureAwait(false),
                Against.CreateConfig => createConfig!,
                _ => StoredOrBaseConfig(spec, observed.Savefile),
            };
            findings = ConfigCompatibility.Check(OverrideConfigs.Model(current), OverrideConfigs.Model(overrideConfig));
        }
        catch (Exception e) when (e is XenIacException or IOException or UnauthorizedAccessException or ArgumentException or FormatException)
        {
            return Failed(spec, observed, action, $"{spec.OverridesLocation ?? spec.Location}: cannot check the override config: {e.Message}") with { OverrideConfig = overrideConfig };
        }

        var plan = Plan(spec, observed, action, reason, steps, overrideConfig) with
        {
            Findings = findings,
            RestoreConfig = against == Against.Savefile ? overrideConfig : null,
        };
        if (ConfigCompatibility.IsCompatible(findings)) return plan;
        var errors = findings.Where(f => f.Severity == FindingSeverity.Error).Select(f => f.Setting).Distinct();
        return spec.Force
            ? plan with { Reason = reason + " (override incompatible, forced)" }
            : plan with { Error = $"{spec.OverridesLocation ?? spec.Location}: override config is incompatible with {what} ({string.Join(", ", errors)}); fix it or set force: true" };
    }

    private static ConfigText StoredOrBaseConfig(DomainSpec spec, SavefileStatus savefile)
    {
        if (savefile.Header is { ConfigFormat: not SaveFileConfigFormat.None } h)
            return new ConfigText(h.ConfigText!, h.ConfigFormat);
        // A legacy savefile stores no config; the one it was saved with is the domain's base config.
        return ConfigText.FromText(ConfigText.ReadText(spec.ConfigPath
            ?? throw new PlanException("a legacy savefile stores no config and the domain has no 'config'")));
    }

    private static DomainPlan Plan(DomainSpec spec, DomainObservation observed, PlanAction action, string reason,
        IReadOnlyList<PlanAction>? steps = null, ConfigText? overrideConfig = null) => new()
    {
        Spec = spec,
        Observed = observed,
        Action = action,
        Steps = steps ?? (action == PlanAction.None ? [] : [action]),
        Reason = reason,
        OverrideConfig = overrideConfig,
    };

    internal static DomainPlan Failed(DomainSpec spec, DomainObservation observed, PlanAction action, string error) =>
        Plan(spec, observed, action, error) with { Error = error };
}
