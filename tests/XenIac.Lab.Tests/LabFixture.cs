using System.Diagnostics;
using System.Text;
using System.Text.Json;
using XenIac.Tests;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace XenIac.Lab.Tests;

/// <summary>All lab tests share one lab run: booting Xen under emulation takes minutes, so it happens once.</summary>
[CollectionDefinition(Name)]
public sealed class LabCollection : ICollectionFixture<LabFixture>
{
    public const string Name = "Real Xen lab";
}

/// <summary>
/// The lab on every Xen generation it knows, one after the other (two QEMUs under TCG on two cores would only slow
/// each other down): Xen 4.17 (Debian 12) first, then 4.20 (Debian 13), which restores the savefiles 4.17 wrote;
/// then, when both ran, a short second 4.17 boot that runs only the cross-version scenario on what 4.20 wrote (the
/// other direction). Each run's results are in <c>XENIAC_LAB_OUT/&lt;generation&gt;</c>, the carried savefiles in
/// <c>XENIAC_LAB_OUT/carry/&lt;generation&gt;</c>. Tests are theories over <see cref="Generations"/>, so every test
/// name says which generation it judged.
/// XENIAC_LAB_XEN: "4.17", "4.20" or both (the default; also "both"); XENIAC_LAB_REVERSE=0 leaves out the second
/// 4.17 boot.
/// </summary>
public sealed class LabFixture
{
    public static readonly string[] All = ["4.17", "4.20"];

    /// <summary>Run key of the second 4.17 boot (cross-version scenario only, on the files 4.20 wrote).</summary>
    public const string Reverse = "4.17-reverse";

    /// <summary>
    /// Run key of a short 4.17 boot whose machine is frozen on purpose (QEMU gets SIGSTOP as soon as dom0 is up):
    /// run-lab.sh's watch must notice the silence within its limit and stop it, not wait out the scenario limits.
    /// </summary>
    public const string StallWatch = "stall-watch";

    public static TheoryData<string> Generations() => new(All);

    /// <summary>
    /// XENIAC_LAB: "skip" skips the lab; "require" turns "unavailable" into a failure (for a CI that must boot it);
    /// "reuse" asserts on the results already in the output folder when there are some (for working on the tests).
    /// </summary>
    public static string? Mode => Environment.GetEnvironmentVariable("XENIAC_LAB");

    public string OutRoot { get; }
    public string CarryDir => Path.Combine(OutRoot, "carry");
    private readonly Dictionary<string, LabRun> runs = new(StringComparer.Ordinal);

    public LabFixture(IMessageSink sink)
    {
        OutRoot = Environment.GetEnvironmentVariable("XENIAC_LAB_OUT") is { Length: > 0 } o
            ? Path.GetFullPath(o)
            : Path.Combine(SharedFixtures.RepoRoot, "artifacts", "lab");
        var selected = Selected();
        // Savefiles carried by an earlier test run would make the first 4.17 boot probe 4.20's files too (the
        // reverse boot's job): each test run starts with none, unless it only reuses earlier results.
        if (!string.Equals(Mode, "reuse", StringComparison.OrdinalIgnoreCase) && Directory.Exists(CarryDir))
            Directory.Delete(CarryDir, recursive: true);
        // One xen-iac for every run: the one the build published (XENIAC_CLI), else the one the first run published.
        string? cli = Environment.GetEnvironmentVariable("XENIAC_CLI") is { Length: > 0 } c && File.Exists(c) ? c : null;
        foreach (var xen in All)
        {
            runs[xen] = selected.Contains(xen)
                ? new LabRun(sink, xen, Path.Combine(OutRoot, xen), CarryDir, scenarios: null, cli)
                : LabRun.NotSelected(xen, $"XENIAC_LAB_XEN={Environment.GetEnvironmentVariable("XENIAC_LAB_XEN")} leaves out Xen {xen}");
            if (cli is null && runs[xen].OutDir.Length > 0 && File.Exists(Path.Combine(runs[xen].OutDir, "app", "xen-iac")))
                cli = Path.Combine(runs[xen].OutDir, "app", "xen-iac");
        }
        var bothRan = All.All(x => runs[x].Results is not null && runs[x].SkipReason is null);
        runs[Reverse] = bothRan && Environment.GetEnvironmentVariable("XENIAC_LAB_REVERSE") != "0"
            ? new LabRun(sink, "4.17", Path.Combine(OutRoot, Reverse), CarryDir, scenarios: "cross-version", cli)
            : LabRun.NotSelected("4.17", bothRan ? "XENIAC_LAB_REVERSE=0" : "the 4.20 -> 4.17 direction needs both generations to run");
        var first = runs[selected[0]];
        runs[StallWatch] = first.Results is not null && first.SkipReason is null && Environment.GetEnvironmentVariable("XENIAC_LAB_STALL_CHECK") != "0"
            ? new LabRun(sink, selected[0], Path.Combine(OutRoot, StallWatch), Path.Combine(OutRoot, StallWatch + ".carry"), scenarios: "none", cli,
                new Dictionary<string, string> { ["XENIAC_LAB_FREEZE_AT"] = "0", ["XENIAC_LAB_STALL_TIMEOUT"] = "40" }, retryWhenHung: false)
            : LabRun.NotSelected(selected[0], first.SkipReason ?? (first.Results is null ? "the lab did not run" : "XENIAC_LAB_STALL_CHECK=0"));
    }

    /// <summary>The generations XENIAC_LAB_XEN asks for (all by default); an unknown value is an error, not a silent skip.</summary>
    public static IReadOnlyList<string> Selected()
    {
        var v = Environment.GetEnvironmentVariable("XENIAC_LAB_XEN");
        if (string.IsNullOrWhiteSpace(v) || v.Trim() is "both" or "all") return All;
        var asked = v.Split([' ', ',', ';'], StringSplitOptions.RemoveEmptyEntries);
        var unknown = asked.Where(x => !All.Contains(x)).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"XENIAC_LAB_XEN={v}: unknown generation {string.Join(", ", unknown)} (known: {string.Join(", ", All)}, or both)");
        return asked;
    }

    /// <summary>The run of generation XEN ("4.17", "4.20", or <see cref="Reverse"/>).</summary>
    public LabRun this[string xen] => runs[xen];
}

/// <summary>
/// Runs <c>tests/lab/run-lab.sh --xen X --out DIR --carry CARRY</c> once and exposes what it brought back:
/// <c>DIR/results.json</c> (stages, commands, scenario steps) and the files under <c>DIR/out</c>.
/// Three outcomes: the lab is unavailable here (tests skip, with the reason), it failed before the scenarios
/// could run (every test fails with the stage's message), or it ran (each test judges its own scenario).
/// </summary>
public sealed class LabRun
{
    public static string? Mode => LabFixture.Mode;

    /// <summary>The Xen generation this run booted ("4.17" or "4.20").</summary>
    public string Xen { get; }
    public string OutDir { get; }
    public string? SkipReason { get; }
    public string? Failure { get; }
    public JsonDocument? Results { get; }
    public string RunLog { get; } = "";

    private LabRun(string xen, string skipReason)
    {
        Xen = xen;
        OutDir = "";
        SkipReason = skipReason;
    }

    public static LabRun NotSelected(string xen, string reason) => new(xen, reason);

    public LabRun(IMessageSink sink, string xen, string outDir, string carryDir, string? scenarios, string? cli,
        IReadOnlyDictionary<string, string>? environment = null, bool retryWhenHung = true)
    {
        Xen = xen;
        OutDir = outDir;
        if (string.Equals(Mode, "skip", StringComparison.OrdinalIgnoreCase))
        {
            SkipReason = "XENIAC_LAB=skip";
            sink.OnMessage(new DiagnosticMessage("real Xen lab: skipped (XENIAC_LAB=skip)"));
            return;
        }

        // Checked here too, not only in run-lab.sh: a non-root user may not even be able to write the results.
        if (!Environment.IsPrivilegedProcess && !string.Equals(Mode, "reuse", StringComparison.OrdinalIgnoreCase))
        {
            SkipReason = "the real Xen lab cannot run here: it needs root (debootstrap, chroot)";
            if (string.Equals(Mode, "require", StringComparison.OrdinalIgnoreCase)) { Failure = "XENIAC_LAB=require but " + SkipReason; SkipReason = null; }
            sink.OnMessage(new DiagnosticMessage(SkipReason ?? Failure!));
            return;
        }

        var resultsPath = Path.Combine(OutDir, "results.json");
        var exitCode = 0;
        if (string.Equals(Mode, "reuse", StringComparison.OrdinalIgnoreCase) && File.Exists(resultsPath))
        {
            sink.OnMessage(new DiagnosticMessage($"real Xen lab: XENIAC_LAB=reuse, asserting on the earlier run in {OutDir}"));
        }
        else
        {
            var script = Path.Combine(SharedFixtures.RepoRoot, "tests", "lab", "run-lab.sh");
            var watch = Stopwatch.StartNew();
            sink.OnMessage(new DiagnosticMessage($"real Xen lab {xen}: running {script} --xen {xen} --out {OutDir} --carry {carryDir}" +
                (scenarios is null ? "" : $" (scenarios: {scenarios})")));
            (exitCode, RunLog) = Run(script, xen, OutDir, carryDir, scenarios, cli, environment);
            sink.OnMessage(new DiagnosticMessage($"real Xen lab {xen}: run-lab.sh exited {exitCode} after {watch.Elapsed.TotalSeconds:F0} s"));
            // Under TCG the emulated machine now and then stops for good: a dom0 kernel early in its boot (seen once in
            // about twenty boots on 2026-12-03: silent after "sched_clock: Marking stable"), or Xen and dom0 together
            // (once on a loaded CI host on 2026-12-05: silent for 30 min right after an HVM guest's firmware ran).
            // run-lab.sh tells those apart from a failure of anything XenIac did (no console line at all, not even
            // dom0's heartbeat), so the whole lab is booted once more; the hung run's folder is kept beside it as
            // evidence. A second hang, or any other failure, stands.
            if (retryWhenHung && MachineHung(resultsPath) is { } hang)
            {
                var kept = OutDir + ".hung";
                if (Directory.Exists(kept)) Directory.Delete(kept, recursive: true);
                Directory.Move(OutDir, kept);
                sink.OnMessage(new DiagnosticMessage($"real Xen lab {xen}: {hang}; booting once more (the hung run is kept in {kept})"));
                watch.Restart();
                (exitCode, RunLog) = Run(script, xen, OutDir, carryDir, scenarios, cli, environment);
                sink.OnMessage(new DiagnosticMessage($"real Xen lab {xen}: run-lab.sh exited {exitCode} after {watch.Elapsed.TotalSeconds:F0} s (second boot)"));
            }
        }

        if (!File.Exists(resultsPath))
        {
            Failure = $"run-lab.sh exited {exitCode} without writing {resultsPath}; its output ended with:\n{Tail(RunLog, 20)}";
            return;
        }
        Results = JsonDocument.Parse(File.ReadAllText(resultsPath));
        var root = Results.RootElement;
        var status = root.GetProperty("status").GetString();
        var reason = root.GetProperty("reason").GetString();
        sink.OnMessage(new DiagnosticMessage($"real Xen lab {xen}: {status}{(string.IsNullOrEmpty(reason) ? "" : ": " + reason)}"));
        if (status == "unavailable")
        {
            if (string.Equals(Mode, "require", StringComparison.OrdinalIgnoreCase))
                Failure = $"XENIAC_LAB=require but the lab is unavailable: {reason}";
            else
                SkipReason = $"the real Xen lab cannot run here: {reason}";
            return;
        }
        // Failures in a scenario are the scenario tests' business; anything before the scenarios means
        // none of them has evidence, so every test reports the stage that broke.
        var failedStage = root.GetProperty("failedStage").GetString() ?? "";
        if (status != "passed" && !failedStage.StartsWith("scenario:", StringComparison.Ordinal))
            Failure = $"the real Xen lab ({xen}) failed at stage '{failedStage}': {reason}\n(see {OutDir}: results.json, serial.log, run-lab.log)";
    }

    /// <summary>
    /// Why the run failed when the emulated machine itself stopped (run-lab.sh's watch: dom0 never came up, or the
    /// console went silent), not in anything it ran; null otherwise.
    /// </summary>
    private static string? MachineHung(string resultsPath)
    {
        if (!File.Exists(resultsPath)) return null;
        try
        {
            using var results = JsonDocument.Parse(File.ReadAllText(resultsPath));
            var root = results.RootElement;
            var reason = root.GetProperty("reason").GetString() ?? "";
            var hung = root.GetProperty("status").GetString() == "failed"
                && (reason.Contains("dom0 not up within", StringComparison.Ordinal)
                    || reason.Contains("the emulated machine stalled", StringComparison.Ordinal));
            return hung ? reason[..Math.Min(reason.Length, 400)] : null;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IOException)
        {
            return null;
        }
    }

    private static (int ExitCode, string Log) Run(string script, string xen, string outDir, string carryDir, string? scenarios, string? cli,
        IReadOnlyDictionary<string, string>? environment)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add("--xen");
        psi.ArgumentList.Add(xen);
        psi.ArgumentList.Add("--out");
        psi.ArgumentList.Add(outDir);
        psi.ArgumentList.Add("--carry");
        psi.ArgumentList.Add(carryDir);
        if (scenarios is not null) psi.Environment["XENIAC_LAB_SCENARIOS"] = scenarios;
        if (cli is not null) psi.Environment["XENIAC_CLI"] = cli;
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) psi.Environment[name] = value;
        Directory.CreateDirectory(outDir);
        var log = new StringBuilder();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        // run-lab.sh has its own limits per stage (QEMU: XENIAC_LAB_TIMEOUT, default 3600 s); this is the
        // backstop beyond them (a cold prepare may take up to 30 min against a slow mirror), so a test run can
        // never hang.
        var qemuLimit = int.TryParse(Environment.GetEnvironmentVariable("XENIAC_LAB_TIMEOUT"), out var t) && t > 0 ? t : 3600;
        var backstop = TimeSpan.FromSeconds(qemuLimit) + TimeSpan.FromMinutes(35);
        if (!process.WaitForExit(backstop))
        {
            process.Kill(entireProcessTree: true);
            log.AppendLine($"run-lab.sh killed after {backstop.TotalMinutes:F0} minutes");
        }
        process.WaitForExit();
        var text = log.ToString();
        try { File.WriteAllText(Path.Combine(outDir, "run-lab.log"), text); } catch (IOException) { }
        return (process.ExitCode, text);
    }

    private static string Tail(string text, int lines) =>
        string.Join('\n', text.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(lines));

    // ---- what the tests use ----

    /// <summary>Skips when the lab is unavailable here, fails when it broke before the scenarios.</summary>
    public void Require()
    {
        Skip.If(SkipReason is not null, SkipReason);
        if (Failure is not null) throw new XunitException(Failure);
    }

    /// <summary>Skips when the lab is unavailable here; fails only when the run wrote no results (a run expected to fail).</summary>
    public void RequireResults()
    {
        Skip.If(SkipReason is not null, SkipReason);
        if (Results is null) throw new XunitException(Failure ?? "the lab wrote no results");
    }

    public JsonElement Root => Results!.RootElement;

    public bool HasCommand(string command) =>
        Root.GetProperty("commands").TryGetProperty(command, out var v) && v.GetBoolean();

    public LabScenario Scenario(string name)
    {
        Require();
        foreach (var s in Root.GetProperty("scenarios").EnumerateArray())
            if (s.GetProperty("name").GetString() == name) return new LabScenario(this, s);
        throw new XunitException($"the lab ({Xen}) ran no scenario '{name}' (results.json lists: " +
            string.Join(", ", Root.GetProperty("scenarios").EnumerateArray().Select(s => s.GetProperty("name").GetString())) + ")");
    }

    public string OutPath(params string[] parts) => Path.Combine([OutDir, "out", .. parts]);

    /// <summary>The published xen-iac the lab ran in dom0; the host-side checks run the same binary.</summary>
    public string XenIac => Path.Combine(OutDir, "app", "xen-iac");
}

/// <summary>One scenario of results.json with its steps, and the step output files dom0 kept.</summary>
public sealed class LabScenario(LabRun lab, JsonElement element)
{
    public string Name { get; } = element.GetProperty("name").GetString()!;
    public string Status { get; } = element.GetProperty("status").GetString()!;

    /// <summary>The step's LAST line: a step that was retried (xl save racing a slow device model) has its earlier tries before it.</summary>
    public JsonElement? FindStep(string step)
    {
        JsonElement? found = null;
        foreach (var s in element.GetProperty("steps").EnumerateArray())
            if (s.GetProperty("name").GetString() == step) found = s;
        return found;
    }

    /// <summary>
    /// Asserts that STEP ran and succeeded; skips when it is "not-available" (a xen-iac command this build lacks),
    /// so the assertion runs for real as soon as that command is merged. A step that ran fine counts even when the
    /// scenario later hit its time limit; a step that never ran or failed says which scenario and step, why, and
    /// what the command (xl, xen-iac) and Xen printed.
    /// </summary>
    public void RequireOk(string step)
    {
        var s = FindStep(step) ?? throw new XunitException(NeverRan(step));
        var status = s.GetProperty("status").GetString();
        Skip.If(status == "not-available", $"{Name}/{step}: {s.GetProperty("detail").GetString()}");
        if (status != "ok")
            throw new XunitException(
                $"scenario {Name}, step {step}: {status} (rc {s.GetProperty("rc")}, {s.GetProperty("seconds")} s): {s.GetProperty("detail").GetString()}" +
                Section($"{step}.err (stderr)", 40) + Section($"{step}.out (stdout)", 15) + Section($"{step}.diag", 60) +
                $"\n(all of it: {Path("")})");
    }

    private string NeverRan(string step)
    {
        var message = new StringBuilder($"scenario {Name}, step {step}: never ran; the scenario {Status}");
        if (File.Exists(Path("timeout.txt"))) message.Append(": ").Append(Read("timeout.txt").Trim());
        var ran = element.GetProperty("steps").EnumerateArray()
            .Select(x => $"{x.GetProperty("name").GetString()}={x.GetProperty("status").GetString()}").ToList();
        message.Append($"\nsteps that ran: {(ran.Count == 0 ? "none" : string.Join(", ", ran))}");
        foreach (var failed in element.GetProperty("steps").EnumerateArray().Where(x => x.GetProperty("status").GetString() == "failed"))
            message.Append($"\nfailed earlier: {failed.GetProperty("name").GetString()}: {failed.GetProperty("detail").GetString()}");
        return message + Section("scenario.log", 20) + Section("timeout.diag", 60) + $"\n(all of it: {Path("")})";
    }

    private string Section(string file, int lines)
    {
        if (!File.Exists(Path(file))) return "";
        var text = File.ReadAllLines(Path(file));
        if (text.Length == 0) return "";
        return $"\n--- {file}{(text.Length > lines ? $" (last {lines} of {text.Length} lines)" : "")}:\n" + string.Join('\n', text.TakeLast(lines));
    }

    public string StepStatus(string step) => FindStep(step)?.GetProperty("status").GetString() ?? "(missing)";

    public string Path(string file) => lab.OutPath(Name, file);

    public string Read(string file) => File.ReadAllText(Path(file));

    public byte[] ReadBytes(string file) => File.ReadAllBytes(Path(file));

    public JsonDocument ReadJson(string file) => JsonDocument.Parse(ReadBytes(file));
}
