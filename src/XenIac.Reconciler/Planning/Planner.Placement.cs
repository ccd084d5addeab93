using XenIac.Core;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;
using XenIac.Reconciler.Manifests;

namespace XenIac.Reconciler.Planning;

public static partial class Planner
{
    /// <summary>
    /// Where the domain goes and what to do there: the host it names, or the selector's choice (the matching host it
    /// already runs on, else the first in its rendezvous order whose placement checks pass); a domain that runs on
    /// another of the manifest's hosts is saved there and restored here (cold migration). Restores and creates are
    /// checked against their host (<see cref="Placement"/>) and blocked by an error finding unless the domain says force.
    /// </summary>
    private static async Task<DomainPlan> PlaceAsync(DomainSpec spec, Fleet fleet, Snapshots stores, IHostProvider hosts, PlanOptions options,
        string manifestDirectory, Lazy<IReadOnlyDictionary<string, Applying.JournalEntry>> lastStarted, CancellationToken cancellationToken)
    {
        var plan = await PlaceCoreAsync(spec, fleet, stores, hosts, options, manifestDirectory, cancellationToken).ConfigureAwait(false);
        // A domain that runs on no host of the manifest, yet the journal last saw it brought up on a host that is no
        // longer in hosts: (dropped to decommission it): it may still run there, and a create or restore here would
        // start a second copy on the same disks. The same care as for a host that cannot be asked.
        if (plan.Error is null && plan.IsChange && plan.Steps.Any(s => s is PlanAction.Create or PlanAction.Restore) && !spec.Force
            && !fleet.All.Any(h => h.Domains.ContainsKey(spec.Name))
            && lastStarted.Value.TryGetValue(spec.Name, out var last) && last.Host is { } lastHost
            && !fleet.All.Any(h => h.Spec.ToString() == lastHost))
            return plan with
            {
                Error = $"{spec.HostLocation ?? spec.Location}: the journal last saw {spec.Name} {(last.Action == PlanAction.Create ? "created" : "restored")} on {lastHost} " +
                    $"({last.Time:yyyy-MM-dd HH:mm} UTC), a host no longer in the manifest, and nothing since ended it there: it may still run there, and a " +
                    $"{plan.Action.ToString().ToLowerInvariant()} here would start a second copy. Save or destroy it there first (add the host back, or " +
                    $"xen-iac domain destroy {spec.Name} --host '{lastHost}'), or set force: true on the domain if it no longer runs there",
            };
        return plan;
    }

    /// <summary>
    /// Per domain, the journal entry of the last create or restore that succeeded, when no save or destroy succeeded
    /// after it: where the domain was last brought up and may still run. Read once per plan, and only when needed.
    /// </summary>
    internal static IReadOnlyDictionary<string, Applying.JournalEntry> LastStarted(string journalPath)
    {
        var last = new Dictionary<string, Applying.JournalEntry>(StringComparer.Ordinal);
        IReadOnlyList<Applying.JournalEntry> entries;
        // A journal that cannot be read is no evidence either way; the plan goes on without it.
        try { entries = Applying.Journal.Read(journalPath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return last; }
        foreach (var entry in entries)
        {
            if (entry.Outcome != Applying.StepOutcome.Succeeded) continue;
            if (entry.Action is PlanAction.Create or PlanAction.Restore) last[entry.Domain] = entry;
            else if (entry.Action is PlanAction.Save or PlanAction.Destroy) last.Remove(entry.Domain);
        }
        return last;
    }

    private static async Task<DomainPlan> PlaceCoreAsync(DomainSpec spec, Fleet fleet, Snapshots stores, IHostProvider hosts, PlanOptions options,
        string manifestDirectory, CancellationToken cancellationToken)
    {
        var hostAt = spec.HostLocation ?? spec.Location;
        // Where it runs now, among the reachable hosts the manifest knows.
        var runningOn = fleet.All.Where(h => h.Error is null && h.Domains.ContainsKey(spec.Name)).ToList();

        IReadOnlyList<FleetHost> candidates;
        if (spec.HostSelector is null)
        {
            var own = fleet[hosts.Resolve(spec.Host)];
            if (own.Error is { } error)
                return Failed(spec, new DomainObservation(null, SavefileStatus.Missing) { HostError = error }, PlanAction.None, $"host: {error}");
            candidates = [own];
        }
        else
        {
            candidates = fleet.Candidates(spec);
            var here = candidates.FirstOrDefault(c => runningOn.Contains(c));
            if (here is not null)
                candidates = [here];
            else if (candidates.FirstOrDefault(c => c.Error is not null) is { } unknown)
                // It may run there: placing it elsewhere could start a second copy.
                return Failed(spec with { Host = unknown.Spec, HostName = unknown.ManifestName },
                    new DomainObservation(null, SavefileStatus.Missing) { HostError = unknown.Error }, PlanAction.None,
                    $"{hostAt}: host {unknown.Name} (matches label {spec.HostSelector}) cannot be asked whether the domain runs there: {unknown.Error}");
        }

        var savefile = spec.Snapshot is null ? ObserveSavefile(spec) : await stores.ObserveAsync(spec.Snapshot, cancellationToken).ConfigureAwait(false);
        DomainPlan? first = null;
        var refused = new List<string>();
        foreach (var target in candidates)
        {
            var placed = spec with { Host = target.Spec, HostName = target.ManifestName };
            var plan = await DecideOnAsync(placed, target, runningOn, savefile, fleet, stores, hosts, options, manifestDirectory, cancellationToken).ConfigureAwait(false);
            first ??= plan;
            if (candidates.Count == 1 || plan.Error is null) return plan;
            refused.Add($"{target.Name}: {plan.Error}");
        }
        // No matching host takes it: say why for each.
        return first! with { Error = $"{hostAt}: no host matching label {spec.HostSelector} can take the domain: {string.Join("; ", refused)}", Reason = "no host fits" };
    }

    private static async Task<DomainPlan> DecideOnAsync(DomainSpec spec, FleetHost target, IReadOnlyList<FleetHost> runningOn, SavefileStatus savefile,
        Fleet fleet, Snapshots stores, IHostProvider hosts, PlanOptions options, string manifestDirectory, CancellationToken cancellationToken)
    {
        var elsewhere = runningOn.FirstOrDefault(h => h != target);
        if (target.Domains.TryGetValue(spec.Name, out var here) || elsewhere is null)
        {
            var plan = await DecideAsync(spec, new DomainObservation(here, savefile), hosts, cancellationToken, options, manifestDirectory).ConfigureAwait(false);
            if (here is not null && elsewhere is not null)
                plan = plan with { Warnings = [.. plan.Warnings, $"a domain named {spec.Name} also runs on {elsewhere.Name}; the manifest places it on {target.Name} and leaves the other alone"] };
            return await CheckPlacementAsync(plan, target, null, stores, cancellationToken).ConfigureAwait(false);
        }

        var domain = elsewhere.Domains[spec.Name];
        // Another host's domain of this name is taken for this one only when nothing says it is another guest: it
        // runs on one such host only, and its config is one the manifest's could restore. A colleague's test VM or a
        // leftover of the same name was saved over this domain's only savefile (and restored under its name).
        var others = runningOn.Where(h => h != target).Select(h => h.Name).ToList();
        if (others.Count > 1)
            return Failed(spec, new DomainObservation(null, savefile), PlanAction.None,
                $"{spec.HostLocation ?? spec.Location}: domains named {spec.Name} run on {string.Join(" and ", others)}, and the manifest places it on {target.Name}: " +
                "XenIac cannot tell which is this domain; destroy or rename the others");
        // Asked once: the check below and the migration's placement both need it.
        ConfigText? running = null;
        Exception? unreadable = null;
        try { running = await hosts.Get(elsewhere.Spec).GetConfigAsync(spec.Name, cancellationToken).ConfigureAwait(false); }
        catch (Exception e) when (e is XenIacException or IOException or UnauthorizedAccessException) { unreadable = e; }
        if (running is not null && await StrangerAsync(spec, running, cancellationToken).ConfigureAwait(false) is { } differs)
            return Failed(spec, new DomainObservation(null, savefile), PlanAction.None,
                $"{spec.HostLocation ?? spec.Location}: a domain named {spec.Name} runs on {elsewhere.Name}, not on {target.Name} where the manifest places it, " +
                $"and its config is not the manifest's ({differs}): XenIac leaves it alone and does not take it for this domain; " +
                $"destroy or rename it on {elsewhere.Name} if it is a stray, or make the manifest's config match it to move it");
        if (spec.State != DesiredState.Running)
        {
            // Saved or absent: the save or destroy happens where the domain is.
            var there = spec with { Host = elsewhere.Spec, HostName = elsewhere.ManifestName };
            return await DecideAsync(there, new DomainObservation(domain, savefile), hosts, cancellationToken, options, manifestDirectory).ConfigureAwait(false);
        }

        // Cold migration: save on the host it runs on (checked as any save there), then restore on the new one.
        var save = await DecideAsync(spec with { Host = elsewhere.Spec, HostName = elsewhere.ManifestName, State = DesiredState.Saved, Checkpoint = false },
            new DomainObservation(domain, savefile), hosts, cancellationToken, options, manifestDirectory).ConfigureAwait(false);
        var through = spec.Snapshot is { } snap ? $"snapshot tag {snap.Tag}" : "its savefile";
        var migration = save with
        {
            Spec = spec,
            Action = PlanAction.Restore,
            Steps = [PlanAction.Save, PlanAction.Restore],
            SourceHost = elsewhere.Spec,
            RestoreConfig = null,
            Reason = $"runs on {elsewhere.Name} as domid {domain.DomId}; the manifest places it on {target.Name}: save there, restore here through {through} (cold migration)",
        };
        if (migration.Error is not null) return migration;
        var config = migration.OverrideConfig ?? running;
        if (config is null)
            return migration with { Error = $"{spec.Location}: cannot read the config of {spec.Name} on {elsewhere.Name}: {unreadable?.Message}" };
        // The CPUID policy the savefile will carry is the one the domain runs with now: its host's vendor.
        var subject = new PlacementSubject(await elsewhere.CpuVendorAsync(cancellationToken).ConfigureAwait(false), Model(config));
        return await CheckPlacementAsync(migration, target, subject, stores, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Why the domain of this name running elsewhere (with <paramref name="runningConfig"/>) is not the manifest's: the settings its config
    /// differs in where a restore of one with the other would be refused (the manifest's config, or its override,
    /// compared as a restore compares them); null when it may be this domain, or when either config cannot be read
    /// (the plan's other checks say so).
    /// </summary>
    private static async Task<string?> StrangerAsync(DomainSpec spec, ConfigText runningConfig, CancellationToken cancellationToken)
    {
        if (spec.ConfigPath is null) return null;
        DomainConfig running;
        List<DomainConfig> manifest = [];
        try
        {
            running = OverrideConfigs.Model(runningConfig);
            manifest.Add(OverrideConfigs.Model(ConfigText.FromText(await ConfigText.ReadTextAsync(spec.ConfigPath, cancellationToken).ConfigureAwait(false), spec.ConfigPath)));
            if (TryComposeOverride(spec, out var composed, out _) && composed is not null) manifest.Add(OverrideConfigs.Model(composed));
        }
        catch (Exception e) when (e is XenIacException or IOException or UnauthorizedAccessException or ArgumentException or FormatException)
        {
            return null;
        }
        string? first = null;
        foreach (var config in manifest)
        {
            var errors = ConfigCompatibility.Check(running, config).Where(f => f.Severity == FindingSeverity.Error).ToList();
            if (errors.Count == 0) return null;
            first ??= string.Join(", ", errors.Take(4).Select(f => $"{f.Setting} {f.Old ?? "(unset)"} -> {f.New ?? "(unset)"}")) + (errors.Count > 4 ? ", …" : "");
        }
        return first;
    }

    private static DomainConfig? Model(ConfigText? config)
    {
        if (config is null) return null;
        try { return OverrideConfigs.Model(config); }
        catch (Exception e) when (e is XenIacException or ArgumentException or FormatException) { return null; }
    }

    /// <summary>
    /// A restore or create is checked against its host before it is planned: findings are added to the plan's, an
    /// error among them blocks unless the domain says <c>force: true</c>, and what fits is promised the host's memory.
    /// </summary>
    private static async Task<DomainPlan> CheckPlacementAsync(DomainPlan plan, FleetHost target, PlacementSubject? subject, Snapshots stores,
        CancellationToken cancellationToken)
    {
        if (plan.Error is not null || !plan.IsChange || !plan.Steps.Any(s => s is PlanAction.Restore or PlanAction.Create)) return plan;
        subject ??= await SubjectAsync(plan, stores, cancellationToken).ConfigureAwait(false);
        var (facts, error) = await target.TargetAsync(cancellationToken).ConfigureAwait(false);
        if (facts is null)
            return plan with { Warnings = [.. plan.Warnings, $"placement not checked: {target.Name} did not say what it is ({error})"] };
        var findings = Placement.Check(subject, facts);
        var result = plan with { Findings = [.. plan.Findings, .. findings] };
        if (!Placement.Fits(findings))
        {
            var blocking = string.Join("; ", findings.Where(f => f.Severity == FindingSeverity.Error).Select(f => f.Reason));
            if (!plan.Spec.Force)
                return result with { Error = $"{plan.Spec.HostLocation ?? plan.Spec.Location}: placement on {target.Name} refused: {blocking}; fix it or set force: true" };
            result = result with { Reason = result.Reason + $" (placement on {target.Name} forced past: {blocking})" };
        }
        target.Promise(subject.RequiredKiB ?? 0);
        return result;
    }

    /// <summary>What a restore or create puts on the host: the savefile's CPU vendor (a streaming pass), and the config it uses.</summary>
    private static async Task<PlacementSubject> SubjectAsync(DomainPlan plan, Snapshots stores, CancellationToken cancellationToken)
    {
        if (!plan.Steps.Contains(PlanAction.Restore))
            return new PlacementSubject(null, Model(plan.CreateConfig));
        var spec = plan.Spec;
        var header = plan.Observed.Savefile.Header;
        var config = plan.RestoreConfig ?? (header is { ConfigFormat: not SaveFileConfigFormat.None } h ? new ConfigText(h.ConfigText!, h.ConfigFormat) : null);
        SavedImage? image = null;
        try
        {
            if (spec.Format == SavefileFormat.Legacy) image = null;
            else if (spec.Snapshot is { } snap) image = await stores.ImageAsync(snap, plan.Observed.Savefile.SnapshotId, cancellationToken).ConfigureAwait(false);
            else image = Placement.ReadImage(spec.SavefilePath);
        }
        // A savefile whose image cannot be read this far is left to the restore to report; placement says what it knows.
        catch (Exception e) when (e is XenIacException or IOException or UnauthorizedAccessException) { image = null; }
        return new PlacementSubject(image?.CpuVendor, Model(config)) { Image = image };
    }
}
