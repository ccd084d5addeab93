using System.Security.Cryptography;

namespace XenIac.Lab.Tests;

/// <summary>
/// Scenario convert-roundtrip (tests/lab/scenarios/30-convert-roundtrip.sh): a real savefile converted to the
/// old configless format and back by xen-iac, then restored by real `xl restore`.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class ConvertRoundTripScenarioTests(LabFixture labs)
{
    private const string S = "convert-roundtrip";

    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void Legacy_form_is_the_bare_image_and_xl_cannot_restore_it(string xen)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk("to-legacy");
        s.RequireOk("inspect-legacy");
        using var json = s.ReadJson("inspect-legacy.out");
        Assert.Equal("legacy", json.RootElement.GetProperty("format").GetString());
        Assert.Equal(0, json.RootElement.GetProperty("imageOffset").GetInt64());

        // The legacy file is exactly the original's image: everything after the xl header and config.
        var original = lab.OutPath("files", "hvm-plain.xlsave");
        var legacy = lab.OutPath("files", "hvm-legacy.img");
        var inspect = HostXenIac.RunOk(lab, "savefile", "inspect", "--json", original);
        using var header = System.Text.Json.JsonDocument.Parse(inspect.StdOut);
        var offset = header.RootElement.GetProperty("imageOffset").GetInt64();
        Assert.Equal(new FileInfo(original).Length - offset, new FileInfo(legacy).Length);

        s.RequireOk("xl-rejects-legacy");   // real xl refuses the headerless file: the way back is needed
    }

    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void Converted_back_with_the_stored_config_it_is_byte_identical_and_xl_restores_it(string xen)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk("config");
        s.RequireOk("to-xl");
        s.RequireOk("identical");   // cmp in dom0
        using (var a = File.OpenRead(lab.OutPath("files", "hvm-plain.xlsave")))
        using (var b = File.OpenRead(lab.OutPath("files", "hvm-roundtrip.xlsave")))
            Assert.Equal(SHA256.HashData(a), SHA256.HashData(b));

        s.RequireOk("xl-restore");
        s.RequireOk("running");
        s.RequireOk("xl-list-l");
        using var listed = s.ReadJson("xl-list-l.out");
        Assert.Equal("tiny-hvm-alt", listed.RootElement[0].GetProperty("config").GetProperty("c_info").GetProperty("name").GetString());
    }
}
