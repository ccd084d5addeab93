using System.CommandLine;
using XenIac.Cli.Commands.Domain;
using XenIac.Reconciler.Applying;
using XenIac.Reconciler.Manifests;
using XenIac.Reconciler.Reconciling;

namespace XenIac.Cli.Commands.Loop;

/// <summary>
/// <c>xen-iac reconcile</c>: plan and apply in a loop (GitOps' continuous reconcile). The command line only;
/// behaviour in <see cref="LoopHandlers"/> and <see cref="ReconcileLoop"/>, metrics in <see cref="LoopMetrics"/>.
/// </summary>
internal static class LoopCommand
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMinutes(5);

    public static Command Create()
    {
        var file = new Option<string>("--file", "-f")
        {
            Description = $"The manifest (default ./{ManifestLoader.DefaultFileName})",
            DefaultValueFactory = _ => ManifestLoader.DefaultFileName,
        };
        CommandLine.RejectFolder(file);
        var interval = IntervalOption();
        var drift = ChoiceOption.Create("--drift", "fix: apply the plan; warn: only report differences (status, metrics), change nothing",
            [("fix", DriftMode.Fix), ("warn", DriftMode.Warn)], DriftMode.Fix);
        var status = new Option<string?>("--status") { Description = "Status file, replaced whole after each step (default .xen-iac/status.json beside the manifest)" };
        var metrics = new Option<string?>("--metrics")
        {
            Description = "Serve Prometheus metrics at http://ADDR/metrics; a loopback host:port only (e.g. 127.0.0.1:9464)",
        };
        var host = new Option<string?>("--host")
        {
            Description = $"Host for domains that name none: 'libxl' or 'embedded:<folder>' (default ${DomainCommand.HostVariable})",
        };
        var once = new Option<bool>("--once") { Description = "One run, then exit: 0 done, 2 drift found (--drift warn), 1 failed" };
        var parallelism = CommandLine.IntOption("--parallelism", $"Domains worked on at once, 1 to 64 (default {ApplyOptions.DefaultParallelism})",
            1, 64, ApplyOptions.DefaultParallelism);
        var lockTimeout = CommandLine.DurationOption("--lock-timeout",
            "Wait this long for another apply on the same host before the run fails (the next run tries again); default 30s");
        var checkpointEvery = new Option<TimeSpan?>("--checkpoint-every")
        {
            Description = "Checkpoint a running 'checkpoint: true' domain again when its checkpoint is this old (e.g. 1h); with 'keep: N' the last N are kept",
            CustomParser = r =>
            {
                var text = r.Tokens[0].Value;
                if (CommandLine.TryParseDuration(text, out var value) && value >= TimeSpan.FromSeconds(1)) return value;
                r.AddError($"--checkpoint-every '{text}' is not a duration from 1s to {CommandLine.MaxDuration.TotalHours:0}h (e.g. 30m, 1h)");
                return null;
            },
        };
        var force = new Option<bool>("--force") { Description = "Replace a file at a savefile path even when it is not a valid savefile" };
        var trust = Reconcile.ReconcileCommand.TrustConfigOption();
        var command = new Command("reconcile",
            "Plan and apply in a loop, every interval and when the manifest changes; writes a status file; SIGTERM finishes the step under way and exits 0")
        {
            file, interval, drift, status, metrics, host, once, checkpointEvery, parallelism, lockTimeout, force, trust,
        };
        command.SetHandler((parse, ct) => LoopHandlers.RunAsync(new LoopHandlers.Request(
            parse.GetValue(file)!, parse.GetValue(interval), parse.GetValue(drift) ?? DriftMode.Fix, parse.GetValue(status), parse.GetValue(metrics),
            parse.GetValue(host), parse.GetValue(once), parse.GetValue(checkpointEvery), parse.GetValue(parallelism),
            parse.GetResult(lockTimeout) is null ? TimeSpan.FromSeconds(30) : parse.GetValue(lockTimeout),
            parse.GetValue(force), parse.GetValue(trust)), ct));
        return command;
    }

    /// <summary>--interval: a duration above zero (e.g. 30s, 5m, 1h), at most a day.</summary>
    private static Option<TimeSpan> IntervalOption()
    {
        var option = new Option<TimeSpan>("--interval")
        {
            Description = "Time between runs (e.g. 30s, 5m, 1h); a change of the manifest starts one sooner [default: 5m]",
            DefaultValueFactory = _ => DefaultInterval,
        };
        option.CustomParser = r =>
        {
            if (r.Tokens.Count == 0) return DefaultInterval;
            var text = r.Tokens[0].Value;
            if (CommandLine.TryParseDuration(text, out var value) && value >= TimeSpan.FromMilliseconds(100)) return value;
            r.AddError($"--interval '{text}' is not a duration from 100ms to {CommandLine.MaxDuration.TotalHours:0}h (e.g. 30s, 5m, 1h)");
            return DefaultInterval;
        };
        return option;
    }
}
