using XenIac.Core.Config;
using System.Text;
using XenIac.Core.IO;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;
using XenIac.Reconciler.Applying;
using XenIac.Reconciler.Manifests;
using XenIac.Reconciler.Planning;

namespace XenIac.Reconciler.Tests;

/// <summary>Regressions of the independent pass: hostile YAML, unchecked configs, names, savefile paths, stored configs, locks.</summary>
public sealed class ManifestHardeningTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-harden-").FullName;
    private readonly HostProvider _hosts = new();

    private string P(string name) => Path.Combine(_dir, name);
    private string HostSpec => "embedded:" + P("host");
    private IXenHost Host => _hosts.Get(XenIac.Hosts.HostSpec.Parse(HostSpec));
    private string ManifestPath => P("xen-iac.yaml");

    private Manifest Manifest(string domains) => ManifestLoader.Parse($"defaults:\n  host: {HostSpec}\ndomains:\n{domains}", ManifestPath);

    private ManifestException Fails(string yaml) => Assert.Throws<ManifestException>(() => ManifestLoader.Parse(yaml, ManifestPath));

    private Task<Plan> PlanAsync(Manifest m, PlanOptions? options = null) => Planner.PlanAsync(m, _hosts, null, options ?? PlanOptions.Default);

    public Task InitializeAsync()
    {
        File.WriteAllText(P("a.cfg"), ReconcilerTests.Cfg("a"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _hosts.DisposeAsync();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    // ---- 1. YAML bounds and located errors ----

    private static string AliasBomb(int items, int references) =>
        $"big: &big [{string.Join(", ", Enumerable.Range(0, items))}]\n" +
        $"domains: [{string.Join(", ", Enumerable.Repeat("*big", references))}]\n";

    [Fact]
    public void An_alias_bomb_is_refused_at_the_alias_that_crosses_the_limit_with_bounded_work()
    {
        var e = Fails(AliasBomb(20_000, 900));
        var error = Assert.Single(e.Errors);
        Assert.Contains("YAML nodes, counting what aliases repeat", error.Message);
        Assert.Equal(2, error.Location.Line);

        // Work is counted, not timed: ten times the references costs about the same, because the scan stops at
        // the limit instead of expanding them.
        static long Allocated(string yaml)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            Assert.Throws<ManifestException>(() => ManifestLoader.Parse(yaml, "x.yaml"));
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        var small = Allocated(AliasBomb(20_000, 90));
        var large = Allocated(AliasBomb(20_000, 900));
        Assert.True(large < small * 3, $"{large} bytes for 900 references vs {small} for 90");
    }

    [Fact]
    public void Loading_is_linear_in_the_number_of_domains()
    {
        static long Allocated(int domains)
        {
            var yaml = "domains:\n" + string.Concat(Enumerable.Range(0, domains).Select(i => $"  - name: d{i}\n    state: saved\n    overrides:\n      settings:\n        on_crash: preserve\n"));
            var before = GC.GetAllocatedBytesForCurrentThread();
            Assert.Equal(domains, ManifestLoader.Parse(yaml, "x.yaml").Domains.Count);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Allocated(10); // warm-up: first-use costs (regexes, type loads) are not per domain
        var small = Allocated(200);
        var large = Allocated(2_000);
        Assert.InRange((double)large / small, 5, 20);
    }

    [Fact]
    public void Nested_aliases_that_would_expand_exponentially_are_refused()
    {
        var yaml = new StringBuilder("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (var i = 1; i < 10; i++)
            yaml.Append($"l{i}: &l{i} [{string.Join(", ", Enumerable.Repeat($"*l{i - 1}", 10))}]\n");
        yaml.Append("domains: []\n");
        var error = Assert.Single(Fails(yaml.ToString()).Errors);
        Assert.Contains("YAML nodes, counting what aliases repeat", error.Message);
        Assert.InRange(error.Location.Line, 5, 7);
    }

    [Fact]
    public void Too_many_aliases_are_refused_even_when_small()
    {
        var error = Assert.Single(Fails($"a: &a x\ndomains: [{string.Join(", ", Enumerable.Repeat("*a", YamlGuard.MaxAliases + 1))}]\n").Errors);
        Assert.Contains("aliases", error.Message);
        Assert.Equal(2, error.Location.Line);
    }

    [Theory]
    [InlineData("[", "]")]
    [InlineData("{a: ", "}")]
    [InlineData("- ", "")]
    public void Deep_nesting_is_a_located_error_not_a_stack_overflow(string open, string close)
    {
        var depth = 100_000;
        var yaml = open == "- "
            ? "domains:\n" + string.Concat(Enumerable.Range(0, 200).Select(i => new string(' ', i * 2) + "- \n")) + new string(' ', 400) + "x\n"
            : "domains: " + string.Concat(Enumerable.Repeat(open, depth)) + string.Concat(Enumerable.Repeat(close, depth)) + "\n";
        var error = Assert.Single(Fails(yaml).Errors);
        Assert.Contains($"deeper than {YamlGuard.MaxDepth}", error.Message);
        Assert.Equal(ManifestPath, error.Location.File);
    }

    [Fact]
    public void An_alias_to_no_anchor_is_located()
    {
        var error = Assert.Single(Fails("domains:\n  - name: *nope\n").Errors);
        Assert.Equal(2, error.Location.Line);
        Assert.Contains("*nope", error.Message);
    }

    [Fact]
    public void A_nul_in_a_path_is_a_located_manifest_error()
    {
        var e = Assert.Throws<ManifestException>(() => ManifestLoader.Load(P("x\0y.yaml")));
        Assert.Contains("NUL", e.Message);
        Assert.DoesNotContain('\0', e.Message);

        var error = Assert.Single(Fails("domains:\n  - name: a\n    config: \"a\\0.cfg\"\n").Errors);
        Assert.Equal((3, 13), (error.Location.Line, error.Location.Column));
        Assert.Contains("NUL", error.Message);
    }

    [Fact]
    public void A_manifest_path_that_is_a_folder_is_a_manifest_error()
    {
        var e = Assert.Throws<ManifestException>(() => ManifestLoader.Load(_dir));
        Assert.Contains("folder", e.Message);
    }

    [Fact]
    public void Duplicate_keys_are_located_manifest_errors()
    {
        var e = Fails("domains:\n  - name: a\n    name: b\n");
        Assert.All(e.Errors, x => Assert.Equal(ManifestPath, x.Location.File));
        Assert.Contains(e.Errors, x => x.Location.Line >= 2);
    }

    // ---- 2. override settings checked where they are written ----

    [Fact]
    public void Upper_case_and_invalid_settings_are_errors_at_their_lines()
    {
        var e = Fails("""
            domains:
              - name: a
                config: a.cfg
                overrides:
                  settings:
                    Memory: 512
                    vcpus: "two"
                    disk: [ '/srv/x.img,raw,xvda,rw' ]
            """);
        Assert.Equal(2, e.Errors.Count);
        Assert.Contains(e.Errors, x => x.Location.Line == 6 && x.Message.Contains("'Memory'") && x.Message.Contains("lower-case"));
        Assert.Contains(e.Errors, x => x.Location.Line == 7 && x.Message.Contains("vcpus"));
    }

    [Fact]
    public async Task Create_then_save_checks_the_override_against_the_config_it_is_created_from()
    {
        var m = Manifest("  - name: a\n    config: a.cfg\n    state: saved\n    overrides:\n      settings:\n        memory: 16\n");
        var plan = Assert.Single((await PlanAsync(m)).Domains);
        Assert.NotNull(plan.Error);
        Assert.Contains("memory", plan.Error);
        Assert.Contains("xen-iac.yaml:8:", plan.Error);
        Assert.Contains(plan.Findings, f => f.Setting == "memory" && f.Severity == XenIac.Core.Config.FindingSeverity.Error);

        var result = await Applier.ApplyAsync(m, _hosts, new ApplyOptions());
        Assert.False(result.Succeeded);
        Assert.Empty(result.Results);
        Assert.Empty(await Host.ListDomainsAsync());

        // A compatible override passes and is what the savefile stores.
        var ok = Manifest("  - name: a\n    config: a.cfg\n    state: saved\n    overrides:\n      settings:\n        on_crash: preserve\n");
        Assert.True((await Applier.ApplyAsync(ok, _hosts, new ApplyOptions())).Succeeded);
        using var reader = SaveFileReader.Open(P("saves/a.xlsave"));
        Assert.Contains("preserve", reader.Header.ConfigText);
    }

    // ---- 3. the manifest's name wins ----

    [Fact]
    public async Task A_config_naming_the_domain_otherwise_is_created_saved_and_restored_under_the_manifest_name()
    {
        File.WriteAllText(P("other.cfg"), ReconcilerTests.Cfg("other"));
        var saved = Manifest("  - name: a\n    config: other.cfg\n    state: saved\n");
        var plan = Assert.Single((await PlanAsync(saved)).Domains);
        Assert.Contains(plan.Warnings, w => w.Contains("'other'") && w.Contains("'a'"));
        Assert.True((await Applier.ApplyAsync(saved, _hosts, new ApplyOptions())).Succeeded);
        Assert.Equal(PlanAction.None, Assert.Single((await PlanAsync(saved)).Domains).Action);

        var running = Manifest("  - name: a\n    config: other.cfg\n");
        Assert.True((await Applier.ApplyAsync(running, _hosts, new ApplyOptions())).Succeeded);
        Assert.Equal(["a"], (await Host.ListDomainsAsync()).Select(d => d.Name));
        var after = Assert.Single((await PlanAsync(running)).Domains);
        Assert.Equal(PlanAction.None, after.Action);
        Assert.Null(after.Error);
    }

    [Fact]
    public async Task A_savefile_of_another_name_restores_under_the_manifest_name()
    {
        File.WriteAllText(P("z.cfg"), ReconcilerTests.Cfg("z"));
        await Host.CreateAsync(ConfigText.FromText(ReconcilerTests.Cfg("a")));
        await Host.SaveAsync("a", P("saves/z.xlsave"), SaveOptions.Default);
        var m = Manifest("  - name: z\n    config: z.cfg\n");
        Assert.True((await Applier.ApplyAsync(m, _hosts, new ApplyOptions())).Succeeded);
        Assert.NotNull(await Host.FindDomainAsync("z"));
        Assert.Equal(PlanAction.None, Assert.Single((await PlanAsync(m)).Domains).Action);
    }

    // ---- 4. savefile paths ----

    [Fact]
    public async Task A_savefile_path_that_is_a_folder_is_a_located_plan_error()
    {
        Directory.CreateDirectory(P("images"));
        var plan = Assert.Single((await PlanAsync(Manifest("  - name: a\n    config: a.cfg\n    savefile: images\n    state: saved\n"))).Domains);
        Assert.Contains("is a folder", plan.Error);
        Assert.Contains("xen-iac.yaml:6:15", plan.Error);
    }

    [Fact]
    public async Task A_savefile_behind_a_link_is_observed_as_the_file_it_points_to_and_a_dangling_link_as_no_savefile()
    {
        await Host.CreateAsync(ConfigText.FromText(ReconcilerTests.Cfg("a")));
        await Host.SaveAsync("a", P("real.xlsave"), SaveOptions.Default);
        File.CreateSymbolicLink(P("link.xlsave"), P("real.xlsave"));
        File.CreateSymbolicLink(P("gone.xlsave"), P("nowhere.xlsave"));

        var linked = Assert.Single((await PlanAsync(Manifest("  - name: a\n    config: a.cfg\n    savefile: link.xlsave\n    state: saved\n"))).Domains);
        Assert.True(linked.Observed.Savefile.Valid, linked.Observed.Savefile.Problem);
        // The target's size, not the link's own (a few bytes): the link is followed, not measured.
        Assert.Equal(new FileInfo(P("real.xlsave")).Length, linked.Observed.Savefile.Size);

        // Observed as missing it planned "create + save", and the save then failed: a save never replaces a link.
        var dangling = Assert.Single((await PlanAsync(Manifest("  - name: a\n    config: a.cfg\n    savefile: gone.xlsave\n    state: saved\n"))).Domains);
        Assert.True(dangling.Observed.Savefile.Exists);
        Assert.False(dangling.Observed.Savefile.Valid);
        Assert.Contains("a symbolic link to " + P("nowhere.xlsave") + ", which does not exist", dangling.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_save_the_plan_can_see_failing_is_a_plan_error_not_a_create_then_a_failed_save()
    {
        // A running domain to be saved onto a link (a save never replaces a link), and one whose savefile's folder
        // would be below a file: both planned "save", and apply then failed after changing the host.
        await Host.CreateAsync(ConfigText.FromText(ReconcilerTests.Cfg("a")));
        await Host.SaveAsync("a", P("real.xlsave"), SaveOptions.Default);
        await Host.CreateAsync(ConfigText.FromText(ReconcilerTests.Cfg("a")));
        File.CreateSymbolicLink(P("link.xlsave"), P("real.xlsave"));
        var linked = Assert.Single((await PlanAsync(Manifest("  - name: a\n    config: a.cfg\n    savefile: link.xlsave\n    state: saved\n"))).Domains);
        Assert.Contains("is a symbolic link (to " + P("real.xlsave") + ")", linked.Error, StringComparison.Ordinal);

        File.WriteAllText(P("afile"), "x");
        var below = Assert.Single((await PlanAsync(Manifest("  - name: a\n    config: a.cfg\n    savefile: afile/s/a.xlsave\n    state: saved\n"))).Domains);
        Assert.Contains(P("afile") + " is a file, not a folder", below.Error, StringComparison.Ordinal);
        Assert.Contains("xen-iac.yaml:6:15", below.Error, StringComparison.Ordinal);

        // Missing folders are no problem: the save makes them.
        var fresh = Assert.Single((await PlanAsync(Manifest("  - name: a\n    config: a.cfg\n    savefile: new/dir/a.xlsave\n    state: saved\n"))).Domains);
        Assert.Null(fresh.Error);
    }

    [Fact]
    public async Task A_config_that_does_not_parse_is_placed_at_the_config_line_and_names_its_own_file_and_line()
    {
        File.WriteAllText(P("bad.cfg"), "name = \"a\"\nmemory = 8\ntype = \n");
        var plan = Assert.Single((await PlanAsync(Manifest("  - name: a\n    state: running\n    config: bad.cfg\n"))).Domains);
        // It said "xen-iac.yaml:4:11: config /…/bad.cfg: config:3:8: …": the domain's name, and a file called "config".
        Assert.StartsWith("xen-iac.yaml:6:13: " + P("bad.cfg") + ":3:8: expected a value for 'type'", plan.Error!.Replace(ManifestPath, "xen-iac.yaml"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fifo_as_savefile_or_config_is_an_error_and_never_waited_on()
    {
        Assert.True(XenIac.Tests.Fifo.TryMake(P("fifo")), "mkfifo failed");
        var plan = Assert.Single((await PlanAsync(Manifest("  - name: a\n    config: a.cfg\n    savefile: fifo\n    state: saved\n")).WaitAsync(TimeSpan.FromSeconds(20))).Domains);
        Assert.Contains("not a regular file (a FIFO, device or socket)", plan.Error, StringComparison.Ordinal);
        var e = Assert.Throws<ManifestException>(() => Manifest("  - name: a\n    config: fifo\n"));
        Assert.Contains("'config' is not a regular file", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_file_that_is_not_a_savefile_is_never_replaced_without_force()
    {
        await Host.CreateAsync(ConfigText.FromText(ReconcilerTests.Cfg("a")));
        Directory.CreateDirectory(P("saves"));
        var precious = "my thesis, not a savefile"u8.ToArray();
        File.WriteAllBytes(P("saves/a.xlsave"), precious);
        var m = Manifest("  - name: a\n    config: a.cfg\n    state: saved\n");

        var plan = Assert.Single((await PlanAsync(m)).Domains);
        Assert.Contains("not a valid savefile", plan.Error);
        Assert.Contains("--force", plan.Error);
        var result = await Applier.ApplyAsync(m, _hosts, new ApplyOptions());
        Assert.Empty(result.Results);
        Assert.Equal(precious, File.ReadAllBytes(P("saves/a.xlsave")));
        Assert.NotNull(await Host.FindDomainAsync("a"));

        // The same for a checkpoint of a running domain.
        var checkpoint = Manifest("  - name: a\n    config: a.cfg\n    checkpoint: true\n");
        Assert.Contains("--force", Assert.Single((await PlanAsync(checkpoint)).Domains).Error);

        var forced = Assert.Single((await PlanAsync(m, new PlanOptions { ReplaceInvalidSavefiles = true })).Domains);
        Assert.Null(forced.Error);
        Assert.True((await Applier.ApplyAsync(m, _hosts, new ApplyOptions { ReplaceInvalidSavefiles = true })).Succeeded);
        Assert.NotEqual(precious, File.ReadAllBytes(P("saves/a.xlsave")));
    }

    [Fact]
    public async Task A_savefile_outside_the_manifest_folder_is_a_warning()
    {
        var outside = Path.Combine(Path.GetDirectoryName(_dir)!, Path.GetFileName(_dir) + "-elsewhere.xlsave");
        var plan = await PlanAsync(Manifest($"  - name: a\n    config: a.cfg\n    savefile: ../{Path.GetFileName(outside)}\n  - name: b\n    config: a.cfg\n"));
        Assert.Contains(plan.Domains[0].Warnings, w => w.Contains("outside the manifest's folder") && w.Contains(outside));
        Assert.DoesNotContain(plan.Domains[1].Warnings, w => w.Contains("outside"));
    }

    // ---- 5. untrusted stored configs ----

    private async Task SaveWithStoredConfig(string storedConfig)
    {
        await Host.CreateAsync(ConfigText.FromText(ReconcilerTests.Cfg("a")));
        await Host.SaveAsync("a", P("saves/a.xlsave"), new SaveOptions { AlternativeConfig = ConfigText.FromText(storedConfig) });
    }

    [Fact]
    public async Task A_stored_config_that_runs_programs_on_dom0_is_refused_unless_trusted()
    {
        await SaveWithStoredConfig(ReconcilerTests.Cfg("a", disk: "/srv/a.img,raw,xvda,rw,script=/tmp/evil") + "\ndevice_model_override = \"/tmp/qemu-evil\"\n");
        var m = Manifest("  - name: a\n    config: a.cfg\n");

        var plan = Assert.Single((await PlanAsync(m)).Domains);
        Assert.NotNull(plan.Error);
        Assert.Contains("device_model_override", plan.Error);
        Assert.Contains("disk[0].script", plan.Error);
        Assert.Contains("trustConfig", plan.Error);
        Assert.DoesNotContain("disk[0].target", plan.Error); // the manifest's own config names that disk
        var refused = await Applier.ApplyAsync(m, _hosts, new ApplyOptions());
        Assert.Empty(refused.Results);
        Assert.Null(await Host.FindDomainAsync("a"));

        var flagged = Assert.Single((await PlanAsync(m, new PlanOptions { TrustConfig = true })).Domains);
        Assert.Null(flagged.Error);
        Assert.Contains(flagged.Warnings, w => w.Contains("device_model_override"));

        var trusted = Manifest("  - name: a\n    config: a.cfg\n    trustConfig: true\n");
        Assert.True((await Applier.ApplyAsync(trusted, _hosts, new ApplyOptions())).Succeeded);
    }

    [Fact]
    public async Task Without_a_config_of_its_own_every_host_path_of_the_stored_config_needs_trust()
    {
        await SaveWithStoredConfig(ReconcilerTests.Cfg("a"));
        var plan = Assert.Single((await PlanAsync(Manifest("  - name: a\n"))).Domains);
        Assert.Contains("disk[0].target = /srv/a.img", plan.Error);
        Assert.DoesNotContain("vif[0]", plan.Error); // no script named: xl's default, installed by Xen
    }
    [Fact]
    public void A_byte_that_is_not_utf8_is_an_error_at_its_line_and_column_not_a_replacement_character()
    {
        // "saves/caf\xE9.xlsave" in Latin-1: read leniently, the domain's savefile would be a path nobody wrote.
        var bytes = Encoding.UTF8.GetBytes($"defaults:\n  host: {HostSpec}\ndomains:\n  - name: a\n    savefile: saves/caf").Concat(new byte[] { 0xE9 }).Concat(".xlsave\n"u8.ToArray()).ToArray();
        File.WriteAllBytes(ManifestPath, bytes);
        var e = Assert.Throws<ManifestException>(() => ManifestLoader.Load(ManifestPath));
        var error = Assert.Single(e.Errors);
        Assert.Equal((5, 24), (error.Location.Line, error.Location.Column));
        Assert.Contains("0xE9", error.Message);
        Assert.Contains("not UTF-8", error.Message);

        // UTF-8 with a BOM (and a comment that is not ASCII), and UTF-16 with one, are YAML and still read.
        File.WriteAllBytes(ManifestPath, [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes($"# caf\u00e9 \u2603\ndefaults:\n  host: {HostSpec}\ndomains:\n  - name: a\n    config: a.cfg\n")]);
        Assert.Equal("a", Assert.Single(ManifestLoader.Load(ManifestPath).Domains).Name);
        File.WriteAllBytes(ManifestPath, Encoding.Unicode.GetPreamble().Concat(Encoding.Unicode.GetBytes($"defaults:\n  host: {HostSpec}\ndomains:\n  - name: a\n    config: a.cfg\n")).ToArray());
        Assert.Equal("a", Assert.Single(ManifestLoader.Load(ManifestPath).Domains).Name);
    }
}
