using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace XenIac.Cli.Tests;

/// <summary>
/// Saved plans (plan --out, apply FILE, show FILE), drift (drift, plan --refresh-only), glob and label targets and
/// -replace, end to end: the real tool process on temp folders with the embedded host.
/// </summary>
public sealed class GitOpsCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-cli-gitops-").FullName;

    private string P(string name) => Path.Combine(_dir, name);

    private static string Cfg(string name) =>
        $"name = \"{name}\"\ntype = \"hvm\"\nmemory = 4\nvcpus = 1\ndisk = [ '/srv/{name}.img,raw,xvda,rw' ]\nvif = [ 'mac=00:16:3e:00:00:01' ]\n";

    private const string Domains = """
          - name: web-1
            config: web-1.cfg
            labels: {rack: a, tier: web}
          - name: web-2
            config: web-2.cfg
            state: saved
            labels: {rack: b, tier: web}
          - name: db
            config: db.cfg
            state: saved
            labels: {rack: a}

        """;

    public GitOpsCommandTests() => Setup(_dir);

    private static void Setup(string dir)
    {
        foreach (var n in new[] { "web-1", "web-2", "db" }) File.WriteAllText(Path.Combine(dir, n + ".cfg"), Cfg(n));
        WriteManifest(dir, Domains);
    }

    private static void WriteManifest(string dir, string domains) =>
        File.WriteAllText(Path.Combine(dir, "xen-iac.yaml"), $"defaults:\n  host: embedded:host\ndomains:\n{domains}");

    private Task<CliResult> Run(params string[] args) => CliRunner.RunAsync(args, workingDirectory: _dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static string[] ErrorLines(CliResult r) => r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>One line, starting "error:", and exit 1: what every refusal looks like.</summary>
    private static void AssertOneError(CliResult r, string contains)
    {
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(ErrorLines(r));
        Assert.StartsWith("error: ", line);
        Assert.Contains(contains, line);
    }

    private async Task<string> DomainsOnHost(string? dir = null)
    {
        var list = await CliRunner.RunAsync(["domain", "list", "--host", "embedded:host", "--json"], workingDirectory: dir ?? _dir);
        return string.Join(",", JsonDocument.Parse(list.StdOut).RootElement.EnumerateArray()
            .Select(d => d.GetProperty("name").GetString() + ":" + d.GetProperty("state").GetString()).Order());
    }

    [Fact]
    public async Task A_fresh_saved_plan_applied_gives_what_apply_gives_and_asks_nothing()
    {
        var other = Directory.CreateTempSubdirectory("xeniac-cli-gitops-direct-").FullName;
        try
        {
            Setup(other);
            Assert.Equal(0, (await CliRunner.RunAsync(["apply", "--auto-approve"], workingDirectory: other)).ExitCode);

            // A name without .json: a saved plan is told from a manifest by its content.
            var plan = await Run("plan", "-out", "tonight.plan");
            Assert.Equal(0, plan.ExitCode);
            Assert.Contains("Saved the plan to tonight.plan", plan.StdOut);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(P("tonight.plan")));
            Assert.Empty(Directory.EnumerateFiles(_dir, ".xeniac-tmp-*"));

            // Standard input is not a terminal here: a manifest apply would demand --auto-approve, a saved plan does not.
            var apply = await Run("apply", "tonight.plan");
            Assert.True(apply.ExitCode == 0, apply.StdErr);
            Assert.Contains("Apply complete: 3 done, 0 failed", apply.StdOut);

            Assert.Equal("web-1:Running", await DomainsOnHost());
            Assert.Equal(await DomainsOnHost(other), await DomainsOnHost());
            foreach (var f in new[] { "web-2.xlsave", "db.xlsave" })
            {
                Assert.True(File.Exists(Path.Combine(other, "saves", f)));
                Assert.Equal(new FileInfo(Path.Combine(other, "saves", f)).Length, new FileInfo(P("saves/" + f)).Length);
            }
            Assert.Equal(0, (await Run("plan", "--detailed-exitcode")).ExitCode);

            // Applied once, the plan is used up: what it saw is gone.
            AssertOneError(await Run("apply", "tonight.plan"), "is stale");
        }
        finally
        {
            try { Directory.Delete(other, true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task A_saved_plan_is_refused_as_stale_after_a_domain_is_started_by_hand_and_nothing_is_applied()
    {
        WriteManifest(_dir, "  - name: db\n    config: db.cfg\n    state: saved\n");
        Assert.Equal(0, (await Run("apply", "--auto-approve")).ExitCode);
        WriteManifest(_dir, Domains);
        Assert.Equal(0, (await Run("plan", "--out", "p.json")).ExitCode);

        Assert.Equal(0, (await Run("domain", "restore", "saves/db.xlsave", "--host", "embedded:host", "--trust-config")).ExitCode);
        var stale = await Run("apply", "p.json", "--auto-approve");
        AssertOneError(stale, "saved plan p.json is stale: db: the domain was not running when the plan was made and now runs as domid");
        Assert.Contains("xen-iac plan --out", stale.StdErr);
        // web-1 and web-2 were to be created: nothing was.
        Assert.Equal("db:Running", await DomainsOnHost());
        Assert.False(File.Exists(P("saves/web-2.xlsave")));

        // Created by hand (domain create) between plan and apply: stale as well.
        Assert.Equal(0, (await Run("domain", "destroy", "db", "--host", "embedded:host")).ExitCode);
        Assert.Equal(0, (await Run("plan", "--out", "p.json")).ExitCode);
        Assert.Equal(0, (await Run("domain", "create", "web-1.cfg", "--host", "embedded:host")).ExitCode);
        AssertOneError(await Run("apply", "p.json"), "web-1: the domain was not running when the plan was made and now runs as domid");
        Assert.Equal("web-1:Running", await DomainsOnHost());
    }

    [Fact]
    public async Task A_saved_plan_is_refused_as_stale_after_the_manifest_or_a_config_is_edited()
    {
        Assert.Equal(0, (await Run("plan", "--out", "p.json")).ExitCode);
        File.AppendAllText(P("xen-iac.yaml"), "# reviewed\n");
        AssertOneError(await Run("apply", "p.json"), $"the manifest {P("xen-iac.yaml")} changed since the plan was made");

        Assert.Equal(0, (await Run("plan", "--out", "p.json")).ExitCode);
        File.WriteAllText(P("db.cfg"), Cfg("db").Replace("memory = 4", "memory = 8"));
        AssertOneError(await Run("apply", "p.json"), $"{P("db.cfg")} changed since the plan was made");
        Assert.Equal("", await DomainsOnHost());
        Assert.False(Directory.Exists(P("saves")));
    }

    [Fact]
    public async Task A_saved_plan_carries_its_options_and_refuses_new_ones()
    {
        Assert.Equal(0, (await Run("plan", "--out", "p.json", "--target", "label:rack=a")).ExitCode);
        AssertOneError(await Run("apply", "p.json", "--target", "db"), "carries its own --target");
        AssertOneError(await Run("apply", "p.json", "-f", "xen-iac.yaml"), "not both");
        var apply = await Run("apply", "p.json");
        Assert.Equal(0, apply.ExitCode);
        Assert.Contains("Apply complete: 2 done", apply.StdOut);
        Assert.Equal("web-1:Running", await DomainsOnHost());
        Assert.True(File.Exists(P("saves/db.xlsave")));
        Assert.False(File.Exists(P("saves/web-2.xlsave")));
    }

    [Fact]
    public async Task Apply_FILE_with_a_manifest_is_apply_f()
    {
        File.Copy(P("xen-iac.yaml"), P("other.yaml"));
        File.Delete(P("xen-iac.yaml"));
        var apply = await Run("apply", "other.yaml", "--auto-approve", "--target", "db");
        Assert.True(apply.ExitCode == 0, apply.StdErr);
        Assert.True(File.Exists(P("saves/db.xlsave")));
    }

    [Fact]
    public async Task Show_prints_a_saved_plan_as_plan_does_and_its_json_with_what_it_observed()
    {
        Assert.Equal(0, (await Run("apply", "--auto-approve", "--target", "db")).ExitCode);
        var plan = await Run("plan", "--out", "p.json");
        var planJson = JsonNode.Parse((await Run("plan", "--json")).StdOut)!;

        var show = await Run("show", "p.json");
        Assert.Equal(0, show.ExitCode);
        var planLines = plan.StdOut.TrimEnd().Split('\n');
        Assert.StartsWith("Saved the plan to p.json", planLines[^1]);
        Assert.Equal(string.Join('\n', planLines[..^1]), show.StdOut.TrimEnd());
        Assert.Contains("Plan: 1 to create, 1 to save, 1 unchanged.", show.StdOut);

        var json = JsonNode.Parse((await Run("show", "p.json", "--json")).StdOut)!;
        var domains = json["domains"]!.AsArray();
        Assert.Equal(3, domains.Count);
        foreach (var (saved, now) in domains.Zip(planJson["domains"]!.AsArray()))
        {
            var observed = saved!["observed"]!;
            saved.AsObject().Remove("observed");
            Assert.True(JsonNode.DeepEquals(now, saved), $"{now}\n!=\n{saved}");
            Assert.NotNull(observed["savefile"]);
        }
        var db = JsonNode.Parse((await Run("show", "p.json", "--json")).StdOut)!["domains"]!.AsArray().Single(d => d!["name"]!.GetValue<string>() == "db")!;
        var savefile = db["observed"]!["savefile"]!;
        Assert.True(savefile["exists"]!.GetValue<bool>());
        Assert.Equal(new FileInfo(P("saves/db.xlsave")).Length, savefile["size"]!.GetValue<long>());
        Assert.Matches("^[0-9a-f]{64}$", savefile["headSha256"]!.GetValue<string>());
        Assert.Null(db["observed"]!["domain"]);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(P("xen-iac.yaml")))), json["saved"]!["manifest"]!["sha256"]!.GetValue<string>());
        Assert.Equal(1, json["saved"]!["version"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_damaged_saved_plan_is_one_error_line_and_exit_1_for_apply_and_show()
    {
        Assert.Equal(0, (await Run("plan", "--out", "p.json")).ExitCode);
        var good = File.ReadAllText(P("p.json"));

        File.WriteAllText(P("truncated.json"), good[..(good.Length / 2)]);
        AssertOneError(await Run("apply", "truncated.json"), "truncated.json: not a valid saved plan");
        AssertOneError(await Run("show", "truncated.json"), "truncated.json: not a valid saved plan");

        // Any edit breaks the seal: a plan changed after review (a savefile path, a host, trustConfig) is not applied.
        foreach (var (from, to) in new[] { ("\"action\": \"create\"", "\"action\": \"destroy\""), ("\"trustConfig\": false", "\"trustConfig\": true"),
                     ("\"reason\": \"not running", "\"reason\": \"running") })
        {
            Assert.Contains(from, good);
            File.WriteAllText(P("edited.json"), good.Replace(from, to));
            AssertOneError(await Run("apply", "edited.json", "--auto-approve"), "edited.json: not a valid saved plan: its contents do not match its seal");
        }
        Assert.Equal("", await DomainsOnHost());

        // Behind the seal (a plan another writer sealed), the checks still hold.
        File.WriteAllText(P("edited.json"), good.Replace("\"action\": \"create\"", "\"action\": \"reboot\""));
        XenIac.Reconciler.Planning.SavedPlan.ResealForTests(P("edited.json"));
        AssertOneError(await Run("apply", "edited.json"), "unknown action 'reboot'");

        File.WriteAllText(P("newer.json"), good.Replace("\"version\": 1,", "\"version\": 2,"));
        AssertOneError(await Run("show", "newer.json", "--json"), "format version 2 is newer");

        File.WriteAllText(P("escape.json"), good.Replace("\"reason\": \"not running", "\"reason\": \"\\u001b[2J not running"));
        XenIac.Reconciler.Planning.SavedPlan.ResealForTests(P("escape.json"));
        var shown = await Run("show", "escape.json");
        Assert.Equal(0, shown.ExitCode);
        Assert.DoesNotContain('\u001b', shown.StdOut);

        await File.WriteAllBytesAsync(P("noise.bin"), RandomNumberGenerator.GetBytes(4096));
        AssertOneError(await Run("show", "noise.bin"), "is not a saved plan");
        Assert.Equal(1, (await Run("apply", "noise.bin", "--auto-approve")).ExitCode);
        Assert.Equal("", await DomainsOnHost());
    }

    [Fact]
    public async Task Plan_out_refuses_a_folder_that_does_not_exist_and_a_plan_with_errors()
    {
        AssertOneError(await Run("plan", "--out", "nowhere/p.json"), "does not exist");
        WriteManifest(_dir, "  - name: db\n    state: saved\n");
        var failed = await Run("plan", "--out", "p.json");
        Assert.Equal(1, failed.ExitCode);
        Assert.Contains("it was not saved", failed.StdErr);
        Assert.False(File.Exists(P("p.json")));
    }

    [Fact]
    public async Task Drift_exits_0_without_drift_and_2_with_it_and_reports_json_without_planning_fixes()
    {
        Assert.Equal(0, (await Run("apply", "--auto-approve")).ExitCode);
        var none = await Run("drift", "--detailed-exitcode");
        Assert.Equal(0, none.ExitCode);
        Assert.Contains("No drift: reality matches the manifest (3 domains checked).", none.StdOut);
        Assert.Equal(0, (await Run("plan", "--refresh-only", "--detailed-exitcode")).ExitCode);

        Assert.Equal(0, (await Run("domain", "restore", "saves/db.xlsave", "--host", "embedded:host", "--trust-config")).ExitCode);
        Assert.Equal(0, (await Run("domain", "destroy", "web-1", "--host", "embedded:host")).ExitCode);
        File.Delete(P("saves/web-2.xlsave"));

        var drift = await Run("drift", "--detailed-exitcode");
        Assert.Equal(2, drift.ExitCode);
        Assert.Matches(@"db\s+running\s+running as domid \d+ \(desired saved\)", drift.StdOut);
        Assert.Matches(@"web-1\s+not-running", drift.StdOut);
        Assert.Matches(@"web-2\s+savefile-missing", drift.StdOut);
        Assert.Contains("Drift: 3 of 3 domains differ from the manifest.", drift.StdOut);
        // Observations, not fixes.
        Assert.DoesNotContain("restore", drift.StdOut);
        Assert.DoesNotContain("to save", drift.StdOut);
        Assert.Equal(0, (await Run("drift")).ExitCode);

        var refresh = await Run("plan", "--refresh-only", "--detailed-exitcode", "--json");
        Assert.Equal(2, refresh.ExitCode);
        var json = JsonNode.Parse(refresh.StdOut)!;
        Assert.True(json["drift"]!.GetValue<bool>());
        Assert.False(json["errors"]!.GetValue<bool>());
        Assert.Equal(3, json["summary"]!["drifted"]!.GetValue<int>());
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", json["checkedAt"]!.GetValue<string>());
        var db = json["domains"]!.AsArray().Single(d => d!["name"]!.GetValue<string>() == "db")!;
        Assert.Equal("running", db["drift"]![0]!["kind"]!.GetValue<string>());
        Assert.True(db["running"]!.GetValue<bool>());
        Assert.Equal("saved", db["desiredState"]!.GetValue<string>());

        // Nothing was changed by looking.
        Assert.Equal("db:Running", await DomainsOnHost());

        var scoped = await Run("drift", "--target", "label:tier=web", "--json", "--detailed-exitcode");
        Assert.Equal(2, scoped.ExitCode);
        Assert.Equal(["web-1", "web-2"], JsonNode.Parse(scoped.StdOut)!["domains"]!.AsArray().Select(d => d!["name"]!.GetValue<string>()));
        AssertOneError(await Run("plan", "--refresh-only", "--out", "p.json"), "--refresh-only");

        // A folder where web-2's savefile belongs is no savefile, as plan says; it was reported "missing".
        Directory.CreateDirectory(P("saves/web-2.xlsave"));
        var folder = await Run("drift");
        Assert.Matches(@"web-2\s+savefile-invalid\s+.*web-2.xlsave is a folder, not a savefile", folder.StdOut);
    }

    [SkippableFact]
    public async Task Drift_with_a_host_that_cannot_be_asked_exits_1_and_says_so()
    {
        Skip.If(File.Exists("/dev/xen/privcmd"), "this machine is a Xen dom0: the libxl host can be asked");
        WriteManifest(_dir, "  - name: db\n    config: db.cfg\n    host: libxl\n  - name: web-1\n    config: web-1.cfg\n");
        var drift = await Run("drift", "--detailed-exitcode");
        Assert.Equal(1, drift.ExitCode);
        // web-1 was never created: drift, on the host that could be asked.
        Assert.Contains("Drift: 1 of 1 domain differ from the manifest. 1 domain could not be checked.", drift.StdOut);
        Assert.StartsWith("error: db: host: ", Assert.Single(ErrorLines(drift)));
        var only = await Run("drift", "--target", "db");
        Assert.Equal(1, only.ExitCode);
        Assert.Contains("No drift in the 0 domains checked. 1 domain could not be checked.", only.StdOut);
        var json = JsonNode.Parse((await Run("drift", "--json")).StdOut)!;
        Assert.True(json["errors"]!.GetValue<bool>());
        Assert.StartsWith("host: ", json["domains"]![0]!["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Targets_take_globs_and_label_selectors_and_one_that_selects_nothing_is_an_error()
    {
        var glob = JsonNode.Parse((await Run("plan", "--target", "web-*", "--json")).StdOut)!;
        Assert.Equal(["web-1", "web-2"], glob["domains"]!.AsArray().Select(d => d!["name"]!.GetValue<string>()));
        var single = JsonNode.Parse((await Run("plan", "--target", "web-?", "--target", "db", "--json")).StdOut)!;
        Assert.Equal(3, single["domains"]!.AsArray().Count);

        var apply = await Run("apply", "--auto-approve", "--target", "label:rack=a");
        Assert.Equal(0, apply.ExitCode);
        Assert.Equal("web-1:Running", await DomainsOnHost());
        Assert.True(File.Exists(P("saves/db.xlsave")));
        Assert.False(File.Exists(P("saves/web-2.xlsave")));

        var none = await Run("plan", "--target", "app-*");
        AssertOneError(none, "--target selects no domain of the manifest: app-* (its domains: ");
        // The manifest as a whole, not a made-up line 1 column 1 of it.
        Assert.DoesNotContain(".yaml:1:1:", none.StdErr, StringComparison.Ordinal);
        AssertOneError(await Run("plan", "--target", ""), "--target is empty");
        AssertOneError(await Run("apply", "--auto-approve", "--target", "label:rack=z"), "label:rack=z");
        AssertOneError(await Run("plan", "--target", "label:rack=="), "not a label selector");
    }

    [Fact]
    public async Task Replace_forces_a_fresh_checkpoint_or_create_shown_as_replace_requested()
    {
        Assert.Equal(0, (await Run("apply", "--auto-approve")).ExitCode);
        Assert.Equal(0, (await Run("plan", "--detailed-exitcode")).ExitCode);
        var domid = JsonDocument.Parse((await Run("domain", "list", "--host", "embedded:host", "--json")).StdOut).RootElement[0].GetProperty("domid").GetUInt32();
        var dbBefore = File.GetLastWriteTimeUtc(P("saves/db.xlsave"));

        var plan = await Run("plan", "-replace", "web-1", "--replace", "db", "--detailed-exitcode");
        Assert.Equal(2, plan.ExitCode);
        Assert.Matches(@"web-1\s+replace \(checkpoint\)\s+replace requested", plan.StdOut);
        Assert.Matches(@"db\s+replace \(create \+ save\)\s+replace requested", plan.StdOut);
        Assert.Contains("Plan: 2 to replace, 1 unchanged.", plan.StdOut);
        var json = JsonNode.Parse((await Run("plan", "-replace", "web-1", "--json")).StdOut)!;
        var web1 = json["domains"]!.AsArray().Single(d => d!["name"]!.GetValue<string>() == "web-1")!;
        Assert.Equal("replace", web1["action"]!.GetValue<string>());
        Assert.StartsWith("replace requested", web1["reason"]!.GetValue<string>());

        Assert.False(File.Exists(P("saves/web-1.xlsave")));
        var apply = await Run("apply", "--auto-approve", "-replace", "web-1", "-replace", "db");
        Assert.True(apply.ExitCode == 0, apply.StdErr);
        Assert.Contains("web-1: replace done", apply.StdOut);
        Assert.True(File.Exists(P("saves/web-1.xlsave")));
        Assert.True(File.GetLastWriteTimeUtc(P("saves/db.xlsave")) > dbBefore);
        // The running domain was checkpointed, not restarted; the saved one is saved again.
        Assert.Equal(domid, JsonDocument.Parse((await Run("domain", "list", "--host", "embedded:host", "--json")).StdOut).RootElement[0].GetProperty("domid").GetUInt32());
        Assert.Equal("web-1:Running", await DomainsOnHost());
        Assert.Equal(0, (await Run("plan", "--detailed-exitcode")).ExitCode);

        AssertOneError(await Run("plan", "-replace", "nope"), "--replace selects no domain");
    }

    /// <summary>
    /// plan -out over a savefile or the manifest (a typo, a swapped argument) replaced it with plan JSON and said "Saved
    /// the plan". Only a saved plan (or an empty file) is replaced, and the refusal comes before any planning.
    /// </summary>
    [Fact]
    public async Task Plan_out_replaces_only_a_saved_plan()
    {
        var manifest = File.ReadAllText(P("xen-iac.yaml"));
        File.WriteAllBytes(P("web.xlsave"), [.. "LinuxGuestRecord"u8, .. new byte[4096]]);
        foreach (var (target, kept) in new[] { ("xen-iac.yaml", manifest), ("web-1.cfg", Cfg("web-1")) })
        {
            AssertOneError(await Run("plan", "--out", target), "exists and is not a saved plan; it is not replaced");
            Assert.Equal(kept, File.ReadAllText(P(target)));
        }
        AssertOneError(await Run("plan", "--out", "web.xlsave"), "is not a saved plan");
        Assert.Equal(4096 + 16, new FileInfo(P("web.xlsave")).Length);
        AssertOneError(await Run("plan", "--out", "-"), "'-' (standard output) is not supported");
        Assert.False(File.Exists(P("-")));
        Assert.False(Directory.Exists(P("host")), "the refusal came after planning had made the host folder");

        Assert.Equal(0, (await Run("plan", "--out", "p.json")).ExitCode);
        Assert.Equal(0, (await Run("plan", "--out", "p.json")).ExitCode);
        Assert.Equal(0, (await Run("show", "p.json")).ExitCode);
    }

    /// <summary>
    /// plan printed a manifest's savefile path with its escape sequences (the screen cleared); an error quoting a
    /// 1 MB label value was a 1 MB line.
    /// </summary>
    [Fact]
    public async Task Plan_output_spells_out_escapes_and_an_error_line_stays_short()
    {
        Directory.CreateDirectory(P("s\u001b[2Jx"));
        WriteManifest(_dir, "  - name: web-1\n    config: web-1.cfg\n    state: saved\n    savefile: \"s\\e[2Jx/web-1.xlsave\"\n");
        var plan = await Run("plan");
        Assert.Equal(0, plan.ExitCode);
        Assert.Contains(@"s\x1b[2Jx/web-1.xlsave", plan.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', plan.StdOut);

        WriteManifest(_dir, $"  - name: web-1\n    config: web-1.cfg\n    labels: {{tier: \"{new string('w', 1 << 20)}!\"}}\n");
        var refused = await Run("plan");
        Assert.Equal(1, refused.ExitCode);
        var line = Assert.Single(ErrorLines(refused));
        Assert.True(line.Length < 4200, $"{line.Length} characters");
        Assert.EndsWith("more characters)", line, StringComparison.Ordinal);
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains("xen-iac.yaml:", line, StringComparison.Ordinal);
    }
}
