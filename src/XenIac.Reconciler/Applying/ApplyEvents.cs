using XenIac.Reconciler.Planning;

namespace XenIac.Reconciler.Applying;

/// <summary>What apply reports while it works, for a progress display or a log.</summary>
public abstract record ApplyEvent(string Domain);

public sealed record StepStarted(string Domain, PlanAction Step, long? ExpectedBytes) : ApplyEvent(Domain);

/// <summary>Bytes of savefile written (save/checkpoint) or read (restore) so far.</summary>
public sealed record StepProgress(string Domain, PlanAction Step, long Bytes, long? ExpectedBytes) : ApplyEvent(Domain);

public sealed record StepCompleted(string Domain, PlanAction Step, long? Bytes, TimeSpan Elapsed) : ApplyEvent(Domain);

public sealed record DomainFailed(string Domain, PlanAction Step, string Error) : ApplyEvent(Domain);

public sealed record DomainResult(string Domain, PlanAction Action, bool Succeeded, string? Error, TimeSpan Elapsed);

public sealed record ApplyResult(Plan Plan, IReadOnlyList<DomainResult> Results, string JournalPath)
{
    public bool Succeeded => Results.All(r => r.Succeeded) && !Plan.HasErrors;
}

public sealed record ApplyOptions
{
    /// <summary>How many domains are worked on at once.</summary>
    public int Parallelism { get; init; } = DefaultParallelism;
    /// <summary>How long to wait for another apply on the same host; zero fails at once naming the holder.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.Zero;
    public IReadOnlyCollection<string>? Targets { get; init; }
    /// <summary>Asked with the plan before anything changes; false cancels the apply. Null approves.</summary>
    public Func<Plan, CancellationToken, Task<bool>>? Confirm { get; init; }
    public IProgress<ApplyEvent>? Progress { get; init; }
    /// <summary>Replace a file at a savefile path that is not a valid savefile (--force).</summary>
    public bool ReplaceInvalidSavefiles { get; init; }
    /// <summary>Restore stored configs that run or open things on dom0 for every domain (--trust-config).</summary>
    public bool TrustConfig { get; init; }
    /// <summary>Domains to save or create afresh even when nothing changed (--replace).</summary>
    public IReadOnlyCollection<string> Replace { get; init; } = [];
    /// <summary>
    /// Called with the plan made under the lock, before confirmation; throwing stops the apply before anything
    /// changes (a saved plan that no longer matches reality).
    /// </summary>
    public Action<Plan>? CheckPlan { get; init; }
    /// <summary>Where the journal goes (default: .xen-iac/journal.jsonl beside the manifest).</summary>
    public string? JournalPath { get; init; }
    /// <summary>When cancelled, no further domain is started; those under way finish (reconcile stopping on SIGTERM).</summary>
    public CancellationToken Stopping { get; init; }
    /// <summary>Checkpoint again a running <c>checkpoint: true</c> domain whose checkpoint is this old (reconcile --checkpoint-every).</summary>
    public TimeSpan? CheckpointEvery { get; init; }

    /// <summary>Saves are I/O bound; a few at once fill the disk without thrashing it.</summary>
    public static int DefaultParallelism => Math.Clamp(Environment.ProcessorCount, 2, 4);
}
