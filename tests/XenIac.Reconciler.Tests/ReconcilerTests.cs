using XenIac.Core.Config;
using XenIac.Core.IO;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;
using XenIac.Reconciler.Applying;
using XenIac.Reconciler.Manifests;
using XenIac.Reconciler.Planning;

namespace XenIac.Reconciler.Tests;

/// <summary>Plan and apply against a real embedded host in a temp folder.</summary>
public sealed class ReconcilerTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-reconcile-").FullName;
    private readonly HostProvider _hosts = new();

    private string P(string name) => Path.Combine(_dir, name);
    private string HostSpec => "embedded:" + P("host");

    public static string Cfg(string name, int memory = 4, string disk = "/srv/a.img,raw,xvda,rw", string mac = "00:16:3e:00:00:01") => $"""
        name = "{name}"
        type = "hvm"
        memory = {memory}
        vcpus = 1
        disk = [ '{disk}' ]
        vif = [ 'mac={mac},bridge=xenbr0' ]
        """;

    public Task InitializeAsync()
    {
        foreach (var n in new[] { "a", "b", "c" }) File.WriteAllText(P(n + ".cfg"), Cfg(n));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _hosts.DisposeAsync();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private Manifest Manifest(string domains) =>
        ManifestLoader.Parse($"defaults:\n  host: {HostSpec}\ndomains:\n{domains}", P("xen-iac.yaml"));

    private IXenHost Host => _hosts.Get(XenIac.Hosts.HostSpec.Parse(HostSpec));

    private Task<Plan> PlanAsync(Manifest m) => Planner.PlanAsync(m, _hosts);

    private Task<ApplyResult> ApplyAsync(Manifest m, ApplyOptions? options = null) => Applier.ApplyAsync(m, _hosts, options ?? new ApplyOptions());

    private static DomainPlan Only(Plan plan) => Assert.Single(plan.Domains);

    [Fact]
    public async Task Running_without_savefile_creates_and_a_second_apply_has_nothing_to_do()
    {
        var m = Manifest("  - name: a\n    config: a.cfg\n");
        var plan = await PlanAsync(m);
        Assert.Equal(PlanAction.Create, Only(plan).Action);

        var result = await ApplyAsync(m);
        Assert.True(result.Succeeded);
        Assert.NotNull(await Host.FindDomainAsync("a"));

        var again = await ApplyAsync(m);
        Assert.Empty(again.Results);
        Assert.False(again.Plan.HasChanges);
    }

    [Fact]
    public async Task Saved_with_nothing_yet_creates_then_saves_and_leaves_the_domain_stopped()
    {
        var m = Manifest("  - name: a\n    config: a.cfg\n    state: saved\n");
        Assert.Equal([PlanAction.Create, PlanAction.Save], Only(await PlanAsync(m)).Steps);

        Assert.True((await ApplyAsync(m)).Succeeded);

        Assert.Null(await Host.FindDomainAsync("a"));
        using var reader = SaveFileReader.Open(P("saves/a.xlsave"));
        Assert.Equal(SaveFileConfigFormat.Json, reader.Header.ConfigFormat);
        Assert.Equal(PlanAction.None, Only(await PlanAsync(m)).Action);
    }

    [Fact]
    public async Task Running_domain_desired_saved_is_saved_and_desired_absent_is_destroyed_keeping_its_savefile()
    {
        await Host.CreateAsync(ConfigText.FromText(Cfg("a")));
        await Host.CreateAsync(ConfigText.FromText(Cfg("b")));
        var m = Manifest("  - name: a\n    state: saved\n  - name: b\n    state: absent\n");
        var plan = await PlanAsync(m);
        Assert.Equal([PlanAction.Save, PlanAction.Destroy], plan.Domains.Select(d => d.Action));

        Assert.True((await ApplyAsync(m)).Succeeded);
        Assert.Empty(await Host.ListDomainsAsync());
        Assert.True(File.Exists(P("saves/a.xlsave")));
    }

    [Fact]
    public async Task Saved_domain_desired_running_is_restored_with_its_memory()
    {
        await Host.CreateAsync(ConfigText.FromText(Cfg("a")));
        await Host.SaveAsync("a", P("saves/a.xlsave"), SaveOptions.Default);
        // The manifest's config names the same disk as the stored config: the operator has agreed to what it opens.
        var m = Manifest("  - name: a\n    config: a.cfg\n");
        Assert.Equal(PlanAction.Restore, Only(await PlanAsync(m)).Action);
        Assert.True((await ApplyAsync(m)).Succeeded);
        Assert.Equal(DomainState.Running, (await Host.FindDomainAsync("a"))!.State);
    }

    [Fact]
    public async Task Checkpoint_domains_get_a_savefile_and_keep_running()
    {
        await Host.CreateAsync(ConfigText.FromText(Cfg("a")));
        var m = Manifest("  - name: a\n    checkpoint: true\n");
        Assert.Equal(PlanAction.Checkpoint, Only(await PlanAsync(m)).Action);
        Assert.True((await ApplyAsync(m)).Succeeded);
        Assert.NotNull(await Host.FindDomainAsync("a"));
        Assert.True(File.Exists(P("saves/a.xlsave")));
        Assert.Equal(PlanAction.None, Only(await PlanAsync(m)).Action);
    }

    [Fact]
    public async Task An_override_that_retargets_a_disk_is_fine_and_is_used_for_the_restore()
    {
        await Host.CreateAsync(ConfigText.FromText(Cfg("a")));
        await Host.SaveAsync("a", P("saves/a.xlsave"), SaveOptions.Default);
        var m = Manifest("  - name: a\n    config: a.cfg\n    overrides:\n      settings:\n        disk: ['/srv/clone.qcow2,qcow2,xvda,rw']\n");

        var plan = Only(await PlanAsync(m));
        Assert.Null(plan.Error);
        Assert.Contains(plan.Findings, f => f.Setting.Contains("target") && f.New == "/srv/clone.qcow2");

        Assert.True((await ApplyAsync(m)).Succeeded);
        Assert.Contains("/srv/clone.qcow2", (await Host.GetConfigAsync("a")).Text);
    }

    [Fact]
    public async Task An_incompatible_override_blocks_the_restore_unless_forced()
    {
        await Host.CreateAsync(ConfigText.FromText(Cfg("a")));
        await Host.SaveAsync("a", P("saves/a.xlsave"), SaveOptions.Default);
        File.WriteAllText(P("a-bad.cfg"), Cfg("a", mac: "00:16:3e:99:99:99"));
        var m = Manifest("  - name: a\n    overrides:\n      config: a-bad.cfg\n");

        var plan = Only(await PlanAsync(m));
        Assert.NotNull(plan.Error);
        Assert.Contains("incompatible", plan.Error);
        var result = await ApplyAsync(m);
        Assert.False(result.Succeeded);
        Assert.Null(await Host.FindDomainAsync("a"));

        var forced = Manifest("  - name: a\n    force: true\n    overrides:\n      config: a-bad.cfg\n");
        Assert.Null(Only(await PlanAsync(forced)).Error);
        Assert.True((await ApplyAsync(forced)).Succeeded);
    }

    [Fact]
    public async Task One_failing_domain_leaves_the_others_done_and_everything_is_journaled()
    {
        Directory.CreateDirectory(P("saves"));
        File.WriteAllText(P("saves/b.xlsave"), "not a savefile");
        var m = Manifest("  - name: a\n    config: a.cfg\n  - name: b\n  - name: c\n    config: c.cfg\n");

        var result = await ApplyAsync(m);

        Assert.False(result.Succeeded);
        Assert.Contains("not a valid savefile", result.Plan.Domains[1].Error);
        Assert.All(result.Results, r => Assert.True(r.Succeeded));
        // Domains are worked on in parallel, so their domids (and list order) follow whichever registered first.
        Assert.Equal(["a", "c"], (await Host.ListDomainsAsync()).Select(d => d.Name).Order());
        var journal = Journal.Read(result.JournalPath);
        Assert.Equal(4, journal.Count);
        Assert.All(journal, e => Assert.Equal(journal[0].ApplyId, e.ApplyId));
        Assert.Equal(2, journal.Count(e => e.Outcome == StepOutcome.Succeeded));
    }

    [Fact]
    public async Task A_step_that_fails_while_running_is_reported_and_journaled_as_failed()
    {
        await Host.CreateAsync(ConfigText.FromText(Cfg("a")));
        await Host.SaveAsync("a", P("saves/a.xlsave"), new SaveOptions { Mode = SaveMode.Checkpoint });
        await Host.DestroyAsync("a");
        // Desired running with a valid savefile that is gone by the time apply restores it (removed after the plan
        // was approved).
        var m = Manifest("  - name: a\n    config: a.cfg\n");
        var result = await ApplyAsync(m, new ApplyOptions
        {
            Confirm = (_, _) => { File.Delete(P("saves/a.xlsave")); return Task.FromResult(true); },
        });
        var failed = Assert.Single(result.Results);
        Assert.False(failed.Succeeded);
        Assert.Contains("a.xlsave", failed.Error);
        Assert.Contains(Journal.Read(result.JournalPath), e => e.Outcome == StepOutcome.Failed && e.Action == PlanAction.Restore);
    }

    [Fact]
    public async Task Targets_limit_the_plan_and_unknown_targets_are_errors()
    {
        var m = Manifest("  - name: a\n    config: a.cfg\n  - name: b\n    config: b.cfg\n");
        var plan = await Planner.PlanAsync(m, _hosts, ["b"]);
        Assert.Equal("b", Only(plan).Name);
        await Assert.ThrowsAsync<ManifestException>(() => Planner.PlanAsync(m, _hosts, ["nope"]));
    }

    [Fact]
    public async Task A_second_apply_on_the_same_host_fails_at_once_naming_the_holder_or_waits()
    {
        var m = Manifest("  - name: a\n    config: a.cfg\n");
        _ = Host; // the host folder exists before anyone locks inside it
        using (var held = await FileLock.AcquireAsync(Hosts.HostSpec.Parse(HostSpec).ApplyLockPath, TimeSpan.Zero, "someone else's apply"))
        {
            var e = await Assert.ThrowsAsync<LockBusyException>(() => ApplyAsync(m));
            Assert.Contains($"process {Environment.ProcessId}", e.Message);
            Assert.Contains("someone else's apply", e.Message);
        }
        var waiting = FileLock.AcquireAsync(Hosts.HostSpec.Parse(HostSpec).ApplyLockPath, TimeSpan.Zero, "short");
        var holder = await waiting;
        var applying = ApplyAsync(m, new ApplyOptions { LockTimeout = TimeSpan.FromSeconds(10) });
        await Task.Delay(200);
        Assert.False(applying.IsCompleted);
        holder.Dispose();
        Assert.True((await applying).Succeeded);
    }

    [Fact]
    public async Task A_declined_confirmation_changes_nothing()
    {
        var m = Manifest("  - name: a\n    config: a.cfg\n");
        await Assert.ThrowsAsync<ApplyCancelledException>(() =>
            ApplyAsync(m, new ApplyOptions { Confirm = (_, _) => Task.FromResult(false) }));
        Assert.Empty(await Host.ListDomainsAsync());
    }

    [Fact]
    public async Task Legacy_format_saves_without_header_and_restores_with_the_manifest_config()
    {
        await Host.CreateAsync(ConfigText.FromText(Cfg("a")));
        var saved = Manifest("  - name: a\n    config: a.cfg\n    state: saved\n    format: legacy\n");
        Assert.True((await ApplyAsync(saved)).Succeeded);
        var bytes = File.ReadAllBytes(P("saves/a.img"));
        Assert.Equal("LibxlFmt"u8.ToArray(), bytes[..8]);

        var running = Manifest("  - name: a\n    config: a.cfg\n    format: legacy\n");
        Assert.Equal(PlanAction.Restore, Only(await PlanAsync(running)).Action);
        Assert.True((await ApplyAsync(running)).Succeeded);
        Assert.NotNull(await Host.FindDomainAsync("a"));
    }

    [Fact]
    public async Task Parallel_apply_of_many_domains_gives_each_its_own_domid()
    {
        var domains = string.Concat(Enumerable.Range(0, 12).Select(i =>
        {
            File.WriteAllText(P($"d{i}.cfg"), Cfg($"d{i}"));
            return $"  - name: d{i}\n    config: d{i}.cfg\n    state: saved\n";
        }));
        var result = await ApplyAsync(Manifest(domains), new ApplyOptions { Parallelism = 4 });
        Assert.True(result.Succeeded);
        Assert.Equal(12, Directory.GetFiles(P("saves"), "*.xlsave").Length);
        var ids = Enumerable.Range(0, 12).Select(i =>
        {
            using var r = SaveFileReader.Open(P($"saves/d{i}.xlsave"));
            return r.Header.ConfigText!;
        }).Distinct().Count();
        Assert.Equal(12, ids);
    }
}

/// <summary>Regressions from review: a failure never costs guest data and stays with its domain.</summary>
public sealed class ReconcilerFailureTests : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-reconcile-fail-").FullName;
    private readonly HostProvider _hosts = new();

    private string P(string name) => Path.Combine(_dir, name);
    private string HostSpec => "embedded:" + P("host");
    private IXenHost Host => _hosts.Get(XenIac.Hosts.HostSpec.Parse(HostSpec));

    private Manifest Manifest(string domains) =>
        ManifestLoader.Parse($"defaults:\n  host: {HostSpec}\ndomains:\n{domains}", P("xen-iac.yaml"));

    public async ValueTask DisposeAsync()
    {
        await _hosts.DisposeAsync();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Fact]
    public async Task A_legacy_save_that_cannot_be_written_leaves_the_domain_running()
    {
        await Host.CreateAsync(ConfigText.FromText(ReconcilerTests.Cfg("a")));
        File.WriteAllText(P("a.cfg"), ReconcilerTests.Cfg("a"));
        var m = Manifest("  - name: a\n    config: a.cfg\n    state: saved\n    format: legacy\n");

        // The target becomes a folder after the plan (a folder at plan time is a plan error): the legacy file cannot
        // be renamed into place.
        var result = await Applier.ApplyAsync(m, _hosts, new ApplyOptions
        {
            Confirm = (_, _) => { Directory.CreateDirectory(P("saves/a.img")); return Task.FromResult(true); },
        });

        Assert.False(Assert.Single(result.Results).Succeeded);
        Assert.Equal(DomainState.Running, (await Host.FindDomainAsync("a"))!.State);
        Assert.Empty(Directory.GetFiles(P("saves"), ".xeniac-tmp-*"));
    }

    [Fact]
    public async Task A_domain_whose_stored_config_is_malformed_fails_alone()
    {
        File.WriteAllText(P("b.cfg"), ReconcilerTests.Cfg("b"));
        Directory.CreateDirectory(P("saves"));
        // A savefile whose stored config asks for -5 vCPUs: the plan must refuse that domain, not crash apply.
        var header = SaveFileHeader.Create("{\"c_info\":{\"name\":\"a\",\"type\":\"hvm\"},\"b_info\":{\"max_memkb\":4096,\"max_vcpus\":-5}}", SaveFileConfigFormat.Json);
        File.WriteAllBytes(P("saves/a.xlsave"), [.. header.ToBytes(), .. "LibxlFmt"u8, .. new byte[64]]);
        var m = Manifest("  - name: a\n  - name: b\n    config: b.cfg\n");

        var result = await Applier.ApplyAsync(m, _hosts, new ApplyOptions());

        var a = result.Plan.Domains.Single(d => d.Name == "a");
        Assert.Contains("cannot read the stored config", a.Error);
        Assert.Contains("xen-iac.yaml:4:", a.Error);
        Assert.DoesNotContain(result.Results, r => r.Domain == "a");
        Assert.False(result.Succeeded);
        Assert.True(result.Results.Single(r => r.Domain == "b").Succeeded);
    }

    [Fact]
    public async Task A_legacy_savefile_with_only_an_override_config_plans_a_restore_with_it()
    {
        await Host.CreateAsync(ConfigText.FromText(ReconcilerTests.Cfg("a")));
        await Host.SaveAsync("a", P("a.xlsave"), SaveOptions.Default);
        Directory.CreateDirectory(P("saves"));
        await SaveFileRewriter.ConvertToLegacyAsync(P("a.xlsave"), P("saves/a.img"));
        File.WriteAllText(P("a-alt.cfg"), ReconcilerTests.Cfg("a"));
        var m = Manifest("  - name: a\n    format: legacy\n    overrides:\n      config: a-alt.cfg\n");

        var plan = Assert.Single((await Planner.PlanAsync(m, _hosts)).Domains);

        Assert.Null(plan.Error);
        Assert.Equal(PlanAction.Restore, plan.Action);
        Assert.True((await Applier.ApplyAsync(m, _hosts, new ApplyOptions())).Succeeded);
    }

    [Fact]
    public async Task A_torn_last_journal_line_is_skipped()
    {
        var path = P("journal.jsonl");
        var journal = new Journal(path);
        await journal.AppendAsync(new JournalEntry { ApplyId = "x", Domain = "a", Action = PlanAction.Save, Outcome = StepOutcome.Started });
        Assert.Contains("\"action\":\"save\",\"outcome\":\"started\"", File.ReadAllText(path));
        File.AppendAllText(path, "{\"time\":\"2026-11-24T00:00:00Z\",\"applyId\":\"x\",\"dom");
        Assert.Equal("a", Assert.Single(Journal.Read(path)).Domain);
    }
}
