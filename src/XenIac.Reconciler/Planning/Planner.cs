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
public static class Planner
{
    /// <summary>Plans every domain (or only <paramref name="targets"/>), opening each host once.</summary>
    public static async Task<Plan> PlanAsync(Manifest manifest, IHostProvider hosts, IReadOnlyCollection<string>? targets = null,
        CancellationToken cancellationToken = default)
    {
        var selected = Select(manifest, targets);
        var plans = new DomainPlan[selected.Count];
        foreach (var group in selected.Select((spec, index) => (spec, index)).GroupBy(x => x.spec.Host))
        {
            IReadOnlyList<DomainInfo> domains;
            try
            {
                var host = hosts.Get(group.Key, manifest.Directory);
                domains = await host.ListDomainsAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (XenIacException e)
            {
                foreach (var (spec, index) in group)
                    plans[index] = Failed(spec, new DomainObservation(null, SavefileStatus.Missing), PlanAction.None, $"host: {e.Message}");
                continue;
            }
            var byName = domains.ToDictionary(d => d.Name, StringComparer.Ordinal);
            foreach (var (spec, index) in group)
            {
                var observed = new DomainObservation(byName.GetValueOrDefault(spec.Name), ObserveSavefile(spec));
                plans[index] = await DecideAsync(spec, observed, hosts, cancellationToken).ConfigureAwait(false);
            }
        }
        return new Plan(manifest, plans);
    }

    private static List<DomainSpec> Select(Manifest manifest, IReadOnlyCollection<string>? targets)
    {
        if (targets is null || targets.Count == 0) return manifest.Domains.ToList();
        var unknown = targets.Where(t => manifest.Domains.All(d => d.Name != t)).ToList();
        if (unknown.Count > 0)
            throw new ManifestException([new ManifestError(new SourceLocation(manifest.Path, 1, 1),
                $"--target names no domain of the manifest: {string.Join(", ", unknown)}")]);
        return manifest.Domains.Where(d => targets.Contains(d.Name)).ToList();
    }

    /// <summary>Header-only look at the savefile: enough to know it is one, and cheap for a thousand domains.</summary>
    internal static SavefileStatus ObserveSavefile(DomainSpec spec)
    {
        var info = new FileInfo(spec.SavefilePath);
        if (!info.Exists) return SavefileStatus.Missing;
        try
        {
            if (spec.Format == SavefileFormat.Legacy)
            {
                if (info.Length == 0) return new SavefileStatus(true, false, "the file is empty", null, 0);
                if (SaveFileHeader.LooksLikeXlSavefile(spec.SavefilePath))
                    return new SavefileStatus(true, false, "the manifest says legacy, but the file has an xl header (format: xl?)", null, info.Length);
                return new SavefileStatus(true, true, null, SaveFileHeader.Legacy, info.Length);
            }
            using var reader = SaveFileReader.Open(spec.SavefilePath);
            if (reader.Header.ConfigFormat == SaveFileConfigFormat.None)
                return new SavefileStatus(true, false, "the savefile stores no config", reader.Header, info.Length);
            if (reader.Header.ImageOffset >= info.Length)
                return new SavefileStatus(true, false, "the savefile has no image after its header", reader.Header, info.Length);
            return new SavefileStatus(true, true, null, reader.Header, info.Length);
        }
        catch (SaveFileFormatException e)
        {
            return new SavefileStatus(true, false, e.Message, null, info.Length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new SavefileStatus(true, false, e.Message, null, info.Length);
        }
    }

    internal static async Task<DomainPlan> DecideAsync(DomainSpec spec, DomainObservation observed, IHostProvider hosts, CancellationToken cancellationToken)
    {
        var domain = observed.Domain;
        var savefile = observed.Savefile;
        DomainConfigDocument? overrideConfig;
        try
        {
            overrideConfig = OverrideConfigs.Compose(spec);
        }
        catch (Exception e) when (e is XenIacException or IOException or UnauthorizedAccessException)
        {
            return Failed(spec, observed, PlanAction.None, $"overrides: {e.Message}");
        }

        switch (spec.State)
        {
            case DesiredState.Absent:
                return domain is null
                    ? Plan(spec, observed, PlanAction.None, "not running, as desired")
                    : Plan(spec, observed, PlanAction.Destroy, $"running as domid {domain.DomId} but desired absent (the savefile is kept)");

            case DesiredState.Running when domain is not null:
                if (spec.Checkpoint && !savefile.Valid)
                    return await WithOverridesAsync(spec, observed, PlanAction.Checkpoint, [PlanAction.Checkpoint],
                        savefile.Exists ? $"running; checkpoint savefile is invalid ({savefile.Problem}) and will be rewritten" : "running; no checkpoint savefile yet",
                        overrideConfig, hosts, againstRunning: true, cancellationToken).ConfigureAwait(false);
                return Plan(spec, observed, PlanAction.None,
                    domain.State == DomainState.Paused ? $"running (paused) as domid {domain.DomId}" : $"running as domid {domain.DomId}");

            case DesiredState.Running:
                if (savefile.Valid)
                    return await WithOverridesAsync(spec, observed, PlanAction.Restore, [PlanAction.Restore],
                        overrideConfig is null ? "not running; restore from its savefile" : "not running; restore from its savefile with the override config",
                        overrideConfig, hosts, againstRunning: false, cancellationToken).ConfigureAwait(false);
                if (savefile.Exists)
                    return Failed(spec, observed, PlanAction.Restore, $"cannot restore: {spec.SavefilePath} is not a valid savefile ({savefile.Problem}); fix or remove it");
                if (spec.ConfigPath is null)
                    return Failed(spec, observed, PlanAction.Create, "not running, no savefile and no 'config' to create it from");
                return Plan(spec, observed, PlanAction.Create,
                    spec.Checkpoint ? "not running and no savefile: create from config, then checkpoint" : "not running and no savefile: create from config",
                    spec.Checkpoint ? [PlanAction.Create, PlanAction.Checkpoint] : [PlanAction.Create], overrideConfig);

            case DesiredState.Saved when domain is not null:
                return await WithOverridesAsync(spec, observed, PlanAction.Save, [PlanAction.Save],
                    savefile.Exists ? $"running as domid {domain.DomId}; save it (replacing the existing savefile)" : $"running as domid {domain.DomId}; save it",
                    overrideConfig, hosts, againstRunning: true, cancellationToken).ConfigureAwait(false);

            case DesiredState.Saved:
                if (savefile.Valid) return Plan(spec, observed, PlanAction.None, "saved, as desired");
                if (savefile.Exists)
                    return Failed(spec, observed, PlanAction.Save, $"not running and {spec.SavefilePath} is not a valid savefile ({savefile.Problem})");
                if (spec.ConfigPath is null)
                    return Failed(spec, observed, PlanAction.Save, "not running, no savefile and no 'config' to create it from");
                return Plan(spec, observed, PlanAction.Save, "not running and no savefile: create from config, then save",
                    [PlanAction.Create, PlanAction.Save], overrideConfig);

            default:
                throw new ArgumentOutOfRangeException(nameof(spec), spec.State, "unknown desired state");
        }
    }

    /// <summary>
    /// An action that uses the override config: check it against the config it replaces — the savefile's for a
    /// restore, the running domain's for a save — and block an incompatible one unless the domain says force.
    /// </summary>
    private static async Task<DomainPlan> WithOverridesAsync(DomainSpec spec, DomainObservation observed, PlanAction action, IReadOnlyList<PlanAction> steps,
        string reason, DomainConfigDocument? overrideConfig, IHostProvider hosts, bool againstRunning, CancellationToken cancellationToken)
    {
        if (overrideConfig is null) return Plan(spec, observed, action, reason, steps, null);
        // A legacy savefile stores no config; without a base config the override is the only config there is.
        if (!againstRunning && spec.Format == SavefileFormat.Legacy && spec.ConfigPath is null)
            return Plan(spec, observed, action, reason + " (legacy savefile: nothing stored to check the override against)", steps, overrideConfig);
        IReadOnlyList<CompatibilityFinding> findings;
        try
        {
            var current = againstRunning
                ? await hosts.Get(spec.Host, null).GetConfigAsync(spec.Name, cancellationToken).ConfigureAwait(false)
                : StoredOrBaseConfig(spec, observed.Savefile);
            findings = ConfigCompatibility.Check(OverrideConfigs.Model(current), OverrideConfigs.Model(overrideConfig));
        }
        catch (Exception e) when (e is XenIacException or IOException or UnauthorizedAccessException)
        {
            return Failed(spec, observed, action, $"cannot check the override config: {e.Message}") with { OverrideConfig = overrideConfig };
        }

        var plan = Plan(spec, observed, action, reason, steps, overrideConfig) with { Findings = findings };
        if (ConfigCompatibility.IsCompatible(findings)) return plan;
        var errors = findings.Where(f => f.Severity == FindingSeverity.Error).Select(f => f.Setting).Distinct();
        return spec.Force
            ? plan with { Reason = reason + " (override incompatible, forced)" }
            : plan with { Error = $"override config is incompatible with the saved one ({string.Join(", ", errors)}); fix it or set force: true" };
    }

    private static DomainConfigDocument StoredOrBaseConfig(DomainSpec spec, SavefileStatus savefile)
    {
        if (savefile.Header is { ConfigFormat: not SaveFileConfigFormat.None } h)
            return new DomainConfigDocument(h.ConfigText!, h.ConfigFormat);
        // A legacy savefile stores no config; the one it was saved with is the domain's base config.
        return DomainConfigDocument.FromText(ConfigSource.ReadText(spec.ConfigPath
            ?? throw new PlanException("a legacy savefile stores no config and the domain has no 'config'")));
    }

    private static DomainPlan Plan(DomainSpec spec, DomainObservation observed, PlanAction action, string reason,
        IReadOnlyList<PlanAction>? steps = null, DomainConfigDocument? overrideConfig = null) => new()
    {
        Spec = spec,
        Observed = observed,
        Action = action,
        Steps = steps ?? (action == PlanAction.None ? [] : [action]),
        Reason = reason,
        OverrideConfig = overrideConfig,
    };

    private static DomainPlan Failed(DomainSpec spec, DomainObservation observed, PlanAction action, string error) =>
        Plan(spec, observed, action, error) with { Error = error };
}
