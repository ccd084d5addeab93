using System.Globalization;
using XenIac.Reconciler.Planning;

namespace XenIac.Reconciler.Applying;

/// <summary>
/// The words for what apply reports, once for every front end (the CLI's progress lines and summary, the MSBuild
/// task's build log): one line per event, per domain result and per domain the plan failed for. Each line starts
/// with the domain's name, so lines of domains worked on at once can be told apart.
/// </summary>
public static class ApplyEventText
{
    private const int MiBShift = 20;

    /// <summary>An action as the user writes and reads it: "save", "restore", "create"...</summary>
    public static string ActionName(PlanAction action) => action.ToString().ToLowerInvariant();

    /// <summary>One line for <paramref name="e"/>; <c>null</c> for an event type this version does not know.</summary>
    public static string? Line(ApplyEvent e) => e switch
    {
        StepStarted s => Started(s),
        StepProgress p => Progress(p),
        StepCompleted c => Completed(c),
        DomainFailed f => Failed(f.Domain, f.Step, f.Error),
        _ => null,
    };

    public static string Started(StepStarted e) => $"{e.Domain}: {ActionName(e.Step)} started";

    /// <summary>Bytes so far in whole MiB and, when it is known and <paramref name="ofExpected"/>, the expected total.</summary>
    public static string Progress(StepProgress e, bool ofExpected = true) =>
        $"{e.Domain}: {ActionName(e.Step)} {e.Bytes >> MiBShift} MiB{(ofExpected && e.ExpectedBytes is { } t ? $" of {t >> MiBShift} MiB" : "")}";

    /// <summary>The time a step took and, for one that moved bytes, how many and how fast.</summary>
    public static string Completed(StepCompleted e)
    {
        var seconds = e.Elapsed.TotalSeconds;
        var rate = e.Bytes is { } b && seconds > 0
            ? string.Create(CultureInfo.CurrentCulture, $", {b / seconds / (1 << MiBShift):0} MiB/s") : "";
        var size = e.Bytes is { } n ? $" ({n >> MiBShift} MiB{rate})" : "";
        return string.Create(CultureInfo.CurrentCulture, $"{e.Domain}: {ActionName(e.Step)} finished in {seconds:0.0} s{size}");
    }

    /// <summary>A step that failed: the event while apply runs, and the domain's failure after it.</summary>
    public static string Failed(string domain, PlanAction step, string? error) => $"{domain}: {ActionName(step)} failed: {error}";

    public static string Failed(DomainResult result) => Failed(result.Domain, result.Action, result.Error);

    /// <summary>A step or a domain's whole work done, with the time it took (no bytes: the short form for a summary or a build log).</summary>
    public static string Done(string domain, PlanAction step, TimeSpan elapsed) =>
        string.Create(CultureInfo.CurrentCulture, $"{domain}: {ActionName(step)} done in {elapsed.TotalSeconds:0.0} s");

    /// <summary>A domain's result in the summary after apply: done with its time, or FAILED with the error.</summary>
    public static string Result(DomainResult r) => r.Succeeded
        ? Done(r.Domain, r.Action, r.Elapsed)
        : $"{r.Domain}: {ActionName(r.Action)} FAILED: {r.Error}";

    /// <summary>A domain no plan could be made for (it was skipped): its name and why.</summary>
    public static string PlanError(DomainPlan d) => $"{d.Name}: {d.Error}";

    /// <summary>The failures of an apply, one line each: failed steps, then domains the plan failed for.</summary>
    public static IReadOnlyList<string> Failures(ApplyResult result) =>
    [
        .. result.Results.Where(r => !r.Succeeded).Select(Failed),
        .. result.Plan.Domains.Where(d => d.Error is not null).Select(PlanError),
    ];
}
