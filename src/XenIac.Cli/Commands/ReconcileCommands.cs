using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;
using XenIac.Core.Config;
using XenIac.Reconciler.Applying;
using XenIac.Reconciler.Manifests;
using XenIac.Reconciler.Planning;

namespace XenIac.Cli.Commands;

/// <summary><c>xen-iac plan</c>, <c>apply</c> and <c>schema</c>: the manifest front door.</summary>
internal static class ReconcileCommands
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
        Description = $"Host for domains that name none: 'libxl' or 'embedded:<folder>' (default ${DomainCommands.HostVariable})",
    };

    private static HostProvider Hosts(ParseResult parse, Option<string?> host) => new(CommandLine.HostSpec(parse.GetValue(host)));

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
        var command = new Command("plan", "Show what apply would change to make reality match the manifest") { file, json, detailed, target, host, force, trust };
        command.SetHandler(async (parse, ct) =>
        {
            var manifest = ManifestLoader.Load(parse.GetValue(file)!);
            await using var hosts = Hosts(parse, host);
            var plan = await Planner.PlanAsync(manifest, hosts, parse.GetValue(target),
                new PlanOptions { ReplaceInvalidSavefiles = parse.GetValue(force), TrustConfig = parse.GetValue(trust) }, ct);
            if (parse.GetValue(json)) CommandLine.WriteJson(PlanJson(plan));
            else RenderPlan(plan);
            if (plan.HasErrors)
            {
                foreach (var d in plan.Domains.Where(d => d.Error is not null))
                    await Console.Error.WriteLineAsync($"error: {d.Name}: {d.Error}");
                return ExitCodes.Error;
            }
            return parse.GetValue(detailed) && plan.HasChanges ? ExitCodes.ChangesPresent : ExitCodes.Ok;
        });
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
        command.SetHandler(async (parse, ct) =>
        {
            var timeout = parse.GetValue(lockTimeout);
            var approve = parse.GetValue(autoApprove);
            var asJson = parse.GetValue(json);
            // Never wait for an answer nobody can give (CI, pipes): refuse before touching anything.
            if (!approve && (Console.IsInputRedirected || asJson))
                throw new ArgumentException("apply needs --auto-approve when standard input is not a terminal (or with --json)");

            var manifest = ManifestLoader.Load(parse.GetValue(file)!);
            await using var hosts = Hosts(parse, host);
            var interactive = !Console.IsOutputRedirected && !asJson;
            var display = interactive ? (IApplyDisplay)new LiveDisplay() : new LineDisplay(asJson ? Console.Error : Console.Out);
            var result = await display.RunAsync(progress => Applier.ApplyAsync(manifest, hosts, new ApplyOptions
            {
                Parallelism = parse.GetValue(parallelism),
                LockTimeout = timeout,
                Targets = parse.GetValue(target),
                Progress = progress,
                ReplaceInvalidSavefiles = parse.GetValue(force),
                TrustConfig = parse.GetValue(trust),
                Confirm = approve ? null : (plan, token) => ConfirmAsync(plan, Console.In, token),
            }, ct));

            if (asJson) CommandLine.WriteJson(ApplyJson(result));
            else RenderResult(result);
            return result.Succeeded ? ExitCodes.Ok : ExitCodes.Error;
        });
        return command;
    }

    private static Command Schema()
    {
        var command = new Command("schema", "Print the JSON Schema of the manifest (for editors: yaml-language-server)");
        command.SetHandler((_, _) =>
        {
            Console.Out.Write(ManifestSchema.Text);
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static async Task<bool> ConfirmAsync(Plan plan, TextReader input, CancellationToken cancellationToken)
    {
        RenderPlan(plan);
        if (plan.HasErrors)
            Console.Out.WriteLine("Domains with errors are skipped; the others are applied.");
        Console.Out.Write("Do you want to perform these actions? Only 'yes' will be accepted: ");
        return (await ReadAnswerAsync(input, cancellationToken))?.Trim() == "yes";
    }

    /// <summary>
    /// One line of input, or <see cref="OperationCanceledException"/> as soon as Ctrl+C cancels: a console read
    /// cannot be interrupted, so it runs aside and is abandoned (the process is about to exit), rather than letting
    /// the next line typed after Ctrl+C answer the question.
    /// </summary>
    internal static async Task<string?> ReadAnswerAsync(TextReader input, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var read = Task.Factory.StartNew(input.ReadLine, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var cancelled = Task.Delay(Timeout.Infinite, cancellationToken);
        if (await Task.WhenAny(read, cancelled) != read) throw new OperationCanceledException(cancellationToken);
        return await read;
    }

    private static string ActionName(PlanAction a) => Applier.Name(a);

    private static void RenderPlan(Plan plan)
    {
        var console = AnsiConsole.Console;
        var table = new Table().Border(TableBorder.Rounded).AddColumns("domain", "action", "why");
        foreach (var d in plan.Domains)
        {
            var action = d.Error is not null ? "[red]error[/]"
                : d.Action == PlanAction.None ? "[grey]none[/]"
                : $"[yellow]{string.Join(" + ", d.Steps.Select(ActionName))}[/]";
            table.AddRow(Markup.Escape(d.Name), action, Markup.Escape(d.Error ?? d.Reason));
        }
        console.Write(table);
        // Plain lines, not table cells: a path must stay whole to be copied, whatever the terminal's width.
        foreach (var d in plan.Domains)
            Console.Out.WriteLine($"{d.Name}: savefile {d.Spec.SavefilePath}");
        foreach (var d in plan.Domains)
            foreach (var w in d.Warnings)
                Console.Error.WriteLine($"warning: {d.Name}: {CommandLine.OneLine(w)}");
        foreach (var d in plan.Domains.Where(d => d.Findings.Count > 0))
        {
            console.MarkupLine($"[bold]{Markup.Escape(d.Name)}[/]: override config compatibility");
            foreach (var f in d.Findings)
            {
                var color = f.Severity switch { FindingSeverity.Error => "red", FindingSeverity.Warning => "yellow", _ => "green" };
                console.MarkupLine($"  [{color}]{f.Severity.ToString().ToLowerInvariant()}[/] {Markup.Escape(f.Setting)}: " +
                                   $"{Markup.Escape(f.Old ?? "(none)")} -> {Markup.Escape(f.New ?? "(none)")} ({Markup.Escape(f.Reason)})");
            }
        }
        var changes = plan.Domains.Where(d => d.IsChange).GroupBy(d => d.Action).Select(g => $"{g.Count()} to {ActionName(g.Key)}").ToList();
        console.WriteLine(changes.Count == 0
            ? "No changes: reality matches the manifest."
            : $"Plan: {string.Join(", ", changes)}, {plan.Domains.Count(d => !d.IsChange && d.Error is null)} unchanged.");
    }

    private static void RenderResult(ApplyResult result)
    {
        if (result.Results.Count == 0 && !result.Plan.HasErrors)
        {
            Console.Out.WriteLine("No changes: reality matches the manifest.");
            return;
        }
        foreach (var r in result.Results)
            Console.Out.WriteLine(r.Succeeded
                ? $"{r.Domain}: {ActionName(r.Action)} done in {r.Elapsed.TotalSeconds:0.0} s"
                : $"{r.Domain}: {ActionName(r.Action)} FAILED: {r.Error}");
        foreach (var d in result.Plan.Domains.Where(d => d.Error is not null))
            Console.Error.WriteLine($"error: {d.Name}: {d.Error}");
        var failed = result.Results.Count(r => !r.Succeeded) + result.Plan.Domains.Count(d => d.Error is not null);
        Console.Out.WriteLine($"Apply {(failed == 0 ? "complete" : "finished with errors")}: {result.Results.Count(r => r.Succeeded)} done, {failed} failed. Journal: {result.JournalPath}");
    }

    private static JsonObject PlanJson(Plan plan) => new()
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
            ["host"] = d.Spec.Host,
            ["running"] = d.Observed.Domain is not null,
            ["domid"] = d.Observed.Domain?.DomId,
            ["savefile"] = new JsonObject
            {
                ["path"] = d.Spec.SavefilePath,
                ["exists"] = d.Observed.Savefile.Exists,
                ["valid"] = d.Observed.Savefile.Valid,
                ["problem"] = d.Observed.Savefile.Problem,
            },
            ["findings"] = new JsonArray(d.Findings.Select(f => (JsonNode)new JsonObject
            {
                ["severity"] = f.Severity.ToString().ToLowerInvariant(),
                ["setting"] = f.Setting,
                ["old"] = f.Old,
                ["new"] = f.New,
                ["reason"] = f.Reason,
            }).ToArray()),
        }).ToArray()),
    };

    private static JsonObject ApplyJson(ApplyResult result) => new()
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

    private interface IApplyDisplay
    {
        Task<ApplyResult> RunAsync(Func<IProgress<ApplyEvent>, Task<ApplyResult>> apply);
    }

    /// <summary>One line per event: what CI logs want (no cursor tricks, nothing overwritten).</summary>
    private sealed class LineDisplay(TextWriter output) : IApplyDisplay, IProgress<ApplyEvent>
    {
        private readonly Dictionary<string, long> _lastReported = new();

        public Task<ApplyResult> RunAsync(Func<IProgress<ApplyEvent>, Task<ApplyResult>> apply) => apply(this);

        public void Report(ApplyEvent e)
        {
            lock (_lastReported)
            {
                switch (e)
                {
                    case StepStarted s:
                        output.WriteLine($"{s.Domain}: {ActionName(s.Step)} started");
                        _lastReported[s.Domain] = 0;
                        break;
                    case StepProgress p when p.Bytes - _lastReported.GetValueOrDefault(p.Domain) >= 256L << 20:
                        _lastReported[p.Domain] = p.Bytes;
                        output.WriteLine($"{p.Domain}: {ActionName(p.Step)} {p.Bytes >> 20} MiB{(p.ExpectedBytes is { } t ? $" of {t >> 20} MiB" : "")}");
                        break;
                    case StepCompleted c:
                        var rate = c.Bytes is { } b && c.Elapsed.TotalSeconds > 0 ? $", {b / c.Elapsed.TotalSeconds / (1 << 20):0} MiB/s" : "";
                        output.WriteLine($"{c.Domain}: {ActionName(c.Step)} finished in {c.Elapsed.TotalSeconds:0.0} s{(c.Bytes is { } n ? $" ({n >> 20} MiB{rate})" : "")}");
                        break;
                    case DomainFailed f:
                        output.WriteLine($"{f.Domain}: {ActionName(f.Step)} failed: {f.Error}");
                        break;
                }
            }
        }
    }

    /// <summary>Live progress bars with bytes and rate, for people at a terminal.</summary>
    private sealed class LiveDisplay : IApplyDisplay
    {
        public async Task<ApplyResult> RunAsync(Func<IProgress<ApplyEvent>, Task<ApplyResult>> apply)
        {
            ApplyResult? result = null;
            // Confirmation happens inside apply (under the lock, after a fresh plan), so the bars only start once
            // the first step does; before that the console belongs to the prompt.
            var sink = new Sink();
            var run = apply(sink);
            await Task.WhenAny(sink.FirstStep.Task, run);
            if (run.IsCompleted) return await run;
            await AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(ByteProgress.Columns())
                .StartAsync(async ctx =>
                {
                    sink.Attach(ctx);
                    result = await run;
                });
            return result!;
        }

        private sealed class Sink : IProgress<ApplyEvent>
        {
            private readonly Dictionary<string, ProgressTask> _tasks = new();
            private readonly List<ApplyEvent> _pending = [];
            private ProgressContext? _context;

            public TaskCompletionSource FirstStep { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

            public void Attach(ProgressContext context)
            {
                lock (_tasks)
                {
                    _context = context;
                    foreach (var e in _pending) Apply(e);
                    _pending.Clear();
                }
            }

            public void Report(ApplyEvent e)
            {
                FirstStep.TrySetResult();
                lock (_tasks)
                {
                    if (_context is null) _pending.Add(e);
                    else Apply(e);
                }
            }

            private void Apply(ApplyEvent e)
            {
                switch (e)
                {
                    // Steps that move no bytes (create, destroy) get no bar; the summary after the bars lists them.
                    case StepStarted { ExpectedBytes: null or 0 } s:
                        _tasks.Remove(s.Domain);
                        break;
                    case StepStarted s:
                        _tasks[s.Domain] = _context!.AddTask($"{Markup.Escape(s.Domain)}: {ActionName(s.Step)}", maxValue: s.ExpectedBytes!.Value);
                        break;
                    case StepProgress p when _tasks.TryGetValue(p.Domain, out var t):
                        // The expectation is an estimate (a save writes a little more than the memory): grow, never overflow.
                        t.MaxValue = Math.Max(t.MaxValue, p.Bytes);
                        t.Value = p.Bytes;
                        break;
                    case StepCompleted c when _tasks.TryGetValue(c.Domain, out var t):
                        t.Value = t.MaxValue;
                        t.StopTask();
                        break;
                    case DomainFailed f when _tasks.TryGetValue(f.Domain, out var t):
                        t.Description = $"{Markup.Escape(f.Domain)}: [red]failed[/]";
                        t.StopTask();
                        break;
                }
            }
        }
    }
}
