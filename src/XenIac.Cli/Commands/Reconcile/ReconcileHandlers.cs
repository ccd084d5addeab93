using XenIac.Hosts;
using XenIac.Reconciler.Applying;
using XenIac.Reconciler.Manifests;
using XenIac.Reconciler.Planning;

namespace XenIac.Cli.Commands.Reconcile;

/// <summary>What <c>plan</c>, <c>apply</c> and <c>schema</c> do, given their parsed values; each returns the exit code.</summary>
internal static class ReconcileHandlers
{
    public sealed record PlanRequest(string Manifest, string? Host, string[]? Targets, bool Force, bool TrustConfig,
        bool Json, bool DetailedExitCode, bool ShowUnchanged = false)
    {
        public string[]? Replace { get; init; }
        /// <summary>Where to save the plan (--out); null: not saved.</summary>
        public string? Out { get; init; }
        /// <summary>Report drift instead of planning (--refresh-only).</summary>
        public bool RefreshOnly { get; init; }
    }

    public sealed record ApplyRequest(string Manifest, string? Host, string[]? Targets, bool Force, bool TrustConfig,
        bool Json, bool AutoApprove, int Parallelism, TimeSpan LockTimeout)
    {
        public string[]? Replace { get; init; }
        /// <summary>The FILE argument: a saved plan, or a manifest given in place of -f.</summary>
        public string? PlanFile { get; init; }
        /// <summary>-f was given on the command line (not its default).</summary>
        public bool ManifestGiven { get; init; }
    }

    private static HostProvider Hosts(string? host) => new(CommandLine.HostSpec(host));

    public static async Task<int> PlanAsync(PlanRequest request, CancellationToken ct)
    {
        if (request.RefreshOnly)
        {
            // A drift report observes; it plans nothing that could be saved or forced.
            if (request.Out is not null || request.Replace is { Length: > 0 } || request.Force || request.TrustConfig)
                throw new ArgumentException("--refresh-only reports drift and plans nothing: drop --out, --replace, --force and --trust-config");
            return await DriftAsync(request, ct);
        }
        var manifest = ManifestLoader.Load(request.Manifest);
        var defaultHost = CommandLine.HostSpec(request.Host);
        await using var hosts = new HostProvider(defaultHost, CommandLine.NoteCreatedHost);
        var plan = await Planner.PlanAsync(manifest, hosts, request.Targets,
            new PlanOptions { ReplaceInvalidSavefiles = request.Force, TrustConfig = request.TrustConfig, Replace = request.Replace ?? [] }, ct);
        // Cancelled while a host was still being asked: the domains it could not answer for read as that host's
        // errors (or as unchanged), so what was made is no plan to print; the cancel is the outcome (exit 1).
        ct.ThrowIfCancellationRequested();
        if (request.Json) CommandLine.WriteJson(PlanRendering.PlanJson(plan));
        else PlanRendering.RenderPlan(plan, request.ShowUnchanged);
        if (plan.HasErrors)
        {
            await PlanRendering.WriteDomainErrorsAsync(plan);
            // As Terraform: a plan that could not be made for every domain is not saved, so it cannot be applied half.
            if (request.Out is not null) await Console.Error.WriteLineAsync($"error: the plan has errors; it was not saved to {request.Out}");
            return ExitCodes.Error;
        }
        if (request.Out is { } output)
        {
            var saved = SavedPlan.Create(plan, new SavedPlanRequest
            {
                DefaultHost = hosts.Resolve(HostSpec.Default),
                Targets = request.Targets ?? [],
                Replace = request.Replace ?? [],
                Force = request.Force,
                TrustConfig = request.TrustConfig,
            });
            await saved.WriteAsync(output, ct);
            (request.Json ? Console.Error : Console.Out).WriteLine($"Saved the plan to {output}. To apply exactly this plan: xen-iac apply {output}");
        }
        return request.DetailedExitCode && plan.HasChanges ? ExitCodes.ChangesPresent : ExitCodes.Ok;
    }

    /// <summary><c>drift</c> and <c>plan --refresh-only</c>: 0 no drift, 2 drift (with --detailed-exitcode), 1 when a host could not be asked.</summary>
    public static async Task<int> DriftAsync(PlanRequest request, CancellationToken ct)
    {
        var manifest = ManifestLoader.Load(request.Manifest);
        await using var hosts = Hosts(request.Host);
        var plan = await Planner.PlanAsync(manifest, hosts, request.Targets, PlanOptions.Default, ct);
        ct.ThrowIfCancellationRequested();
        var report = Drift.Of(plan);
        if (request.Json) CommandLine.WriteJson(PlanRendering.DriftJson(report));
        else PlanRendering.RenderDrift(report);
        if (report.HasErrors)
        {
            foreach (var d in report.Domains.Where(d => d.Error is not null))
                await Console.Error.WriteLineAsync($"error: {d.Name}: {CommandLine.OneLine(d.Error!)}");
            return ExitCodes.Error;
        }
        return request.DetailedExitCode && report.HasDrift ? ExitCodes.ChangesPresent : ExitCodes.Ok;
    }

    /// <summary><c>show FILE</c>: the saved plan as <c>plan</c> shows one, or its JSON with what it observed.</summary>
    public static int Show(string file, bool json, bool showUnchanged)
    {
        if (!SavedPlan.IsSavedPlan(file))
            throw new SavedPlanException($"{file} is not a saved plan (one is made by 'xen-iac plan --out FILE')");
        var saved = SavedPlan.Read(file);
        var plan = saved.ToPlan();
        if (json)
        {
            var node = PlanRendering.PlanJson(plan);
            foreach (var domain in node["domains"]!.AsArray())
                domain!["observed"] = saved.ObservedJson(domain["name"]!.GetValue<string>());
            node["saved"] = saved.SavedJson();
            CommandLine.WriteJson(node);
            return ExitCodes.Ok;
        }
        Console.Error.WriteLine($"note: saved plan of {CommandLine.OneLine(saved.ManifestPath)}, made {saved.Created:u}");
        PlanRendering.RenderPlan(plan, showUnchanged);
        return ExitCodes.Ok;
    }

    public static async Task<int> ApplyAsync(ApplyRequest request, CancellationToken ct)
    {
        var manifestPath = request.Manifest;
        if (request.PlanFile is { } file)
        {
            if (request.ManifestGiven) throw new ArgumentException($"give a saved plan or a manifest (-f), not both: FILE '{file}' and -f '{request.Manifest}'");
            if (SavedPlan.IsSavedPlan(file)) return await ApplySavedAsync(file, request, ct);
            manifestPath = file;
        }
        // Never wait for an answer nobody can give (CI, pipes): refuse before touching anything.
        if (!request.AutoApprove && (Console.IsInputRedirected || request.Json))
            throw new ArgumentException("apply needs --auto-approve when standard input is not a terminal (or with --json)");

        var manifest = ManifestLoader.Load(manifestPath);
        await using var hosts = Hosts(request.Host);
        var interactive = !Console.IsOutputRedirected && !request.Json;
        var display = interactive ? (ApplyDisplay)new ApplyDisplay.Live() : new ApplyDisplay.Lines(request.Json ? Console.Error : Console.Out);
        var result = await display.RunAsync(progress => Applier.ApplyAsync(manifest, hosts, new ApplyOptions
        {
            Parallelism = request.Parallelism,
            LockTimeout = request.LockTimeout,
            Targets = request.Targets,
            Progress = progress,
            ReplaceInvalidSavefiles = request.Force,
            TrustConfig = request.TrustConfig,
            Replace = request.Replace ?? [],
            Confirm = request.AutoApprove ? null : (plan, token) => ConfirmAsync(plan, Console.In, token),
        }, ct));

        if (request.Json) CommandLine.WriteJson(PlanRendering.ApplyJson(result));
        else PlanRendering.RenderResult(result);
        return result.Succeeded ? ExitCodes.Ok : ExitCodes.Error;
    }

    /// <summary>
    /// <c>apply FILE</c> with a saved plan: exactly that plan, with the options it was made with, or nothing. No
    /// question is asked (as Terraform: the plan was reviewed when it was saved); a stale plan is refused.
    /// </summary>
    private static async Task<int> ApplySavedAsync(string file, ApplyRequest request, CancellationToken ct)
    {
        if (request.Targets is { Length: > 0 } || request.Replace is { Length: > 0 } || request.Force || request.TrustConfig || request.Host is not null)
            throw new ArgumentException("a saved plan carries its own --target, --replace, --force, --trust-config and --host; make a new plan to change them");
        var saved = SavedPlan.Read(file);
        saved.CheckInputs();
        var manifest = ManifestLoader.Load(saved.ManifestPath);
        await using var hosts = new HostProvider(saved.DefaultHost, CommandLine.NoteCreatedHost);
        var interactive = !Console.IsOutputRedirected && !request.Json;
        var display = interactive ? (ApplyDisplay)new ApplyDisplay.Live() : new ApplyDisplay.Lines(request.Json ? Console.Error : Console.Out);
        var result = await display.RunAsync(progress => Applier.ApplyAsync(manifest, hosts, new ApplyOptions
        {
            Parallelism = request.Parallelism,
            LockTimeout = request.LockTimeout,
            Targets = saved.Targets,
            Replace = saved.Replace,
            ReplaceInvalidSavefiles = saved.Force,
            TrustConfig = saved.TrustConfig,
            Progress = progress,
            CheckPlan = saved.CheckCurrent,
        }, ct));
        if (request.Json) CommandLine.WriteJson(PlanRendering.ApplyJson(result));
        else PlanRendering.RenderResult(result);
        return result.Succeeded ? ExitCodes.Ok : ExitCodes.Error;
    }

    public static int Schema()
    {
        CommandLine.WriteDocument(ManifestSchema.Text);
        return ExitCodes.Ok;
    }

    private static async Task<bool> ConfirmAsync(Plan plan, TextReader input, CancellationToken cancellationToken)
    {
        PlanRendering.RenderPlan(plan);
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
}
