using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;
using XenIac.Reconciler.Manifests;

namespace XenIac.Reconciler.Planning;

public enum PlanAction
{
    None,
    Create,
    Restore,
    Save,
    Checkpoint,
    Destroy,
    /// <summary>Asked for with --replace: a fresh checkpoint of a running domain, or a fresh create of one that is not running.</summary>
    Replace,
    /// <summary>A clone pool (<c>clones: N</c>): restore the missing clones NAME-k from the domain's savefile.</summary>
    Clone,
    /// <summary>A clone pool: destroy the clones above N (or all, when the domain left the manifest) and their disk copies.</summary>
    Teardown,
}

/// <summary>
/// A domain's clone pool as planned: an entry of its own in the plan (named NAME-*), after every domain, since it
/// restores from the savefile the domain's own steps may write.
/// </summary>
/// <param name="Of">The domain the clones are made from (their prefix).</param>
/// <param name="Wanted">N: how many clones the manifest asks for (0 when the domain left it).</param>
/// <param name="Running">The clones on the host now.</param>
/// <param name="Make">The clone numbers to restore.</param>
/// <param name="Remove">The clones to destroy.</param>
public sealed record ClonePool(string Of, int Wanted, IReadOnlyList<string> Running, IReadOnlyList<int> Make, IReadOnlyList<string> Remove,
    Cloning.CloneDiskCopy DiskCopy);

/// <summary>What is on disk at a domain's savefile path.</summary>
public sealed record SavefileStatus(bool Exists, bool Valid, string? Problem, SaveFileHeader? Header, long Size)
{
    /// <summary>For a domain kept in a store: the snapshot the tag names now (what a restore takes).</summary>
    public string? SnapshotId { get; init; }
    /// <summary>When the valid savefile was written (its modification time, or the snapshot's creation): a checkpoint's age.</summary>
    public DateTimeOffset? SavedAt { get; init; }

    public static SavefileStatus Missing { get; } = new(false, false, null, null, 0);
}

/// <summary>Reality for one domain: the host's domain (if any) and the savefile.</summary>
public sealed record DomainObservation(DomainInfo? Domain, SavefileStatus Savefile)
{
    /// <summary>Set when the domain's host could not be asked (nothing is known about the domain then).</summary>
    public string? HostError { get; init; }
}

/// <summary>The plan for one domain: the action, why, and the compatibility findings of its overrides.</summary>
public sealed record DomainPlan
{
    public required DomainSpec Spec { get; init; }
    public required DomainObservation Observed { get; init; }
    public required PlanAction Action { get; init; }
    /// <summary>What runs, in order (a save of a domain that does not exist yet is create, then save).</summary>
    public IReadOnlyList<PlanAction> Steps { get; init; } = [];
    /// <summary>
    /// Cold migration: the host the domain runs on now, where its Save step runs; the Restore that follows runs on
    /// <see cref="DomainSpec.Host"/>. Null when every step runs on the spec's host.
    /// </summary>
    public HostSpec? SourceHost { get; init; }
    public required string Reason { get; init; }
    public IReadOnlyList<CompatibilityFinding> Findings { get; init; } = [];
    /// <summary>The override config used when restoring or stored when saving (null: none).</summary>
    public ConfigText? OverrideConfig { get; init; }
    /// <summary>The config a Create step boots: the base config under the manifest's name.</summary>
    public ConfigText? CreateConfig { get; init; }
    /// <summary>The config a Restore step uses instead of the stored one (override, renamed stored config, legacy base); null: the stored one.</summary>
    public ConfigText? RestoreConfig { get; init; }
    /// <summary>Things the operator should see before apply (savefile outside the manifest's folder, a renamed config, a trusted stored config).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
    /// <summary>Set when this domain cannot be reconciled (invalid savefile, incompatible override without force, ...).</summary>
    public string? Error { get; init; }

    /// <summary>Set on a clone pool's entry (whose <see cref="Name"/> is NAME-*), null on a domain's.</summary>
    public ClonePool? Pool { get; init; }

    public string Name => Spec.Name;
    /// <summary>The host <paramref name="step"/> runs on: a migration's save on the source, everything else on the spec's host.</summary>
    public HostSpec HostOf(PlanAction step) =>
        SourceHost is { } source && step is PlanAction.Save or PlanAction.Checkpoint or PlanAction.Destroy ? source : Spec.Host;
    /// <summary>A change apply makes; an observe-only domain's (paused: reconcile) drift is reported, never a change.</summary>
    public bool IsChange => Error is null && Action != PlanAction.None && !Spec.ObserveOnly;
    /// <summary>Reality differs from the manifest for an observe-only domain: what apply would do, were it allowed to.</summary>
    public bool IsObservedDrift => Error is null && Action != PlanAction.None && Spec.ObserveOnly;
}

/// <summary>What the operator allows beyond the manifest: the CLI's --force and --trust-config.</summary>
public sealed record PlanOptions
{
    public static PlanOptions Default { get; } = new();
    /// <summary>Replace a file at a savefile path that is not a valid savefile (--force).</summary>
    public bool ReplaceInvalidSavefiles { get; init; }
    /// <summary>Restore savefiles with stored configs that run or open things on dom0 (--trust-config), for every domain.</summary>
    public bool TrustConfig { get; init; }
    /// <summary>Domains (names, globs or label selectors) to save or create afresh even when nothing changed (--replace).</summary>
    public IReadOnlyCollection<string> Replace { get; init; } = [];
    /// <summary>A running <c>checkpoint: true</c> domain whose checkpoint is older than this gets a new one (reconcile --checkpoint-every).</summary>
    public TimeSpan? CheckpointEvery { get; init; }
}

public sealed record Plan(Manifest Manifest, IReadOnlyList<DomainPlan> Domains)
{
    public bool HasChanges => Domains.Any(d => d.IsChange);
    public bool HasErrors => Domains.Any(d => d.Error is not null);
}
