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
    public static readonly TimeSpan DefaultLockTimeout = TimeSpan.FromSeconds(30);

    public static Command Create()
    {
        var file = new Option<string>("--file", "-f")
        {
            Description = $"The manifest (default ./{ManifestLoader.DefaultFileName})",
            DefaultValueFactory = _ => ManifestLoader.DefaultFileName,
        };
        CommandLine.RejectFolder(file);
        var interval = Duration("--interval", "Time between runs (e.g. 30s, 5m, 1h); a change of the manifest starts one sooner [default: 5m]",
            TimeSpan.FromMilliseconds(100));
        var drift = ChoiceOption.Create("--drift", "fix: apply the plan; warn: only report differences (status, metrics), change nothing",
            [("fix", DriftMode.Fix), ("warn", DriftMode.Warn)], DriftMode.Fix);
        var status = new Option<string?>("--status") { HelpName = "file", Description = "Status file, replaced whole after each step (default .xen-iac/status.json beside the manifest)" };
        // Checked while parsing, before the first run changes a domain: a status file that cannot be written (a folder,
        // a link, a device, a missing folder) or that would replace another file (the manifest, a savefile: a typo
        // did, and exited 0). Only the default folder (.xen-iac, beside the manifest) is made.
        status.Validators.Add(r =>
        {
            if (r.Tokens.Count == 0) return;
            var path = r.Tokens[0].Value;
            if (path == CommandLine.StdioName) r.AddError("--status: '-' (standard output) is not supported: the status is a file, replaced after each run");
            else if (path.Length == 0) r.AddError("--status is empty; give a file path");
            else
            {
                try { XenIac.Core.IO.AtomicFile.CheckTargetOfKind(path, "reconcile status file", StatusFile.IsStatusFile); }
                catch (Exception e) when (e is IOException or ArgumentException) { r.AddError($"--status: {e.Message}"); }
            }
        });
        var metrics = new Option<string?>("--metrics")
        {
            HelpName = "addr",
            Description = "Serve Prometheus metrics at http://ADDR/metrics; a loopback host:port only (e.g. 127.0.0.1:9464)",
        };
        var host = CommandLine.HostOption($"Host for domains that name none: 'libxl' or 'embedded:<folder>' (default ${DomainCommand.HostVariable})");
        var once = new Option<bool>("--once") { Description = "One run, then exit: 0 done, 2 drift found (--drift warn), 1 failed" };
        var parallelism = CommandLine.IntOption("--parallelism", $"Domains worked on at once, 1 to 64 (default {ApplyOptions.DefaultParallelism})",
            1, 64, ApplyOptions.DefaultParallelism);
        var lockTimeout = Duration("--lock-timeout",
            "Wait this long for another apply on the same host before the run fails (the next run tries again) [default: 30s]", TimeSpan.Zero);
        var checkpointEvery = Duration("--checkpoint-every",
            "Checkpoint a running 'checkpoint: true' domain again when its checkpoint is this old (e.g. 1h); with 'keep: N' the last N are kept",
            TimeSpan.FromSeconds(1));
        var force = new Option<bool>("--force") { Description = "Replace a file at a savefile path even when it is not a valid savefile" };
        var trust = Reconcile.ReconcileCommand.TrustConfigOption();
        var command = new Command("reconcile",
            "Plan and apply in a loop, every interval and when the manifest changes; writes a status file; SIGTERM finishes the step under way and exits 0")
        {
            file, interval, drift, status, metrics, host, once, checkpointEvery, parallelism, lockTimeout, force, trust,
        };
        command.SetHandler((parse, ct) => LoopHandlers.RunAsync(new LoopHandlers.Request(
            parse.GetValue(file)!, parse.GetValue(interval) ?? DefaultInterval, parse.GetValue(drift) ?? DriftMode.Fix, parse.GetValue(status), parse.GetValue(metrics),
            parse.GetValue(host), parse.GetValue(once), parse.GetValue(checkpointEvery), parse.GetValue(parallelism),
            parse.GetValue(lockTimeout) ?? DefaultLockTimeout,
            parse.GetValue(force), parse.GetValue(trust)), ct));
        return command;
    }

    /// <summary>
    /// A duration option (e.g. 30s, 5m, 1h) from <paramref name="min"/> to a day; null when not given, so the handler
    /// applies its own default and help does not print a TimeSpan the user would never type.
    /// </summary>
    private static Option<TimeSpan?> Duration(string name, string description, TimeSpan min) => new(name)
    {
        Description = description,
        HelpName = "duration",
        CustomParser = r =>
        {
            var text = r.Tokens[0].Value;
            if (CommandLine.TryParseDuration(text, out var value) && value >= min) return value;
            r.AddError($"{name} '{text}' is not a duration from {Shown(min)} to {CommandLine.MaxDuration.TotalHours:0}h (e.g. 30s, 5m, 1h)");
            return null;
        },
    };

    private static string Shown(TimeSpan t) => t > TimeSpan.Zero && t < TimeSpan.FromSeconds(1) ? $"{t.TotalMilliseconds:0}ms" : $"{t.TotalSeconds:0}s";
}
