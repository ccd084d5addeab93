using XenIac.Core;
using XenIac.Core.Config;
using XenIac.Hosts;
using XenIac.Reconciler.Cloning;
using XenIac.Reconciler.Manifests;

namespace XenIac.Reconciler.Planning;

public static partial class Planner
{
    /// <summary>
    /// One entry per clone pool that needs looking at: every planned domain with <c>clones: N</c> (N &gt; 0), and every
    /// pool apply recorded (<see cref="ClonePoolRecords"/>) whose domain now wants none, sits on another host, or —
    /// with <paramref name="allDomains"/> — left the manifest. Which clones exist is read from the host by name.
    /// </summary>
    private static async Task<List<DomainPlan>> PlanPoolsAsync(Manifest manifest, IReadOnlyList<DomainPlan> plans, Fleet fleet, IHostProvider hosts,
        PlanOptions options, bool allDomains, CancellationToken cancellationToken)
    {
        var records = ClonePoolRecords.Read(ClonePoolRecords.PathFor(manifest.Directory));
        var pools = new List<DomainPlan>();
        var covered = new HashSet<ClonePoolRecord>();
        foreach (var parent in plans.Where(p => p.Spec.Clones > 0))
        {
            var host = hosts.Resolve(parent.Spec.Host);
            covered.Add(new ClonePoolRecord(parent.Name, host.ToString()));
            pools.Add(await PlanPoolAsync(parent.Spec, parent, host, fleet, hosts, options, cancellationToken).ConfigureAwait(false));
        }
        foreach (var record in records.Where(r => !covered.Contains(r)))
        {
            var parent = plans.FirstOrDefault(p => p.Name == record.Domain);
            if (parent is null && !allDomains) continue;
            var spec = (parent?.Spec ?? manifest.Domains.FirstOrDefault(d => d.Name == record.Domain)) is { } known
                ? known with { Clones = 0 }
                : new DomainSpec
                {
                    // Gone from the manifest: nothing is restored from this path; a saved plan only needs one to name.
                    Name = record.Domain, SavefilePath = Path.Combine(manifest.Directory, "saves", record.Domain + ".xlsave"),
                    Location = new SourceLocation(manifest.Path, 1, 1),
                };
            HostSpec host;
            try { host = HostSpec.Parse(record.Host); }
            catch (Exception e) when (e is XenIacException or ArgumentException or FormatException) { continue; }
            var pool = await PlanPoolAsync(spec with { Host = host, HostName = manifest.NameOf(host) }, parent, host, fleet, hosts, options, cancellationToken).ConfigureAwait(false);
            // A recorded pool with no clones left needs nothing; apply drops the record when it tears a pool down.
            if (pool.Action != PlanAction.None || pool.Error is not null) pools.Add(pool);
        }
        return pools;
    }

    private static async Task<DomainPlan> PlanPoolAsync(DomainSpec parentSpec, DomainPlan? parent, HostSpec host, Fleet fleet, IHostProvider hosts,
        PlanOptions options, CancellationToken cancellationToken)
    {
        var name = parentSpec.Name;
        var spec = parentSpec with { Name = name + "-*" };
        var observed = new DomainObservation(null, parent?.Observed.Savefile ?? SavefileStatus.Missing);
        var wanted = parentSpec.Clones;
        IReadOnlyCollection<string> onHost;
        string? hostError;
        if (fleet.Find(host) is { } known)
        {
            (onHost, hostError) = ([.. known.Domains.Keys], known.Error is null ? null : $"host {known.Name}: {known.Error}");
        }
        else
        {
            // A recorded pool on a host the manifest no longer names: asked here, once.
            try { (onHost, hostError) = ([.. (await hosts.Get(host).ListDomainsAsync(cancellationToken).ConfigureAwait(false)).Select(d => d.Name)], null); }
            catch (Exception e) when (e is XenIacException or IOException or UnauthorizedAccessException) { (onHost, hostError) = ([], $"host {host}: {e.Message}"); }
        }
        if (hostError is not null)
            return Failed(spec, observed with { HostError = hostError }, PlanAction.None, hostError) with { Pool = new ClonePool(name, wanted, [], [], [], parentSpec.CloneDiskCopy) };

        var running = onHost.Select(n => (Name: n, Number: CloneBatch.NumberOf(name, n))).Where(c => c.Number is not null)
            .OrderBy(c => c.Number).ToList();
        var remove = running.Where(c => c.Number > wanted).Select(c => c.Name).ToList();
        var make = Enumerable.Range(1, wanted).Where(k => running.All(c => c.Number != k)).ToList();
        DomainPlan Pool(DomainPlan p) => p with { Pool = new ClonePool(name, wanted, [.. running.Select(c => c.Name)], make, remove, parentSpec.CloneDiskCopy) };

        var steps = new List<PlanAction>();
        var why = new List<string>();
        if (remove.Count > 0)
        {
            steps.Add(PlanAction.Teardown);
            why.Add(parent is null ? $"{name} left the manifest: destroy its clones {string.Join(", ", remove)}"
                : wanted == 0 ? $"clones: 0: destroy {string.Join(", ", remove)}"
                : $"clones: {wanted}: destroy {string.Join(", ", remove)} (above {wanted})");
        }
        var warnings = new List<string>();
        if (make.Count > 0)
        {
            steps.Add(PlanAction.Clone);
            var names = string.Join(", ", make.Select(k => $"{name}-{k}"));
            // The domain's own steps run first: a save or checkpoint there writes the savefile the clones restore from.
            var saves = parent is { Error: null } && parent.Steps.Any(s => s is PlanAction.Save or PlanAction.Checkpoint);
            if (parent?.Error is not null)
                return Pool(Failed(spec, observed, PlanAction.Clone, $"{spec.Location}: clones: {wanted}: waits for {name}, which could not be planned"));
            if (!observed.Savefile.Valid && !saves)
                return Pool(Failed(spec, observed, PlanAction.Clone,
                    $"{spec.SavefileLocation ?? spec.Location}: clones: {wanted} restore from {name}'s savefile, and {spec.SavefilePath} is {(observed.Savefile.Exists ? $"not a valid savefile ({observed.Savefile.Problem})" : "missing")}"));
            if (observed.Savefile.Valid && !saves && observed.Savefile.Header is { ConfigText: { } text } header)
            {
                // Each clone runs the stored config (with fixups): what it makes dom0 run or open needs the same consent as a restore.
                var (_, error) = await CheckStoredConfigAsync(spec, new ConfigText(text, header.ConfigFormat), options, warnings, cancellationToken).ConfigureAwait(false);
                if (error is not null) return Pool(Failed(spec, observed, PlanAction.Clone, error));
            }
            why.Add($"clones: {wanted}, {running.Count - remove.Count} running: restore {names} from {(saves ? $"the savefile {name}'s {ActionNameOf(parent!)} writes" : $"{name}'s savefile")} " +
                    $"(disks: {CloneDiskCopyWords.Word(parentSpec.CloneDiskCopy)})");
        }
        if (steps.Count == 0)
            return Pool(Plan(spec, observed, PlanAction.None, $"clones: {wanted}, all running ({name}-1 .. {name}-{wanted})"));
        return Pool(Plan(spec, observed, steps[^1], string.Join("; ", why), steps) with { Warnings = warnings });
    }

    private static string ActionNameOf(DomainPlan plan) => plan.Steps.Last(s => s is PlanAction.Save or PlanAction.Checkpoint).ToString().ToLowerInvariant();
}
