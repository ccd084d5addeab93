using System.Diagnostics;
using System.Text.Json;
using XenIac.Core.SaveFiles;
using XenIac.Tests;

namespace XenIac.Cli.Tests;

/// <summary>plan / apply / schema end to end: the real tool process on temp folders with the embedded host.</summary>
public sealed class ReconcileCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-cli-reconcile-").FullName;

    private string P(string name) => Path.Combine(_dir, name);

    private static string Cfg(string name, int memory = 4, string mac = "00:16:3e:00:00:01") =>
        $"name = \"{name}\"\ntype = \"hvm\"\nmemory = {memory}\nvcpus = 1\ndisk = [ '/srv/{name}.img,raw,xvda,rw' ]\nvif = [ 'mac={mac}' ]\n";

    private void Manifest(string domains)
    {
        File.WriteAllText(P("xen-iac.yaml"), $"defaults:\n  host: embedded:host\ndomains:\n{domains}");
    }

    private Task<CliResult> Run(params string[] args) => CliRunner.RunAsync(args, workingDirectory: _dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Fact]
    public async Task Plan_apply_plan_ends_with_no_changes_and_detailed_exit_codes_follow_terraform()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        File.WriteAllText(P("b.cfg"), Cfg("b"));
        Manifest("  - name: a\n    config: a.cfg\n    state: saved\n  - name: b\n    config: b.cfg\n");

        var before = await Run("plan", "--detailed-exitcode");
        Assert.Equal(2, before.ExitCode);
        Assert.Contains("Plan: ", before.StdOut);
        // The logged table: "a  create + save  why" and "b  create  why", the reasons starting in one column.
        var rows = before.StdOut.Split('\n').Where(l => l.StartsWith("a  ") || l.StartsWith("b  ")).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Contains("create + save", rows[0]);
        Assert.Equal(rows[0].IndexOf("not running", StringComparison.Ordinal), rows[1].IndexOf("not running", StringComparison.Ordinal));

        var apply = await Run("apply", "--auto-approve");
        Assert.Equal(0, apply.ExitCode);
        Assert.Contains("Apply complete", apply.StdOut);

        var after = await Run("plan", "--detailed-exitcode");
        Assert.Equal(0, after.ExitCode);
        Assert.Contains("No changes", after.StdOut);
        var again = await Run("apply", "--auto-approve");
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("No changes", again.StdOut);
        Assert.Equal(2, File.ReadAllLines(P(".xen-iac/journal.jsonl")).Count(l => l.Contains("\"succeeded\"") && l.Contains("\"domain\":\"a\"")));
    }

    [Fact]
    public async Task Plan_lists_only_domains_with_changes_and_a_summary_line_unless_asked_for_all()
    {
        foreach (var n in new[] { "a", "b", "c" }) File.WriteAllText(P(n + ".cfg"), Cfg(n));
        Manifest("  - name: a\n    config: a.cfg\n  - name: b\n    config: b.cfg\n");
        Assert.Equal(0, (await Run("apply", "--auto-approve")).ExitCode);
        Manifest("  - name: a\n    config: a.cfg\n  - name: b\n    config: b.cfg\n  - name: c\n    config: c.cfg\n");

        var plan = await Run("plan");
        Assert.Equal(0, plan.ExitCode);
        Assert.Contains("c: savefile", plan.StdOut);
        Assert.DoesNotContain("a: savefile", plan.StdOut);
        Assert.DoesNotContain("running as domid", plan.StdOut);
        Assert.Contains("Plan: 1 to create, 2 unchanged.", plan.StdOut);

        var all = await Run("plan", "--show-unchanged");
        Assert.Contains("a: savefile", all.StdOut);
        Assert.Contains("b: savefile", all.StdOut);
        Assert.Contains("running as domid", all.StdOut);

        Assert.Equal(0, (await Run("apply", "--auto-approve")).ExitCode);
        var none = await Run("plan");
        Assert.Contains("No changes: reality matches the manifest (3 domains unchanged).", none.StdOut);
        Assert.DoesNotContain("savefile", none.StdOut);

        // A domain that cannot be planned is not "no changes": the summary counts it, and the exit code is 1.
        File.WriteAllText(P("d.cfg"), "name = \"d\"\nmemory = [\n");
        Manifest("  - name: a\n    config: a.cfg\n  - name: b\n    config: b.cfg\n  - name: c\n    config: c.cfg\n  - name: d\n    config: d.cfg\n");
        var broken = await Run("plan");
        Assert.Equal(1, broken.ExitCode);
        Assert.DoesNotContain("No changes", broken.StdOut);
        Assert.Contains("Plan: nothing to do, 3 unchanged, 1 with errors (not planned).", broken.StdOut);
    }

    [Fact]
    public async Task A_domain_started_by_hand_is_drift_reported_with_exit_code_2()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        Manifest("  - name: a\n    config: a.cfg\n    state: saved\n");
        Assert.Equal(0, (await Run("apply", "--auto-approve")).ExitCode);

        var restore = await Run("domain", "restore", "saves/a.xlsave", "--host", "embedded:host", "--trust-config");
        Assert.Equal(0, restore.ExitCode);

        var plan = await Run("plan", "--detailed-exitcode", "--json");
        Assert.Equal(2, plan.ExitCode);
        var domain = JsonDocument.Parse(plan.StdOut).RootElement.GetProperty("domains")[0];
        Assert.Equal("save", domain.GetProperty("action").GetString());
        Assert.True(domain.GetProperty("running").GetBoolean());
    }

    [Fact]
    public async Task An_incompatible_override_is_blocked_with_its_findings()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        File.WriteAllText(P("a-more-memory.cfg"), Cfg("a", memory: 8));
        Manifest("  - name: a\n    config: a.cfg\n    state: saved\n");
        Assert.Equal(0, (await Run("apply", "--auto-approve")).ExitCode);
        Manifest("  - name: a\n    overrides:\n      config: a-more-memory.cfg\n");

        var plan = await Run("plan", "--json");
        Assert.Equal(1, plan.ExitCode);
        var domain = JsonDocument.Parse(plan.StdOut).RootElement.GetProperty("domains")[0];
        Assert.Contains("incompatible", domain.GetProperty("error").GetString());
        Assert.Contains(domain.GetProperty("findings").EnumerateArray(),
            f => f.GetProperty("severity").GetString() == "error" && f.GetProperty("setting").GetString()!.Contains("mem"));
        Assert.Matches(@"error: a: \S*xen-iac\.yaml:\d+:\d+: override config is incompatible", plan.StdErr);

        var apply = await Run("apply", "--auto-approve");
        Assert.Equal(1, apply.ExitCode);
        var list = await Run("domain", "list", "--host", "embedded:host", "--json");
        Assert.Equal(0, JsonDocument.Parse(list.StdOut).RootElement.GetArrayLength());
    }

    [Fact]
    public async Task Findings_in_a_logged_plan_stay_one_line_each_however_long()
    {
        // Off a terminal (a CI log, a pipe) a finding was wrapped at 80 columns, cutting its paths and reason in two.
        var longPath = "/srv/xen/" + new string('d', 90) + "/a-clone.qcow2";
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        File.WriteAllText(P("a-clone.cfg"), Cfg("a").Replace("/srv/a.img,raw", longPath + ",qcow2"));
        Manifest("  - name: a\n    config: a.cfg\n    state: saved\n");
        Assert.Equal(0, (await Run("apply", "--auto-approve")).ExitCode);
        Manifest("  - name: a\n    overrides:\n      config: a-clone.cfg\n");

        var plan = await Run("plan");
        Assert.Equal(0, plan.ExitCode);
        var lines = plan.StdOut.Split('\n');
        Assert.Contains("a: findings (override config compatibility, placement on its host)", lines);
        var target = Assert.Single(lines, l => l.Contains("disk[0].target:"));
        Assert.Equal($"  ok disk[0].target: /srv/a.img -> {longPath} (where the disk's data comes from is the host's business; the guest sees the same disk)", target);
        Assert.Contains("Plan: 1 to restore, 0 unchanged.", lines);
    }

    /// <summary>
    /// On a terminal the plan is a Spectre table with findings under it, and a finding quoted the override config's
    /// values as they were: a disk path holding an escape sequence retitled the terminal and cleared it.
    /// </summary>
    [SkippableFact]
    public async Task Findings_on_a_terminal_spell_out_escape_sequences_from_configs()
    {
        Skip.IfNot(File.Exists("/usr/bin/script"), "util-linux 'script' is needed for a terminal");
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        File.WriteAllText(P("a-clone.cfg"), Cfg("a").Replace("/srv/a.img,raw", "/srv/\x1b]0;pwned\x07\x1b[2Jb.img,raw"));
        Manifest("  - name: a\n    config: a.cfg\n    state: saved\n");
        Assert.Equal(0, (await Run("apply", "--auto-approve")).ExitCode);
        Manifest("  - name: a\n    overrides:\n      config: a-clone.cfg\n");

        var command = string.Join(' ', ToolUnderTest.Command.Append("plan").Select(a => "'" + a.Replace("'", "'\\''") + "'"));
        var psi = new ProcessStartInfo("/usr/bin/script") { WorkingDirectory = _dir, RedirectStandardOutput = true, RedirectStandardInput = true };
        foreach (var a in new[] { "-qec", command, "/dev/null" }) psi.ArgumentList.Add(a);
        psi.Environment["TERM"] = "xterm-256color";
        using var process = Process.Start(psi)!;
        process.StandardInput.Close();
        var output = await process.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync();

        Assert.Equal(0, process.ExitCode);
        Assert.Contains("\u256d", output, StringComparison.Ordinal); // the table's rounded corner: Spectre drew it
        Assert.Contains(@"/srv/\x1b]0;pwned\x07\x1b[2Jb.img", output, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b]0;pwned", output, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[2J", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_killed_apply_leaves_the_previous_savefile_intact_and_the_next_apply_completes()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a", memory: 64));
        Manifest("  - name: a\n    config: a.cfg\n    state: saved\n");
        Assert.Equal(0, (await Run("apply", "--auto-approve")).ExitCode);
        var good = await File.ReadAllBytesAsync(P("saves/a.xlsave"));
        Assert.Equal(0, (await Run("domain", "restore", "saves/a.xlsave", "--host", "embedded:host", "--trust-config")).ExitCode);

        // 64 MiB at 16 MiB/s: the save is certainly under way when the temp file shows up, and far from done.
        using (var apply = Start(["apply", "--auto-approve"], new() { ["XENIAC_EMBEDDED_THROTTLE_MIBS"] = "16" }))
        {
            await WaitFor(() => Directory.EnumerateFiles(P("saves"), ".xeniac-tmp-*").Any(f => new FileInfo(f).Length > 1 << 20));
            apply.Kill(entireProcessTree: true);
            await apply.WaitForExitAsync();
        }

        Assert.Equal(good, await File.ReadAllBytesAsync(P("saves/a.xlsave")));
        var list = await Run("domain", "list", "--host", "embedded:host", "--json");
        Assert.Equal("a", JsonDocument.Parse(list.StdOut).RootElement[0].GetProperty("name").GetString());

        var next = await Run("apply", "--auto-approve");
        Assert.Equal(0, next.ExitCode);
        Assert.Empty(Directory.EnumerateFiles(P("saves"), ".xeniac-tmp-*"));
        using var reader = SaveFileReader.Open(P("saves/a.xlsave"));
        Assert.Equal(SaveFileConfigFormat.Json, reader.Header.ConfigFormat);
        Assert.Equal(0, (await Run("savefile", "verify", "saves/a.xlsave")).ExitCode);
        Assert.Equal(0, (await Run("plan", "--detailed-exitcode")).ExitCode);
    }

    [Fact]
    public async Task Concurrent_applies_do_not_interleave_the_second_fails_at_once_or_waits()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a", memory: 32));
        Manifest("  - name: a\n    config: a.cfg\n    state: saved\n");

        using var first = Start(["apply", "--auto-approve"], new() { ["XENIAC_EMBEDDED_THROTTLE_MIBS"] = "16" });
        await WaitFor(() => File.Exists(P("host/locks/apply.lock.owner")));

        var refused = await Run("apply", "--auto-approve");
        Assert.Equal(1, refused.ExitCode);
        Assert.True(refused.StdErr.Contains($"locked by process {first.Id}"), refused.StdErr);

        var waited = await Run("apply", "--auto-approve", "--lock-timeout", "2m");
        Assert.True(first.HasExited);
        Assert.Equal(0, first.ExitCode);
        Assert.Equal(0, waited.ExitCode);
        Assert.Contains("No changes", waited.StdOut);

        var ids = File.ReadAllLines(P(".xen-iac/journal.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("applyId").GetString()).Distinct();
        Assert.Single(ids);
    }

    [Fact]
    public async Task Apply_without_a_terminal_needs_auto_approve_and_touches_nothing()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        Manifest("  - name: a\n    config: a.cfg\n");
        var result = await Run("apply");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--auto-approve", result.StdErr);
        Assert.False(Directory.Exists(P("host")));
    }

    [Fact]
    public async Task Manifest_errors_print_file_line_and_column_and_exit_1()
    {
        Manifest("  - name: a\n    state: sleeping\n");
        var result = await Run("plan");
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: xen-iac.yaml:5:12: 'state' must be one of", result.StdErr);
    }

    [Fact]
    public async Task Targets_and_parallelism_are_validated()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        Manifest("  - name: a\n    config: a.cfg\n");
        Assert.Contains("nope", (await Run("plan", "--target", "nope")).StdErr);
        var bad = await Run("apply", "--auto-approve", "--parallelism", "0");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("--parallelism", bad.StdErr);
    }

    [Fact]
    public async Task Schema_prints_the_manifest_json_schema()
    {
        var result = await Run("schema");
        Assert.Equal(0, result.ExitCode);
        var schema = JsonDocument.Parse(result.StdOut).RootElement;
        Assert.Equal("XenIac manifest", schema.GetProperty("title").GetString());
        Assert.True(schema.GetProperty("properties").TryGetProperty("domains", out _));
    }

    private Process Start(string[] args, Dictionary<string, string> environment)
    {
        var p = CliRunner.Start(args, _dir, environment);
        _ = p.StandardError.ReadToEndAsync();
        return p;
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException("condition not met within 60 s");
            await Task.Delay(25);
        }
    }
}

public sealed class ManifestErrorOutputTests
{
    [Fact]
    public async Task Every_manifest_error_gets_its_own_located_error_line()
    {
        var dir = Directory.CreateTempSubdirectory("xeniac-cli-manifest-").FullName;
        File.WriteAllText(Path.Combine(dir, "m.yaml"), "domains:\n  - name: a\n    chekpoint: true\n  - name: a\n");
        var result = await CliRunner.RunAsync(["plan", "-f", "m.yaml"], workingDirectory: dir);
        Assert.Equal(1, result.ExitCode);
        var lines = result.StdErr.TrimEnd().Split('\n');
        Assert.Equal(["error: m.yaml:4:11: duplicate domain", "error: m.yaml:3:5: unknown key"],
            lines.Select(l => string.Join(' ', l.Split(' ').Take(4))));
    }
}

public sealed class TerminationTests
{
    /// <summary>
    /// A domain of 64 MiB in an embedded host in <paramref name="dir"/>, being saved at 8 MiB/s by a background
    /// xen-iac: returned once its temp savefile holds more than 1 MiB, so a signal lands mid-save.
    /// </summary>
    private static async Task<System.Diagnostics.Process> StartThrottledSaveAsync(string dir)
    {
        File.WriteAllText(Path.Combine(dir, "a.cfg"), "name = \"a\"\ntype = \"hvm\"\nmemory = 64\n");
        Assert.Equal(0, (await CliRunner.RunAsync(["domain", "create", "a.cfg", "--host", "embedded:h"], workingDirectory: dir)).ExitCode);
        var save = CliRunner.Start(["domain", "save", "a", "a.xlsave", "--host", "embedded:h"], dir,
            new Dictionary<string, string> { ["XENIAC_EMBEDDED_THROTTLE_MIBS"] = "8" });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!Directory.EnumerateFiles(dir, ".xeniac-tmp-*").Any(f => new FileInfo(f).Length > 1 << 20))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the save never started");
            await Task.Delay(20);
        }
        return save;
    }

    [Fact]
    public async Task Sigterm_during_a_save_cleans_up_and_exits_1_with_one_error_line()
    {
        var dir = Directory.CreateTempSubdirectory("xeniac-sigterm-").FullName;
        using var save = await StartThrottledSaveAsync(dir);
        var stderr = save.StandardError.ReadToEndAsync();

        System.Diagnostics.Process.Start("kill", ["-TERM", save.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        await save.WaitForExitAsync();

        Assert.Equal(1, save.ExitCode);
        Assert.Equal("error: cancelled; savefiles are replaced only when complete, so none was left half-written", (await stderr).Trim());
        Assert.Empty(Directory.EnumerateFiles(dir, ".xeniac-tmp-*"));
        Assert.False(File.Exists(Path.Combine(dir, "a.xlsave")));
        var list = await CliRunner.RunAsync(["domain", "list", "--host", "embedded:h", "--json"], workingDirectory: dir);
        Assert.Contains("\"Running\"", list.StdOut);
    }

    [Fact]
    public async Task A_cancelled_command_that_writes_no_savefile_says_cancelled_alone()
    {
        // `savefile verify` of a FIFO nobody writes waits for its writer; the line said no savefile was left half-written.
        var dir = Directory.CreateTempSubdirectory("xeniac-sigterm-").FullName;
        try
        {
            var fifo = Path.Combine(dir, "in.xlsave");
            System.Diagnostics.Process.Start("mkfifo", [fifo])!.WaitForExit();
            using var verify = CliRunner.Start(["savefile", "verify", fifo], dir, new Dictionary<string, string>());
            var stderr = verify.StandardError.ReadToEndAsync();
            await Task.Delay(1500);
            System.Diagnostics.Process.Start("kill", ["-TERM", verify.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            await verify.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal((1, "error: cancelled"), (verify.ExitCode, (await stderr).Trim()));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>
    /// GNU timeout signals the tool and its process group, so one request arrives as two SIGTERMs at once; the second
    /// was taken as "end now", which left the partial savefile (GiBs for a big domain) beside the target for good.
    /// </summary>
    [Fact]
    public async Task Two_sigterms_at_once_are_one_request_the_save_is_cancelled_and_its_temp_file_removed()
    {
        var dir = Directory.CreateTempSubdirectory("xeniac-sigterm-").FullName;
        try
        {
            using var save = await StartThrottledSaveAsync(dir);
            var stderr = save.StandardError.ReadToEndAsync();

            // Two kills 5 ms apart, as timeout's pair (at once they sometimes merge into one pending signal; measured: before the fix nearly every such
            // pair ended the process by the signal, 143, with the temp file left).
            var pid = save.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
            System.Diagnostics.Process.Start("sh", ["-c", $"kill -TERM {pid}; sleep 0.005; kill -TERM {pid}"])!.WaitForExit();
            await save.WaitForExitAsync();

            Assert.Equal(1, save.ExitCode);
            Assert.StartsWith("error: cancelled;", (await stderr).Trim());
            Assert.Empty(Directory.EnumerateFiles(dir, ".xeniac-tmp-*"));
            Assert.False(File.Exists(Path.Combine(dir, "a.xlsave")));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
