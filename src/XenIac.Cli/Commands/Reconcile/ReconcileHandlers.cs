using XenIac.Reconciler.Applying;
using XenIac.Reconciler.Manifests;
using XenIac.Reconciler.Planning;

namespace XenIac.Cli.Commands.Reconcile;

/// <summary>What <c>plan</c>, <c>apply</c> and <c>schema</c> do, given their parsed values; each returns the exit code.</summary>
internal static class ReconcileHandlers
{
    public sealed record PlanRequest(string Manifest, string? Host, string[]? Targets, bool Force, bool TrustConfig,
        bool Json, bool DetailedExitCode, bool ShowUnchanged = false);

    public sealed record ApplyRequest(string Manifest, string? Host, string[]? Targets, bool Force, bool TrustConfig,
        bool Json, bool AutoApprove, int Parallelism, TimeSpan LockTimeout);

    private static HostProvider Hosts(string? host) => new(CommandLine.HostSpec(host));

    public static async Task<int> PlanAsync(PlanRequest request, CancellationToken ct)
    {
        var manifest = ManifestLoader.Load(request.Manifest);
        await using var hosts = Hosts(request.Host);
        var plan = await Planner.PlanAsync(manifest, hosts, request.Targets,
            new PlanOptions { ReplaceInvalidSavefiles = request.Force, TrustConfig = request.TrustConfig }, ct);
        if (request.Json) CommandLine.WriteJson(PlanRendering.PlanJson(plan));
        else PlanRendering.RenderPlan(plan, request.ShowUnchanged);
        if (plan.HasErrors)
        {
            await PlanRendering.WriteDomainErrorsAsync(plan);
            return ExitCodes.Error;
        }
        return request.DetailedExitCode && plan.HasChanges ? ExitCodes.ChangesPresent : ExitCodes.Ok;
    }

    public static async Task<int> ApplyAsync(ApplyRequest request, CancellationToken ct)
    {
        // Never wait for an answer nobody can give (CI, pipes): refuse before touching anything.
        if (!request.AutoApprove && (Console.IsInputRedirected || request.Json))
            throw new ArgumentException("apply needs --auto-approve when standard input is not a terminal (or with --json)");

        var manifest = ManifestLoader.Load(request.Manifest);
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
            Confirm = request.AutoApprove ? null : (plan, token) => ConfirmAsync(plan, Console.In, token),
        }, ct));

        if (request.Json) CommandLine.WriteJson(PlanRendering.ApplyJson(result));
        else PlanRendering.RenderResult(result);
        return result.Succeeded ? ExitCodes.Ok : ExitCodes.Error;
    }

    public static int Schema()
    {
        Console.Out.Write(ManifestSchema.Text);
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
