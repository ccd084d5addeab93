using XenIac.Core.Streams;
using XenIac.Core.Config;
using XenIac.Tests;

namespace XenIac.Core.Tests.Config;

/// <summary>Regressions from review: bad values are XlConfigException, never another exception or a silent wrap.</summary>
public sealed class DomainConfigReviewTests
{
    [Theory]
    [InlineData("{\"c_info\":{\"name\":\"a\"},\"b_info\":{\"max_memkb\":1.5}}", "not a whole number")]
    [InlineData("{\"c_info\":{\"name\":\"a\"},\"b_info\":{\"max_vcpus\":1e30}}", "not a whole number")]
    [InlineData("{\"c_info\":{\"name\":\"a\"},\"b_info\":{\"max_vcpus\":100000}}", "out of range")]
    public void Json_values_of_the_wrong_kind_or_size_are_config_errors(string json, string expected)
    {
        var e = Assert.Throws<XlConfigException>(() => DomainConfig.FromJson(json, "c.json"));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("name = \"a\"\nvcpus = 2000000000\n", "vcpus")]
    [InlineData("name = \"a\"\nvcpus = 0\n", "vcpus")]
    [InlineData("name = \"a\"\nmemory = 0x7fffffffffffffff\n", "memory")]
    public void Xl_cfg_values_no_domain_can_have_are_refused_before_any_conversion(string text, string key)
    {
        var e = Assert.Throws<XlConfigException>(() => DomainConfig.FromXl(XlConfig.Parse(text, "c.cfg")));
        Assert.Contains($"{key} = ", e.Message);
        Assert.Contains("out of range", e.Message);
    }

    [SkippableFact]
    public void The_array_that_xl_list_l_prints_reads_as_the_config_inside_it()
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        var text = File.ReadAllText(Path.Combine(SharedFixtures.RealXenDir!, "meta", "tiny-hvm.xl-list-l.json"));
        Assert.StartsWith("[", text.TrimStart());
        var model = DomainConfig.FromJson(text);
        Assert.Equal("tiny-hvm", model.Name);
        Assert.Equal(GuestType.HVM, model.Type);
        Assert.Equal(32, model.MemoryMiB);
    }
}
