using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace XenIac.Cli.Tests;

/// <summary>
/// <c>xen-iac reconcile</c> end to end: the real tool process, in the background, against an embedded host in a
/// temp folder; changed by hand with <c>xen-iac domain</c> as an operator would, signalled with kill(1).
/// </summary>
public sealed class ReconcileLoopCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-cli-loop-").FullName;
    private readonly List<Process> _started = [];

    private string P(string name) => Path.Combine(_dir, name);

    private static string Cfg(string name, int memory = 4) => $"name = \"{name}\"\ntype = \"hvm\"\nmemory = {memory}\nvcpus = 1\n";

    private void Manifest(string domains) => File.WriteAllText(P("xen-iac.yaml"), $"defaults:\n  host: embedded:host\ndomains:\n{domains}");

    private Task<CliResult> Run(params string[] args) => CliRunner.RunAsync(args, workingDirectory: _dir);

    public void Dispose()
    {
        foreach (var p in _started.Where(p => !p.HasExited))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    /// <summary>The loop in the background; its output collected for the assertions' messages.</summary>
    private (Process Process, StringBuilder Out, StringBuilder Err) Start(string[] args, Dictionary<string, string>? environment = null)
    {
        var psi = XenIac.Tests.ToolUnderTest.StartInfo(args);
        psi.WorkingDirectory = _dir;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.RedirectStandardInput = true;
        foreach (var (k, v) in environment ?? []) psi.Environment[k] = v;
        var process = new Process { StartInfo = psi };
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _started.Add(process);
        return (process, stdout, stderr);
    }

    private static void Term(Process process) =>
        Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();

    private static async Task<int> ExitCodeAsync(Process process)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        process.WaitForExit(); // the output handlers have seen the last line
        return process.ExitCode;
    }

    private static Task WaitFor(Func<bool> condition, TimeSpan? within = null, string what = "condition") =>
        WaitFor(condition, within, () => what);

    /// <summary>Polls; on timeout the message is made then, so it can show the state that never came right.</summary>
    private static async Task WaitFor(Func<bool> condition, TimeSpan? within, Func<string> what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > (within ?? TimeSpan.FromSeconds(60))) throw new TimeoutException($"{what()} not met within {(within ?? TimeSpan.FromSeconds(60)).TotalSeconds} s");
            await Task.Delay(50);
        }
    }

    private JsonElement? Status()
    {
        try { return JsonDocument.Parse(File.ReadAllText(P(".xen-iac/status.json"))).RootElement; }
        catch (Exception e) when (e is IOException or JsonException) { return null; }
    }

    private async Task<JsonElement> Domains()
    {
        var list = await Run("domain", "list", "--host", "embedded:host", "--json");
        Assert.Equal(0, list.ExitCode);
        return JsonDocument.Parse(list.StdOut).RootElement;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task The_loop_fixes_a_domain_destroyed_by_hand_within_an_interval_writes_status_serves_metrics_and_exits_0_on_sigterm()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        File.WriteAllText(P("b.cfg"), Cfg("b"));
        Manifest("  - name: a\n    config: a.cfg\n  - name: b\n    config: b.cfg\n");
        Assert.Equal(0, (await Run("apply", "--auto-approve")).ExitCode);
        var bBefore = (await Domains()).EnumerateArray().Single(d => d.GetProperty("name").GetString() == "b").GetProperty("domid").GetInt32();
        // b is now observe-only and wanted saved: reconcile must report that and never save it.
        Manifest("  - name: a\n    config: a.cfg\n  - name: b\n    config: b.cfg\n    state: saved\n    paused: reconcile\n");

        var port = FreePort();
        var (loop, stdout, stderr) = Start(["reconcile", "--interval", "1s", "--metrics", $"127.0.0.1:{port}"]);
        await WaitFor(() => Status() is { } s && s.TryGetProperty("lastRun", out _), what: "a first run in the status file");
        // Read the status file as a monitor would, all along: it is replaced whole, so every read parses.
        using var sampling = new CancellationTokenSource();
        var reads = 0;
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                JsonDocument.Parse(await File.ReadAllBytesAsync(P(".xen-iac/status.json"))).Dispose();
                reads++;
                await Task.Delay(5);
            }
        });

        int? DomId(JsonElement list, string name) => list.EnumerateArray().Where(d => d.GetProperty("name").GetString() == name)
            .Select(d => (int?)d.GetProperty("domid").GetInt32()).FirstOrDefault();
        var aBefore = DomId(await Domains(), "a");
        Assert.Equal(0, (await Run("domain", "destroy", "a", "--host", "embedded:host")).ExitCode);
        var destroyed = Stopwatch.StartNew();
        var aRecreatedAfter = DateTimeOffset.UtcNow;
        // Within one interval (1 s) and the run itself; generous slack for a loaded machine. A new domid: made anew.
        await WaitFor(() => DomId(Domains().Result, "a") is { } id && id != aBefore, TimeSpan.FromSeconds(10), "a back on the host");
        Assert.True(destroyed.Elapsed < TimeSpan.FromSeconds(10), $"took {destroyed.Elapsed}");

        // The run that made it anew has written its status once the journal has the second create: "Applied" until the
        // next run finds nothing to do and says "UpToDate" (a window of one interval a loaded test machine can miss;
        // the loop's own tests check the reasons run by run).
        await WaitFor(() => File.ReadAllLines(P(".xen-iac/journal.jsonl")).Count(l => l.Contains("\"domain\":\"a\"") && l.Contains("\"create\"") && l.Contains("\"succeeded\"")) == 2
                && Status() is { } s && s.GetProperty("lastRun").GetProperty("finished").GetDateTimeOffset() > aRecreatedAfter,
            null, () => $"a second create of a in the journal and a run finished after it (status: {Status()}; stdout: {stdout}; stderr: {stderr})");
        var status = Status()!.Value;
        var a = status.GetProperty("domains").GetProperty("a");
        Assert.Equal("Ready", a.GetProperty("condition").GetString());
        Assert.Contains(a.GetProperty("reason").GetString(), new[] { "Applied", "UpToDate" });
        Assert.Equal(status.GetProperty("manifestDigest").GetString(), a.GetProperty("lastAppliedDigest").GetString());
        Assert.True(a.TryGetProperty("lastTransitionTime", out _));
        var b = status.GetProperty("domains").GetProperty("b");
        Assert.Equal("Degraded", b.GetProperty("condition").GetString());
        Assert.Equal("ObservedDrift", b.GetProperty("reason").GetString());
        Assert.True(b.GetProperty("observeOnly").GetBoolean());
        Assert.True(status.TryGetProperty("lastSuccess", out _));

        using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) })
        {
            // The metrics follow the status file by a moment (they are updated after it is written).
            var metrics = "";
            await WaitFor(() => (metrics = http.GetStringAsync($"http://127.0.0.1:{port}/metrics").Result)
                .Contains("xeniac_reconcile_applies_total{action=\"create\""), TimeSpan.FromSeconds(10), "the create counted in the metrics");
            Assert.Matches(@"xeniac_reconcile_runs_total\{result=""succeeded""\} [1-9]", metrics);
            Assert.Contains("xeniac_reconcile_applies_total{action=\"create\",result=\"succeeded\"} 1", metrics);
            Assert.Contains("xeniac_reconcile_domain_condition{domain=\"a\",condition=\"Ready\"} 1", metrics);
            Assert.Contains("xeniac_reconcile_domain_condition{domain=\"b\",condition=\"Degraded\"} 1", metrics);
            Assert.Contains("xeniac_reconcile_errors_total 0", metrics);
            Assert.Matches(@"xeniac_reconcile_last_success_timestamp_seconds 1\d{9}", metrics);
            Assert.Matches(@"xeniac_reconcile_run_duration_seconds_count [1-9]", metrics);
        }

        sampling.Cancel();
        await sampler;
        Assert.True(reads > 20, $"only {reads} reads of the status file");
        Term(loop);
        Assert.True(await ExitCodeAsync(loop) == 0, $"exit {loop.ExitCode}; stdout: {stdout}; stderr: {stderr}");
        Assert.Contains("reconcile: stopped", stdout.ToString());

        // b was never changed: still running with the domid it had, and no savefile was made for it.
        var after = (await Domains()).EnumerateArray().Single(d => d.GetProperty("name").GetString() == "b");
        Assert.Equal(bBefore, after.GetProperty("domid").GetInt32());
        Assert.False(File.Exists(P("saves/b.xlsave")));
        Assert.DoesNotContain(File.ReadAllLines(P(".xen-iac/journal.jsonl")), l => l.Contains("\"domain\":\"b\"") && !l.Contains("\"create\""));
    }

    /// <summary>
    /// A --status that cannot be written is refused before the first run: it was found after it, when domains had
    /// been created and saved.
    /// </summary>
    [Theory]
    [InlineData("folder", "is a folder")]
    [InlineData("folder/", "is a folder")]
    [InlineData("link.json", "is a symbolic link")]
    // A typo that named another file replaced it with status JSON (the manifest, a config, a savefile) and exited 0.
    [InlineData("xen-iac.yaml", "exists and is not a reconcile status file; it is not replaced")]
    [InlineData("a.cfg", "exists and is not a reconcile status file")]
    [InlineData("-", "'-' (standard output) is not supported")]
    [InlineData("", "--status is empty")]
    [InlineData("nodir/s.json", "does not exist")]
    public async Task A_status_file_that_cannot_be_written_is_an_error_before_anything_changes(string status, string said)
    {
        File.CreateSymbolicLink(P("link.json"), P("elsewhere.json"));
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        Manifest("  - name: a\n    config: a.cfg\n");
        var manifest = File.ReadAllText(P("xen-iac.yaml"));
        Directory.CreateDirectory(P("folder"));

        var result = await Run("reconcile", "--once", "--status", status);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains(said, Assert.Single(result.StdErr.TrimEnd().Split('\n')), StringComparison.Ordinal);
        Assert.Equal("", result.StdOut);
        Assert.False(Directory.Exists(P("host")) && Directory.EnumerateFileSystemEntries(P("host"), "*", SearchOption.AllDirectories).Any(f => f.Contains("domains", StringComparison.Ordinal) && File.Exists(f)));
        Assert.Equal(Cfg("a"), File.ReadAllText(P("a.cfg")));
        Assert.Equal(manifest, File.ReadAllText(P("xen-iac.yaml")));
        Assert.False(File.Exists(P("-")));
        Assert.False(Directory.Exists(P("nodir")));
    }

    [Fact]
    public async Task A_status_file_of_an_earlier_loop_is_replaced()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        Manifest("  - name: a\n    config: a.cfg\n");
        Assert.Equal(0, (await Run("reconcile", "--once", "--status", "s.json")).ExitCode);
        var first = File.ReadAllText(P("s.json"));
        File.WriteAllText(P("empty.json"), "");
        Assert.Equal(0, (await Run("reconcile", "--once", "--status", "s.json")).ExitCode);
        Assert.Equal(0, (await Run("reconcile", "--once", "--status", "empty.json")).ExitCode); // an empty file holds nothing to lose
        Assert.NotEqual(first, File.ReadAllText(P("s.json")));
        Assert.Contains("\"manifest\"", File.ReadAllText(P("empty.json")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sigterm_mid_save_lets_the_save_finish_and_exits_0_with_a_valid_savefile_and_nothing_lost()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a", memory: 64));
        Manifest("  - name: a\n    config: a.cfg\n    state: saved\n");
        Assert.Equal(0, (await Run("apply", "--auto-approve")).ExitCode);
        var oldWrite = File.GetLastWriteTimeUtc(P("saves/a.xlsave"));
        Assert.Equal(0, (await Run("domain", "restore", "saves/a.xlsave", "--host", "embedded:host", "--trust-config")).ExitCode);

        // 64 MiB at 16 MiB/s: the save is certainly under way when the temp file has a MiB, and far from done.
        var (loop, stdout, stderr) = Start(["reconcile", "--interval", "1s"], new() { ["XENIAC_EMBEDDED_THROTTLE_MIBS"] = "16" });
        await WaitFor(() => Directory.Exists(P("saves")) && Directory.EnumerateFiles(P("saves"), ".xeniac-tmp-*").Any(f => new FileInfo(f).Length > 1 << 20),
            what: "the save under way");
        await WaitFor(() => Status() is { } s && s.GetProperty("domains").TryGetProperty("a", out var a) && a.GetProperty("condition").GetString() == "Progressing",
            TimeSpan.FromSeconds(3), "a Progressing in the status file while it is saved");
        Term(loop);
        Assert.True(await ExitCodeAsync(loop) == 0, $"exit {loop.ExitCode}; stdout: {stdout}; stderr: {stderr}");
        Assert.Contains("a: save finished", stdout.ToString());

        // The save finished: a whole new savefile (written after the old one, not torn), no temp file, the domain saved, not lost.
        Assert.Empty(Directory.EnumerateFiles(P("saves"), ".xeniac-tmp-*"));
        Assert.True(File.GetLastWriteTimeUtc(P("saves/a.xlsave")) > oldWrite);
        Assert.Equal(2, File.ReadAllLines(P(".xen-iac/journal.jsonl")).Count(l => l.Contains("\"save\"") && l.Contains("\"succeeded\"")));
        Assert.Equal(0, (await Run("savefile", "verify", "saves/a.xlsave")).ExitCode);
        Assert.Equal(0, (await Domains()).GetArrayLength());
        Assert.Equal(0, (await Run("plan", "--detailed-exitcode")).ExitCode);
        var status = Status()!.Value;
        Assert.Equal("Stopped", status.GetProperty("lastRun").GetProperty("result").GetString());
        Assert.Equal("Ready", status.GetProperty("domains").GetProperty("a").GetProperty("condition").GetString());
    }

    [Fact]
    public async Task Sigterm_while_waiting_for_another_applys_lock_exits_0_at_once_without_waiting_for_it()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a", memory: 128));
        Manifest("  - name: a\n    config: a.cfg\n    state: saved\n");
        // 128 MiB at 8 MiB/s: the other apply holds the host's lock for about 16 s.
        var (apply, _, _) = Start(["apply", "--auto-approve"], new() { ["XENIAC_EMBEDDED_THROTTLE_MIBS"] = "8" });
        await WaitFor(() => File.Exists(P("host/locks/apply.lock.owner")), what: "the other apply holding the lock");

        var (loop, stdout, stderr) = Start(["reconcile", "--interval", "1s", "--lock-timeout", "5m"]);
        await WaitFor(() => stdout.ToString().Contains("reconcile: "), what: "the loop started");
        await Task.Delay(1000);
        Term(loop);
        var clock = Stopwatch.StartNew();
        Assert.True(await ExitCodeAsync(loop) == 0, $"exit {loop.ExitCode}; stdout: {stdout}; stderr: {stderr}");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed} to stop");
        Assert.False(apply.HasExited, "the other apply finished first: the loop was not waiting for its lock");
        Assert.Equal("Stopped", Status()!.Value.GetProperty("lastRun").GetProperty("result").GetString());
    }

    [Fact]
    public async Task A_manifest_change_starts_a_run_long_before_the_interval()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        File.WriteAllText(P("c.cfg"), Cfg("c"));
        Manifest("  - name: a\n    config: a.cfg\n");
        Directory.CreateDirectory(P("state"));
        var (loop, stdout, stderr) = Start(["reconcile", "--interval", "1h", "--status", "state/loop.json"]);
        await WaitFor(() => File.Exists(P("state/loop.json")) && File.ReadAllText(P("state/loop.json")).Contains("\"start\""), what: "the first run");

        Manifest("  - name: a\n    config: a.cfg\n  - name: c\n    config: c.cfg\n");
        await WaitFor(() => Run("domain", "list", "--host", "embedded:host", "--json").Result.StdOut.Contains("\"c\""),
            TimeSpan.FromSeconds(15), "c created after the manifest changed");
        await WaitFor(() => File.ReadAllText(P("state/loop.json")).Contains("\"change\""), TimeSpan.FromSeconds(10), "a run triggered by the change");
        Assert.False(File.Exists(P(".xen-iac/status.json")));

        Term(loop);
        Assert.True(await ExitCodeAsync(loop) == 0, $"exit {loop.ExitCode}; stdout: {stdout}; stderr: {stderr}");
    }

    [Fact]
    public async Task Drift_warn_reports_without_changing_and_once_exits_2()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        Manifest("  - name: a\n    config: a.cfg\n");
        var warn = await Run("reconcile", "--once", "--drift", "warn");
        Assert.Equal(2, warn.ExitCode);
        Assert.Contains("warning: a: DriftDetected: would create", warn.StdErr);
        Assert.Equal(0, (await Domains()).GetArrayLength());
        Assert.Equal("Degraded", Status()!.Value.GetProperty("domains").GetProperty("a").GetProperty("condition").GetString());

        var fix = await Run("reconcile", "--once");
        Assert.Equal(0, fix.ExitCode);
        Assert.Equal(1, (await Domains()).GetArrayLength());
        Assert.Equal("Ready", Status()!.Value.GetProperty("domains").GetProperty("a").GetProperty("condition").GetString());
    }

    [Fact]
    public async Task Checkpoint_every_with_keep_n_checkpoints_a_running_domain_again_and_again_keeping_exactly_n()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        Manifest("  - name: a\n    config: a.cfg\n    checkpoint: true\n    keep: 2\n");
        var (loop, stdout, stderr) = Start(["reconcile", "--interval", "1s", "--checkpoint-every", "1s"]);
        int Checkpoints() => File.Exists(P(".xen-iac/journal.jsonl"))
            ? File.ReadAllLines(P(".xen-iac/journal.jsonl")).Count(l => l.Contains("\"checkpoint\"") && l.Contains("\"succeeded\"")) : 0;
        await WaitFor(() => Checkpoints() >= 4, TimeSpan.FromSeconds(60), "four checkpoints");
        Term(loop);
        Assert.True(await ExitCodeAsync(loop) == 0, $"exit {loop.ExitCode}; stdout: {stdout}; stderr: {stderr}");

        var kept = Directory.GetFiles(P("saves/a.xlsave.history")).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(2, kept.Length);
        Assert.All(kept, k => Assert.EndsWith(".xlsave", k));
        Assert.Equal(await File.ReadAllBytesAsync(P("saves/a.xlsave")), await File.ReadAllBytesAsync(kept[^1]));
        foreach (var k in kept) Assert.Equal(0, (await Run("savefile", "verify", k)).ExitCode);
        // A checkpoint keeps the domain running.
        Assert.Equal("a", (await Domains())[0].GetProperty("name").GetString());
    }

    [Fact]
    public async Task Plan_lists_an_observe_only_domains_drift_and_apply_leaves_it()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        Manifest("  - name: a\n    config: a.cfg\n    paused: reconcile\n");
        var plan = await Run("plan", "--detailed-exitcode");
        Assert.Equal(0, plan.ExitCode);
        Assert.Contains("observe only, paused: reconcile: not changed", plan.StdOut);
        Assert.Equal(0, (await Run("apply", "--auto-approve")).ExitCode);
        Assert.Equal(0, (await Domains()).GetArrayLength());
    }

    [Fact]
    public async Task Keep_n_keeps_exactly_n_savefiles_through_apply()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        Manifest("  - name: a\n    config: a.cfg\n    state: saved\n    keep: 3\n");
        for (var round = 1; round <= 5; round++)
        {
            if (round > 1) Assert.Equal(0, (await Run("domain", "restore", "saves/a.xlsave", "--host", "embedded:host", "--trust-config")).ExitCode);
            Assert.Equal(0, (await Run("apply", "--auto-approve")).ExitCode);
            Assert.Equal(Math.Min(round, 3), Directory.GetFiles(P("saves/a.xlsave.history"), "*.xlsave").Length);
        }
        foreach (var kept in Directory.GetFiles(P("saves/a.xlsave.history")))
            Assert.Equal(0, (await Run("savefile", "verify", kept)).ExitCode);
    }

    [Theory]
    [InlineData("0.0.0.0:9464", "only a loopback address")]
    [InlineData("192.168.1.10:9464", "only a loopback address")]
    [InlineData("127.0.0.1", "is not host:port")]
    [InlineData("127.0.0.1:0", "is not host:port")]
    // [::1] was offered by the message and then failed with HttpListener's "Invalid port in prefix".
    [InlineData("[::1]:9464", "IPv6 addresses cannot be served here; use 127.0.0.1:9464")]
    public async Task Metrics_are_served_only_on_a_loopback_host_and_port(string address, string message)
    {
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        Manifest("  - name: a\n    config: a.cfg\n");
        var result = await Run("reconcile", "--once", "--metrics", address);
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: --metrics", result.StdErr);
        Assert.Contains(message, result.StdErr);
        Assert.False(Directory.Exists(P("host")));
    }

    [Fact]
    public async Task A_bad_interval_is_one_error_line()
    {
        var result = await Run("reconcile", "--interval", "0s");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--interval '0s'", result.StdErr);
    }
}
