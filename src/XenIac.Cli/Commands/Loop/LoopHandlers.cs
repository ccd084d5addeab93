using System.Globalization;
using XenIac.Reconciler.Applying;
using XenIac.Reconciler.Manifests;
using XenIac.Reconciler.Planning;
using XenIac.Reconciler.Reconciling;

namespace XenIac.Cli.Commands.Loop;

/// <summary>What <c>reconcile</c> does with its parsed values; returns the exit code.</summary>
internal static class LoopHandlers
{
    public sealed record Request(string Manifest, TimeSpan Interval, DriftMode Drift, string? Status, string? Metrics, string? Host,
        bool Once, TimeSpan? CheckpointEvery, int Parallelism, TimeSpan LockTimeout, bool Force, bool TrustConfig);

    public static async Task<int> RunAsync(Request request, CancellationToken stopping)
    {
        // A manifest that does not load at start is a typo to fix now, not something to retry every interval.
        ManifestLoader.Load(request.Manifest);
        using var metrics = request.Metrics is { } address ? LoopMetrics.Start(address) : null;
        await using var hosts = new HostProvider(CommandLine.HostSpec(request.Host), CommandLine.NoteCreatedHost);
        var log = new RunLog(metrics);
        using var loop = new ReconcileLoop(new ReconcileOptions
        {
            ManifestPath = request.Manifest,
            Interval = request.Interval,
            Drift = request.Drift,
            StatusPath = request.Status,
            Parallelism = request.Parallelism,
            LockTimeout = request.LockTimeout,
            ReplaceInvalidSavefiles = request.Force,
            TrustConfig = request.TrustConfig,
            CheckpointEvery = request.CheckpointEvery,
            Progress = log,
            Observer = log,
        }, hosts);

        if (request.Once)
        {
            var run = await loop.RunOnceAsync("once", stopping);
            return run.Status.Result switch
            {
                RunResult.Failed => ExitCodes.Error,
                RunResult.Drift => ExitCodes.ChangesPresent,
                _ => ExitCodes.Ok,
            };
        }
        Console.Out.WriteLine($"reconcile: {Path.GetFullPath(request.Manifest)} every {request.Interval.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s " +
                              $"(drift: {request.Drift.ToString().ToLowerInvariant()}); status {loop.StatusPath}" +
                              (request.Metrics is { } m ? $"; metrics http://{m}/metrics" : ""));
        await loop.RunAsync(stopping);
        // Stopped by SIGTERM or Ctrl+C: what was under way finished, so this is a clean exit, not an error.
        Console.Out.WriteLine("reconcile: stopped");
        return ExitCodes.Ok;
    }

    /// <summary>Step lines and one line per run on stdout, failures on stderr; and the metrics, when served.</summary>
    private sealed class RunLog(LoopMetrics? metrics) : IProgress<ApplyEvent>, IReconcileObserver
    {
        private readonly Dictionary<string, string> _said = new(StringComparer.Ordinal);

        public void Report(ApplyEvent value)
        {
            // Byte progress is for a terminal's bar; a daemon's log gets the start and end of each step.
            if (value is StepProgress || ApplyEventText.Line(value) is not { } line) return;
            Console.Out.WriteLine($"{Stamp(DateTimeOffset.UtcNow)} {line}");
        }

        public void RunFinished(ReconcileRun run)
        {
            var s = run.Status;
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{Stamp(s.Finished)} run ({s.Trigger}): {s.Result.ToString().ToLowerInvariant()}, {s.Changes} {(s.Result == RunResult.Drift ? "drifted" : "changed")}, {s.Failures} failed, {run.Duration.TotalSeconds:0.0} s"));
            if (s.Error is { } error) Console.Error.WriteLine($"error: {CommandLine.OneLine(error)}");
            foreach (var (name, d) in run.Domains.Where(d => d.Value.Condition == DomainCondition.Degraded))
            {
                // Said once, not every interval: again only when what is wrong changes.
                var text = $"warning: {name}: {d.Reason}: {CommandLine.OneLine(d.Message ?? "")}";
                if (_said.TryGetValue(name, out var before) && before == text) continue;
                _said[name] = text;
                Console.Error.WriteLine(text);
            }
            foreach (var name in _said.Keys.Where(n => !run.Domains.TryGetValue(n, out var d) || d.Condition != DomainCondition.Degraded).ToList())
                _said.Remove(name);
            metrics?.RunFinished(run);
        }

        private static string Stamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
    }
}
