using System.Diagnostics;
using XenIac.Hosts;
using XenIac.Reconciler.Applying;
using XenIac.Reconciler.Manifests;
using XenIac.Reconciler.Planning;

namespace XenIac.Reconciler.Reconciling;

/// <summary>What reconcile does about a difference between reality and the manifest.</summary>
public enum DriftMode
{
    /// <summary>Report it (status, metrics), change nothing.</summary>
    Warn,
    /// <summary>Apply the plan.</summary>
    Fix,
}

/// <summary>Told about every run, for metrics and logs; called on the loop's thread, one call at a time.</summary>
public interface IReconcileObserver
{
    void RunFinished(ReconcileRun run);
}

/// <summary>One run: what started it, how it went, what it applied, and every domain's status after it.</summary>
public sealed record ReconcileRun(RunStatus Status, TimeSpan Duration, IReadOnlyList<DomainResult> Applied, IReadOnlyDictionary<string, DomainStatus> Domains);

public sealed record ReconcileOptions
{
    public required string ManifestPath { get; init; }
    public TimeSpan Interval { get; init; } = TimeSpan.FromMinutes(5);
    public DriftMode Drift { get; init; } = DriftMode.Fix;
    /// <summary>Where the status goes (default <see cref="StatusFile.DefaultPath"/>).</summary>
    public string? StatusPath { get; init; }
    /// <summary>How often the manifest and the files it names are looked at for a change.</summary>
    public TimeSpan WatchPoll { get; init; } = TimeSpan.FromMilliseconds(500);
    /// <summary>A change starts a run once the files have stayed the same this long (an editor writes in several steps).</summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromMilliseconds(500);
    public int Parallelism { get; init; } = ApplyOptions.DefaultParallelism;
    /// <summary>How long a run waits for another apply on the same host before it fails (and the next run tries again).</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public bool ReplaceInvalidSavefiles { get; init; }
    public bool TrustConfig { get; init; }
    /// <summary>A running <c>checkpoint: true</c> domain is checkpointed again when its checkpoint is this old (with <c>keep: N</c>, the last N are kept).</summary>
    public TimeSpan? CheckpointEvery { get; init; }
    public IProgress<ApplyEvent>? Progress { get; init; }
    public IReconcileObserver? Observer { get; init; }
}

/// <summary>
/// Continuous reconcile: plan, then apply (or only report, with <see cref="DriftMode.Warn"/>), every interval and
/// as soon as the manifest or a file it names changes. After each step the status file is replaced. Stopping (the
/// token given to <see cref="RunAsync"/>) lets the step under way finish — a save completes and its savefile is
/// replaced whole — and starts nothing new; every apply goes through <see cref="Applier"/>, so the locks, the
/// journal and the never-half-written savefiles are those of <c>xen-iac apply</c>.
/// </summary>
public sealed class ReconcileLoop : IDisposable
{
    private readonly ReconcileOptions _options;
    private readonly IHostProvider _hosts;
    private readonly string _statusPath;
    private readonly Lock _gate = new();
    private ReconcileStatus _status;
    private IReadOnlyList<string> _files;
    // The watched files as the last run read them: an edit made while that run was under way starts the next run
    // (a fingerprint taken only when the wait begins would already include it, and the edit would wait an interval).
    private string? _filesAsRead;
    private FileLock? _owner;

    public ReconcileLoop(ReconcileOptions options, IHostProvider hosts)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(hosts);
        if (options.Interval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), "the interval must be positive");
        _options = options;
        _hosts = hosts;
        _statusPath = Path.GetFullPath(options.StatusPath ?? StatusFile.DefaultPath(options.ManifestPath));
        // Conditions and their transition times carry over a restart of the loop.
        var previous = StatusFile.TryRead(_statusPath);
        _status = new ReconcileStatus
        {
            Manifest = Path.GetFullPath(options.ManifestPath),
            Drift = options.Drift.ToString().ToLowerInvariant(),
            IntervalSeconds = options.Interval.TotalSeconds,
            ProcessId = Environment.ProcessId,
            LastSuccess = previous?.LastSuccess,
            Domains = previous?.Domains ?? new(StringComparer.Ordinal),
        };
        _files = ManifestFiles.Of(options.ManifestPath, null);
    }

    public string StatusPath => _statusPath;

    /// <summary>The status as last written.</summary>
    public ReconcileStatus Status { get { lock (_gate) return _status; } }

    /// <summary>
    /// Runs until <paramref name="stopping"/> is cancelled: at once, then after each interval or change. Returns the
    /// last run (marked <see cref="RunResult.Stopped"/> when the signal came while it worked).
    /// </summary>
    public async Task<ReconcileRun?> RunAsync(CancellationToken stopping)
    {
        ReconcileRun? last = null;
        var trigger = "start";
        while (!stopping.IsCancellationRequested)
        {
            last = await RunOnceAsync(trigger, stopping).ConfigureAwait(false);
            trigger = await WaitAsync(stopping).ConfigureAwait(false);
        }
        return last;
    }

    /// <summary>
    /// One run: load the manifest, plan, apply (with <see cref="DriftMode.Fix"/>), write the status. A failure is
    /// reported in the run and the status, not thrown: the loop goes on and the next run tries again.
    /// </summary>
    /// <exception cref="LockBusyException">Another reconcile writes the same status file.</exception>
    public async Task<ReconcileRun> RunOnceAsync(string trigger, CancellationToken stopping)
    {
        // One loop per status file, held until disposed: two loops would overwrite each other's status.
        _owner ??= FileLock.TryAcquire(_statusPath + ".lock", $"xen-iac reconcile {_status.Manifest}", out var holder)
            ?? throw new LockBusyException(_statusPath + ".lock", holder, TimeSpan.Zero);
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        Manifest manifest;
        string digest;
        try
        {
            manifest = ManifestLoader.Load(_options.ManifestPath);
            _files = ManifestFiles.Of(_options.ManifestPath, manifest);
            _filesAsRead = ManifestFiles.Fingerprint(_files);
            digest = ManifestFiles.Digest(_files);
        }
        catch (ManifestException e)
        {
            // A manifest half-edited or broken by a merge: nothing is changed until it loads again.
            _files = ManifestFiles.Of(_options.ManifestPath, null);
            _filesAsRead = ManifestFiles.Fingerprint(_files);
            return await FinishAsync(started, clock, trigger, RunResult.Failed, 0, 0, $"manifest: {string.Join("; ", e.Errors)}", [], null).ConfigureAwait(false);
        }

        try
        {
            if (_options.Drift == DriftMode.Warn)
            {
                var plan = await Planner.PlanAsync(manifest, _hosts, null,
                    new PlanOptions { ReplaceInvalidSavefiles = _options.ReplaceInvalidSavefiles, TrustConfig = _options.TrustConfig, CheckpointEvery = _options.CheckpointEvery },
                    stopping).ConfigureAwait(false);
                var now = DateTimeOffset.UtcNow;
                foreach (var d in plan.Domains)
                    SetDomain(d.Name, Observed(d, digest, now, warn: true), now);
                ForgetRemoved(manifest);
                var drift = plan.Domains.Count(d => d.IsChange || d.IsObservedDrift);
                var result = plan.HasErrors ? RunResult.Failed : drift > 0 ? RunResult.Drift : RunResult.Succeeded;
                return await FinishAsync(started, clock, trigger, result, drift, plan.Domains.Count(d => d.Error is not null), null, [], digest).ConfigureAwait(false);
            }

            var progress = new StatusProgress(this, _options.Progress);
            // The apply itself is not cancelled by stopping: a step under way finishes; Stopping keeps new ones from starting.
            var applied = await Applier.ApplyAsync(manifest, _hosts, new ApplyOptions
            {
                Parallelism = _options.Parallelism,
                LockTimeout = _options.LockTimeout,
                ReplaceInvalidSavefiles = _options.ReplaceInvalidSavefiles,
                TrustConfig = _options.TrustConfig,
                CheckpointEvery = _options.CheckpointEvery,
                Progress = progress,
                Stopping = stopping,
            }, CancellationToken.None).ConfigureAwait(false);
            await progress.DrainAsync().ConfigureAwait(false);

            var at = DateTimeOffset.UtcNow;
            var results = applied.Results.ToDictionary(r => r.Domain, StringComparer.Ordinal);
            foreach (var d in applied.Plan.Domains)
            {
                var status = results.TryGetValue(d.Name, out var r)
                    ? r.Succeeded
                        ? new DomainStatus { Condition = DomainCondition.Ready, Reason = ConditionReasons.Applied, Message = d.Reason, LastAppliedDigest = digest, LastTransitionTime = at }
                        : r.Error == Applier.NotStartedError
                            ? new DomainStatus { Condition = DomainCondition.Progressing, Reason = ConditionReasons.NotStarted, Message = d.Reason, LastTransitionTime = at }
                            : Failed(ConditionReasons.ApplyFailed, ApplyEventText.Failed(r), at)
                    : Observed(d, digest, at, warn: false);
                SetDomain(d.Name, status with { ObserveOnly = d.Spec.ObserveOnly }, at);
            }
            ForgetRemoved(manifest);
            var failures = applied.Results.Count(r => !r.Succeeded && r.Error != Applier.NotStartedError) + applied.Plan.Domains.Count(d => d.Error is not null);
            var outcome = stopping.IsCancellationRequested ? RunResult.Stopped : failures > 0 ? RunResult.Failed : RunResult.Succeeded;
            return await FinishAsync(started, clock, trigger, outcome, applied.Results.Count, failures, null, applied.Results, digest).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not (OutOfMemoryException or InsufficientExecutionStackException))
        {
            // A host that cannot be opened, a lock held by someone else past the timeout, anything unforeseen: this
            // run fails (status, metrics, stderr) and the next tries; a daemon that dies on one bad run fixes nothing.
            // The apply runs uncancelled, so a cancellation here is the stop arriving before any step began (a wait for
            // another process's apply lock): a stop, said so, not a failure worded ".NET: A task was canceled."
            if (e is OperationCanceledException && stopping.IsCancellationRequested)
                return await FinishAsync(started, clock, trigger, RunResult.Stopped, 0, 0, "stopped before any step began (waiting for the apply lock)", [], digest).ConfigureAwait(false);
            return await FinishAsync(started, clock, trigger, RunResult.Failed, 0, 1, e.Message, [], digest).ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        _owner?.Dispose();
        _owner = null;
    }

    /// <summary>What the plan says of a domain nothing was applied to: Ready, or Degraded with why.</summary>
    private static DomainStatus Observed(DomainPlan d, string digest, DateTimeOffset at, bool warn)
    {
        if (d.Error is not null) return Failed(ConditionReasons.PlanFailed, $"{d.Name}: {d.Error}", at) with { ObserveOnly = d.Spec.ObserveOnly };
        if (d.IsObservedDrift || (warn && d.IsChange))
            return new DomainStatus
            {
                Condition = DomainCondition.Degraded,
                Reason = d.IsObservedDrift ? ConditionReasons.ObservedDrift : ConditionReasons.DriftDetected,
                Message = $"would {string.Join(" + ", d.Steps.Select(ApplyEventText.ActionName))}: {d.Reason}",
                ObserveOnly = d.Spec.ObserveOnly,
                LastTransitionTime = at,
            };
        return new DomainStatus
        {
            Condition = DomainCondition.Ready, Reason = ConditionReasons.UpToDate, Message = d.Reason, ObserveOnly = d.Spec.ObserveOnly,
            LastAppliedDigest = warn ? null : digest, LastTransitionTime = at,
        };
    }

    private static DomainStatus Failed(string reason, string error, DateTimeOffset at) => new()
    {
        Condition = DomainCondition.Degraded, Reason = reason, Message = error, LastError = error, LastErrorTime = at, LastTransitionTime = at,
    };

    /// <summary>
    /// Records a domain's new status: the transition time moves only when the condition changes, and the last
    /// applied digest and last error stay until replaced (a Ready domain keeps the record of its last failure).
    /// </summary>
    private void SetDomain(string name, DomainStatus next, DateTimeOffset at)
    {
        lock (_gate)
        {
            var domains = new SortedDictionary<string, DomainStatus>(_status.Domains, StringComparer.Ordinal);
            if (domains.TryGetValue(name, out var previous))
            {
                next = next with
                {
                    LastTransitionTime = previous.Condition == next.Condition ? previous.LastTransitionTime : at,
                    LastAppliedDigest = next.LastAppliedDigest ?? previous.LastAppliedDigest,
                    LastError = next.LastError ?? previous.LastError,
                    LastErrorTime = next.LastError is null ? previous.LastErrorTime : next.LastErrorTime,
                };
            }
            domains[name] = next;
            _status = _status with { Domains = domains };
        }
    }

    private void ForgetRemoved(Manifest manifest)
    {
        lock (_gate)
        {
            var names = manifest.Domains.Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
            var kept = new SortedDictionary<string, DomainStatus>(StringComparer.Ordinal);
            foreach (var (name, status) in _status.Domains.Where(kv => names.Contains(kv.Key))) kept[name] = status;
            _status = _status with { Domains = kept };
        }
    }

    private async Task<ReconcileRun> FinishAsync(DateTimeOffset started, Stopwatch clock, string trigger, RunResult result, int changes, int failures,
        string? error, IReadOnlyList<DomainResult> applied, string? digest)
    {
        var run = new RunStatus
        {
            Started = started, Finished = DateTimeOffset.UtcNow, Trigger = trigger, Result = result, Changes = changes, Failures = failures, Error = error,
        };
        ReconcileStatus snapshot;
        lock (_gate)
        {
            _status = _status with
            {
                LastRun = run,
                ManifestDigest = digest ?? _status.ManifestDigest,
                LastSuccess = result is RunResult.Succeeded or RunResult.Drift ? run.Finished : _status.LastSuccess,
            };
            snapshot = _status;
        }
        await WriteStatusAsync(snapshot).ConfigureAwait(false);
        var done = new ReconcileRun(run, clock.Elapsed, applied, snapshot.Domains);
        _options.Observer?.RunFinished(done);
        return done;
    }

    private Task WriteStatusAsync(ReconcileStatus status) => StatusFile.WriteAsync(_statusPath, status, CancellationToken.None);

    /// <summary>Waits for the next run: the interval, a change of the watched files (once they are still), or stopping.</summary>
    private async Task<string> WaitAsync(CancellationToken stopping)
    {
        var due = Stopwatch.StartNew();
        var seen = _filesAsRead ?? ManifestFiles.Fingerprint(_files);
        try
        {
            while (true)
            {
                var left = _options.Interval - due.Elapsed;
                if (left <= TimeSpan.Zero) return "interval";
                await Task.Delay(left < _options.WatchPoll ? left : _options.WatchPoll, stopping).ConfigureAwait(false);
                var now = ManifestFiles.Fingerprint(_files);
                if (now == seen) continue;
                // Changed: wait until the files stay the same for the debounce time, so a run sees the whole edit.
                while (true)
                {
                    seen = now;
                    await Task.Delay(_options.Debounce, stopping).ConfigureAwait(false);
                    now = ManifestFiles.Fingerprint(_files);
                    if (now == seen) return "change";
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return "stop";
        }
    }

    /// <summary>
    /// Marks domains Progressing when their step starts, and writes the status after each step; events arrive from
    /// the parallel steps, so writes are queued one after another rather than made on the reporting thread.
    /// </summary>
    private sealed class StatusProgress(ReconcileLoop loop, IProgress<ApplyEvent>? next) : IProgress<ApplyEvent>
    {
        private Task _writes = Task.CompletedTask;
        private readonly Lock _queue = new();
        private int _pending;

        public void Report(ApplyEvent value)
        {
            next?.Report(value);
            var at = DateTimeOffset.UtcNow;
            switch (value)
            {
                case StepStarted s:
                    loop.SetDomain(s.Domain, new DomainStatus
                    {
                        Condition = DomainCondition.Progressing, Reason = ConditionReasons.Applying, Message = ApplyEventText.Started(s), LastTransitionTime = at,
                    }, at);
                    break;
                case StepCompleted c:
                    loop.SetDomain(c.Domain, new DomainStatus
                    {
                        Condition = DomainCondition.Progressing, Reason = ConditionReasons.Applying, Message = ApplyEventText.Completed(c), LastTransitionTime = at,
                    }, at);
                    break;
                case DomainFailed f:
                    loop.SetDomain(f.Domain, Failed(ConditionReasons.ApplyFailed, ApplyEventText.Failed(f.Domain, f.Step, f.Error), at), at);
                    break;
                default:
                    return;
            }
            // Coalesced: while a write waits its turn, later changes ride along with it (it reads the status when it
            // starts), so a thousand domains changing at once do not queue thousands of whole-file writes.
            if (Interlocked.Exchange(ref _pending, 1) == 1) return;
            lock (_queue) _writes = _writes.ContinueWith(_ =>
            {
                Interlocked.Exchange(ref _pending, 0);
                return loop.WriteStatusAsync(loop.Status);
            }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
        }

        public async Task DrainAsync()
        {
            Task writes;
            lock (_queue) writes = _writes;
            // A status write that failed is written again, whole, when the run finishes.
            try { await writes.ConfigureAwait(false); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }
}
