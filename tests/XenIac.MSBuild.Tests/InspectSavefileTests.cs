using XenIac.Core.SaveFiles;

namespace XenIac.MSBuild.Tests;

public sealed class InspectSavefileTests : IDisposable
{
    private readonly TaskFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void A_json_savefile_gives_its_flags_and_domain_name_as_properties_and_item_metadata()
    {
        var path = SavefileMaker.Write(_f.PathOf("vm.xlsave"), SavefileMaker.JsonConfig, SaveFileConfigFormat.Json);
        var expected = SaveFileReader.Open(path).Header;
        var task = _f.Wire(new XenIacInspectSavefile { Savefile = "vm.xlsave" });

        Assert.True(task.Execute(), _f.Engine.ToString());

        Assert.Equal("Xl", task.Format);
        Assert.Equal("LittleEndian", task.ByteOrder);
        Assert.Equal("0x3", task.MandatoryFlags);
        Assert.Equal("CONFIG_JSON;STREAM_V2", task.MandatoryFlagNames);
        Assert.Equal("Json", task.ConfigFormat);
        Assert.Equal("json-vm", task.DomainName);
        Assert.True(task.StreamV2);
        Assert.Equal(expected.ImageOffset, task.ImageOffset);

        var item = task.Info!;
        Assert.Equal(path, item.ItemSpec);
        Assert.Equal("json-vm", item.GetMetadata("DomainName"));
        Assert.Equal("true", item.GetMetadata("StreamV2"));
        Assert.Equal(expected.ImageOffset.ToString(System.Globalization.CultureInfo.InvariantCulture), item.GetMetadata("ImageOffset"));
        Assert.Equal(expected.ConfigLength.ToString(System.Globalization.CultureInfo.InvariantCulture), item.GetMetadata("ConfigLength"));
        Assert.Empty(_f.Engine.Warnings);
        Assert.Empty(_f.Opened);
    }

    [Fact]
    public void A_big_endian_pre_v2_xl_cfg_savefile_reads_as_such()
    {
        SavefileMaker.Write(_f.PathOf("old.xlsave"), "# old\nname='legacy-vm'\nmemory=64\n", SaveFileConfigFormat.XlCfg,
            SaveFileByteOrder.BigEndian, streamV2: false);
        var task = _f.Wire(new XenIacInspectSavefile { Savefile = "old.xlsave" });

        Assert.True(task.Execute(), _f.Engine.ToString());

        Assert.Equal("BigEndian", task.ByteOrder);
        Assert.Equal("0x0", task.MandatoryFlags);
        Assert.Equal("", task.MandatoryFlagNames);
        Assert.Equal("XlCfg", task.ConfigFormat);
        Assert.Equal("legacy-vm", task.DomainName);
        Assert.False(task.StreamV2);
        Assert.Equal("false", task.Info!.GetMetadata("StreamV2"));
    }

    [Fact]
    public void A_savefile_without_config_succeeds_with_warning_XIAC0101()
    {
        SavefileMaker.Write(_f.PathOf("bare.xlsave"), null, SaveFileConfigFormat.None);
        var task = _f.Wire(new XenIacInspectSavefile { Savefile = "bare.xlsave" });

        Assert.True(task.Execute(), _f.Engine.ToString());

        Assert.Equal("None", task.ConfigFormat);
        Assert.Equal("", task.DomainName);
        var warning = Assert.Single(_f.Engine.Warnings);
        Assert.Equal("XIAC0101", warning.Code);
        Assert.Equal("XenIac.XIAC0101", warning.HelpKeyword);
    }

    [Fact]
    public void A_missing_savefile_is_XIAC0005()
    {
        var task = _f.Wire(new XenIacInspectSavefile { Savefile = "absent.xlsave" });

        Assert.False(task.Execute());

        Assert.Equal(["XIAC0005"], _f.Engine.ErrorCodes);
        Assert.Null(task.Info);
    }
}
