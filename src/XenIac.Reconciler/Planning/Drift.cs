using XenIac.Core;
using XenIac.Core.Config;
using XenIac.Reconciler.Manifests;

namespace XenIac.Reconciler.Planning;

/// <summary>How reality differs from the manifest for one domain (the names are the JSON's "kind").</summary>
public enum DriftKind
{
    /// <summary>Desired running (or a checkpointed domain), and not running.</summary>
    NotRunning,
    /// <summary>Running, and desired saved or absent.</summary>
    Running,
    /// <summary>Desired saved (or checkpointed), and no savefile.</summary>
    SavefileMissing,
    /// <summary>A file at the savefile path that is not a valid savefile.</summary>
    SavefileInvalid,
    /// <summary>The savefile's stored config differs from the manifest's override config.</summary>
    ConfigChanged,
    /// <summary>The savefile's stored config names another domain (another domain's savefile copied over this one's).</summary>
    SavefileOfAnotherDomain,
}

public sealed record DriftItem(DriftKind Kind, string Message)
{
    /// <summary>The kind as JSON and scripts read it: not-running, running, savefile-missing, savefile-invalid, config-changed, savefile-of-another-domain.</summary>
    public string KindName => Kind switch
    {
        DriftKind.NotRunning => "not-running",
        DriftKind.Running => "running",
        DriftKind.SavefileMissing => "savefile-missing",
        DriftKind.SavefileInvalid => "savefile-invalid",
        DriftKind.ConfigChanged => "config-changed",
        DriftKind.SavefileOfAnotherDomain => "savefile-of-another-domain",
        _ => Kind.ToString().ToLowerInvariant(),
    };
}

/// <summary>One domain's drift; <see cref="Error"/> when its host could not be asked (then nothing is known).</summary>
public sealed record DomainDrift(DomainPlan Plan, IReadOnlyList<DriftItem> Items, string? Error)
{
    public string Name => Plan.Name;
    public bool HasDrift => Items.Count > 0;
}

public sealed record DriftReport(Manifest Manifest, IReadOnlyList<DomainDrift> Domains, DateTimeOffset CheckedAt)
{
    public bool HasDrift => Domains.Any(d => d.HasDrift);
    public bool HasErrors => Domains.Any(d => d.Error is not null);
}

/// <summary>
/// <c>plan --refresh-only</c> / <c>drift</c>: what differs between reality and the manifest, as observations, not
/// as the saves and restores that would fix it. A drift report is for a scheduled job that alerts; apply fixes.
/// </summary>
public static class Drift
{
    /// <summary>The drift of every domain of <paramref name="plan"/> (the planner's observations, read again here as differences).</summary>
    public static DriftReport Of(Plan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        // Clone pools are apply's to keep (clones: N), not domains of the manifest: a missing clone is no drift to alert on.
        return new DriftReport(plan.Manifest, [.. plan.Domains.Where(d => d.Pool is null).Select(Of)], DateTimeOffset.UtcNow);
    }

    private static DomainDrift Of(DomainPlan d)
    {
        if (d.Observed.HostError is { } hostError) return new DomainDrift(d, [], $"host: {hostError}");
        var spec = d.Spec;
        var domain = d.Observed.Domain;
        var savefile = d.Observed.Savefile;
        var path = spec.Snapshot is { } snapshot ? $"snapshot tag {snapshot.Tag}" : $"savefile {spec.SavefilePath}";
        var items = new List<DriftItem>();
        switch (spec.State)
        {
            case DesiredState.Running when domain is null:
                items.Add(new(DriftKind.NotRunning, savefile.Valid ? $"not running (desired running); {path} is there to restore" : "not running (desired running)"));
                break;
            case DesiredState.Saved when domain is not null:
                items.Add(new(DriftKind.Running, $"running as domid {domain.DomId} (desired saved)"));
                break;
            case DesiredState.Absent when domain is not null:
                items.Add(new(DriftKind.Running, $"running as domid {domain.DomId} (desired absent)"));
                break;
        }
        // A savefile matters where the manifest keeps one: state saved, or a checkpointed running domain.
        var keepsSavefile = spec.State == DesiredState.Saved || (spec.State == DesiredState.Running && spec.Checkpoint);
        if (savefile.Exists && !savefile.Valid)
            items.Add(new(DriftKind.SavefileInvalid, $"{path} is not a valid savefile ({savefile.Problem})"));
        // A folder where the savefile belongs is no savefile a restore could use, as plan says; "missing" sent the
        // reader looking for a file that was deleted.
        else if (!savefile.Exists && keepsSavefile && spec.Snapshot is null && Directory.Exists(spec.SavefilePath))
            items.Add(new(DriftKind.SavefileInvalid, $"{path} is a folder, not a savefile"));
        else if (!savefile.Exists && keepsSavefile)
            items.Add(new(DriftKind.SavefileMissing, $"{path} is missing"));
        else if (savefile.Valid && keepsSavefile && Planner.OtherDomainIn(spec, savefile) is { } other)
            items.Add(new(DriftKind.SavefileOfAnotherDomain, $"{path} holds the domain '{other}' (its stored config names it), not '{spec.Name}'"));
        else if (savefile.Valid && keepsSavefile && ConfigChange(spec, savefile) is { } change)
            items.Add(new(DriftKind.ConfigChanged, $"the config stored in {path} differs from the manifest's overrides ({change})"));
        return new DomainDrift(d, items, null);
    }

    /// <summary>
    /// The settings in which the savefile's stored config differs from the domain's override config; null when the
    /// domain has no overrides or they agree. Without overrides the stored config is whatever the domain ran with,
    /// which is what the manifest asks for.
    /// </summary>
    private static string? ConfigChange(DomainSpec spec, SavefileStatus savefile)
    {
        if (!spec.HasOverrides || savefile.Header is not { ConfigText: { } text } header || header.ConfigFormat == Core.SaveFiles.SaveFileConfigFormat.None)
            return null;
        try
        {
            var wanted = OverrideConfigs.Compose(spec);
            if (wanted is null) return null;
            var findings = ConfigCompatibility.Check(OverrideConfigs.Model(new ConfigText(text, header.ConfigFormat)), OverrideConfigs.Model(wanted))
                .Where(f => f.Old is not null || f.New is not null)
                .Where(f => f.Setting != "name")
                .Select(f => $"{f.Setting}: {f.Old ?? "(unset)"} -> {f.New ?? "(unset)"}")
                .ToList();
            return findings.Count == 0 ? null : string.Join("; ", findings);
        }
        // An override that cannot be composed is the plan's error to report, not drift.
        catch (Exception e) when (e is XenIacException or IOException or UnauthorizedAccessException or ArgumentException or FormatException)
        {
            return null;
        }
    }
}
