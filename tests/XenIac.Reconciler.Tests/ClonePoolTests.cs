using XenIac.Hosts;
using XenIac.Core.Config;
using XenIac.Reconciler.Applying;
using XenIac.Reconciler.Manifests;
using XenIac.Reconciler.Planning;

namespace XenIac.Reconciler.Tests;

/// <summary><c>clones: N</c> on a manifest domain: plan and apply keep exactly N clones, on a real embedded host.</summary>
public sealed class ClonePoolTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-pools-").FullName;
    private readonly HostProvider _hosts = new();

    private string P(string name) => Path.Combine(_dir, name);
    private string HostSpec => "embedded:" + P("host");
    private IXenHost Host => _hosts.Get(XenIac.Hosts.HostSpec.Parse(HostSpec));

    public Task InitializeAsync()
    {
        File.WriteAllText(P("web.img"), "web's disk");
        File.WriteAllText(P("web.cfg"), ReconcilerTests.Cfg("web", disk: $"{P("web.img")},raw,xvda,rw"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _hosts.DisposeAsync();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    /// <summary>The template web is made once and kept saved; its clones run.</summary>
    private Manifest Manifest(string? clones, string more = "") =>
        ManifestLoader.Parse($"defaults:\n  host: {HostSpec}\ndomains:\n  - name: web\n    config: web.cfg\n    state: saved\n" +
                             (clones is null ? "" : $"    clones: {clones}\n") + more, P("xen-iac.yaml"));

    private async Task<ApplyResult> ApplyAsync(Manifest m)
    {
        var result = await Applier.ApplyAsync(m, _hosts, new ApplyOptions());
        Assert.True(result.Succeeded, string.Join("; ", result.Results.Select(r => r.Error).Concat(result.Plan.Domains.Select(d => d.Error)).OfType<string>()));
        return result;
    }

    private async Task<List<string>> Clones() =>
        [.. (await Host.ListDomainsAsync()).Select(d => d.Name).Where(n => n.StartsWith("web-", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];

    private static DomainPlan PoolOf(Plan plan) => Assert.Single(plan.Domains, d => d.Pool is not null);

    [Fact]
    public async Task Clones_are_made_after_the_savefile_they_restore_from_and_a_second_plan_has_nothing_to_do()
    {
        var m = Manifest("3");
        var plan = await Planner.PlanAsync(m, _hosts);
        Assert.Equal([PlanAction.Create, PlanAction.Save], plan.Domains[0].Steps);
        var pool = PoolOf(plan);
        Assert.Equal("web-*", pool.Name);
        Assert.Equal([PlanAction.Clone], pool.Steps);
        Assert.Equal([1, 2, 3], pool.Pool!.Make);
        Assert.Contains("restore web-1, web-2, web-3 from the savefile web's save writes", pool.Reason);

        await ApplyAsync(m);
        Assert.Equal(["web-1", "web-2", "web-3"], await Clones());
        Assert.Null(await Host.FindDomainAsync("web"));
        for (var i = 1; i <= 3; i++)
        {
            Assert.Equal("web's disk", await File.ReadAllTextAsync(P($"web-{i}-xvda.img")));
            Assert.Equal(P($"web-{i}-xvda.img"), (await Host.GetConfigAsync($"web-{i}")).ToModel().Disks[0].Target);
        }
        var macs = new List<string?>();
        foreach (var c in await Clones()) macs.Add((await Host.GetConfigAsync(c)).ToModel().Nics[0].Mac);
        Assert.Equal(3, macs.Distinct().Count());

        var again = await Planner.PlanAsync(m, _hosts);
        Assert.False(again.HasChanges);
        Assert.Equal(PlanAction.None, PoolOf(again).Action);
        // Clones are apply's own: a drift report names the domains of the manifest only.
        Assert.Equal(["web"], Drift.Of(again).Domains.Select(d => d.Name));
        Assert.False(Drift.Of(again).HasDrift);
    }

    [Fact]
    public async Task Shrinking_destroys_the_clones_above_n_with_their_disks_and_growing_adds_only_the_missing_ones()
    {
        await ApplyAsync(Manifest("3"));
        var first = (await Host.FindDomainAsync("web-1"))!.DomId;

        var shrink = PoolOf(await Planner.PlanAsync(Manifest("1"), _hosts));
        Assert.Equal([PlanAction.Teardown], shrink.Steps);
        Assert.Equal(["web-2", "web-3"], shrink.Pool!.Remove);
        Assert.Contains("clones: 1: destroy web-2, web-3 (above 1)", shrink.Reason);
        await ApplyAsync(Manifest("1"));
        Assert.Equal(["web-1"], await Clones());
        Assert.False(File.Exists(P("web-2-xvda.img")));
        Assert.False(File.Exists(P("web-3-xvda.img")));
        Assert.True(File.Exists(P("web-1-xvda.img")));

        var grow = PoolOf(await Planner.PlanAsync(Manifest("2"), _hosts));
        Assert.Equal([2], grow.Pool!.Make);
        Assert.Contains("clones: 2, 1 running: restore web-2 from web's savefile (disks: cp)", grow.Reason);
        await ApplyAsync(Manifest("2"));
        Assert.Equal(["web-1", "web-2"], await Clones());
        // The clone that was there is kept, not made again.
        Assert.Equal(first, (await Host.FindDomainAsync("web-1"))!.DomId);
        Assert.False((await Planner.PlanAsync(Manifest("2"), _hosts)).HasChanges);
    }

    [Fact]
    public async Task Clones_zero_or_the_domain_leaving_the_manifest_tears_the_pool_down()
    {
        await ApplyAsync(Manifest("2"));
        Assert.True(File.Exists(P(".xen-iac/clones.json")));

        var none = PoolOf(await Planner.PlanAsync(Manifest(null), _hosts));
        Assert.Equal(["web-1", "web-2"], none.Pool!.Remove);
        Assert.Contains("clones: 0: destroy web-1, web-2", none.Reason);
        await ApplyAsync(Manifest(null));
        Assert.Empty(await Clones());
        Assert.Empty(Directory.GetFiles(_dir, "web-*"));
        Assert.False(File.Exists(P(".xen-iac/clones.json")));
        Assert.False((await Planner.PlanAsync(Manifest(null), _hosts)).HasChanges);

        await ApplyAsync(Manifest("2"));
        var empty = ManifestLoader.Parse($"defaults:\n  host: {HostSpec}\ndomains: []\n", P("xen-iac.yaml"));
        var gone = PoolOf(await Planner.PlanAsync(empty, _hosts));
        Assert.Contains("web left the manifest: destroy its clones web-1, web-2", gone.Reason);
        // A plan of some targets leaves pools of domains it does not name alone.
        Assert.DoesNotContain((await Planner.PlanAsync(Manifest(null, "  - name: other\n    config: web.cfg\n"), _hosts, ["other"])).Domains, d => d.Pool is not null);
        await ApplyAsync(empty);
        Assert.Empty(await Clones());
        Assert.Empty(Directory.GetFiles(_dir, "web-*"));
    }

    /// <summary>
    /// A damaged record file gave the JSON library's texts ("LineNumber: 0 | BytePositionInLine: 3", "The node must be
    /// of type 'JsonArray'"), and a folder in its place read as "no pools", so pools were never torn down.
    /// </summary>
    [Fact]
    public void A_damaged_or_misplaced_record_file_is_named_in_its_own_terms()
    {
        var path = P("clones.json");
        Directory.CreateDirectory(path);
        Assert.Contains("is a folder, not the list of clone pools", Assert.Throws<XenIac.Reconciler.Cloning.ClonePoolRecordException>(() => XenIac.Reconciler.Cloning.ClonePoolRecords.Read(path)).Message);
        Directory.Delete(path);
        foreach (var (text, said) in new[] { ("[\n  {\"domain\": \"web\",}", $"{path} is not valid JSON (line 2"), ("{}", "a JSON array of"), ("[{\"domain\": 1}]", "a JSON array of"), ("[null]", "a JSON array of") })
        {
            File.WriteAllText(path, text);
            var e = Assert.Throws<XenIac.Reconciler.Cloning.ClonePoolRecordException>(() => XenIac.Reconciler.Cloning.ClonePoolRecords.Read(path));
            Assert.Contains(said, e.Message);
            Assert.DoesNotContain("LineNumber", e.Message);
            Assert.DoesNotContain("JsonArray", e.Message);
        }
    }

    [Fact]
    public async Task A_domain_that_only_looks_like_a_clone_is_left_alone_without_clones()
    {
        // web-1 here is no clone of this manifest: no clones: and no record of a pool, so nothing tears it down.
        await Host.CreateAsync(ConfigText.FromText(ReconcilerTests.Cfg("web-1", mac: "00:16:3e:00:00:09")));
        var plan = await Planner.PlanAsync(Manifest(null), _hosts);
        Assert.DoesNotContain(plan.Domains, d => d.Pool is not null);
        await ApplyAsync(Manifest(null));
        Assert.NotNull(await Host.FindDomainAsync("web-1"));
    }

    [Theory]
    [InlineData("    clones: 257\n", "'clones' must be a whole number from 0 to 256")]
    [InlineData("    clones: -1\n", "'clones' must be a whole number from 0 to 256")]
    [InlineData("    clones: two\n", "'clones' must be a whole number from 0 to 256")]
    [InlineData("    clones: 2\n    cloneDiskCopy: rsync\n", "'cloneDiskCopy' must be cp, qcow2 or none")]
    [InlineData("    clones: 2\n    format: legacy\n", "a legacy-format domain cannot have clones")]
    [InlineData("    clones: 3\n  - name: web-3\n    config: web.cfg\n", "domain 'web-3' has the name of a clone of 'web' (clones: 3)")]
    public void Bad_clone_settings_are_refused_at_their_line(string yaml, string message)
    {
        var e = Assert.Throws<ManifestException>(() => ManifestLoader.Parse($"defaults:\n  host: {HostSpec}\ndomains:\n  - name: web\n    config: web.cfg\n{yaml}", P("xen-iac.yaml")));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_clone_disk_copy_mode_is_read()
    {
        var d = Assert.Single(Manifest("2", "    cloneDiskCopy: qcow2\n").Domains);
        Assert.Equal((2, Cloning.CloneDiskCopy.Qcow2), (d.Clones, d.CloneDiskCopy));
        Assert.Equal(0, Assert.Single(Manifest(null).Domains).Clones);
    }
}
