using XenIac.Core.SaveFiles;

namespace XenIac.MSBuild.Tests;

public sealed class ConfigNamesTests
{
    [Theory]
    [InlineData("""{"c_info":{"name":"vm1"}}""", SaveFileConfigFormat.Json, "vm1")]
    [InlineData("""{"c_info":{"type":"pv"}}""", SaveFileConfigFormat.Json, null)]
    [InlineData("not json", SaveFileConfigFormat.Json, null)]
    [InlineData("name = \"vm2\"\nmemory = 16\n", SaveFileConfigFormat.XlCfg, "vm2")]
    [InlineData("name='first'\nname = 'second'\n", SaveFileConfigFormat.XlCfg, "second")]
    [InlineData("hostname = \"x\"\n# name = \"commented\"\n", SaveFileConfigFormat.XlCfg, null)]
    [InlineData("", SaveFileConfigFormat.XlCfg, null)]
    public void Finds_the_domain_name_a_config_declares(string text, SaveFileConfigFormat format, string? expected) =>
        Assert.Equal(expected, ConfigNames.Find(text, format));
}
