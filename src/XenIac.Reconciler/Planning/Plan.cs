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
}

/// <summary>What is on disk at a domain's savefile path.</summary>
public sealed record SavefileStatus(bool Exists, bool Valid, string? Problem, SaveFileHeader? Header, long Size)
{
    public static SavefileStatus Missing { get; } = new(false, false, null, null, 0);
}

/// <summary>Reality for one domain: the host's domain (if any) and the savefile.</summary>
public sealed record DomainObservation(DomainInfo? Domain, SavefileStatus Savefile);

/// <summary>The plan for one domain: the action, why, and the compatibility findings of its overrides.</summary>
public sealed record DomainPlan
{
    public required DomainSpec Spec { get; init; }
    public required DomainObservation Observed { get; init; }
    public required PlanAction Action { get; init; }
    /// <summary>What runs, in order (a save of a domain that does not exist yet is create, then save).</summary>
    public IReadOnlyList<PlanAction> Steps { get; init; } = [];
    public required string Reason { get; init; }
    public IReadOnlyList<CompatibilityFinding> Findings { get; init; } = [];
    /// <summary>The override config used when restoring or stored when saving (null: none).</summary>
    public DomainConfigDocument? OverrideConfig { get; init; }
    /// <summary>Set when this domain cannot be reconciled (invalid savefile, incompatible override without force, ...).</summary>
    public string? Error { get; init; }

    public string Name => Spec.Name;
    public bool IsChange => Error is null && Action != PlanAction.None;
}

public sealed record Plan(Manifest Manifest, IReadOnlyList<DomainPlan> Domains)
{
    public bool HasChanges => Domains.Any(d => d.IsChange);
    public bool HasErrors => Domains.Any(d => d.Error is not null);
}
