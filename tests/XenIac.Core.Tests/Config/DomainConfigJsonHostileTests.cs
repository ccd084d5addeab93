using XenIac.Core.Config;
using XenIac.Core.SaveFiles;

namespace XenIac.Core.Tests.Config;

/// <summary>
/// Hostile libxl JSON: every document must fail with an <see cref="XlConfigException"/> whose reason starts with
/// the JSON path of the culprit, in every consumer of the model (parse by content, convert to xl, a savefile's
/// stored config). Nothing else may escape: no ArgumentException, InvalidOperationException, FormatException,
/// OverflowException, and no stack overflow on deep nesting.
/// </summary>
public sealed class DomainConfigJsonHostileTests
{
    public static TheoryData<string, string> Documents()
    {
        var deep = "{\"x\":" + new string('[', 100_000) + new string(']', 100_000) + "}";
        var deepUnderOddKey = "{\"x\\ny\":" + new string('[', 100) + new string(']', 100) + "}";
        return new TheoryData<string, string>
        {
            { """{"c_info":{"name":"a","name":"b"}}""", "$.c_info: duplicate key \"name\"" },
            { """{"c_info":{},"c_info":{}}""", "$: duplicate key \"c_info\"" },
            { """{"c_info":[]}""", "$.c_info: must be an object" },
            { """{"c_info":{"x\ny":1,"x\ny":2}}""", "$.c_info: duplicate key \"x\\ny\"" },
            { deepUnderOddKey, "$[\"x\\ny\"][0][0]" },
            { """{"c_info":{"type":"p\nv"}}""", "$.c_info.type: domain type \"p\\nv\"" },
            { """{"c_info":"pv"}""", "$.c_info: must be an object" },
            { """{"b_info":7}""", "$.b_info: must be an object" },
            { """{"b_info":{"max_memkb":1e400}}""", "$.b_info.max_memkb: " },
            { """{"b_info":{"max_memkb":99999999999999999999}}""", "$.b_info.max_memkb: " },
            { """{"b_info":{"max_memkb":1099511627776000000}}""", "$.b_info.max_memkb: " },
            { """{"b_info":{"max_memkb":"x"}}""", "$.b_info.max_memkb: " },
            { """{"b_info":{"max_memkb":-5}}""", "$.b_info.max_memkb: " },
            { """{"b_info":{"max_memkb":1.5}}""", "$.b_info.max_memkb: " },
            { """{"b_info":{"max_memkb":[]}}""", "$.b_info.max_memkb: " },
            { """{"b_info":{"target_memkb":{}}}""", "$.b_info.target_memkb: " },
            { """{"b_info":{"video_memkb":"big"}}""", "$.b_info.video_memkb: " },
            { """{"b_info":{"acpi":[]}}""", "$.b_info.acpi: must be a boolean" },
            { """{"b_info":{"acpi":"0.0000001"}}""", "$.b_info.acpi: must be a boolean" },
            { """{"b_info":{"acpi":99999999999999999999}}""", "$.b_info.acpi: must be a boolean" },
            { """{"b_info":{"apic":2}}""", "$.b_info.apic: must be a boolean" },
            { """{"b_info":{"type.hvm":[]}}""", "$.b_info['type.hvm']: must be an object" },
            { """{"b_info":{"type.hvm":{"vnc":5}}}""", "$.b_info['type.hvm'].vnc: must be an object" },
            { """{"b_info":{"type.hvm":{"vnc":{"listen":{}}}}}""", "$.b_info['type.hvm'].vnc.listen: " },
            { """{"b_info":{"type.hvm":{"vga":{"kind":1}}}}""", "$.b_info['type.hvm'].vga.kind: must be a string" },
            { """{"b_info":{"kernel":1}}""", "$.b_info.kernel: must be a string" },
            { """{"b_info":{"type.pv":{"kernel":[]}}}""", "$.b_info['type.pv'].kernel: must be a string" },
            { """{"b_info":{"avail_vcpus":{}}}""", "$.b_info.avail_vcpus: must be an array" },
            { """{"b_info":{"avail_vcpus":[]}}""", "$.b_info.avail_vcpus: " },
            { """{"b_info":{"avail_vcpus":["a"]}}""", "$.b_info.avail_vcpus[0]: " },
            { """{"b_info":{"avail_vcpus":[0,-1]}}""", "$.b_info.avail_vcpus[1]: " },
            { """{"b_info":{"max_vcpus":0}}""", "$.b_info.max_vcpus: " },
            { """{"b_info":{"max_vcpus":5000}}""", "$.b_info.max_vcpus: " },
            { """{"b_info":{"max_vcpus":true}}""", "$.b_info.max_vcpus: " },
            { """{"c_info":{"name":"a\u0000b"}}""", "$.c_info.name: the string contains a NUL" },
            { """{"c_info":{"na\u0000me":"a"}}""", "$.c_info: a key contains a NUL" },
            { """{"c_info":{"name":5}}""", "$.c_info.name: must be a string" },
            { """{"c_info":{"type":"xen"}}""", "$.c_info.type: " },
            { """{"c_info":{"type":5}}""", "$.c_info.type: must be a string" },
            { """{"disks":{}}""", "$.disks: must be an array" },
            { """{"disks":[5]}""", "$.disks[0]: must be an object" },
            // A null item is a hole, not an absent field (it crashed the reader with a NullReferenceException).
            { """{"disks":[null]}""", "$.disks[0]: must be an object, not null" },
            { """{"nics":[{},null]}""", "$.nics[1]: must be an object, not null" },
            { """{"b_info":{"avail_vcpus":[null]}}""", "$.b_info.avail_vcpus[0]: " },
            // A lone surrogate escape decodes to no string (System.Text.Json's own words named no place).
            { """{"c_info":{"name":"\ud800"}}""", "$.c_info.name: " },
            { """{"c_info":{"zz":"\ud800"}}""", "$.c_info.zz: " },
            { """{"disks":[{"vdev":7}]}""", "$.disks[0].vdev: must be a string" },
            { """{"disks":[{"readwrite":"yes"}]}""", "$.disks[0].readwrite: " },
            { """{"disks":[{"vdev":"xvda","readwrite":1},{"is_cdrom":2}]}""", "$.disks[1].is_cdrom: " },
            // Disks that ToXlConfig could not write so that they read back (fuzz finding 53e1007ed0cdc0b6).
            { """{"disks":[{"pdev_path":"/x.img"}]}""", "$.disks[0].vdev: a disk needs a vdev" },
            { """{"disks":[{"vdev":"xvda"},{"vdev":""}]}""", "$.disks[1].vdev: a disk needs a vdev" },
            { """{"disks":[{"vdev":"xvda,xvdb"}]}""", "$.disks[0].vdev: \"xvda,xvdb\" contains a comma" },
            { """{"disks":[{"vdev":"xvda","format":"zip"}]}""", "$.disks[0].format: \"zip\" is not a libxl disk format" },
            { """{"disks":[{"vdev":"xvda","backend":"nope"}]}""", "$.disks[0].backend: \"nope\" is not a libxl disk backend" },
            { """{"disks":[{"vdev":"xvda","script":"a,b"}]}""", "$.disks[0].script: " },
            { """{"disks":[{"vdev":"xvda","backend_domname":"d,0"}]}""", "$.disks[0].backend_domname: " },
            { """{"nics":[{"mtu":-1}]}""", "$.nics[0].mtu: " },
            { """{"nics":[{"mac":{}}]}""", "$.nics[0].mac: must be a string" },
            { """{"nics":[{"devid":1e300}]}""", "$.nics[0].devid: " },
            { """{"on_reboot":"explode"}""", "$.on_reboot: " },
            { """{"on_reboot":1}""", "$.on_reboot: must be a string" },
            { """{"vfbs":{}}""", "$.vfbs: must be an array" },
            { """[{"config":{"c_info":[]}}]""", "$[0].config.c_info: must be an object" },
            { """{"config":{"b_info":{"max_memkb":"x"}}}""", "$.config.b_info.max_memkb: " },
            { """[]""", "$: a libxl JSON config is an object" },
            { """{"c_info":{"name":"a"}""", "$: not valid JSON" },
            { """{"c_info":{"name":"a",""", "$.c_info: not valid JSON" },
            { """{"c_info":{"name":"a"},}""", "$: not valid JSON" },
            { """{"c_info":/* no */{}}""", "$: not valid JSON" },
            { deep, "nested deeper than 64 levels" },
        };
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void Each_hostile_document_fails_with_the_path_of_the_culprit(string json, string expected)
    {
        void Check(Action consume)
        {
            var e = Assert.Throws<XlConfigException>(consume);
            Assert.Contains(expected, e.Reason);
            if (!expected.StartsWith("nested")) Assert.StartsWith("$", e.Reason);
            Assert.True(e.Line >= 1 && e.Column >= 1);
        }

        Check(() => DomainConfig.FromJson(json, "hostile.json"));
        Assert.DoesNotContain('\n', Assert.Throws<XlConfigException>(() => DomainConfig.FromJson(json)).Message);
        if (ConfigText.Detect(json) == SaveFileConfigFormat.Json) Check(() => DomainConfig.Parse(json, "hostile.json")); // else it reads as xl.cfg
        Check(() => DomainConfig.FromJson(json).ToXlConfig(out _));
        // Stored in a savefile and read back, as config convert and restore see it.
        var header = SaveFileHeader.Create(json, SaveFileConfigFormat.Json);
        var stored = SaveFileHeader.Read(new MemoryStream(header.ToBytes()));
        Check(() => new ConfigText(stored.ConfigText!, stored.ConfigFormat) { Source = "vm.save", IsSavefile = true }.ToModel());
    }

    [Fact]
    public void The_location_points_at_the_offending_value()
    {
        var e = Assert.Throws<XlConfigException>(() => DomainConfig.FromJson("{\n  \"b_info\": {\n    \"max_memkb\": \"x\"\n  }\n}", "vm.json"));
        Assert.Equal("vm.json:3:18: $.b_info.max_memkb: \"x\" is not a whole number", e.Message);
    }

    [Fact]
    public void A_duplicate_key_is_located_at_its_second_occurrence()
    {
        var e = Assert.Throws<XlConfigException>(() => DomainConfig.FromJson("{\"c_info\":{\"name\":\"a\",\n \"name\":\"b\"}}"));
        Assert.Equal((2, 2), (e.Line, e.Column));
    }

    [Theory]
    [InlineData("\"True\"", "1")]
    [InlineData("\"False\"", "0")]
    [InlineData("true", "1")]
    [InlineData("0", "0")]
    public void Libxl_booleans_in_all_their_spellings_still_read(string value, string expected)
    {
        var c = DomainConfig.FromJson("{\"c_info\":{\"type\":\"hvm\"},\"b_info\":{\"type.hvm\":{\"acpi\":" + value + "}}}");
        Assert.Equal(expected, c.DeviceModel["acpi"]);
        Assert.Contains("acpi", c.ToXlConfig(out _).ToString());
    }

    /// <summary>xl's parse_ulong stops at a value without digits; libxl keeps both in an int.</summary>
    [Theory]
    [InlineData("mtu=abc", "mtu 'abc' is not a number")]
    [InlineData("mtu=", "mtu '' is not a number")]
    [InlineData("devid=99999999999999999999", "devid '99999999999999999999' is out of range")]
    [InlineData("devid=x", "devid 'x' is not a number")]
    public void Nic_numbers_that_are_not_numbers_are_refused_where_they_are_read(string setting, string said)
    {
        var e = Assert.Throws<XlConfigException>(() => DomainConfig.Parse($"name = \"web\"\nmemory = 64\nvif = [ '{setting}' ]\n"));
        Assert.Contains(said, e.Reason);
    }
}
