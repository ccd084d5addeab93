using XenIac.Core.Config;
using System.Text.Json.Nodes;
using XenIac.Core.SaveFiles;
using XenIac.Hosts.Libxl;

namespace XenIac.Hosts.Tests.Libxl;

public sealed class LibxlConfigTests
{
    [Fact]
    public void Json_configs_pass_through_unchanged()
    {
        const string json = "{ \"c_info\": { \"name\": \"a\" } }";
        Assert.Same(json, LibxlConfig.ToJson(new ConfigText(json, SaveFileConfigFormat.Json)));
    }

    [Fact]
    public void Xl_cfg_configs_are_converted_through_the_config_model()
    {
        var json = JsonNode.Parse(LibxlConfig.ToJson(ConfigText.FromText("name = \"a\"\ntype = \"hvm\"\nmemory = 64\nvcpus = 2\n")))!;
        Assert.Equal("a", (string)json["c_info"]!["name"]!);
        Assert.Equal("hvm", (string)json["c_info"]!["type"]!);
        Assert.Equal(65536, (int)json["b_info"]!["max_memkb"]!);
        Assert.Equal(2, (int)json["b_info"]!["max_vcpus"]!);
    }

    [Fact]
    public void Xl_cfg_settings_without_a_json_form_are_named_not_dropped()
    {
        var e = Assert.Throws<XenHostException>(() =>
            LibxlConfig.ToJson(ConfigText.FromText("name = \"a\"\nmemory = 64\nfrobnicate_level = 3\n")));
        Assert.Equal(XenHostError.InvalidConfig, e.Error);
        Assert.Contains("frobnicate_level", e.Message);
        Assert.Contains("libxl JSON", e.Message);
    }

    [Fact]
    public void WithDomId_sets_c_info_domid_and_keeps_everything_else()
    {
        var result = JsonNode.Parse(HostConfigs.WithDomId(FakeLibxl.StoredJson, 0))!;
        Assert.Equal(0u, (uint)result["c_info"]!["domid"]!);
        Assert.Equal("web", (string)result["c_info"]!["name"]!);
        Assert.Equal(262144, (int)result["b_info"]!["max_memkb"]!);
        Assert.Null(JsonNode.Parse(HostConfigs.WithDomId(FakeLibxl.StoredJson, null))!["c_info"]!["domid"]);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("{\"b_info\":{}}")]
    public void WithDomId_refuses_what_is_not_a_libxl_config(string json)
    {
        var e = Assert.Throws<XenHostException>(() => HostConfigs.WithDomId(json, 0));
        Assert.Equal(XenHostError.InvalidConfig, e.Error);
    }

    [Theory]
    [InlineData("""{"c_info":{"name":"web"}}""", "web")]
    [InlineData("""{"c_info":{}}""", null)]
    [InlineData("""{"b_info":{}}""", null)]
    public void NameOf_reads_c_info_name(string json, string? expected) => Assert.Equal(expected, LibxlConfig.NameOf(json));
}
