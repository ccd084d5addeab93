using System.CommandLine;
using XenIac.Cli.Commands.Domain;
using XenIac.Reconciler.Applying;
using XenIac.Reconciler.Manifests;

namespace XenIac.Cli.Commands.Reconcile;

/// <summary>
/// <c>xen-iac plan</c>, <c>apply</c> and <c>schema</c>: the manifest front door. The command line only; behaviour
/// in <see cref="ReconcileHandlers"/>, output in <see cref="PlanRendering"/> and <see cref="ApplyDisplay"/>.
/// </summary>
internal static class ReconcileCommand
{
    public static IEnumerable<Command> Create() => [Plan(), Apply(), Show(), Drift(), Schema()];

    private static Option<string> ManifestOption()
    {
        var option = new Option<string>("--file", "-f")
        {
            Description = $"The manifest (default ./{ManifestLoader.DefaultFileName})",
            DefaultValueFactory = _ => ManifestLoader.DefaultFileName,
        };
        CommandLine.RejectFolder(option);
        return option;
    }

    private static Option<string[]> TargetOption() => new("--target")
    {
        Description = "Only these domains: a name, a glob (web-*, db?) or a label selector (label:rack=a,tier!=db); repeatable",
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>Terraform spells it -replace; both spellings are taken.</summary>
    private static Option<string[]> ReplaceOption() => new("--replace", "-replace")
    {
        Description = "Save (running) or create (not running) this domain afresh even when nothing changed: a name, glob or label selector; repeatable",
        AllowMultipleArgumentsPerToken = false,
    };

    private static Option<string?> HostOption() =>
        CommandLine.HostOption($"Host for domains that name none: 'libxl' or 'embedded:<folder>' (default ${DomainCommand.HostVariable})");

    private static Option<bool> ForceOption() => new("--force")
    {
        Description = "Replace a file at a savefile path even when it is not a valid savefile",
    };

    internal static Option<bool> TrustConfigOption() => new("--trust-config")
    {
        Description = "Restore savefiles whose stored config makes dom0 run a program or open a host path the manifest's configs do not name",
    };

    private static Command Plan()
    {
        var file = ManifestOption();
        var json = CommandLine.JsonOption();
        var detailed = new Option<bool>("--detailed-exitcode") { Description = "Exit 0 when nothing would change, 2 when something would, 1 on error" };
        var target = TargetOption();
        var host = HostOption();
        var force = ForceOption();
        var trust = TrustConfigOption();
        var showUnchanged = new Option<bool>("--show-unchanged") { Description = "List every domain, not only those with changes or errors" };
        var replace = ReplaceOption();
        // Terraform spells it -out; both spellings are taken. Checked while parsing, before anything is planned.
        var output = new Option<string?>("--out", "-out") { Description = "Save the plan to this file (JSON, mode 0600) for 'xen-iac apply FILE' and 'xen-iac show FILE'" };
        output.Validators.Add(r =>
        {
            if (r.Tokens.Count == 0) return;
            if (r.Tokens[0].Value == CommandLine.StdioName)
            {
                r.AddError("--out: '-' (standard output) is not supported: a saved plan is a file (use --json to print the plan)");
                return;
            }
            if (r.Tokens[0].Value.Length == 0)
            {
                r.AddError("--out is empty; give a file path");
                return;
            }
            // Only a saved plan is replaced: a typo (-out web.xlsave, -out xen-iac.yaml) replaced that file with JSON.
            try { XenIac.Core.IO.AtomicFile.CheckTargetOfKind(r.Tokens[0].Value, "saved plan", XenIac.Reconciler.Planning.SavedPlan.IsSavedPlan); }
            catch (Exception e) when (e is IOException or ArgumentException) { r.AddError($"--out: {e.Message}"); }
        });
        var refreshOnly = new Option<bool>("--refresh-only") { Description = "Report drift between reality and the manifest instead of planning fixes (as 'xen-iac drift')" };
        var command = new Command("plan", "Show what apply would change to make reality match the manifest")
        {
            file, json, detailed, target, host, force, trust, showUnchanged, replace, output, refreshOnly,
        };
        command.SetHandler((parse, ct) => ReconcileHandlers.PlanAsync(new ReconcileHandlers.PlanRequest(
            parse.GetValue(file)!, parse.GetValue(host), parse.GetValue(target), parse.GetValue(force), parse.GetValue(trust),
            parse.GetValue(json), parse.GetValue(detailed), parse.GetValue(showUnchanged))
        {
            Replace = parse.GetValue(replace), Out = parse.GetValue(output), RefreshOnly = parse.GetValue(refreshOnly),
        }, ct));
        return command;
    }

    private static Command Apply()
    {
        var file = ManifestOption();
        var autoApprove = new Option<bool>("--auto-approve") { Description = "Apply without asking for confirmation" };
        var target = TargetOption();
        var parallelism = CommandLine.IntOption("--parallelism", $"Domains worked on at once, 1 to 64 (default {ApplyOptions.DefaultParallelism})",
            1, 64, ApplyOptions.DefaultParallelism);
        var lockTimeout = CommandLine.DurationOption("--lock-timeout",
            "Wait this long for another apply on the same host (e.g. 30s, 5m, up to 24h); default: fail at once");
        var json = CommandLine.JsonOption();
        var host = HostOption();
        var force = ForceOption();
        var trust = TrustConfigOption();
        var replace = ReplaceOption();
        var planFile = new Argument<string?>("FILE")
        {
            Description = "A saved plan (from plan --out) to apply exactly, or a manifest (as -f)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        planFile.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && !File.Exists(r.Tokens[0].Value)) r.AddError($"FILE '{r.Tokens[0].Value}' does not exist or is not a file");
        });
        var command = new Command("apply", "Make reality match the manifest by saving, restoring, creating or destroying domains; or apply a saved plan")
        {
            planFile, file, autoApprove, target, parallelism, lockTimeout, json, host, force, trust, replace,
        };
        command.SetHandler((parse, ct) => ReconcileHandlers.ApplyAsync(new ReconcileHandlers.ApplyRequest(
            parse.GetValue(file)!, parse.GetValue(host), parse.GetValue(target), parse.GetValue(force), parse.GetValue(trust),
            parse.GetValue(json), parse.GetValue(autoApprove), parse.GetValue(parallelism), parse.GetValue(lockTimeout))
        {
            Replace = parse.GetValue(replace), PlanFile = parse.GetValue(planFile), ManifestGiven = parse.GetResult(file) is { Implicit: false },
        }, ct));
        return command;
    }

    private static Command Show()
    {
        var planFile = CommandLine.InputFile("FILE", "A saved plan (from plan --out)");
        var json = CommandLine.JsonOption();
        var showUnchanged = new Option<bool>("--show-unchanged") { Description = "List every domain, not only those with changes or errors" };
        var command = new Command("show", "Print a saved plan: as plan prints it, or as plan --json with what the plan observed") { planFile, json, showUnchanged };
        command.SetHandler((parse, _) => Task.FromResult(ReconcileHandlers.Show(parse.GetValue(planFile)!, parse.GetValue(json), parse.GetValue(showUnchanged))));
        return command;
    }

    private static Command Drift()
    {
        var file = ManifestOption();
        var json = CommandLine.JsonOption();
        var detailed = new Option<bool>("--detailed-exitcode") { Description = "Exit 0 when reality matches the manifest, 2 when it drifted, 1 on error" };
        var target = TargetOption();
        var host = HostOption();
        var command = new Command("drift", "Report how reality differs from the manifest, without planning fixes (plan --refresh-only)") { file, json, detailed, target, host };
        command.SetHandler((parse, ct) => ReconcileHandlers.DriftAsync(new ReconcileHandlers.PlanRequest(
            parse.GetValue(file)!, parse.GetValue(host), parse.GetValue(target), false, false, parse.GetValue(json), parse.GetValue(detailed)), ct));
        return command;
    }

    private static Command Schema()
    {
        var command = new Command("schema", "Print the JSON Schema of the manifest (for editors: yaml-language-server)");
        command.SetHandler((_, _) => Task.FromResult(ReconcileHandlers.Schema()));
        return command;
    }
}
