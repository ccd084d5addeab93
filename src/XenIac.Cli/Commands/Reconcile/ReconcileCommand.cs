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
    public static IEnumerable<Command> Create() => [Plan(), Apply(), Schema()];

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
        Description = "Only this domain (repeatable)",
        AllowMultipleArgumentsPerToken = false,
    };

    private static Option<string?> HostOption() => new("--host")
    {
        Description = $"Host for domains that name none: 'libxl' or 'embedded:<folder>' (default ${DomainCommand.HostVariable})",
    };

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
        var command = new Command("plan", "Show what apply would change to make reality match the manifest") { file, json, detailed, target, host, force, trust, showUnchanged };
        command.SetHandler((parse, ct) => ReconcileHandlers.PlanAsync(new ReconcileHandlers.PlanRequest(
            parse.GetValue(file)!, parse.GetValue(host), parse.GetValue(target), parse.GetValue(force), parse.GetValue(trust),
            parse.GetValue(json), parse.GetValue(detailed), parse.GetValue(showUnchanged)), ct));
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
        var command = new Command("apply", "Make reality match the manifest by saving, restoring, creating or destroying domains")
        {
            file, autoApprove, target, parallelism, lockTimeout, json, host, force, trust,
        };
        command.SetHandler((parse, ct) => ReconcileHandlers.ApplyAsync(new ReconcileHandlers.ApplyRequest(
            parse.GetValue(file)!, parse.GetValue(host), parse.GetValue(target), parse.GetValue(force), parse.GetValue(trust),
            parse.GetValue(json), parse.GetValue(autoApprove), parse.GetValue(parallelism), parse.GetValue(lockTimeout)), ct));
        return command;
    }

    private static Command Schema()
    {
        var command = new Command("schema", "Print the JSON Schema of the manifest (for editors: yaml-language-server)");
        command.SetHandler((_, _) => Task.FromResult(ReconcileHandlers.Schema()));
        return command;
    }
}
