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
}
