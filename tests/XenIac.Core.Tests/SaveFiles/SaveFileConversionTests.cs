using XenIac.Core.SaveFiles;

namespace XenIac.Core.Tests.SaveFiles;

public sealed class SaveFileConversionTests
{
    private static readonly (string, SaveFileConfigFormat) NewConfig = ("name = \"web\"\nmemory = 512\n", SaveFileConfigFormat.XlCfg);

    [Theory]
    [InlineData(SaveFileFormat.Legacy, SaveFileFormat.Legacy, false, SaveFileConversionRefusal.SourceAlreadyLegacy)]
    [InlineData(SaveFileFormat.Legacy, SaveFileFormat.Legacy, true, SaveFileConversionRefusal.SourceAlreadyLegacy)]
    [InlineData(SaveFileFormat.Xl, SaveFileFormat.Legacy, true, SaveFileConversionRefusal.ConfigWithLegacyTarget)]
    [InlineData(SaveFileFormat.Legacy, SaveFileFormat.Xl, false, SaveFileConversionRefusal.ConfigRequired)]
    [InlineData(SaveFileFormat.Xl, SaveFileFormat.Legacy, false, SaveFileConversionRefusal.None)]
    [InlineData(SaveFileFormat.Xl, SaveFileFormat.Xl, false, SaveFileConversionRefusal.None)]
    [InlineData(SaveFileFormat.Xl, SaveFileFormat.Xl, true, SaveFileConversionRefusal.None)]
    [InlineData(SaveFileFormat.Legacy, SaveFileFormat.Xl, true, SaveFileConversionRefusal.None)]
    public void What_is_refused(SaveFileFormat source, SaveFileFormat target, bool configGiven, SaveFileConversionRefusal expected)
    {
        var conversion = SaveFileConversion.Decide(source, target, configGiven, byteOrder: null);

        Assert.Equal(expected, conversion.Refusal);
        Assert.Equal(expected != SaveFileConversionRefusal.None, conversion.IsRefused);
        Assert.Equal(source == SaveFileFormat.Legacy, conversion.SourceIsLegacy);
    }

    [Theory]
    [InlineData(SaveFileFormat.Xl, SaveFileFormat.Xl, true, true)]
    [InlineData(SaveFileFormat.Legacy, SaveFileFormat.Xl, true, true)]
    [InlineData(SaveFileFormat.Xl, SaveFileFormat.Xl, false, false)]
    [InlineData(SaveFileFormat.Xl, SaveFileFormat.Legacy, false, false)]
    [InlineData(SaveFileFormat.Xl, SaveFileFormat.Legacy, true, false)]
    public void A_config_is_stored_only_in_an_xl_result(SaveFileFormat source, SaveFileFormat target, bool configGiven, bool stored) =>
        Assert.Equal(stored, SaveFileConversion.Decide(source, target, configGiven, null).StoresConfig);

    [Fact]
    public void To_legacy_drops_the_header_whatever_the_byte_order()
    {
        var source = SaveFileHeader.Create("{\"name\":\"web\"}", SaveFileConfigFormat.Json, SaveFileByteOrder.BigEndian);

        var header = SaveFileConversion.Decide(SaveFileFormat.Xl, SaveFileFormat.Legacy, false, SaveFileByteOrder.LittleEndian)
            .HeaderFor(source, streamV2: true);

        Assert.Same(SaveFileHeader.Legacy, header);
    }

    [Fact]
    public void Xl_to_xl_without_changes_keeps_the_header()
    {
        var source = SaveFileHeader.Create("{\"name\":\"web\"}", SaveFileConfigFormat.Json, SaveFileByteOrder.BigEndian)
            with { OptionalFlags = 5, Extension = new byte[] { 1, 2 } };

        var header = SaveFileConversion.Decide(SaveFileFormat.Xl, SaveFileFormat.Xl, false, null).HeaderFor(source, streamV2: true);

        Assert.Equal(source, header);
    }

    [Fact]
    public void Xl_to_xl_changes_only_the_byte_order_asked_for()
    {
        var source = SaveFileHeader.Create("{\"name\":\"web\"}", SaveFileConfigFormat.Json) with { OptionalFlags = 5 };

        var header = SaveFileConversion.Decide(SaveFileFormat.Xl, SaveFileFormat.Xl, false, SaveFileByteOrder.BigEndian)
            .HeaderFor(source, streamV2: true);

        Assert.Equal(SaveFileByteOrder.BigEndian, header.ByteOrder);
        Assert.Equal(source.ConfigText, header.ConfigText);
        Assert.Equal(5u, header.OptionalFlags);
        Assert.Equal(source.MandatoryFlags, header.MandatoryFlags);
    }

    [Fact]
    public void Xl_to_xl_with_a_config_replaces_it_and_keeps_the_byte_order()
    {
        var source = SaveFileHeader.Create("{\"name\":\"web\"}", SaveFileConfigFormat.Json, SaveFileByteOrder.BigEndian);

        var header = SaveFileConversion.Decide(SaveFileFormat.Xl, SaveFileFormat.Xl, true, null).HeaderFor(source, true, NewConfig);

        Assert.Equal(SaveFileConfigFormat.XlCfg, header.ConfigFormat);
        Assert.Equal(NewConfig.Item1, header.ConfigText);
        Assert.Equal(SaveFileByteOrder.BigEndian, header.ByteOrder);
    }

    [Theory]
    [InlineData(null, true, SaveFileByteOrder.LittleEndian)]
    [InlineData(SaveFileByteOrder.BigEndian, true, SaveFileByteOrder.BigEndian)]
    [InlineData(null, false, SaveFileByteOrder.LittleEndian)]
    public void Legacy_to_xl_builds_a_header_little_endian_unless_asked_and_marks_the_stream_version(
        SaveFileByteOrder? asked, bool streamV2, SaveFileByteOrder expected)
    {
        var header = SaveFileConversion.Decide(SaveFileFormat.Legacy, SaveFileFormat.Xl, true, asked, allowPreV2Image: !streamV2)
            .HeaderFor(SaveFileHeader.Legacy, streamV2, NewConfig);

        Assert.Equal(SaveFileFormat.Xl, header.Format);
        Assert.Equal(expected, header.ByteOrder);
        Assert.Equal(streamV2, header.IsStreamV2);
        Assert.Equal(NewConfig.Item1, header.ConfigText);
    }

    [Fact]
    public void A_refused_conversion_or_a_missing_config_has_no_header()
    {
        var refused = SaveFileConversion.Decide(SaveFileFormat.Legacy, SaveFileFormat.Xl, false, null);
        Assert.Throws<InvalidOperationException>(() => refused.HeaderFor(SaveFileHeader.Legacy, true));

        var needsConfig = SaveFileConversion.Decide(SaveFileFormat.Xl, SaveFileFormat.Xl, true, null);
        Assert.Throws<InvalidOperationException>(() => needsConfig.HeaderFor(SaveFileHeader.Create(null, SaveFileConfigFormat.None), true));
    }

    [Fact]
    public async Task A_headerless_file_that_is_no_stream_v2_image_is_refused_unless_allowed_and_nothing_is_written()
    {
        var dir = TestData.TempDir();
        var source = Path.Combine(dir, "notes.txt");
        await File.WriteAllTextAsync(source, "name = \"web\"\nmemory = 64\n");
        var destination = Path.Combine(dir, "out.xlsave");

        var e = await Assert.ThrowsAsync<XenFormatException>(() => SaveFileRewriter.RewriteAsync(source, destination, true,
            (h, v2) => SaveFileConversion.Decide(SaveFileFormat.Legacy, SaveFileFormat.Xl, true, null).HeaderFor(h, v2, NewConfig)));
        Assert.Equal(FormatError.InvalidImage, e.Error);
        Assert.Contains("LibxlFmt", e.Message);
        Assert.False(File.Exists(destination));

        var allowed = SaveFileConversion.Decide(SaveFileFormat.Legacy, SaveFileFormat.Xl, true, null, allowPreV2Image: true);
        var written = await SaveFileRewriter.RewriteAsync(source, destination, true, (h, v2) => allowed.HeaderFor(h, v2, NewConfig));
        Assert.False(written.IsStreamV2);
    }

    [Fact]
    public async Task The_decision_drives_the_rewriter_and_the_image_is_copied_unchanged()
    {
        var dir = TestData.TempDir();
        var image = TestData.SoundImage(100_000);
        var source = Path.Combine(dir, "legacy.img");
        await File.WriteAllBytesAsync(source, image);
        var conversion = SaveFileConversion.Decide(SaveFileFormat.Legacy, SaveFileFormat.Xl, true, SaveFileByteOrder.BigEndian);

        var written = await SaveFileRewriter.RewriteAsync(source, Path.Combine(dir, "out.xlsave"), conversion.SourceIsLegacy,
            (h, v2) => conversion.HeaderFor(h, v2, NewConfig));

        Assert.Equal(SaveFileByteOrder.BigEndian, written.ByteOrder);
        using var reader = SaveFileReader.Open(Path.Combine(dir, "out.xlsave"));
        Assert.Equal(NewConfig.Item1, reader.Header.ConfigText);
        using var copy = new MemoryStream();
        reader.Image.CopyTo(copy);
        Assert.Equal(image, copy.ToArray());
    }
}
