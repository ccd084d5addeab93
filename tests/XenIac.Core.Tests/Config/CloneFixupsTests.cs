using XenIac.Core.Config;
using XenIac.Core.SaveFiles;

namespace XenIac.Core.Tests.Config;

public sealed class CloneFixupsTests
{
    private const string Source = """
        # the prepared test VM
        name = "web"
        type = "hvm"
        memory = 1024
        vcpus = 2
        disk = [ 'format=raw,vdev=xvda,access=rw,target=/srv/web.img', 'format=raw,vdev=xvdb,access=ro,target=/srv/tools.iso' ]
        vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0,model=e1000', 'bridge=xenbr1' ]
        """;

    private static readonly CloneFixups Fixups = new() { Name = "web-1", DiskPattern = CloneFixups.DefaultDiskPattern };

    [Fact]
    public void Xl_config_gets_name_macs_disk_copy_and_generation_id_and_keeps_the_rest()
    {
        var clone = Fixups.Apply(ConfigText.FromText(Source), new MacPool());
        var model = clone.Config.ToModel();
        Assert.Equal("web-1", model.Name);
        Assert.Equal(2, clone.Macs.Count);
        Assert.All(clone.Macs, m => Assert.Matches("^00:16:3e:[0-7][0-9a-f]:[0-9a-f]{2}:[0-9a-f]{2}$", m));
        Assert.Equal(clone.Macs, model.Nics.Select(n => n.Mac));
        Assert.Equal("xenbr0", model.Nics[0].Bridge);
        Assert.Equal("e1000", model.Nics[0].Model);
        Assert.Equal("/srv/web-1-xvda.img", model.Disks[0].Target);
        Assert.Equal("/srv/tools.iso", model.Disks[1].Target); // read-only: shared, not copied
        Assert.Equal([new DiskRedirect("xvda", "/srv/web.img", "/srv/web-1-xvda.img")], clone.Disks);
        Assert.Equal("generate", model.Other[CloneFixups.VmGenIdSetting]);
        Assert.Contains("# the prepared test VM", clone.Config.Text, StringComparison.Ordinal);
        Assert.Equal(1024, model.MemoryMiB);
    }

    [Fact]
    public void Macs_are_unique_in_a_batch_and_never_the_sources()
    {
        var source = DomainConfig.Parse(Source);
        var pool = MacPool.Avoiding(source);
        var all = new List<string>();
        Parallel.For(0, 64, i =>
        {
            var c = (Fixups with { Name = $"web-{i}" }).Apply(ConfigText.FromText(Source), pool);
            lock (all) all.AddRange(c.Macs);
        });
        Assert.Equal(128, all.Count);
        Assert.Equal(128, all.Distinct().Count());
        Assert.DoesNotContain("00:16:3e:00:00:01", all);
    }

    [Fact]
    public void A_pool_never_hands_out_a_reserved_mac()
    {
        var pool = new MacPool();
        var first = pool.Next();
        Assert.NotEqual(first, pool.Next());
        var other = new MacPool([first]);
        for (var i = 0; i < 1000; i++) Assert.NotEqual(first, other.Next());
    }

    [Fact]
    public void Explicit_disk_targets_win_and_pv_gets_no_generation_id()
    {
        var pv = Source.Replace("type = \"hvm\"", "type = \"pv\"\nkernel = \"/boot/k\"", StringComparison.Ordinal);
        var clone = (Fixups with { DiskTargets = new Dictionary<string, string> { ["xvda"] = "/var/c/a.qcow2" } })
            .Apply(ConfigText.FromText(pv), new MacPool());
        var model = clone.Config.ToModel();
        Assert.Equal("/var/c/a.qcow2", model.Disks[0].Target);
        Assert.False(clone.NewVmGenId);
        Assert.False(model.Other.ContainsKey(CloneFixups.VmGenIdSetting));
    }

    [Fact]
    public void Json_config_is_fixed_up_as_a_document()
    {
        var json = DomainConfig.Parse(Source).ToLibxlJson(out _).ToJsonString();
        var clone = Fixups.Apply(new ConfigText(json, SaveFileConfigFormat.Json), new MacPool());
        Assert.Equal(SaveFileConfigFormat.Json, clone.Config.Language);
        var model = clone.Config.ToModel();
        Assert.Equal("web-1", model.Name);
        Assert.Equal(clone.Macs, model.Nics.Select(n => n.Mac));
        Assert.Equal("/srv/web-1-xvda.img", model.Disks[0].Target);
        Assert.Equal(16, model.Other.Keys.Count(k => k.StartsWith("json:b_info.type.hvm.ms_vm_genid[", StringComparison.Ordinal)));
    }

    [Fact]
    public void An_overlay_fixup_makes_redirected_disks_qcow2_and_leaves_shared_ones_alone_in_both_languages()
    {
        var overlay = Fixups with { DiskPattern = CloneFixups.OverlayDiskPattern, DiskFormat = "qcow2" };
        var json = new ConfigText(DomainConfig.Parse(Source).ToLibxlJson(out _).ToJsonString(), SaveFileConfigFormat.Json);
        foreach (var config in new[] { ConfigText.FromText(Source), json })
        {
            var clone = overlay.Apply(config, new MacPool());
            var model = clone.Config.ToModel();
            Assert.Equal(("/srv/web-1-xvda.qcow2", "qcow2"), (model.Disks[0].Target, model.Disks[0].Format));
            Assert.Equal(("/srv/tools.iso", "raw"), (model.Disks[1].Target, model.Disks[1].Format)); // read-only: shared as it is
            Assert.Equal([new DiskRedirect("xvda", "/srv/web.img", "/srv/web-1-xvda.qcow2")], clone.Disks);
            var findings = ConfigCompatibility.Check(config.ToModel(), model, overlay);
            Assert.Contains("qcow2 overlay", Assert.Single(findings, f => f.Setting == "disk[0].format").Reason, StringComparison.Ordinal);
            Assert.True(ConfigCompatibility.IsCompatible(findings));
        }
        Assert.Throws<CloneFixupException>(() => (overlay with { DiskFormat = "vmdk" }).Apply(ConfigText.FromText(Source), new MacPool()));
    }

    [Theory]
    [InlineData("{dir}/{nope}.img", "unknown placeholder")]
    [InlineData("{dir}/web.{ext}", "the source's own disk")]
    public void Bad_disk_patterns_are_refused(string pattern, string message)
    {
        var e = Assert.Throws<CloneFixupException>(() => (Fixups with { DiskPattern = pattern }).Apply(ConfigText.FromText(Source), new MacPool()));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Compatibility_with_declared_fixups_warns_about_macs_and_accepts_the_rest()
    {
        var saved = DomainConfig.Parse(Source);
        var clone = Fixups.Apply(ConfigText.FromText(Source), new MacPool()).Config.ToModel();

        var plain = ConfigCompatibility.Check(saved, clone);
        Assert.Contains(plain, f => f.Setting == "vif[0].mac" && f.Severity == FindingSeverity.Error);

        var findings = ConfigCompatibility.Check(saved, clone, Fixups);
        Assert.True(ConfigCompatibility.IsCompatible(findings));
        var mac = Assert.Single(findings, f => f.Setting == "vif[0].mac");
        Assert.Equal(FindingSeverity.Warning, mac.Severity);
        Assert.Contains("new NIC address", mac.Reason, StringComparison.Ordinal);
        Assert.Equal(FindingSeverity.Warning, Assert.Single(findings, f => f.Setting == "vif[1].mac").Severity);
        Assert.Equal(FindingSeverity.Ok, Assert.Single(findings, f => f.Setting == "name").Severity);
        Assert.Equal(FindingSeverity.Ok, Assert.Single(findings, f => f.Setting == "disk[0].target").Severity);
        Assert.Equal(FindingSeverity.Ok, Assert.Single(findings, f => f.Setting == CloneFixups.VmGenIdSetting).Severity);
    }

    [Fact]
    public void Json_generation_id_is_one_ok_finding()
    {
        var json = new ConfigText(DomainConfig.Parse(Source).ToLibxlJson(out _).ToJsonString(), SaveFileConfigFormat.Json);
        var findings = ConfigCompatibility.Check(json.ToModel(), Fixups.Apply(json, new MacPool()).Config.ToModel(), Fixups);
        Assert.Equal(FindingSeverity.Ok, Assert.Single(findings, f => f.Setting.Contains("genid", StringComparison.Ordinal)).Severity);
        Assert.True(ConfigCompatibility.IsCompatible(findings));
    }

    [Fact]
    public void Fixups_do_not_excuse_other_changes()
    {
        var saved = DomainConfig.Parse(Source);
        var edited = Fixups.Apply(ConfigText.FromText(Source.Replace("memory = 1024", "memory = 2048", StringComparison.Ordinal)), new MacPool());
        var findings = ConfigCompatibility.Check(saved, edited.Config.ToModel(), Fixups);
        Assert.Equal(FindingSeverity.Error, Assert.Single(findings, f => f.Setting == "memory").Severity);
        Assert.False(ConfigCompatibility.IsCompatible(findings));

        // Without the MAC fixup declared, a changed MAC is the error it always is.
        var noMacs = ConfigCompatibility.Check(saved, Fixups.Apply(ConfigText.FromText(Source), new MacPool()).Config.ToModel(), Fixups with { NewMacs = false });
        Assert.Equal(FindingSeverity.Error, Assert.Single(noMacs, f => f.Setting == "vif[0].mac").Severity);
    }
}
