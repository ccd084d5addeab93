using XenIac.Core.Config;
using XenIac.Reconciler.Manifests;

namespace XenIac.Reconciler.Planning;

/// <summary>
/// <c>--replace</c>: Terraform's <c>-replace</c> for a domain. The domain's savefile (or the domain) is made afresh
/// even when the plan says nothing changed: a running domain is checkpointed (state running) or saved (state
/// saved) to a fresh savefile; a domain that is not running is created from its config instead of restored.
/// </summary>
public static partial class Planner
{
    public const string ReplaceReason = "replace requested";

    /// <summary>The names <paramref name="replace"/> selects; each must be among the planned domains.</summary>
    private static HashSet<string> ReplaceSet(Manifest manifest, IReadOnlyList<DomainSpec> selected, IReadOnlyCollection<string> replace)
    {
        if (replace.Count == 0) return [];
        var names = Targets.Select(manifest, replace, "--replace").Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        var outside = names.Where(n => selected.All(d => d.Name != n)).ToList();
        if (outside.Count > 0)
            throw new ManifestException([new ManifestError(new SourceLocation(manifest.Path, 1, 1),
                $"--replace selects domains outside --target: {string.Join(", ", outside)}")]);
        return names;
    }

    private static async Task<DomainPlan> ReplaceAsync(DomainPlan planned, IHostProvider hosts, PlanOptions options, CancellationToken cancellationToken)
    {
        // An error stands: a replace must not hide why the domain cannot be reconciled.
        if (planned.Error is not null) return planned;
        var spec = planned.Spec;
        var observed = planned.Observed;
        if (spec.State == DesiredState.Absent)
            return Failed(spec, observed, PlanAction.Replace, $"{spec.Location}: {ReplaceReason}, but the domain is desired absent: there is nothing to save or create");
        if (observed.Savefile.Exists && !observed.Savefile.Valid && !options.ReplaceInvalidSavefiles)
            return Failed(spec, observed, PlanAction.Replace, RefuseToReplace(spec, observed.Savefile));
        if (!TryComposeOverride(spec, out var overrideConfig, out var overrideError))
            return Failed(spec, observed, PlanAction.Replace, $"{spec.OverridesLocation ?? spec.Location}: overrides: {overrideError}");

        DomainPlan plan;
        if (observed.Domain is { } domain)
        {
            // Running and desired saved is already a save; running and desired running keeps running: a checkpoint.
            var step = spec.State == DesiredState.Saved ? PlanAction.Save : PlanAction.Checkpoint;
            plan = await WithOverridesAsync(spec, observed, PlanAction.Replace, [step],
                $"{ReplaceReason}: {(step == PlanAction.Save ? "save" : "checkpoint")} domid {domain.DomId} to a fresh savefile",
                overrideConfig, hosts, Against.Running, null, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            if (spec.ConfigPath is null)
                return Failed(spec, observed, PlanAction.Replace, $"{spec.Location}: {ReplaceReason}, but the domain is not running and has no 'config' to create it from");
            IReadOnlyList<PlanAction> steps = spec.State == DesiredState.Saved ? [PlanAction.Create, PlanAction.Save]
                : spec.Checkpoint ? [PlanAction.Create, PlanAction.Checkpoint] : [PlanAction.Create];
            var then = steps.Count > 1 ? $", then {ApplyingName(steps[1])}" : "";
            plan = await CreateAsync(spec, observed, $"{ReplaceReason}: create from config (the savefile is not restored){then}", steps,
                overrideConfig, hosts, cancellationToken).ConfigureAwait(false);
        }
        return plan with { Action = PlanAction.Replace, Warnings = [.. planned.Warnings.Where(w => !plan.Warnings.Contains(w)), .. plan.Warnings] };
    }

    private static string ApplyingName(PlanAction step) => step.ToString().ToLowerInvariant();
}
