using System.Text.Json;
using XenIac.Core.SaveFiles;
using XenIac.Tests;

namespace XenIac.Core.Tests.SaveFiles;

/// <summary>The savefiles real `xl save` wrote on Xen 4.17 (../shared/fixtures/real-xen) read as its README says.</summary>
public sealed class RealXenSavefileTests
{
    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var n in SharedFixtures.RealSavefileNames()) data.Add(n);
        if (data.Count == 0) data.Add("(fixtures absent)");
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Names))]
    public void Real_savefile_has_xl_header_with_json_config_and_v2_stream(string name)
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        var path = SharedFixtures.RealSavefile(name);

        using var reader = SaveFileReader.Open(path, new SaveFileReaderOptions { Strict = true });
        var h = reader.Header;
        Assert.Equal(SaveFileFormat.Xl, h.Format);
        Assert.Equal(SaveFileByteOrder.LittleEndian, h.ByteOrder);
        Assert.Equal(3u, h.MandatoryFlags);
        Assert.Equal(0u, h.OptionalFlags);
        Assert.Equal(SaveFileConfigFormat.Json, h.ConfigFormat);
        Assert.True(h.IsStreamV2);
        Assert.Equal(0, h.Extension.Length);
        Assert.Equal((uint)(4 + h.ConfigLength), h.OptionalDataLength);
        Assert.Equal(48 + h.OptionalDataLength, h.ImageOffset);

        // The stored config is libxl JSON with xl's trailing NUL, and the image starts with the libxl stream ident.
        Assert.Equal(0, h.ConfigBytes![^1]);
        using var doc = JsonDocument.Parse(h.ConfigText!);
        var expectedName = name switch
        {
            "pv-plain.xlsave" => "tiny-pv",
            "hvm-altcfg.xlsave" or "hvm-plain-after-restore.xlsave" => "tiny-hvm-alt",
            _ => "tiny-hvm",
        };
        Assert.Equal(expectedName, doc.RootElement.GetProperty("c_info").GetProperty("name").GetString());
        var ident = new byte[8];
        reader.Image.ReadExactly(ident);
        Assert.Equal("LibxlFmt"u8.ToArray(), ident);
    }

    [SkippableFact]
    public void Checkpoint_with_D_stores_the_domid_in_c_info()
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        using var withD = SaveFileReader.Open(SharedFixtures.RealSavefile("hvm-checkpoint-D.xlsave"));
        using var without = SaveFileReader.Open(SharedFixtures.RealSavefile("hvm-checkpoint.xlsave"));
        using var d = JsonDocument.Parse(withD.Header.ConfigText!);
        using var n = JsonDocument.Parse(without.Header.ConfigText!);
        Assert.True(d.RootElement.GetProperty("c_info").TryGetProperty("domid", out var domid));
        Assert.True(domid.GetInt32() > 0);
        Assert.False(n.RootElement.GetProperty("c_info").TryGetProperty("domid", out _));
        // xl -D adds exactly `"domid": N,` (plus indentation) to the JSON: the README gives 20 bytes more.
        Assert.Equal(without.Header.ConfigLength + 20, withD.Header.ConfigLength);
    }

    [SkippableFact]
    public void Altcfg_savefile_stores_the_alternative_config()
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        using var reader = SaveFileReader.Open(SharedFixtures.RealSavefile("hvm-altcfg.xlsave"));
        using var doc = JsonDocument.Parse(reader.Header.ConfigText!);
        Assert.Equal("tiny-hvm-alt", doc.RootElement.GetProperty("c_info").GetProperty("name").GetString());
        Assert.Equal("restart", doc.RootElement.GetProperty("on_reboot").GetString());
        // libxl leaves out values equal to its defaults; on_crash=destroy is one.
        Assert.False(doc.RootElement.TryGetProperty("on_crash", out _));
    }
}
