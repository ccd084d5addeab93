using XenIac.Core.Config;
using System.Diagnostics;
using XenIac.Core;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;
using XenIac.Reconciler.Cloning;
using XenIac.Reconciler.Manifests;
using XenIac.Reconciler.Planning;
using XenIac.Store;

namespace XenIac.Reconciler.Applying;

/// <summary>
/// Runs a plan: takes every involved host's apply lock, plans again under the lock (so what runs is what reality
/// says now), asks for confirmation, then works on domains in parallel. One domain's failure does not stop the
/// others; every step is journaled.
/// </summary>
public static class Applier
{
    /// <summary>The error of a domain whose change did not start because <see cref="ApplyOptions.Stopping"/> was cancelled.</summary>
    public const string NotStartedError = "not started: stopping";

    public static async Task<ApplyResult> ApplyAsync(Manifest manifest, IHostProvider hosts, ApplyOptions options,
        CancellationToken cancellationToken = default)
    {
        var locks = new List<FileLock>();
        // Waiting for a lock and planning change nothing, so stopping may cut them short.
        using var beforeSteps = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, options.Stopping);
        try
        {
            // Open every host before locking it: an embedded host's lock lives in its folder, which opening
            // creates. A host that cannot be opened holds nothing to lock; the plan reports it per domain.
            // Every host the manifest names (hosts: included, where selectors and migrations reach), one lock each;
            // they open in parallel, since a remote host may take a while to answer and the others need not wait.
            var opened = await Task.WhenAll(manifest.HostSpecs.Select(hosts.Resolve).Distinct().Select(spec => Task.Run(() =>
            {
                try
                {
                    hosts.Get(spec);
                    return spec.ApplyLockPath;
                }
                catch (Exception e) when (e is XenIacException or IOException or UnauthorizedAccessException) { return null; }
            }, beforeSteps.Token))).ConfigureAwait(false);
            var lockPaths = opened.OfType<string>().ToList();
            foreach (var path in lockPaths.Distinct().Order(StringComparer.Ordinal))
                locks.Add(await FileLock.AcquireAsync(path, options.LockTimeout, $"xen-iac apply {manifest.Path}", beforeSteps.Token).ConfigureAwait(false));

            var plan = await Planner.PlanAsync(manifest, hosts, options.Targets,
                new PlanOptions
                {
                    ReplaceInvalidSavefiles = options.ReplaceInvalidSavefiles, TrustConfig = options.TrustConfig, Replace = options.Replace,
                    CheckpointEvery = options.CheckpointEvery,
                },
                beforeSteps.Token).ConfigureAwait(false);
            options.CheckPlan?.Invoke(plan);
            var journal = new Journal(options.JournalPath ?? Path.Combine(manifest.Directory, ".xen-iac", "journal.jsonl"));
            if (!plan.HasChanges) return new ApplyResult(plan, [], journal.Path);
            if (options.Confirm is { } confirm && !await confirm(plan, cancellationToken).ConfigureAwait(false))
                throw new ApplyCancelledException();

            var applyId = $"{DateTimeOffset.UtcNow:yyyyMMddTHHmmssZ}-{Environment.ProcessId}";
            var results = new List<DomainResult>();
            var records = ClonePoolRecords.PathFor(manifest.Directory);
            // Domains first, clone pools after: a pool restores from the savefile its domain's save or checkpoint may be writing.
            foreach (var phase in new[] { plan.Domains.Where(d => d.IsChange && d.Pool is null), plan.Domains.Where(d => d.IsChange && d.Pool is not null) })
                await Parallel.ForEachAsync(phase,
                    new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Parallelism), CancellationToken = cancellationToken },
                    async (domain, ct) =>
                    {
                        // Stopping (reconcile's SIGTERM): what is under way finishes, nothing new starts.
                        if (options.Stopping.IsCancellationRequested)
                        {
                            lock (results) results.Add(new DomainResult(domain.Name, domain.Action, false, NotStartedError, TimeSpan.Zero));
                            return;
                        }
                        var result = await RunAsync(domain, hosts, journal, applyId, options.Progress, records, ct).ConfigureAwait(false);
                        lock (results) results.Add(result);
                    }).ConfigureAwait(false);
            return new ApplyResult(plan, results.OrderBy(r => r.Domain, StringComparer.Ordinal).ToList(), journal.Path);
        }
        finally
        {
            foreach (var l in locks) l.Dispose();
        }
    }

    private static async Task<DomainResult> RunAsync(DomainPlan plan, IHostProvider hosts, Journal journal, string applyId,
        IProgress<ApplyEvent>? progress, string poolRecords, CancellationToken cancellationToken)
    {
        var total = Stopwatch.StartNew();
        var spec = plan.Spec;
        var current = PlanAction.None;
        try
        {
            foreach (var step in plan.Steps)
            {
                current = step;
                // A cold migration saves on the host the domain runs on and restores on the one the manifest names.
                var host = hosts.Get(plan.HostOf(step));
                var expected = await ExpectedBytesAsync(step, plan, host, cancellationToken).ConfigureAwait(false);
                progress?.Report(new StepStarted(spec.Name, step, expected));
                // Journaled whatever the token says: the journal records what was done, cancelled or not.
                await journal.AppendAsync(Entry(applyId, spec, host, step, StepOutcome.Started), CancellationToken.None).ConfigureAwait(false);
                var clock = Stopwatch.StartNew();
                var pruned = new List<string>();
                var bytes = plan.Pool is { } pool
                    ? await RunPoolStepAsync(step, plan, pool, host, hosts.Resolve(plan.HostOf(step)), poolRecords, cancellationToken).ConfigureAwait(false)
                    : await RunStepAsync(step, plan, host, new Progress(progress, spec.Name, step, expected), pruned, cancellationToken).ConfigureAwait(false);
                await journal.AppendAsync(Entry(applyId, spec, host, step, StepOutcome.Succeeded) with
                {
                    Bytes = bytes, Seconds = clock.Elapsed.TotalSeconds, Pruned = pruned.Count > 0 ? pruned : null,
                }, CancellationToken.None).ConfigureAwait(false);
                progress?.Report(new StepCompleted(spec.Name, step, bytes, clock.Elapsed));
            }
            return new DomainResult(spec.Name, plan.Action, true, null, total.Elapsed);
        }
        // Whatever goes wrong with one domain stays with that domain: the others go on, and this one is reported.
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var message = e is OperationCanceledException ? "cancelled" : e.Message;
            await journal.AppendAsync(new JournalEntry
            {
                ApplyId = applyId, Domain = spec.Name, Action = current, Outcome = StepOutcome.Failed, Host = hosts.Resolve(plan.HostOf(current)).ToString(),
                Savefile = spec.SavefilePath, Error = message, Seconds = total.Elapsed.TotalSeconds,
            }, CancellationToken.None).ConfigureAwait(false);
            progress?.Report(new DomainFailed(spec.Name, current, message));
            return new DomainResult(spec.Name, plan.Action, false, message, total.Elapsed);
        }
    }

    private static async Task<long?> RunStepAsync(PlanAction step, DomainPlan plan, IXenHost host, IProgress<long> progress,
        ICollection<string> pruned, CancellationToken cancellationToken)
    {
        var spec = plan.Spec;
        switch (step)
        {
            case PlanAction.Create:
                // The config as planned (under the manifest's name), not the file re-read: what was shown is what runs.
                await host.CreateAsync(plan.CreateConfig ?? await ConfigText.LoadAsync(spec.ConfigPath!, cancellationToken).ConfigureAwait(false),
                    spec.Paused && plan.Steps[^1] == PlanAction.Create, cancellationToken).ConfigureAwait(false);
                return null;

            case PlanAction.Restore:
                var legacy = spec.Format == SavefileFormat.Legacy;
                var config = plan.RestoreConfig ?? plan.OverrideConfig
                    ?? (legacy ? await ConfigText.LoadAsync(spec.ConfigPath!, cancellationToken).ConfigureAwait(false) : null);
                var restoreOptions = new RestoreOptions { Paused = spec.Paused, OverrideConfig = config, Legacy = legacy, Progress = progress };
                if (spec.Snapshot is { } from)
                {
                    // The snapshot the plan saw, streamed out of the store straight into the host: every chunk is
                    // checked against its name on the way and the whole file against its digest at the end, and
                    // the host makes the domain only from a stream that got through both.
                    await using var stores = new Snapshots();
                    var store = await stores.OpenAsync(from, create: false, cancellationToken).ConfigureAwait(false)
                        ?? throw new StoreException(StoreError.NotFound, $"there is no store at '{from.Store}'");
                    // A migration restores what its own save just pushed: the tag's newest, not the snapshot the plan saw.
                    var snapshot = await store.ResolveAsync((plan.SourceHost is null ? plan.Observed.Savefile.SnapshotId : null) ?? from.Tag, cancellationToken).ConfigureAwait(false);
                    await using var image = store.OpenRead(snapshot, cancellationToken);
                    await host.RestoreAsync(image, $"snapshot {snapshot.Id} ({from.Tag}) in {store.Location}", restoreOptions, cancellationToken)
                        .ConfigureAwait(false);
                    return snapshot.Bytes;
                }
                await host.RestoreAsync(spec.SavefilePath, restoreOptions, cancellationToken).ConfigureAwait(false);
                return plan.SourceHost is null ? plan.Observed.Savefile.Size : new FileInfo(spec.SavefilePath).Length;

            case PlanAction.Save:
            case PlanAction.Checkpoint:
                var options = new SaveOptions
                {
                    Mode = step == PlanAction.Checkpoint ? SaveMode.Checkpoint : SaveMode.Plain,
                    AlternativeConfig = plan.OverrideConfig,
                    Progress = progress,
                };
                // The manifest's savefile folder is apply's to make (plan says "save" into it): the embedded host made
                // it itself, an ssh host's local landing did not, and the apply failed after creating the domain.
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(spec.SavefilePath))!);
                var saved = spec.Format == SavefileFormat.Legacy
                    ? (await LegacySave.SaveAsync(host, spec.Name, spec.SavefilePath, options, cancellationToken).ConfigureAwait(false)).Bytes
                    : (await host.SaveAsync(spec.Name, spec.SavefilePath, options, cancellationToken).ConfigureAwait(false)).Bytes;
                if (spec.Snapshot is { } to)
                {
                    await using var stores = new Snapshots();
                    var store = await stores.OpenAsync(to, create: true, cancellationToken).ConfigureAwait(false);
                    var pushed = await store!.PushAsync(spec.SavefilePath, to.Tag, null, cancellationToken).ConfigureAwait(false);
                    await Retention.KeepAsync(spec, store, pushed.Snapshot.Id, pruned, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await Retention.KeepAsync(spec, null, null, pruned, cancellationToken).ConfigureAwait(false);
                }
                return saved;

            case PlanAction.Destroy:
                await host.DestroyAsync(spec.Name, cancellationToken).ConfigureAwait(false);
                return null;

            default:
                throw new ArgumentOutOfRangeException(nameof(step), step, null);
        }
    }

    /// <summary>
    /// A clone pool's step, through <see cref="CloneBatch"/> as <c>domain clone</c> does: the record that the pool is
    /// this manifest's is written before any clone is made (so a pool cut short is still torn down later) and dropped
    /// once none is left.
    /// </summary>
    private static async Task<long?> RunPoolStepAsync(PlanAction step, DomainPlan plan, ClonePool pool, IXenHost host, HostSpec resolved,
        string records, CancellationToken cancellationToken)
    {
        var record = new ClonePoolRecord(pool.Of, resolved.ToString());
        switch (step)
        {
            case PlanAction.Teardown:
                await CloneBatch.TeardownAsync(host, pool.Of, pool.Wanted, cancellationToken).ConfigureAwait(false);
                if (pool.Wanted == 0) await ClonePoolRecords.SetAsync(records, record, present: false, CancellationToken.None).ConfigureAwait(false);
                return null;
            case PlanAction.Clone:
                await ClonePoolRecords.SetAsync(records, record, present: true, cancellationToken).ConfigureAwait(false);
                await CloneBatch.RestoreAsync(host, plan.Spec.SavefilePath, new CloneBatchOptions
                {
                    Count = pool.Wanted,
                    Numbers = pool.Make,
                    Prefix = pool.Of,
                    DiskCopy = pool.DiskCopy,
                }, cancellationToken).ConfigureAwait(false);
                return null;
            default:
                throw new ArgumentOutOfRangeException(nameof(step), step, "a clone pool only clones and tears down");
        }
    }

    /// <summary>
    /// What a step will move, for progress: a restore reads its savefile; a save writes about the domain's memory
    /// (asked of the host now, since the domain may have been created by the step before). Null: no bytes.
    /// </summary>
    private static async Task<long?> ExpectedBytesAsync(PlanAction step, DomainPlan plan, IXenHost host, CancellationToken cancellationToken) =>
        step switch
        {
            PlanAction.Restore when plan.SourceHost is not null && SavedHere(plan) => new FileInfo(plan.Spec.SavefilePath).Length,
            PlanAction.Restore => plan.Observed.Savefile.Size,
            PlanAction.Save or PlanAction.Checkpoint =>
                (await host.FindDomainAsync(plan.Spec.Name, cancellationToken).ConfigureAwait(false))?.MemoryKiB * 1024,
            _ => null,
        };

    private static bool SavedHere(DomainPlan plan) => plan.Spec.Snapshot is null && File.Exists(plan.Spec.SavefilePath);

    private static JournalEntry Entry(string applyId, DomainSpec spec, IXenHost host, PlanAction step, StepOutcome outcome) => new()
    {
        ApplyId = applyId, Domain = spec.Name, Action = step, Outcome = outcome, Host = host.Spec,
        Savefile = step is PlanAction.Create or PlanAction.Destroy ? null : spec.SavefilePath,
    };

    private sealed class Progress(IProgress<ApplyEvent>? sink, string domain, PlanAction step, long? expected) : IProgress<long>
    {
        public void Report(long value) => sink?.Report(new StepProgress(domain, step, value, expected));
    }
}

/// <summary>The user declined the plan.</summary>
public sealed class ApplyCancelledException() : XenIacException("apply cancelled: the plan was not approved");
