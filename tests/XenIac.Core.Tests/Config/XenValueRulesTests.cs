using XenIac.Core.Config;
using XenIac.Core.Streams;

namespace XenIac.Core.Tests.Config;

/// <summary>
/// Values as xl and libxl read them (tools/xl/xl_parse.c, libxl's JSON that leaves defaults out), where a different
/// reading would let an unsafe restore through or store a config libxl refuses.
/// </summary>
public sealed class XenValueRulesTests
{
    private const string PvJson =
        """{"c_info":{"type":"pv","name":"g"},"b_info":{"max_vcpus":1,"avail_vcpus":[0],"max_memkb":65536,"target_memkb":65536,"kernel":"/boot/vmlinuz","type.pv":{}},""";

    private static IReadOnlyList<CompatibilityFinding> Check(string saved, string proposed) =>
        ConfigCompatibility.Check(DomainConfig.Parse(saved), DomainConfig.Parse(proposed));

    [Fact]
    public void A_json_disk_without_readwrite_is_read_only_as_libxl_means_it()
    {
        var saved = PvJson + """ "disks":[{"pdev_path":"/img/a.img","vdev":"xvda","format":"raw","readwrite":1},{"pdev_path":"/img/s.img","vdev":"xvdb","format":"raw"}]}""";
        var model = DomainConfig.Parse(saved);
        Assert.Equal(["rw", "ro"], model.Disks.Select(d => d.Access));
        const string Xl = "name='g'\ntype='pv'\nmemory=64\nvcpus=1\nkernel='/boot/vmlinuz'\n";
        var writable = Check(saved, Xl + "disk=['/img/a.img,raw,xvda,rw','/img/s.img,raw,xvdb,rw']\n");
        Assert.Contains(writable, f => f.Setting == "disk[1].access" && f.Severity == FindingSeverity.Error);
        Assert.True(ConfigCompatibility.IsCompatible(Check(saved, Xl + "disk=['/img/a.img,raw,xvda,rw','/img/s.img,raw,xvdb,ro']\n")));
    }

    [Fact]
    public void Json_memory_that_is_not_whole_mib_is_compared_in_kib()
    {
        // Floored to MiB, 64 MiB and 64 MiB + 1023 KiB compared equal.
        var saved = PvJson + "\"disks\":[]}";
        var more = saved.Replace("\"target_memkb\":65536", "\"target_memkb\":66559", StringComparison.Ordinal);
        var findings = ConfigCompatibility.Check(DomainConfig.Parse(saved), DomainConfig.Parse(more));
        Assert.Contains(findings, f => f.Setting == "memory" && f.New == "66559 KiB" && f.Severity == FindingSeverity.Error);
        // Kept by a conversion to JSON, named by one to xl.cfg.
        var model = DomainConfig.Parse(more);
        Assert.Contains("\"target_memkb\":66559", model.ToLibxlJson(out _).ToJsonString(), StringComparison.Ordinal);
        model.ToXlConfig(out var notConverted);
        Assert.Contains(notConverted, n => n.StartsWith("memory", StringComparison.Ordinal));
    }

    [Fact]
    public void Guest_visible_json_settings_are_compared_with_the_xl_settings_of_the_same_meaning()
    {
        const string Hvm = """{"c_info":{"type":"hvm","name":"h"},"b_info":{"max_vcpus":1,"avail_vcpus":[0],"max_memkb":65536,"target_memkb":65536,""";
        const string Xl = "name='h'\ntype='hvm'\nmemory=64\nvcpus=1\n";
        // Equal: libxl's defaults left out on one side, the same values on both.
        Assert.True(ConfigCompatibility.IsCompatible(Check(Hvm + """ "type.hvm":{}}}""", Xl + "hap=1\n")));
        Assert.True(ConfigCompatibility.IsCompatible(Check(
            """{"c_info":{"type":"hvm","name":"h","hap":"False"},"b_info":{"max_vcpus":1,"avail_vcpus":[0],"max_memkb":65536,"target_memkb":65536,"irqs":[5],"type.hvm":{"hdtype":"ahci","mmio_hole_memkb":1048576}}}""",
            Xl + "hap=0\nirqs=['5']\nhdtype='ahci'\nmmio_hole=1024\n")));
        // Dropped or changed by the override: each is an error naming its setting.
        var dropped = Check(
            """{"c_info":{"type":"hvm","name":"h","hap":"False"},"b_info":{"max_vcpus":1,"avail_vcpus":[0],"max_memkb":65536,"target_memkb":65536,"irqs":[5],"cpuid":[{"leaf":1}],"type.hvm":{"hdtype":"ahci","mmio_hole_memkb":1048576,"vendor_device":"xenserver"}}}""",
            Xl);
        foreach (var setting in new[] { "hap", "irqs.count", "cpuid", "hdtype", "mmio_hole", "vendor_device" })
            Assert.Contains(dropped, f => f.Setting == setting && f.Severity == FindingSeverity.Error);
        Assert.DoesNotContain(dropped, f => f.Setting == "(unmodelled settings)");
    }

    [Fact]
    public void A_disk_given_to_the_guest_as_virtio_is_another_device()
    {
        const string Xl = "name='g'\nmemory=64\nvcpus=1\nkernel='/k'\n";
        var findings = Check(Xl + "disk=['/a.img,raw,xvda,rw']\n", Xl + "disk=['/a.img,raw,xvda,rw,specification=virtio']\n");
        Assert.Contains(findings, f => f.Setting == "disk[0].specification" && f.Severity == FindingSeverity.Error);
        // It survives a conversion to libxl's JSON and back.
        var json = DomainConfig.Parse(Xl + "disk=['/a.img,raw,xvda,rw,specification=virtio']\n").ToLibxlJson(out _).ToJsonString();
        Assert.Equal("virtio", DomainConfig.Parse(json).Disks[0].Specification);
    }

    [Fact]
    public void Viridian_groups_are_named_as_not_converted_not_written_as_false()
    {
        var model = DomainConfig.Parse("name = 'h'\ntype = 'hvm'\nviridian = ['base', 'freq']\n");
        var json = model.ToLibxlJson(out var notConverted);
        Assert.Contains("viridian", notConverted);
        Assert.DoesNotContain("viridian", json.ToJsonString(), StringComparison.Ordinal);
        DomainConfig.Parse("name = 'h'\ntype = 'hvm'\nviridian = 1\n").ToLibxlJson(out var none);
        Assert.DoesNotContain("viridian", none);
    }

    [Theory]
    [InlineData("vcpus = 4\nmaxvcpus = 2\n", "maxvcpus = 2 is less than vcpus = 4")]
    [InlineData("type = 'pv'\nbuilder = 'hvm'\n", "name different guest types")]
    [InlineData("max_grant_frames = 'abc'\n", "'max_grant_frames'")]
    [InlineData("max_maptrack_frames = 99999999999\n", "from 0 to 2147483647")]
    [InlineData("type = 'hvm'\nvga = 'vesa'\n", "'vga' 'vesa' is not one of stdvga, cirrus, none, qxl")]
    [InlineData("type = 'hvm'\nbios = 'uefi'\n", "'bios' 'uefi' is not one of")]
    [InlineData("device_model_version = 'qemu'\n", "'device_model_version' 'qemu' is not one of")]
    [InlineData("tsc_mode = 7\n", "'tsc_mode' = 7 is out of range")]
    [InlineData("tsc_mode = 'fast'\n", "'tsc_mode' 'fast' is not one of")]
    [InlineData("type = 'hvm'\ntimer_mode = 'sometimes'\n", "'timer_mode' 'sometimes'")]
    [InlineData("timer_mode = 1\n", "not supported for PV guests")]
    [InlineData("altp2m = 'always'\n", "'altp2m' 'always'")]
    [InlineData("type = 'hvm'\nhdtype = 'scsi'\n", "'hdtype' 'scsi'")]
    [InlineData("type = 'hvm'\nvendor_device = 'acme'\n", "'vendor_device' 'acme'")]
    public void Values_xl_stops_at_are_errors(string text, string expected)
    {
        var e = Assert.Throws<XlConfigException>(() => DomainConfig.Parse("name = 'g'\n" + text));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("type = 'hvm'\nvga = 'qxl'\nbios = 'OVMF'\ntsc_mode = 'Native'\ntimer_mode = 2\naltp2m = 'mixed'\nhdtype = 'ahci'\n")]
    [InlineData("type = 'pv'\nvga = 'anything'\nhdtype = 'scsi'\ntsc_mode = 1\n")] // xl reads vga and hdtype for HVM guests only
    [InlineData("device_model_version = 'qemu-xen-traditional'\n")]
    public void Words_xl_accepts_are_read(string text) => DomainConfig.Parse("name = 'g'\n" + text);

    [Theory]
    [InlineData("type = 'h'\n", GuestType.HVM)]
    [InlineData("type = 'p'\n", GuestType.PV)]
    [InlineData("type = 'pvh'\n", GuestType.PVH)]
    [InlineData("builder = 'gen'\n", GuestType.PV)]
    [InlineData("type = 'hvm'\nbuilder = 'hvm'\n", GuestType.HVM)]
    public void Guest_type_words_are_prefixes_as_in_xl(string text, GuestType type) =>
        Assert.Equal(type, DomainConfig.Parse("name = 'g'\n" + text).Type);
}
