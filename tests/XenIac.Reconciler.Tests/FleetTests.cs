using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;
using XenIac.Hosts;
using XenIac.Reconciler.Applying;
using XenIac.Reconciler.Manifests;
using XenIac.Reconciler.Planning;

namespace XenIac.Reconciler.Tests;

/// <summary>
/// A manifest over several hosts: embedded folders whose marker files make them unlike machines (Xen release, CPU
/// vendor, memory), as several dom0s would be.
/// </summary>
public sealed class FleetTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-fleet-").FullName;
    private readonly HostProvider _hosts = new();

    private string P(string name) => Path.Combine(_dir, name);

    public static string Cfg(string name, int memory = 4, string extra = "") =>
        $"name = \"{name}\"\ntype = \"hvm\"\nmemory = {memory}\nvcpus = 1\n{extra}";

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _hosts.DisposeAsync();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    /// <summary>An embedded host folder playing a machine: its marker rewritten after the host made it.</summary>
    private async Task MachineAsync(string name, string xen = "4.17.0", string vendor = "AuthenticAMD", long memoryMiB = 4096)
    {
        var folder = P("hosts/" + name);
        Directory.CreateDirectory(P("hosts"));
        await using (XenIac.Hosts.Embedded.EmbeddedHost.Open(folder)) { }
        File.WriteAllText(Path.Combine(folder, "xeniac-embedded-host.json"),
            $$"""{"kind":"xeniac-embedded-host","version":1,"xenVersion":"{{xen}}","cpuVendor":"{{vendor}}","memoryMiB":{{memoryMiB}}}""");
    }

    private IXenHost Host(string name) => _hosts.Get(HostSpec.Parse("embedded:" + P("hosts/" + name)));

    private Manifest Manifest(string hosts, string domains) =>
        ManifestLoader.Parse($"hosts:\n{hosts}domains:\n{domains}", P("xen-iac.yaml"));

    private const string ThreeHosts =
        "  a: {spec: embedded:hosts/a, labels: {rack: r1}}\n" +
        "  b: {spec: embedded:hosts/b, labels: {rack: r1}}\n" +
        "  c: {spec: embedded:hosts/c, labels: {rack: r2}}\n";

    private Task<Plan> PlanAsync(Manifest m) => Planner.PlanAsync(m, _hosts);

    private Task<ApplyResult> ApplyAsync(Manifest m) => Applier.ApplyAsync(m, _hosts, new ApplyOptions());

    /// <summary>A savefile made by the stream writer whose CPUID policy names <paramref name="vendor"/>, storing <paramref name="config"/>.</summary>
    private void Savefile(string path, string config, string? vendor)
    {
        var description = new DomainImageDescription
        {
            GuestType = GuestType.HVM,
            VCpus = 1,
            Pfns = [0, 1, 2, 3],
            CpuidPolicy = vendor is null ? null : (byte[])[.. Placement.VendorLeaf(vendor), .. new byte[24]],
            MsrPolicy = new byte[16],
        };
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var file = File.Create(path);
        SaveFileWriter.WriteHeader(file, SaveFileHeader.Create(config, SaveFileConfigFormat.XlCfg));
        ImageStreamWriter.Write(file, description);
    }

    private static DomainPlan Named(Plan plan, string name) => plan.Domains.Single(d => d.Name == name);

    [Fact]
    public void Hosts_load_with_names_labels_and_domains_name_them_by_name_spec_or_selector()
    {
        var m = Manifest(ThreeHosts,
            "  - name: x\n    host: a\n  - name: y\n    host: embedded:hosts/c\n  - name: z\n    host: {label: rack=r1}\n");
        Assert.Equal(["a", "b", "c"], m.Hosts.Select(h => h.Name));
        Assert.Equal("r2", m.Hosts[2].Labels["rack"]);
        var x = m.Domains[0];
        Assert.Equal(("a", HostSpec.Parse("embedded:" + P("hosts/a"))), (x.HostName, x.Host));
        Assert.Equal("c", m.Domains[1].HostName);
        Assert.Equal("rack=r1", m.Domains[2].HostSelector!.ToString());
        Assert.True(m.IsMultiHost);
    }

    [Theory]
    [InlineData("  a: embedded:hosts/a\n", "  - name: x\n    host: nowhere\n", 5, "unknown host 'nowhere'")]
    [InlineData("  a: {spec: embedded:hosts/a, labels: {rack: r1}}\n", "  - name: x\n    host: {label: rack=r9}\n", 5, "no host in hosts: matches label rack=r9")]
    [InlineData("  a: embedded:hosts/a\n  b: embedded:hosts/a\n", "  - name: x\n", 3, "host 'b' is the same host as 'a'")]
    [InlineData("  libxl: embedded:hosts/a\n", "  - name: x\n", 2, "invalid host name 'libxl'")]
    [InlineData("  a: {labels: {rack: r1}}\n", "  - name: x\n", 2, "host 'a' has no 'spec'")]
    // A domain on a host whose entry is wrong is not a second error ("unknown host 'a'").
    [InlineData("  a: {labels: {rack: r1}}\n", "  - name: x\n    host: a\n", 2, "host 'a' has no 'spec'")]
    [InlineData("  a: ftp://x\n", "  - name: x\n    host: a\n", 2, "unknown host 'ftp://x'")]
    [InlineData("  a: embedded:hosts/a\n  b: embedded:hosts/a\n", "  - name: x\n    host: b\n", 3, "host 'b' is the same host as 'a'")]
    [InlineData("  a: embedded:hosts/a\n", "  - name: x\n    host: {label: 'rack==1'}\n", 5, "is not a label selector")]
    [InlineData("  a: {spec: embedded:hosts/a, lables: {}}\n", "  - name: x\n", 2, "unknown key 'lables'")]
    public void Host_errors_are_reported_at_their_line(string hosts, string domains, int line, string message)
    {
        var e = Assert.Throws<ManifestException>(() => Manifest(hosts, domains));
        var error = Assert.Single(e.Errors);
        Assert.Equal(line, error.Location.Line);
        Assert.Contains(message, error.Message);
    }

    /// <summary>Each domain's error listed every host: thousands of domains on thousands of hosts took gigabytes.</summary>
    [Fact]
    public void An_unknown_host_names_a_few_hosts_and_how_many_there_are()
    {
        var hosts = string.Concat(Enumerable.Range(0, 50).Select(i => $"  h{i}: embedded:hosts/h{i}\n"));
        var e = Assert.Throws<ManifestException>(() => Manifest(hosts, "  - name: x\n    host: nowhere\n  - name: y\n    host: {label: rack=r9}\n"));
        Assert.Equal(2, e.Errors.Count);
        foreach (var error in e.Errors)
        {
            Assert.Contains("h0, h1,", error.Message);
            Assert.Contains("… (50 hosts)", error.Message);
            Assert.DoesNotContain("h49", error.Message);
        }
    }

    [Fact]
    public async Task A_savefile_whose_cpuid_policy_is_another_vendors_is_blocked_naming_both()
    {
        await MachineAsync("a", vendor: "AuthenticAMD");
        Savefile(P("saves/g.xlsave"), Cfg("g"), "GenuineIntel");
        var plan = await PlanAsync(Manifest("  a: embedded:hosts/a\n", "  - name: g\n    host: a\n"));

        var g = Named(plan, "g");
        Assert.Equal(PlanAction.Restore, g.Action);
        Assert.NotNull(g.Error);
        Assert.Contains("GenuineIntel", g.Error);
        Assert.Contains("AuthenticAMD", g.Error);
        Assert.Contains("xen-iac.yaml:5:", g.Error); // at its host: line
        var finding = Assert.Single(g.Findings);
        Assert.Equal(("cpu.vendor", "GenuineIntel", "AuthenticAMD"), (finding.Setting, finding.Old, finding.New));
        Assert.False(plan.HasChanges);
    }

    [Fact]
    public async Task Force_lets_a_blocked_restore_through_with_the_findings_shown()
    {
        await MachineAsync("a", vendor: "AuthenticAMD");
        Savefile(P("saves/g.xlsave"), Cfg("g"), "GenuineIntel");
        var m = Manifest("  a: embedded:hosts/a\n", "  - name: g\n    host: a\n    force: true\n");

        var g = Named(await PlanAsync(m), "g");
        Assert.Null(g.Error);
        Assert.Contains("forced past", g.Reason);
        Assert.Equal("cpu.vendor", Assert.Single(g.Findings).Setting);

        var result = await ApplyAsync(m);
        Assert.True(result.Succeeded, string.Join("; ", result.Results.Select(r => r.Error)));
        Assert.NotNull(await Host("a").FindDomainAsync("g"));
    }

    [Fact]
    public async Task Qemu_traditional_is_blocked_on_a_4_21_host_and_not_on_4_17()
    {
        await MachineAsync("old", xen: "4.17.3");
        await MachineAsync("new", xen: "4.21.0");
        var traditional = Cfg("t", extra: "device_model_version = \"qemu-xen-traditional\"\n");
        Savefile(P("saves/t.xlsave"), traditional, "AuthenticAMD");
        Savefile(P("saves/u.xlsave"), traditional.Replace("\"t\"", "\"u\"", StringComparison.Ordinal), "AuthenticAMD");
        var plan = await PlanAsync(Manifest("  old: embedded:hosts/old\n  new: embedded:hosts/new\n",
            "  - name: t\n    host: new\n  - name: u\n    host: old\n    trustConfig: true\n"));

        var t = Named(plan, "t");
        Assert.Contains("qemu-xen-traditional was removed in Xen 4.21", t.Error);
        Assert.Contains(t.Findings, f => f is { Setting: "device_model_version", Severity: FindingSeverity.Error });
        var u = Named(plan, "u");
        Assert.Null(u.Error);
        Assert.DoesNotContain(u.Findings, f => f.Setting == "device_model_version");
    }

    [Fact]
    public async Task Newer_keys_are_named_as_warnings_and_do_not_block()
    {
        await MachineAsync("a", xen: "4.18.2");
        Savefile(P("saves/k.xlsave"), Cfg("k", extra: "xen_platform_pci_bar_uc = 1\n"), null);
        var k = Named(await PlanAsync(Manifest("  a: embedded:hosts/a\n", "  - name: k\n    host: a\n")), "k");
        Assert.Null(k.Error);
        var f = Assert.Single(k.Findings);
        Assert.Equal((FindingSeverity.Warning, "xen_platform_pci_bar_uc"), (f.Severity, f.Setting));
        Assert.Contains("4.21", f.Reason);
    }

    [Fact]
    public async Task Memory_above_what_a_host_has_free_blocks_and_counts_what_the_plan_already_placed()
    {
        await MachineAsync("small", memoryMiB: 100);
        File.WriteAllText(P("m1.cfg"), Cfg("m1", memory: 60));
        File.WriteAllText(P("m2.cfg"), Cfg("m2", memory: 60));
        File.WriteAllText(P("big.cfg"), Cfg("big", memory: 200));
        var plan = await PlanAsync(Manifest("  small: embedded:hosts/small\n",
            "  - name: big\n    host: small\n    config: big.cfg\n  - name: m1\n    host: small\n    config: m1.cfg\n  - name: m2\n    host: small\n    config: m2.cfg\n"));

        Assert.Contains("the domain needs 200 MiB and small has 100 MiB free", Named(plan, "big").Error);
        Assert.Null(Named(plan, "m1").Error);
        // m1 took 60 of the 100: m2 no longer fits.
        Assert.Contains("small has 40 MiB free", Named(plan, "m2").Error);
    }

    [Fact]
    public async Task A_label_selector_places_each_domain_on_a_matching_host_stably_across_runs()
    {
        foreach (var h in new[] { "a", "b", "c" }) await MachineAsync(h);
        var names = Enumerable.Range(0, 8).Select(i => $"d{i}").ToList();
        foreach (var n in names) File.WriteAllText(P(n + ".cfg"), Cfg(n));
        var m = Manifest(ThreeHosts, string.Concat(names.Select(n => $"  - name: {n}\n    config: {n}.cfg\n    host: {{label: rack=r1}}\n")));

        var first = await PlanAsync(m);
        var second = await PlanAsync(m);
        var chosen = first.Domains.ToDictionary(d => d.Name, d => d.Spec.HostName);
        Assert.Equal(chosen, second.Domains.ToDictionary(d => d.Name, d => d.Spec.HostName));
        Assert.All(chosen.Values, h => Assert.Contains(h, new[] { "a", "b" }));
        // Eight domains over two hosts by hashing: both get some.
        Assert.Equal(2, chosen.Values.Distinct().Count());

        Assert.True((await ApplyAsync(m)).Succeeded);
        foreach (var (name, host) in chosen) Assert.NotNull(await Host(host!).FindDomainAsync(name));
        var after = await PlanAsync(m);
        Assert.False(after.HasChanges);
        Assert.Equal(chosen, after.Domains.ToDictionary(d => d.Name, d => d.Spec.HostName));
    }

    [Fact]
    public async Task A_selector_keeps_a_domain_where_it_runs_and_skips_a_host_that_does_not_fit()
    {
        await MachineAsync("a");
        await MachineAsync("b");
        File.WriteAllText(P("w.cfg"), Cfg("w", memory: 64));
        var hosts = "  a: {spec: embedded:hosts/a, labels: {rack: r1}}\n  b: {spec: embedded:hosts/b, labels: {rack: r1}}\n";
        var m = Manifest(hosts, "  - name: w\n    config: w.cfg\n    host: {label: rack=r1}\n");
        var preferred = Named(await PlanAsync(m), "w").Spec.HostName!;
        var other = preferred == "a" ? "b" : "a";

        // The preferred host is too small: the other one is chosen.
        await MachineAsync(preferred, memoryMiB: 32);
        var placed = Named(await PlanAsync(m), "w");
        Assert.Null(placed.Error);
        Assert.Equal(other, placed.Spec.HostName);

        // Running on the other host, it stays there even once the preferred host has room again.
        Assert.True((await ApplyAsync(m)).Succeeded);
        await MachineAsync(preferred, memoryMiB: 4096);
        var again = Named(await PlanAsync(m), "w");
        Assert.Equal((PlanAction.None, other), (again.Action, again.Spec.HostName));

        // No matching host fits: the error names each.
        File.WriteAllText(P("v.cfg"), Cfg("v", memory: 100_000));
        var none = Manifest(hosts, "  - name: v\n    config: v.cfg\n    host: {label: rack=r1}\n");
        var refused = Named(await PlanAsync(none), "v");
        Assert.Contains("no host matching label rack=r1 can take the domain", refused.Error);
        Assert.Contains("a: ", refused.Error);
        Assert.Contains("b: ", refused.Error);
    }

    [Fact]
    public async Task Changing_a_domains_host_saves_it_on_the_old_host_and_restores_it_on_the_new_then_nothing_is_left()
    {
        await MachineAsync("a");
        await MachineAsync("b");
        File.WriteAllText(P("web.cfg"), Cfg("web"));
        const string hosts = "  a: embedded:hosts/a\n  b: embedded:hosts/b\n";
        Assert.True((await ApplyAsync(Manifest(hosts, "  - name: web\n    config: web.cfg\n    host: a\n"))).Succeeded);
        var before = (await Host("a").FindDomainAsync("web"))!;

        var moved = Manifest(hosts, "  - name: web\n    config: web.cfg\n    host: b\n");
        var plan = Named(await PlanAsync(moved), "web");
        Assert.Null(plan.Error);
        Assert.Equal([PlanAction.Save, PlanAction.Restore], plan.Steps);
        Assert.Equal(Host("a").Spec, plan.HostOf(PlanAction.Save).ToString());
        Assert.Equal(Host("b").Spec, plan.HostOf(PlanAction.Restore).ToString());
        Assert.Contains("cold migration", plan.Reason);

        var result = await ApplyAsync(moved);
        Assert.True(result.Succeeded, string.Join("; ", result.Results.Select(r => r.Error)));
        Assert.Null(await Host("a").FindDomainAsync("web"));
        var after = (await Host("b").FindDomainAsync("web"))!;
        Assert.Equal(before.MemoryKiB, after.MemoryKiB);
        Assert.False((await PlanAsync(moved)).HasChanges);

        // The journal says where each step ran.
        var journal = File.ReadAllLines(result.JournalPath);
        Assert.Contains(journal, l => l.Contains("\"save\"", StringComparison.OrdinalIgnoreCase) && l.Contains("hosts/a", StringComparison.Ordinal));
        Assert.Contains(journal, l => l.Contains("\"restore\"", StringComparison.OrdinalIgnoreCase) && l.Contains("hosts/b", StringComparison.Ordinal));
    }

    /// <summary>
    /// Another VM of the same name on another manifest host (a colleague's, a leftover) was taken for this domain: a
    /// saved domain's savefile was saved over with it, and a running one was "migrated" from it.
    /// </summary>
    [Theory]
    [InlineData("saved")]
    [InlineData("running")]
    public async Task A_same_named_domain_of_another_config_on_another_host_is_left_alone_and_the_savefile_kept(string state)
    {
        await MachineAsync("a");
        await MachineAsync("b");
        File.WriteAllText(P("web.cfg"), Cfg("web", memory: 4));
        const string hosts = "  a: embedded:hosts/a\n  b: embedded:hosts/b\n";
        var saved = Manifest(hosts, "  - name: web\n    config: web.cfg\n    host: a\n    state: saved\n");
        Assert.True((await ApplyAsync(saved)).Succeeded);
        var savefile = Directory.GetFiles(_dir, "web.xlsave", SearchOption.AllDirectories).Single();
        var bytes = File.ReadAllBytes(savefile);
        await Host("b").CreateAsync(XenIac.Core.Config.ConfigText.FromText(Cfg("web", memory: 8), "stray.cfg"));

        var manifest = Manifest(hosts, $"  - name: web\n    config: web.cfg\n    host: a\n    state: {state}\n");
        var plan = Named(await PlanAsync(manifest), "web");
        Assert.NotNull(plan.Error);
        Assert.Contains("runs on b", plan.Error);
        Assert.Contains("memory", plan.Error);
        Assert.False((await ApplyAsync(manifest)).Succeeded);
        Assert.Equal(bytes, File.ReadAllBytes(savefile));
        Assert.NotNull(await Host("b").FindDomainAsync("web"));
        Assert.Null(await Host("a").FindDomainAsync("web"));
    }

    /// <summary>Dropping a host from hosts: (to decommission it) made a selector start a second copy of what still ran there.</summary>
    [Fact]
    public async Task A_domain_the_journal_last_saw_started_on_a_host_no_longer_in_the_manifest_is_not_started_again()
    {
        foreach (var h in new[] { "a", "b", "c" }) await MachineAsync(h);
        File.WriteAllText(P("web.cfg"), Cfg("web"));
        const string domain = "  - name: web\n    config: web.cfg\n    host: {label: rack=r2}\n";
        Assert.True((await ApplyAsync(Manifest(ThreeHosts, domain))).Succeeded);
        Assert.NotNull(await Host("c").FindDomainAsync("web"));

        var withoutC = "  a: {spec: embedded:hosts/a, labels: {rack: r2}}\n  b: {spec: embedded:hosts/b, labels: {rack: r2}}\n";
        var plan = Named(await PlanAsync(Manifest(withoutC, domain)), "web");
        Assert.NotNull(plan.Error);
        Assert.Contains("journal last saw web created on", plan.Error);
        Assert.Contains("hosts/c", plan.Error);
        Assert.False((await ApplyAsync(Manifest(withoutC, domain))).Succeeded);
        Assert.Null(await Host("a").FindDomainAsync("web"));
        Assert.Null(await Host("b").FindDomainAsync("web"));

        // Once it is destroyed there (the journal does not see that), force: true says so.
        await Host("c").DestroyAsync("web");
        var forced = Named(await PlanAsync(Manifest(withoutC, domain + "    force: true\n")), "web");
        Assert.Null(forced.Error);
        Assert.Equal(PlanAction.Create, forced.Action);
    }

    [Fact]
    public async Task Cold_migration_goes_through_the_snapshot_store_when_the_domain_names_one()
    {
        await MachineAsync("a");
        await MachineAsync("b");
        File.WriteAllText(P("web.cfg"), Cfg("web"));
        const string hosts = "  a: embedded:hosts/a\n  b: embedded:hosts/b\n";
        string Domain(string host) => $"  - name: web\n    config: web.cfg\n    host: {host}\n    snapshot: web@live\n    store: store\n";
        Assert.True((await ApplyAsync(Manifest(hosts, Domain("a")))).Succeeded);

        var moved = Manifest(hosts, Domain("b"));
        var plan = Named(await PlanAsync(moved), "web");
        Assert.Equal([PlanAction.Save, PlanAction.Restore], plan.Steps);
        Assert.Contains("snapshot tag web@live", plan.Reason);
        var result = await ApplyAsync(moved);
        Assert.True(result.Succeeded, string.Join("; ", result.Results.Select(r => r.Error)));
        Assert.NotNull(await Host("b").FindDomainAsync("web"));
        Assert.Null(await Host("a").FindDomainAsync("web"));
        Assert.False((await PlanAsync(moved)).HasChanges);
    }

    [Fact]
    public async Task Cold_migration_to_a_host_of_another_vendor_is_blocked_before_anything_is_saved()
    {
        await MachineAsync("a", vendor: "AuthenticAMD");
        await MachineAsync("i", vendor: "GenuineIntel");
        File.WriteAllText(P("web.cfg"), Cfg("web"));
        const string hosts = "  a: embedded:hosts/a\n  i: embedded:hosts/i\n";
        Assert.True((await ApplyAsync(Manifest(hosts, "  - name: web\n    config: web.cfg\n    host: a\n"))).Succeeded);

        var moved = Manifest(hosts, "  - name: web\n    config: web.cfg\n    host: i\n");
        var result = await ApplyAsync(moved);
        var plan = Named(result.Plan, "web");
        Assert.Contains("AuthenticAMD", plan.Error);
        Assert.Contains("GenuineIntel", plan.Error);
        Assert.Empty(result.Results);
        Assert.NotNull(await Host("a").FindDomainAsync("web"));
        Assert.False(File.Exists(P("saves/web.xlsave")));
    }

    [Fact]
    public async Task A_host_that_cannot_be_opened_fails_only_its_own_domains()
    {
        await MachineAsync("a");
        Directory.CreateDirectory(P("hosts"));
        File.WriteAllText(P("hosts/broken"), "a file where a host folder should be");
        File.WriteAllText(P("x.cfg"), Cfg("x"));
        File.WriteAllText(P("y.cfg"), Cfg("y"));
        var m = Manifest("  a: embedded:hosts/a\n  broken: embedded:hosts/broken\n",
            "  - name: x\n    config: x.cfg\n    host: a\n  - name: y\n    config: y.cfg\n    host: broken\n");

        var result = await ApplyAsync(m);
        var y = Named(result.Plan, "y");
        Assert.NotNull(y.Observed.HostError);
        Assert.StartsWith("host: ", y.Error);
        Assert.Null(Named(result.Plan, "x").Error);
        Assert.Equal("x", Assert.Single(result.Results).Domain);
        Assert.True(result.Results[0].Succeeded);
        Assert.NotNull(await Host("a").FindDomainAsync("x"));
    }

    [Fact]
    public async Task A_selector_over_a_host_that_cannot_answer_refuses_rather_than_risk_a_second_copy()
    {
        await MachineAsync("a");
        Directory.CreateDirectory(P("hosts"));
        File.WriteAllText(P("hosts/broken"), "not a folder");
        File.WriteAllText(P("x.cfg"), Cfg("x"));
        var m = Manifest("  a: {spec: embedded:hosts/a, labels: {rack: r1}}\n  broken: {spec: embedded:hosts/broken, labels: {rack: r1}}\n",
            "  - name: x\n    config: x.cfg\n    host: {label: rack=r1}\n");
        var x = Named(await PlanAsync(m), "x");
        Assert.Contains("cannot be asked whether the domain runs there", x.Error);
    }

    [Fact]
    public async Task A_host_that_answers_with_an_error_fails_only_its_domains_whatever_kind_of_host_it_is()
    {
        await MachineAsync("a");
        await MachineAsync("b");
        File.WriteAllText(P("x.cfg"), Cfg("x"));
        File.WriteAllText(P("y.cfg"), Cfg("y"));
        var m = Manifest("  a: embedded:hosts/a\n  b: embedded:hosts/b\n",
            "  - name: x\n    config: x.cfg\n    host: a\n  - name: y\n    config: y.cfg\n    host: b\n");
        var failing = HostSpec.Parse("embedded:" + P("hosts/b"));
        var provider = new FailingProvider(_hosts, failing);

        var result = await Applier.ApplyAsync(m, provider, new ApplyOptions());
        var y = Named(result.Plan, "y");
        Assert.Equal("host: connection reset by peer", y.Error);
        Assert.Equal("connection reset by peer", y.Observed.HostError);
        Assert.Equal("x", Assert.Single(result.Results).Domain);
        Assert.NotNull(await Host("a").FindDomainAsync("x"));
        Assert.Null(await Host("b").FindDomainAsync("y"));
    }

    [Fact]
    public void Defaults_can_place_every_domain_by_selector_and_an_empty_hosts_section_is_none()
    {
        var m = ManifestLoader.Parse("hosts:\n  a: {spec: embedded:hosts/a, labels: {rack: r1}}\ndefaults:\n  host: {label: rack}\ndomains:\n  - name: x\n",
            P("xen-iac.yaml"));
        Assert.Equal("rack", m.Domains[0].HostSelector!.ToString());
        Assert.Equal(4, m.Domains[0].HostLocation!.Line);
        Assert.Empty(ManifestLoader.Parse("hosts:\ndomains:\n  - name: x\n", P("xen-iac.yaml")).Hosts);
    }

    /// <summary>Any IXenHost: here one that lists nothing but an error, as a remote host whose connection dropped would.</summary>
    private sealed class FailingProvider(IHostProvider inner, HostSpec failing) : IHostProvider
    {
        public HostSpec Resolve(HostSpec spec) => inner.Resolve(spec);

        public IXenHost Get(HostSpec spec) => Resolve(spec) == failing ? new FailingHost(inner.Get(spec)) : inner.Get(spec);
    }

    private sealed class FailingHost(IXenHost inner) : IXenHost
    {
        private static XenHostException Dropped() => new(XenHostError.Unavailable, "connection reset by peer");
        public string Spec => inner.Spec;
        public Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default) => throw Dropped();
        public Task<IReadOnlyList<DomainInfo>> ListDomainsAsync(CancellationToken cancellationToken = default) => throw Dropped();
        public Task<DomainInfo?> FindDomainAsync(string name, CancellationToken cancellationToken = default) => throw Dropped();
        public Task<SaveResult> SaveAsync(string name, string savefilePath, SaveOptions options, CancellationToken cancellationToken = default) => throw Dropped();
        public Task<RestoreResult> RestoreAsync(string savefilePath, RestoreOptions options, CancellationToken cancellationToken = default) => throw Dropped();
        public Task<RestoreResult> RestoreAsync(Stream savefile, string source, RestoreOptions options, CancellationToken cancellationToken = default) => throw Dropped();
        public Task<DomainInfo> CreateAsync(ConfigText config, bool paused = false, CancellationToken cancellationToken = default) => throw Dropped();
        public Task DestroyAsync(string name, CancellationToken cancellationToken = default) => throw Dropped();
        public Task PauseAsync(string name, CancellationToken cancellationToken = default) => throw Dropped();
        public Task UnpauseAsync(string name, CancellationToken cancellationToken = default) => throw Dropped();
        public Task<ConfigText> GetConfigAsync(string name, CancellationToken cancellationToken = default) => throw Dropped();
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>
    /// Passes every call to <paramref name="inner"/>, as a slow remote host would: asking for its info first waits
    /// for <paramref name="asked"/>, closing it then waits for <paramref name="closing"/>.
    /// </summary>
    private sealed class SlowHost(IXenHost inner, Func<Task>? asked = null, Func<Task>? closing = null) : IXenHost
    {
        public string Spec => inner.Spec;

        public async Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default)
        {
            if (asked is not null) await asked();
            return await inner.GetHostInfoAsync(cancellationToken);
        }

        public Task<IReadOnlyList<DomainInfo>> ListDomainsAsync(CancellationToken cancellationToken = default) => inner.ListDomainsAsync(cancellationToken);
        public Task<DomainInfo?> FindDomainAsync(string name, CancellationToken cancellationToken = default) => inner.FindDomainAsync(name, cancellationToken);
        public Task<SaveResult> SaveAsync(string name, string savefilePath, SaveOptions options, CancellationToken cancellationToken = default) => inner.SaveAsync(name, savefilePath, options, cancellationToken);
        public Task<RestoreResult> RestoreAsync(string savefilePath, RestoreOptions options, CancellationToken cancellationToken = default) => inner.RestoreAsync(savefilePath, options, cancellationToken);
        public Task<RestoreResult> RestoreAsync(Stream savefile, string source, RestoreOptions options, CancellationToken cancellationToken = default) => inner.RestoreAsync(savefile, source, options, cancellationToken);
        public Task<DomainInfo> CreateAsync(ConfigText config, bool paused = false, CancellationToken cancellationToken = default) => inner.CreateAsync(config, paused, cancellationToken);
        public Task DestroyAsync(string name, CancellationToken cancellationToken = default) => inner.DestroyAsync(name, cancellationToken);
        public Task PauseAsync(string name, CancellationToken cancellationToken = default) => inner.PauseAsync(name, cancellationToken);
        public Task UnpauseAsync(string name, CancellationToken cancellationToken = default) => inner.UnpauseAsync(name, cancellationToken);
        public Task<ConfigText> GetConfigAsync(string name, CancellationToken cancellationToken = default) => inner.GetConfigAsync(name, cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync();
            if (closing is not null) await closing();
        }
    }

    /// <summary>A task that ends once <paramref name="count"/> callers wait on it (or fails after 10 s): only callers at the same time get through.</summary>
    private static Func<Task> AllAtOnce(int count, Action? reached = null)
    {
        var begun = 0;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return async () =>
        {
            if (Interlocked.Increment(ref begun) == count)
            {
                reached?.Invoke();
                all.SetResult();
            }
            await all.Task.WaitAsync(TimeSpan.FromSeconds(10));
        };
    }

    [Fact]
    public async Task Every_hosts_info_is_asked_when_the_hosts_open_not_when_its_first_domain_is_placed()
    {
        // Domains are decided one after another; each host's info (which placement reads) must already be on its
        // way by then, all at once, or ten remote hosts cost ten round trips in a row. Here each answer waits
        // until all three hosts were asked: asked one after another, the first would wait for ever (time out).
        foreach (var h in new[] { "a", "b", "c" }) await MachineAsync(h);
        foreach (var d in new[] { "x", "y", "z" }) File.WriteAllText(P(d + ".cfg"), Cfg(d));
        var m = Manifest("  a: embedded:hosts/a\n  b: embedded:hosts/b\n  c: embedded:hosts/c\n",
            "  - name: x\n    config: x.cfg\n    host: a\n  - name: y\n    config: y.cfg\n    host: b\n  - name: z\n    config: z.cfg\n    host: c\n");
        var info = AllAtOnce(3);
        await using var provider = new HostProvider(default, spec => new SlowHost(spec.Open(), asked: info));

        var plan = await Planner.PlanAsync(m, provider).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(plan.HasErrors, string.Join("; ", plan.Domains.Select(d => d.Error)));
        Assert.All(plan.Domains, d => Assert.Equal(PlanAction.Create, d.Action));
    }

    [Fact]
    public async Task The_provider_closes_its_hosts_all_at_once_not_one_after_another()
    {
        // Each host's close (as a remote one waits for its ssh to end) finishes only once every host has begun
        // closing: closed one after another, the first would wait for the others for ever (here: time out).
        const int count = 3;
        var allClosing = false;
        var closing = AllAtOnce(count, () => allClosing = true);
        var provider = new HostProvider(default, spec => new SlowHost(spec.Open(), closing: closing));
        for (var i = 0; i < count; i++)
            Assert.Empty(await provider.Get(HostSpec.Parse("embedded:" + P($"hosts/close{i}"))).ListDomainsAsync());
        await provider.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(allClosing);
    }

    [Fact]
    public void Rendezvous_order_is_a_pure_function_of_the_names()
    {
        Assert.Equal(Fleet.Score("a", "web"), Fleet.Score("a", "web"));
        Assert.NotEqual(Fleet.Score("a", "web"), Fleet.Score("b", "web"));
    }
}
