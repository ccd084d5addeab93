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
        if (listed.Count > 0) RenderTable(console, listed, plan.Manifest.IsMultiHost ? d => HostText(plan, d) : null);
        foreach (var d in plan.Domains)
            foreach (var w in d.Warnings)
                Console.Error.WriteLine($"warning: {d.Name}: {CommandLine.OneLine(w)}");
        RenderFindings(console, listed);
        var changes = plan.Domains.Where(d => d.IsChange).GroupBy(d => d.Action).Select(g => $"{g.Count()} to {ActionName(g.Key)}").ToList();
        var unchanged = plan.Domains.Count(d => !d.IsChange && d.Error is null);
        var errors = plan.Domains.Count(d => d.Error is not null);
        // A domain that could not be planned is not "matching reality": the summary says so rather than "No changes".
        var failed = errors == 0 ? "" : $", {errors} with errors (not planned)";
        // Plain, not through Spectre: off a terminal it wraps at 80 columns, and a summary cut in two is not grep's.
        Console.Out.WriteLine(changes.Count == 0 && errors == 0
            ? $"No changes: reality matches the manifest ({unchanged} domain{(unchanged == 1 ? "" : "s")} unchanged)."
            : changes.Count == 0
                ? $"Plan: nothing to do, {unchanged} unchanged{failed}."
                : $"Plan: {string.Join(", ", changes)}, {unchanged} unchanged{failed}.");
    }

    /// <summary>Where a domain's steps run, by the manifest's host names: <c>b</c>, or <c>a -> b</c> for a cold migration.</summary>
    internal static string HostText(Plan plan, DomainPlan d)
    {
        string Name(XenIac.Hosts.HostSpec spec) => plan.Manifest.NameOf(spec) ?? (spec.IsDefault ? "(default)" : spec.ToString());
        var target = d.Spec.HostName ?? Name(d.Spec.Host);
        return d.SourceHost is { } source ? $"{Name(source)} -> {target}" : target;
    }

    private static void RenderTable(IAnsiConsole console, IReadOnlyList<DomainPlan> domains, Func<DomainPlan, string>? host)
    {
        if (Console.IsOutputRedirected)
        {
            // Logs and pipes get plain aligned lines: a box table costs more to lay out than the plan took to make
            // (a 1,000-domain plan), and grep finds a domain's whole line.
            static string Action(DomainPlan d) => d.Error is not null ? "error" : d.Action == PlanAction.None ? "none" : StepsText(d);
            var width = domains.Max(d => d.Name.Length);
            // Spelled out here, not by the writer: this block is written whole, and its line breaks are its own.
            var hosts = host is null ? null : domains.ToDictionary(d => d, d => CommandLine.Printable(host(d)));
            var hostWidth = hosts is null ? 0 : hosts.Values.Max(h => h.Length);
            // As wide as the longest action ("create + checkpoint"), so the reasons start in one column.
            var actionWidth = domains.Max(d => Action(d).Length);
            var text = new System.Text.StringBuilder();
            foreach (var d in domains)
            {
                text.Append(d.Name.PadRight(width)).Append("  ");
                // With more than one host, each line says where: "web  b  restore ..." (a migration: "a -> b").
                if (hosts is not null) text.Append(hosts[d].PadRight(hostWidth)).Append("  ");
                text.Append(Action(d).PadRight(actionWidth)).Append("  ").AppendLine(CommandLine.OneLine(d.Error ?? d.Reason));
            }
            foreach (var d in domains) text.Append(d.Name).Append(": savefile ").AppendLine(CommandLine.Printable(d.Spec.SavefilePath));
            Console.Out.Write(text.ToString());
            return;
        }
        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumns(host is null ? ["domain", "action", "why"] : ["domain", "host", "action", "why"]);
        foreach (var d in domains)
        {
            var action = d.Error is not null ? "[red]error[/]"
                : d.Action == PlanAction.None ? "[grey]none[/]"
                : $"[yellow]{StepsText(d)}[/]";
            if (host is null) table.AddRow(Markup.Escape(d.Name), action, Markup.Escape(CommandLine.OneLine(d.Error ?? d.Reason)));
            else table.AddRow(Markup.Escape(d.Name), Markup.Escape(host(d)), action, Markup.Escape(CommandLine.OneLine(d.Error ?? d.Reason)));
        }
        console.Write(table);
        // Plain lines, not table cells: a path must stay whole to be copied, whatever the terminal's width.
        foreach (var d in domains)
            Console.Out.WriteLine($"{d.Name}: savefile {d.Spec.SavefilePath}");
    }

    /// <summary>The steps a domain's change runs; a replace says so first, since its steps alone look like any save or create.</summary>
    private static string StepsText(DomainPlan d)
    {
        var steps = string.Join(" + ", d.Steps.Select(ActionName));
        return d.Action == PlanAction.Replace ? $"replace ({steps})" : steps;
    }

    private static void RenderFindings(IAnsiConsole console, IReadOnlyList<DomainPlan> domains)
    {
        // Off a terminal Spectre wraps at 80 columns, which cut a finding (and the path in it) in two in every log:
        // there each finding is one plain line, as the table's rows are.
        var plain = Console.IsOutputRedirected;
        foreach (var d in domains.Where(d => d.Findings.Count > 0))
        {
            const string heading = "findings (override config compatibility, placement on its host)";
            if (plain) Console.Out.WriteLine($"{d.Name}: {heading}");
            else console.MarkupLine($"[bold]{Markup.Escape(d.Name)}[/]: {heading}");
            foreach (var f in d.Findings)
            {
                var severity = ConfigRendering.SeverityName(f.Severity);
                var text = $"{f.Setting}: {f.Old ?? "(none)"} -> {f.New ?? "(none)"} ({f.Reason})";
                if (plain)
                {
                    Console.Out.WriteLine($"  {severity} {CommandLine.OneLine(text)}");
                    continue;
                }
                var color = f.Severity switch { FindingSeverity.Error => "red", FindingSeverity.Warning => "yellow", _ => "green" };
                console.MarkupLine($"  [{color}]{severity}[/] {Markup.Escape(text)}");
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
        // Exit 1 comes with its error lines on stderr, as for every other failure (a log that keeps only stderr, or
        // `2>err`, kept nothing of why).
        foreach (var r in result.Results.Where(r => !r.Succeeded))
            Console.Error.WriteLine($"error: {CommandLine.OneLine(ApplyEventText.Result(r))}");
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
            // Where each step runs (a cold migration saves on one host and restores on another), by spec and by name.
            ["hostName"] = d.Spec.HostName ?? plan.Manifest.NameOf(d.Spec.Host),
            ["sourceHost"] = d.SourceHost?.ToString(),
            ["stepHosts"] = new JsonArray(d.Steps.Select(s => (JsonNode)d.HostOf(s).ToString()!).ToArray()),
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
            // A clone pool's entry (clones: N; its name is NAME-*): what runs now and what the steps make or destroy.
            ["clones"] = d.Pool is not { } pool ? null : new JsonObject
            {
                ["of"] = pool.Of,
                ["wanted"] = pool.Wanted,
                ["running"] = new JsonArray([.. pool.Running.Select(n => (JsonNode)n)]),
                ["create"] = new JsonArray([.. pool.Make.Select(k => (JsonNode)$"{pool.Of}-{k}")]),
                ["destroy"] = new JsonArray([.. pool.Remove.Select(n => (JsonNode)n)]),
                ["diskCopy"] = XenIac.Reconciler.Cloning.CloneDiskCopyWords.Word(pool.DiskCopy),
            },
        }).ToArray()),
    };

    /// <summary>
    /// A drift report as people read it: one line per drifted domain and difference, then a summary line. Domains
    /// that match the manifest are not listed (a thousand of them would bury the one that drifted).
    /// </summary>
    public static void RenderDrift(DriftReport report)
    {
        var drifted = report.Domains.Where(d => d.HasDrift).ToList();
        var text = new System.Text.StringBuilder();
        if (drifted.Count > 0)
        {
            var width = drifted.Max(d => d.Name.Length);
            var kindWidth = drifted.SelectMany(d => d.Items).Max(i => i.KindName.Length);
            foreach (var d in drifted)
                foreach (var item in d.Items)
                    text.Append(d.Name.PadRight(width)).Append("  ").Append(item.KindName.PadRight(kindWidth)).Append("  ").AppendLine(CommandLine.OneLine(item.Message));
        }
        var checkedCount = report.Domains.Count(d => d.Error is null);
        var notAsked = report.Domains.Count - checkedCount;
        // A domain whose host could not be asked is not "no drift": the summary says it was not checked.
        var notChecked = notAsked == 0 ? "" : $" {notAsked} domain{(notAsked == 1 ? "" : "s")} could not be checked.";
        text.AppendLine(drifted.Count == 0
            ? (notAsked == 0 ? $"No drift: reality matches the manifest ({checkedCount} domain{(checkedCount == 1 ? "" : "s")} checked)."
                : $"No drift in the {checkedCount} domain{(checkedCount == 1 ? "" : "s")} checked.{notChecked}")
            : $"Drift: {drifted.Count} of {checkedCount} domain{(checkedCount == 1 ? "" : "s")} differ from the manifest.{notChecked} 'xen-iac plan' shows what apply would do about it.");
        Console.Out.Write(text.ToString());
    }

    /// <summary>
    /// The drift report for scheduled jobs: every domain (drifted or not) with what was observed and a list of
    /// differences, each with a stable kind (not-running, running, savefile-missing, savefile-invalid, config-changed,
    /// savefile-of-another-domain).
    /// </summary>
    public static JsonObject DriftJson(DriftReport report) => new()
    {
        ["manifest"] = report.Manifest.Path,
        ["checkedAt"] = report.CheckedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
        ["drift"] = report.HasDrift,
        ["errors"] = report.HasErrors,
        ["summary"] = new JsonObject
        {
            ["domains"] = report.Domains.Count,
            ["drifted"] = report.Domains.Count(d => d.HasDrift),
            ["errors"] = report.Domains.Count(d => d.Error is not null),
        },
        ["domains"] = new JsonArray([.. report.Domains.Select(d => (JsonNode)new JsonObject
        {
            ["name"] = d.Name,
            ["host"] = d.Plan.Spec.Host.ToString(),
            ["desiredState"] = d.Plan.Spec.State.ToString().ToLowerInvariant(),
            ["running"] = d.Plan.Observed.Domain is not null,
            ["domid"] = d.Plan.Observed.Domain?.DomId,
            ["paused"] = d.Plan.Observed.Domain?.State == XenIac.Hosts.DomainState.Paused,
            ["savefile"] = new JsonObject
            {
                ["path"] = d.Plan.Spec.SavefilePath,
                ["exists"] = d.Plan.Observed.Savefile.Exists,
                ["valid"] = d.Plan.Observed.Savefile.Valid,
                ["problem"] = d.Plan.Observed.Savefile.Problem,
                ["snapshotId"] = d.Plan.Observed.Savefile.SnapshotId,
            },
            ["drift"] = new JsonArray([.. d.Items.Select(i => (JsonNode)new JsonObject { ["kind"] = i.KindName, ["message"] = i.Message })]),
            ["error"] = d.Error,
        })]),
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
