using System.Text.Json.Nodes;
using Spectre.Console;
using XenIac.Cli.Commands.Config;
using XenIac.Core.Config;
using XenIac.Reconciler.Applying;
using XenIac.Reconciler.Planning;

namespace XenIac.Cli.Commands.Reconcile;

/// <summary>What <c>plan</c> and <c>apply</c> print at the end: the plan table, the result summary, and their JSON.</summary>
internal static class PlanRendering
{
    private static string ActionName(PlanAction a) => ApplyEventText.ActionName(a);

    /// <summary>
    /// The plan as Terraform shows one: only domains with a change or an error (with why, their savefile path and
    /// their findings), then one summary line. <paramref name="showUnchanged"/> lists every domain.
    /// </summary>
    public static void RenderPlan(Plan plan, bool showUnchanged = false)
    {
        var console = AnsiConsole.Console;
        var listed = showUnchanged ? plan.Domains : plan.Domains.Where(d => d.IsChange || d.IsObservedDrift || d.Error is not null).ToList();
        if (listed.Count > 0) RenderTable(console, listed);
        foreach (var d in plan.Domains)
            foreach (var w in d.Warnings)
                Console.Error.WriteLine($"warning: {d.Name}: {CommandLine.OneLine(w)}");
        RenderFindings(console, listed);
        var changes = plan.Domains.Where(d => d.IsChange).GroupBy(d => d.Action).Select(g => $"{g.Count()} to {ActionName(g.Key)}").ToList();
        var unchanged = plan.Domains.Count(d => !d.IsChange && d.Error is null);
        console.WriteLine(changes.Count == 0
            ? $"No changes: reality matches the manifest ({unchanged} domain{(unchanged == 1 ? "" : "s")} unchanged)."
            : $"Plan: {string.Join(", ", changes)}, {unchanged} unchanged.");
    }

    private static void RenderTable(IAnsiConsole console, IReadOnlyList<DomainPlan> domains)
    {
        if (Console.IsOutputRedirected)
        {
            // Logs and pipes get plain aligned lines: a box table costs more to lay out than the plan took to make
            // (a 1,000-domain plan), and grep finds a domain's whole line.
            var width = domains.Max(d => d.Name.Length);
            var text = new System.Text.StringBuilder();
            foreach (var d in domains)
            {
                var action = d.Error is not null ? "error" : d.Action == PlanAction.None ? "none" : string.Join(" + ", d.Steps.Select(ActionName));
                text.Append(d.Name.PadRight(width)).Append("  ").Append(action.PadRight(9)).Append("  ").AppendLine(CommandLine.OneLine(d.Error ?? d.Reason));
            }
            foreach (var d in domains) text.Append(d.Name).Append(": savefile ").AppendLine(d.Spec.SavefilePath);
            Console.Out.Write(text.ToString());
            return;
        }
        var table = new Table().Border(TableBorder.Rounded).AddColumns("domain", "action", "why");
        foreach (var d in domains)
        {
            var action = d.Error is not null ? "[red]error[/]"
                : d.Action == PlanAction.None ? "[grey]none[/]"
                : $"[yellow]{string.Join(" + ", d.Steps.Select(ActionName))}[/]";
            table.AddRow(Markup.Escape(d.Name), action, Markup.Escape(d.Error ?? d.Reason));
        }
        console.Write(table);
        // Plain lines, not table cells: a path must stay whole to be copied, whatever the terminal's width.
        foreach (var d in domains)
            Console.Out.WriteLine($"{d.Name}: savefile {d.Spec.SavefilePath}");
    }

    private static void RenderFindings(IAnsiConsole console, IReadOnlyList<DomainPlan> domains)
    {
        foreach (var d in domains.Where(d => d.Findings.Count > 0))
        {
            console.MarkupLine($"[bold]{Markup.Escape(d.Name)}[/]: override config compatibility");
            foreach (var f in d.Findings)
            {
                var color = f.Severity switch { FindingSeverity.Error => "red", FindingSeverity.Warning => "yellow", _ => "green" };
                console.MarkupLine($"  [{color}]{ConfigRendering.SeverityName(f.Severity)}[/] {Markup.Escape(f.Setting)}: " +
                                   $"{Markup.Escape(f.Old ?? "(none)")} -> {Markup.Escape(f.New ?? "(none)")} ({Markup.Escape(f.Reason)})");
            }
        }
    }

    /// <summary>One <c>error:</c> line per domain the plan could not be made for.</summary>
    public static async Task WriteDomainErrorsAsync(Plan plan)
    {
        foreach (var d in plan.Domains.Where(d => d.Error is not null))
            await Console.Error.WriteLineAsync($"error: {ApplyEventText.PlanError(d)}");
    }

    public static void RenderResult(ApplyResult result)
    {
        if (result.Results.Count == 0 && !result.Plan.HasErrors)
        {
            Console.Out.WriteLine("No changes: reality matches the manifest.");
            return;
        }
        foreach (var r in result.Results)
            Console.Out.WriteLine(ApplyEventText.Result(r));
        foreach (var d in result.Plan.Domains.Where(d => d.Error is not null))
            Console.Error.WriteLine($"error: {ApplyEventText.PlanError(d)}");
        var failed = result.Results.Count(r => !r.Succeeded) + result.Plan.Domains.Count(d => d.Error is not null);
        Console.Out.WriteLine($"Apply {(failed == 0 ? "complete" : "finished with errors")}: {result.Results.Count(r => r.Succeeded)} done, {failed} failed. Journal: {result.JournalPath}");
    }

    public static JsonObject PlanJson(Plan plan) => new()
    {
        ["manifest"] = plan.Manifest.Path,
        ["changes"] = plan.HasChanges,
        ["errors"] = plan.HasErrors,
        ["domains"] = new JsonArray(plan.Domains.Select(d => (JsonNode)new JsonObject
        {
            ["name"] = d.Name,
            ["action"] = ActionName(d.Action),
            ["steps"] = new JsonArray(d.Steps.Select(s => (JsonNode)ActionName(s)!).ToArray()),
            ["reason"] = d.Reason,
            ["error"] = d.Error,
            ["warnings"] = new JsonArray(d.Warnings.Select(w => (JsonNode)w!).ToArray()),
            ["desiredState"] = d.Spec.State.ToString().ToLowerInvariant(),
            ["host"] = d.Spec.Host.ToString(),
            ["running"] = d.Observed.Domain is not null,
            ["domid"] = d.Observed.Domain?.DomId,
            ["savefile"] = new JsonObject
            {
                ["path"] = d.Spec.SavefilePath,
                ["exists"] = d.Observed.Savefile.Exists,
                ["valid"] = d.Observed.Savefile.Valid,
                ["problem"] = d.Observed.Savefile.Problem,
            },
            ["findings"] = ConfigRendering.FindingsJson(d.Findings),
        }).ToArray()),
    };

    public static JsonObject ApplyJson(ApplyResult result) => new()
    {
        ["succeeded"] = result.Succeeded,
        ["journal"] = result.JournalPath,
        ["plan"] = PlanJson(result.Plan),
        ["results"] = new JsonArray(result.Results.Select(r => (JsonNode)new JsonObject
        {
            ["name"] = r.Domain,
            ["action"] = ActionName(r.Action),
            ["succeeded"] = r.Succeeded,
            ["error"] = r.Error,
            ["seconds"] = Math.Round(r.Elapsed.TotalSeconds, 3),
        }).ToArray()),
    };
}
