using XenIac.Core.Config;

namespace XenIac.Core.Tests.Config;

public sealed class ConfigCompatibilityTests
{
    private const string Saved = """
        name = "web"
        type = "hvm"
        memory = 1024
        vcpus = 2
        kernel = "/boot/vmlinuz"
        cmdline = "quiet"
        disk = [ 'format=raw,vdev=xvda,access=rw,target=/dev/vg/web', 'format=raw,vdev=xvdb,access=rw,target=/srv/b.img' ]
        vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0,model=e1000' ]
        pci = [ '0000:01:00.0' ]
        vga = "stdvga"
        vnclisten = "127.0.0.1"
        serial = "pty"
        on_crash = "destroy"
        cpus = "2-3"
        """;

    private static IReadOnlyList<CompatibilityFinding> Findings(Func<XlConfig, XlConfig> edit)
    {
        var saved = XlConfig.Parse(Saved);
        return ConfigCompatibility.Check(DomainConfig.FromXl(saved), DomainConfig.FromXl(edit(saved)));
    }

    public static TheoryData<string, string, string, FindingSeverity> Rules() => new()
    {
        { "name", "'db'", "name", FindingSeverity.Ok },
        { "type", "'pvh'", "type", FindingSeverity.Error },
        { "memory", "2048", "memory", FindingSeverity.Error },
        { "maxmem", "2048", "maxmem", FindingSeverity.Error },
        { "vcpus", "4", "vcpus", FindingSeverity.Error },
        { "maxvcpus", "8", "maxvcpus", FindingSeverity.Error },
        { "kernel", "'/boot/other'", "kernel", FindingSeverity.Error },
        { "cmdline", "'loud'", "cmdline", FindingSeverity.Warning },
        { "disk", "[ 'format=qcow2,vdev=xvda,access=rw,target=/srv/new.qcow2', 'format=raw,vdev=xvdb,access=rw,target=/srv/b.img' ]", "disk[0].target", FindingSeverity.Ok },
        { "disk", "[ 'format=qcow2,vdev=xvda,access=rw,target=/dev/vg/web', 'format=raw,vdev=xvdb,access=rw,target=/srv/b.img' ]", "disk[0].format", FindingSeverity.Ok },
        { "disk", "[ 'format=raw,vdev=xvdc,access=rw,target=/dev/vg/web', 'format=raw,vdev=xvdb,access=rw,target=/srv/b.img' ]", "disk[0].vdev", FindingSeverity.Error },
        { "disk", "[ 'format=raw,vdev=xvda,access=ro,target=/dev/vg/web', 'format=raw,vdev=xvdb,access=rw,target=/srv/b.img' ]", "disk[0].access", FindingSeverity.Error },
        { "disk", "[ 'format=raw,vdev=xvda,access=rw,target=/dev/vg/web' ]", "disk.count", FindingSeverity.Error },
        { "disk", "[ 'format=raw,vdev=xvdb,access=rw,target=/srv/b.img', 'format=raw,vdev=xvda,access=rw,target=/dev/vg/web' ]", "disk[0].vdev", FindingSeverity.Error },
        { "vif", "[ 'mac=00:16:3e:00:00:01,bridge=xenbr1,model=e1000,script=vif-route,ip=10.0.0.9' ]", "vif[0].bridge", FindingSeverity.Ok },
        { "vif", "[ 'mac=00:16:3e:00:00:01,bridge=xenbr0,model=e1000,script=vif-route' ]", "vif[0].script", FindingSeverity.Ok },
        { "vif", "[ 'mac=00:16:3e:00:00:01,bridge=xenbr0,model=e1000,ip=10.0.0.9' ]", "vif[0].ip", FindingSeverity.Ok },
        { "vif", "[ 'mac=00:16:3e:00:00:99,bridge=xenbr0,model=e1000' ]", "vif[0].mac", FindingSeverity.Error },
        { "vif", "[ 'mac=00:16:3e:00:00:01,bridge=xenbr0,model=rtl8139' ]", "vif[0].model", FindingSeverity.Error },
        { "vif", "[ 'mac=00:16:3e:00:00:01,bridge=xenbr0,model=e1000,accel=x' ]", "vif[0].accel", FindingSeverity.Warning },
        { "vif", "[]", "vif.count", FindingSeverity.Error },
        { "pci", "[ '0000:02:00.0' ]", "pci[0]", FindingSeverity.Error },
        { "pci", "[ '0000:01:00.0,permissive=1' ]", "pci[0].permissive", FindingSeverity.Error },
        { "pci", "[ '0000:01:00.0,rdm_policy=relaxed' ]", "pci[0].rdm_policy", FindingSeverity.Error },
        { "pci", "[ '0000:01:00.0@5' ]", "pci[0]", FindingSeverity.Error },
        { "pci", "[ '0000:01:00.0,seize=1' ]", "pci[0].seize", FindingSeverity.Ok },
        { "pci_msitranslate", "1", "pci[0].msitranslate", FindingSeverity.Error },
        { "vga", "'cirrus'", "vga", FindingSeverity.Error },
        { "vnclisten", "'0.0.0.0'", "vnclisten", FindingSeverity.Ok },
        { "serial", "'none'", "serial", FindingSeverity.Warning },
        { "on_crash", "'preserve'", "on_crash", FindingSeverity.Ok },
        { "cpus", "'0-1'", "cpus", FindingSeverity.Warning },
        { "vfb", "[ 'vnc=1' ]", "vfb.count", FindingSeverity.Error },
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void Each_change_gets_its_rule(string key, string xlValue, string setting, FindingSeverity severity)
    {
        var findings = Findings(c => XlConfig.Parse(c.Set(key, XlValue.String("placeholder")).ToString().Replace("'placeholder'", xlValue)));
        var f = Assert.Single(findings, f => f.Setting == setting);
        Assert.Equal(severity, f.Severity);
        Assert.False(string.IsNullOrWhiteSpace(f.Reason));
        Assert.Equal(severity != FindingSeverity.Error, findings.Where(x => x.Severity == FindingSeverity.Error).All(x => x.Setting != setting));
    }

    [Fact]
    public void Identical_configs_have_no_findings() => Assert.Empty(Findings(c => c));

    [Fact]
    public void Findings_carry_old_and_new_values()
    {
        var f = Assert.Single(Findings(c => c.Set("memory", XlValue.Number(512))), f => f.Setting == "memory");
        Assert.Equal(("memory", "1024", "512"), (f.Setting, f.Old, f.New));
    }

    [Fact]
    public void Adding_and_removing_settings_shows_unset()
    {
        var findings = Findings(c => c.Remove("kernel").Set("newkey", XlValue.String("v")));
        Assert.Contains(findings, f => f is { Setting: "kernel", New: null, Severity: FindingSeverity.Error });
        Assert.Contains(findings, f => f is { Setting: "newkey", Old: null, New: "v", Severity: FindingSeverity.Warning });
        Assert.False(ConfigCompatibility.IsCompatible(findings));
    }

    [Fact]
    public void Unmodelled_settings_across_formats_are_one_warning_not_false_errors()
    {
        var xl = DomainConfig.Parse("name = 'a'\nmemory = 32\nvcpus = 1\ncpus = '1'\n");
        var json = DomainConfig.FromJson(xl.ToLibxlJson(out _).ToJsonString());
        var f = Assert.Single(ConfigCompatibility.Check(json, xl));
        Assert.Equal(FindingSeverity.Warning, f.Severity);
    }

    /// <summary>xl reads each spelling as the same libxl device (XlPciDifferentialTests checks the reading itself).</summary>
    [Theory]
    [InlineData("01:00.0")]
    [InlineData("1:0.0")]
    [InlineData("0000:01:00.0,")]
    [InlineData("01:00.0@0")]
    [InlineData("bdf=01:00.0,permissive=0")]
    [InlineData("01:00.0,permissive=yes")]
    [InlineData("0:1:0.0,rdm_policy=STRICT")]
    public void Spellings_of_one_PCI_device_are_no_change(string spec) =>
        Assert.DoesNotContain(Findings(c => c.Set("pci", XlValue.List([spec]))), f => f.Setting.StartsWith("pci", StringComparison.Ordinal));

    [Fact]
    public void A_PCI_device_in_libxl_JSON_is_the_same_device_as_its_xl_spec()
    {
        var xl = DomainConfig.Parse("name = 'a'\ntype = 'hvm'\nmemory = 32\nvcpus = 1\npci = [ '01:00.*@3,permissive=1', 'name=gpu' ]\n");
        const string json = """
            { "c_info": { "type": "hvm", "name": "a" }, "b_info": { "max_memkb": 32768, "target_memkb": 32768, "max_vcpus": 1, "type.hvm": {} },
              "pcidevs": [ { "vdevfn": 24, "permissive": true, "vfunc_mask": 4294967295, "bus": 1, "rdm_policy": "strict" }, { "name": "gpu" } ] }
            """;
        var fromJson = DomainConfig.FromJson(json);
        Assert.DoesNotContain(ConfigCompatibility.Check(fromJson, xl), f => f.Setting.StartsWith("pci", StringComparison.Ordinal));
        var changed = DomainConfig.FromJson(json.Replace("\"permissive\": true, ", ""));
        Assert.Contains(ConfigCompatibility.Check(changed, xl), f => f is { Setting: "pci[0].permissive", Severity: FindingSeverity.Error });
        // JSON to xl.cfg keeps the devices, in a spelling xl reads.
        var back = DomainConfig.FromXl(fromJson.ToXlConfig(out var notConverted));
        Assert.DoesNotContain("pci", notConverted);
        Assert.Equal(fromJson.Devices["pci"], back.Devices["pci"]);
    }

    [Theory]
    [InlineData("pci = [ '01:00.8' ]", "01:00.8")]
    [InlineData("pci = [ '01:00.0-7' ]", "01:00.0-7")]
    [InlineData("pci = [ '01:00.0,msitrans=1' ]", "unknown option 'msitrans'")]
    [InlineData("pci = [ '01:00.0,name=gpu' ]", "not both")]
    [InlineData("pci = [ '01:00.0@20' ]", "vslot")]
    [InlineData("pci = '01:00.0'", "single value")]
    [InlineData("vtpm = 'backend=0'", "single value")]
    public void PCI_specs_and_device_lists_xl_refuses_or_skips_are_errors(string line, string said)
    {
        var e = Assert.Throws<XlConfigException>(() => DomainConfig.Parse("name = 'a'\ntype = 'hvm'\nmemory = 32\n" + line + "\n"));
        Assert.Contains(said, e.Message);
    }
}
