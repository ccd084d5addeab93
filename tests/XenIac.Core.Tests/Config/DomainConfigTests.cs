using XenIac.Core.Streams;
using System.Text.Json.Nodes;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Tests;

namespace XenIac.Core.Tests.Config;

public sealed class DomainConfigTests
{
    [Theory]
    [InlineData("vcpus = 0", "vcpus = 0 is out of range")]
    [InlineData("maxvcpus = 100000", "maxvcpus = 100000 is out of range")]
    [InlineData("memory = 99999999999", "memory = 99999999999 MiB is out of range")]
    public void A_value_out_of_range_is_located_at_its_setting(string setting, string reason)
    {
        var text = "name = \"web\"\n# a comment\n\n  " + setting + "\n";
        var e = Assert.Throws<XlConfigException>(() => DomainConfig.FromXl(XlConfig.Parse(text, "web.cfg")));
        Assert.Equal(4, e.Line);
        Assert.Equal(3, e.Column);
        Assert.Contains(reason, e.Message);
    }

    public static TheoryData<string, string> RealPairs() => new()
    {
        { "pv-plain.xlsave", "tiny-pv.cfg" },
        { "hvm-checkpoint.xlsave", "tiny-hvm.cfg" },
        { "hvm-checkpoint-D.xlsave", "tiny-hvm.cfg" },
        { "hvm-leavepaused.xlsave", "tiny-hvm.cfg" },
        { "hvm-altcfg.xlsave", "tiny-hvm-alt.cfg" },
    };

    [SkippableTheory]
    [MemberData(nameof(RealPairs))]
    public void Real_savefile_json_config_has_the_values_of_its_cfg(string savefile, string cfg)
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        using var reader = SaveFileReader.Open(SharedFixtures.RealSavefile(savefile));
        var fromJson = DomainConfig.FromJson(reader.Header.ConfigText!);
        var fromCfg = DomainConfig.FromXl(XlConfig.Load(Path.Combine(SharedFixtures.RealXenDir!, "meta", cfg)));

        Assert.Equal(fromCfg.ToSettings(), fromJson.ToSettings());
        Assert.Empty(fromJson.Other);
        Assert.Empty(ConfigCompatibility.Check(fromJson, fromCfg));
    }

    [SkippableFact]
    public void Real_pv_json_maps_libxl_names_and_units()
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        using var reader = SaveFileReader.Open(SharedFixtures.RealSavefile("pv-plain.xlsave"));
        var c = DomainConfig.FromJson(reader.Header.ConfigText!);
        Assert.Equal(("tiny-pv", GuestType.PV, 96L, 96L, 1L, 1L), (c.Name, c.Type, c.MemoryMiB, c.MaxMemMiB, c.Vcpus, c.MaxVcpus));
        Assert.Equal(("/lab/domu-vmlinuz", "/lab/domu-initrd.gz", "console=hvc0 rdinit=/init loglevel=4"), (c.Kernel, c.Ramdisk, c.Cmdline));
        Assert.Equal("preserve", c.Actions["on_crash"]);
        Assert.Equal("destroy", c.Actions["on_reboot"]);
    }

    [SkippableFact]
    public void Xl_list_json_wrapping_the_config_is_read_too()
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        var text = File.ReadAllText(Path.Combine(SharedFixtures.RealXenDir!, "meta", "tiny-pv.xl-list-l.json"));
        var node = JsonNode.Parse(text)!;
        var config = (node is JsonArray a ? a[0]! : node).ToJsonString();
        Assert.Equal("tiny-pv", DomainConfig.FromJson(config).Name);
    }

    [Theory]
    [InlineData("/dev/vg/guest,raw,xvda,rw", "/dev/vg/guest", "xvda", "raw", "rw", false)]
    [InlineData("phy:/dev/vg/guest,xvda,w", "/dev/vg/guest", "xvda", "raw", "rw", false)]
    [InlineData("file:/srv/g.img,hda,r", "/srv/g.img", "hda", "raw", "ro", false)]
    [InlineData("tap:aio:/srv/g.img,xvdb,w", "/srv/g.img", "xvdb", "raw", "rw", false)]
    [InlineData("qcow2:/srv/g.qcow2,xvda,w", "/srv/g.qcow2", "xvda", "qcow2", "rw", false)]
    [InlineData("format=qcow2, vdev=xvdc, access=ro, target=/srv/a,b.img", "/srv/a,b.img", "xvdc", "qcow2", "ro", false)]
    [InlineData(",,hdc:cdrom,r", "", "hdc", "empty", "ro", true)]
    [InlineData("/srv/d.iso,raw,hdc,ro,devtype=cdrom", "/srv/d.iso", "hdc", "raw", "ro", true)]
    [InlineData("vdev=xvda,target=/dev/x", "/dev/x", "xvda", "raw", "rw", false)]
    // Cases of Xen's own tools/xl/check-xl-disk-parse: an empty format is raw, so the next positional is the vdev;
    // a CD-ROM is read-only, and without a target its format is empty.
    [InlineData("/dev/vg/guest-volume,,hda", "/dev/vg/guest-volume", "hda", "raw", "rw", false)]
    [InlineData("/root/image.iso,,hdc,cdrom", "/root/image.iso", "hdc", "raw", "ro", true)]
    [InlineData("/root/image.iso,,hdc,,cdrom", "/root/image.iso", "hdc", "raw", "ro", true)]
    [InlineData("devtype=cdrom,,,hdc", "", "hdc", "empty", "ro", true)]
    [InlineData(",hdc:cdrom,r", "", "hdc", "empty", "ro", true)]
    [InlineData(",empty,hdc:cdrom,r", "", "hdc", "empty", "ro", true)]
    [InlineData("raw:/root/image.iso,hdc:cdrom,ro", "/root/image.iso", "hdc", "raw", "ro", true)]
    public void Disk_specs_read_as_xl_disk_configuration_says(string spec, string target, string vdev, string format, string access, bool cdrom)
    {
        var d = DiskConfig.Parse(spec);
        Assert.Equal((target, vdev, format, access, cdrom), (d.Target, d.Vdev, d.Format, d.Access, d.IsCdrom));
    }

    [Theory]
    [InlineData("/dev/x,xvda,w", "unknown disk format 'xvda'", 8)]
    [InlineData("/dev/x,raw", "no vdev", 1)]
    [InlineData("/dev/x,raw,xvda,rw,extra", "too many positional", 20)]
    [InlineData("/dev/x,raw,xvda,rx", "unknown access", 17)]
    [InlineData("bogus=1,/dev/x,raw,xvda", "unknown disk parameter", 1)]
    [InlineData("/dev/x,raw,xvda,backendtype=nope", "unknown backendtype", 17)]
    [InlineData("/dev/x,raw,xvda,format=qcow2", "format given twice", 17)]
    [InlineData("/dev/x,raw,xvda,vdev=xvdb", "vdev given twice", 17)]
    [InlineData("/dev/x,raw,xvda,target=/b", "target given twice", 17)]
    [InlineData("vdev=xvda", "no target given", 1)]
    [InlineData("/dev/x,raw,xvda,specification=bogus", "unknown specification", 17)]
    [InlineData("/dev/x,raw,hdc:floppy", "unknown device type 'floppy'", 12)]
    public void Bad_disk_specs_are_refused_with_the_reason_at_the_parameter(string spec, string reason, int column)
    {
        // The library's typed error, located in the spec: no FormatException escapes a public parser.
        var e = Assert.Throws<XlConfigException>(() => DiskConfig.Parse(spec, "spec"));
        Assert.Contains(reason, e.Reason);
        Assert.Equal(("spec", 1, column), (e.File, e.Line, e.Column));
    }

    [Fact]
    public void A_boolean_device_model_setting_holding_a_list_is_refused_when_read()
    {
        // It used to be kept as list text and made ToXlConfig throw FormatException (fuzz finding c0268b59a4d125fc).
        var e = Assert.Throws<XlConfigException>(() => DomainConfig.FromXl(XlConfig.Parse("name = 'a'\nvnc = [ '/x,raw,xvda,rw' ]\n", "g.cfg")));
        Assert.Equal((2, 1), (e.Line, e.Column));
        Assert.Contains("'vnc'", e.Reason);
    }

    [Theory]
    [InlineData("videoram = 99999999999999", "out of range")]
    [InlineData("videoram = \"-5\"", "out of range")]
    [InlineData("videoram = [ 16 ]", "is a list")]
    public void Videoram_that_libxl_could_not_take_is_refused_when_read(string setting, string reason)
    {
        // ToLibxlJson wrote video_memkb = videoram * 1024, which overflowed or went negative and did not read back.
        var e = Assert.Throws<XlConfigException>(() => DomainConfig.FromXl(XlConfig.Parse("name = 'a'\ntype = 'hvm'\n" + setting + "\n", "g.cfg")));
        Assert.Equal(3, e.Line);
        Assert.Contains(reason, e.Reason);
    }

    [Fact]
    public void ToXlConfig_writes_device_model_values_that_are_not_numbers_as_strings()
    {
        var c = new DomainConfig { DeviceModel = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["vnc"] = "[ 'x' ]", ["videoram"] = "16" } };
        var xl = c.ToXlConfig(out _);
        Assert.Equal("[ 'x' ]", xl.GetString("vnc"));
        Assert.Equal(16, xl.GetLong("videoram"));
    }

    [Fact]
    public void Bad_disk_spec_in_a_config_is_located_at_the_disk_setting()
    {
        var e = Assert.Throws<XlConfigException>(() => DomainConfig.FromXl(XlConfig.Parse("name = 'a'\ndisk = [ '/x,xvda' ]\n", "g.cfg")));
        Assert.Equal((2, 1), (e.Line, e.Column));
        Assert.Contains("unknown disk format", e.Message);
    }

    [Fact]
    public void Vif_specs_keep_known_and_unknown_keys()
    {
        var n = NicConfig.Parse("mac=00:16:3E:01:02:03, bridge=xenbr0,model=e1000,script=vif-route,ip=10.0.0.2,rate=10Mb/s,accel=x");
        Assert.Equal(("00:16:3e:01:02:03", "xenbr0", "e1000", "vif-route", "10.0.0.2", "10Mb/s"), (n.Mac, n.Bridge, n.Model, n.Script, n.Ip, n.Rate));
        Assert.Equal("x", n.Other["accel"]);
    }

    [Theory]
    // xl skips only leading spaces and takes a key only as exactly "key=": these set no MAC (the guest gets a random one).
    [InlineData("mac = 00:16:3e:01:02:03", null)]
    [InlineData("\tmac=00:16:3e:01:02:03", null)]
    [InlineData("bridge=br0,  mac=00:16:3e:01:02:03", "00:16:3e:01:02:03")]
    // xl reads six hexadecimal numbers, each followed by any one character.
    [InlineData("mac=0:16:3e:0:0:1", "00:16:3e:00:00:01")]
    [InlineData("mac=00-16-3E-00-00-01", "00:16:3e:00:00:01")]
    public void Vif_specs_read_a_mac_as_xl_does(string spec, string? mac)
    {
        var n = NicConfig.Parse(spec);
        Assert.Equal(mac, n.Mac);
        if (mac is null) Assert.Single(n.Other);
    }

    [Fact]
    public void A_mac_spelled_another_way_is_the_same_mac_on_restore_and_one_xl_ignores_is_a_change()
    {
        var saved = DomainConfig.Parse("name='a'\nvif=['mac=00:16:3e:00:00:01,bridge=br0']\n");
        Assert.True(ConfigCompatibility.IsCompatible(ConfigCompatibility.Check(saved, DomainConfig.Parse("name='a'\nvif=['mac=0:16:3e:0:0:1,bridge=br1']\n"))));
        var findings = ConfigCompatibility.Check(saved, DomainConfig.Parse("name='a'\nvif=['mac = 00:16:3e:00:00:01,bridge=br0']\n"));
        Assert.Contains(findings, f => f.Setting == "vif[0].mac" && f.Severity == FindingSeverity.Error);
    }

    [Fact]
    public void Xl_settings_map_like_xl_parse()
    {
        var c = DomainConfig.Parse("builder = 'hvm'\nmemory = 0x100\nvcpus = 2\nmaxvcpus = 4\nroot = '/dev/xvda1'\nextra = 'quiet'\nstdvga = 1\nvnc = 0\nfoo = 'bar'\n");
        Assert.Equal((GuestType.HVM, 256L, 256L, 2L, 4L), (c.Type, c.MemoryMiB, c.ToSettings()["maxmem"] is "256" ? 256L : 0L, c.Vcpus, c.MaxVcpus));
        Assert.Equal("root=/dev/xvda1 quiet", c.Cmdline);
        Assert.Equal("stdvga", c.DeviceModel["vga"]);
        Assert.Equal("0", c.DeviceModel["vnc"]);
        Assert.Equal("bar", c.Other["foo"]);
    }

    [Theory]
    [InlineData("type = 'hvm'\nmemory = 'lots'\n", "'memory' 'lots' is not a valid number")]
    [InlineData("type = 'xen'\n", "'type' 'xen' is not pv, pvh or hvm")]
    [InlineData("on_crash = 'explode'\n", "'on_crash' 'explode' is not one of")]
    [InlineData("name = [ 'a' ]\n", "'name' is a list")]
    [InlineData("disk = '/x,raw,xvda'\n", "'disk' is a single value but should be a list")]
    public void Values_xl_would_refuse_are_located_errors(string text, string message)
    {
        var e = Assert.Throws<XlConfigException>(() => DomainConfig.Parse(text, "g.cfg"));
        Assert.Contains(message, e.Message);
        Assert.StartsWith("g.cfg:", e.Message);
    }

    [Fact]
    public void Invalid_json_is_a_located_error()
    {
        var e = Assert.Throws<XlConfigException>(() => DomainConfig.Parse("{\n  \"c_info\": {,}\n}", "c.json"));
        Assert.Equal(2, e.Line);
    }

    [Fact]
    public void Model_to_libxl_json_and_back_keeps_every_converted_setting()
    {
        const string cfg = """
            name = "web"
            type = "hvm"
            memory = 1024
            maxmem = 2048
            vcpus = 2
            maxvcpus = 4
            disk = [ 'phy:/dev/vg/web,xvda,w', 'format=qcow2,vdev=xvdb,access=ro,target=/srv/data.qcow2', ',,hdc:cdrom,r' ]
            vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0,model=e1000', 'mac=00:16:3e:00:00:02,bridge=xenbr1,rate=10Mb/s' ]
            vga = "stdvga"
            videoram = 16
            vnc = 1
            vnclisten = "0.0.0.0"
            serial = "pty"
            boot = "dc"
            viridian = 1
            device_model_version = "qemu-xen"
            on_reboot = "rename-restart"
            on_crash = "coredump-restart"
            pci = [ '0000:01:00.0', '2:3.*@4,permissive=1' ]
            cpus = "2-3"
            """;
        var model = DomainConfig.Parse(cfg);
        var json = model.ToLibxlJson(out var notConverted);
        var back = DomainConfig.FromJson(json.ToJsonString());

        // PCI devices are converted (as libxl writes them), and read back as the same devices.
        Assert.Equal(["vif[1].rate", "cpus"], notConverted);
        Assert.Equal(["0000:01:00.0", "0000:02:03.*@04,permissive=1"], back.Devices["pci"]);
        Assert.Equal(4u << 3, json["pcidevs"]![1]!["vdevfn"]!.GetValue<uint>());
        var expected = model.ToSettings();
        foreach (var key in new[] { "vif[1].rate", "cpus" }) expected.Remove(key);
        Assert.Equal(expected, back.ToSettings());
        Assert.Equal(2048 * 1024, json["b_info"]!["max_memkb"]!.GetValue<long>());
        Assert.Equal("std", json["b_info"]!["type.hvm"]!["vga"]!["kind"]!.GetValue<string>());
        Assert.Equal("restart_rename", json["on_reboot"]!.GetValue<string>());
    }
}
