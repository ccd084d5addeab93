using System.Buffers.Binary;
using System.Text;
using XenIac.Core.SaveFiles;

namespace XenIac.Core.Tests.SaveFiles;

public sealed class SaveFileHeaderTests
{
    private const string Json = "{\"c_info\":{\"name\":\"web\"}}";

    [Theory]
    [InlineData(SaveFileByteOrder.LittleEndian)]
    [InlineData(SaveFileByteOrder.BigEndian)]
    public void Every_field_is_at_its_offset_in_the_writers_byte_order(SaveFileByteOrder order)
    {
        var header = SaveFileHeader.Create(Json, SaveFileConfigFormat.Json, order) with { OptionalFlags = 0x80 };
        var bytes = header.ToBytes();

        Assert.Equal("Xen saved domain, xl format\n \0 \r"u8.ToArray(), bytes[..32]);
        uint U32(int at) => order == SaveFileByteOrder.LittleEndian
            ? BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at))
            : BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at));
        Assert.Equal(0x01020304u, U32(32));
        Assert.Equal(3u, U32(36)); // CONFIG_JSON | STREAM_V2, as today's xl writes
        Assert.Equal(0x80u, U32(40));
        var configLength = (uint)Encoding.UTF8.GetByteCount(Json) + 1;
        Assert.Equal(4 + configLength, U32(44));
        Assert.Equal(configLength, U32(48));
        Assert.Equal(Json, Encoding.UTF8.GetString(bytes, 52, (int)configLength - 1));
        Assert.Equal(0, bytes[^1]); // xl stores JSON with its NUL terminator
        Assert.Equal(bytes.Length, header.ImageOffset);
    }

    [Theory]
    [InlineData(SaveFileByteOrder.LittleEndian)]
    [InlineData(SaveFileByteOrder.BigEndian)]
    public void Read_gives_back_what_was_written_and_stops_at_the_image(SaveFileByteOrder order)
    {
        var header = SaveFileHeader.Create("name = \"web\"\nmemory = 512\n", SaveFileConfigFormat.XlCfg, order, streamV2: false)
            with { Extension = new byte[] { 9, 8, 7 }, OptionalFlags = 5 };
        var image = TestData.Image(1000);
        using var stream = new MemoryStream(TestData.Concat(header.ToBytes(), image));

        var read = SaveFileHeader.Read(stream);

        Assert.Equal(header, read);
        Assert.Equal(order, read.ByteOrder);
        Assert.Equal(SaveFileConfigFormat.XlCfg, read.ConfigFormat);
        Assert.False(read.IsStreamV2);
        Assert.Equal(new byte[] { 9, 8, 7 }, read.Extension.ToArray());
        Assert.Equal(header.ImageOffset, stream.Position);
    }

    [Fact]
    public void No_optional_data_and_an_empty_config_are_different_files_and_both_round_trip()
    {
        var none = new SaveFileHeader { MandatoryFlags = 2 };
        var empty = SaveFileHeader.Create(null, SaveFileConfigFormat.None);

        Assert.Equal(48, none.ToBytes().Length);
        Assert.Equal(52, empty.ToBytes().Length); // xl always writes the length field, even for no config
        Assert.Equal(SaveFileConfigFormat.None, none.ConfigFormat);
        Assert.Equal(SaveFileConfigFormat.None, empty.ConfigFormat);
        Assert.Null(none.ConfigBytes);
        Assert.Empty(empty.ConfigBytes!);
        Assert.Equal(none, SaveFileHeader.Read(new MemoryStream(none.ToBytes())));
        Assert.Equal(empty, SaveFileHeader.Read(new MemoryStream(empty.ToBytes())));
    }

    [Fact]
    public void Json_config_text_drops_the_trailing_nul_but_the_bytes_keep_it()
    {
        var header = SaveFileHeader.Create(Json, SaveFileConfigFormat.Json);
        Assert.Equal(Json, header.ConfigText);
        Assert.Equal(Encoding.UTF8.GetBytes(Json), header.ConfigContent.ToArray());
        Assert.Equal(Encoding.UTF8.GetByteCount(Json) + 1, header.ConfigLength);
    }

    [Fact]
    public void WithConfig_switches_the_json_flag_and_keeps_extension_flags_and_byte_order()
    {
        var original = SaveFileHeader.Create(Json, SaveFileConfigFormat.Json, SaveFileByteOrder.BigEndian)
            with { Extension = new byte[] { 1, 2 }, OptionalFlags = 0x10 };
        var text = original.WithConfig("name = \"db\"\n", SaveFileConfigFormat.XlCfg);

        Assert.Equal(2u, text.MandatoryFlags);
        Assert.Equal(SaveFileConfigFormat.XlCfg, text.ConfigFormat);
        Assert.Equal(SaveFileByteOrder.BigEndian, text.ByteOrder);
        Assert.Equal(0x10u, text.OptionalFlags);
        Assert.Equal(new byte[] { 1, 2 }, text.Extension.ToArray());
        Assert.Equal(3u, text.WithConfig(Json, SaveFileConfigFormat.Json).MandatoryFlags);
    }

    [Fact]
    public void Unknown_mandatory_flags_are_rejected_naming_the_bits()
    {
        var bytes = new SaveFileHeader { MandatoryFlags = 3 | (1u << 2) | (1u << 31) }.ToBytes();
        var e = Assert.Throws<XenFormatException>(() => SaveFileHeader.Read(new MemoryStream(bytes)));
        Assert.Equal(FormatError.UnsupportedMandatoryFlags, e.Error);
        Assert.Contains("0x80000004", e.Message);
        Assert.Contains("bit 2", e.Message);
        Assert.Contains("bit 31", e.Message);
        Assert.Equal(36, e.Offset);
    }

    [Fact]
    public void Unknown_optional_flags_are_kept_when_lax_and_rejected_when_strict()
    {
        var bytes = new SaveFileHeader { MandatoryFlags = 2, OptionalFlags = 0x40 }.ToBytes();
        Assert.Equal(0x40u, SaveFileHeader.Read(new MemoryStream(bytes)).OptionalFlags);
        var e = Assert.Throws<XenFormatException>(() =>
            SaveFileHeader.Read(new MemoryStream(bytes), new SaveFileReaderOptions { Strict = true }));
        Assert.Equal(FormatError.UnknownOptionalFlags, e.Error);
        Assert.Contains("bit 6", e.Message);
    }

    [Fact]
    public void Strict_mode_rejects_json_without_its_nul_terminator()
    {
        var header = new SaveFileHeader { MandatoryFlags = 3, ConfigBytes = Encoding.UTF8.GetBytes(Json) };
        var lax = SaveFileHeader.Read(new MemoryStream(header.ToBytes()));
        Assert.Equal(Json, lax.ConfigText);
        var e = Assert.Throws<XenFormatException>(() =>
            SaveFileHeader.Read(new MemoryStream(header.ToBytes()), new SaveFileReaderOptions { Strict = true }));
        Assert.Equal(FormatError.InvalidConfig, e.Error);
        Assert.Contains("NUL", e.Message);
    }

    [Fact]
    public void Wrong_byte_order_word_is_reported_with_its_value()
    {
        var bytes = SaveFileHeader.Create(Json, SaveFileConfigFormat.Json).ToBytes();
        bytes[32] = 0x02; bytes[33] = 0x04;
        var e = Assert.Throws<XenFormatException>(() => SaveFileHeader.Read(new MemoryStream(bytes)));
        Assert.Equal(FormatError.WrongByteOrder, e.Error);
        Assert.Contains("02040201", e.Message);
        Assert.Equal(32, e.Offset);
    }

    [Theory]
    [InlineData("libvirt-xml\n \0 \r", "libvirt")]
    [InlineData("LibvirtQemudSave", "LibvirtQemudSave")]
    [InlineData("LibvirtQemudPart", "LibvirtQemudPart")]
    [InlineData("XenSavedDomv2-\n", "XAPI")]
    [InlineData("LinuxGuestRecord", "xend")]
    [InlineData("LibxlFmt", "bare libxl migration stream")]
    [InlineData("\u007fELF, not a savefile at all", "--legacy")]
    public void Wrong_magic_names_the_neighbouring_format(string start, string expected)
    {
        var bytes = TestData.Concat(Encoding.Latin1.GetBytes(start), new byte[64]);
        var e = Assert.Throws<XenFormatException>(() => SaveFileHeader.Read(new MemoryStream(bytes)));
        Assert.Equal(FormatError.WrongMagic, e.Error);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Empty_input_says_the_file_is_empty()
    {
        var e = Assert.Throws<XenFormatException>(() => SaveFileHeader.Read(new MemoryStream()));
        Assert.Contains("empty", e.Message);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(32)]
    [InlineData(47)]
    public void Truncated_header_says_how_many_bytes_are_missing(int length)
    {
        var bytes = SaveFileHeader.Create(Json, SaveFileConfigFormat.Json).ToBytes()[..length];
        var e = Assert.Throws<XenFormatException>(() => SaveFileHeader.Read(new MemoryStream(bytes)));
        Assert.Equal(FormatError.Truncated, e.Error);
        Assert.Contains("header", e.Message);
        Assert.Contains($"({48 - length} missing)", e.Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Truncated_optional_data_names_the_part_and_the_shortfall(bool seekable)
    {
        var full = SaveFileHeader.Create(Json, SaveFileConfigFormat.Json).ToBytes();
        var cut = full[..(full.Length - 5)];
        Stream stream = seekable ? new MemoryStream(cut) : new PipeLikeStream(cut);
        var e = Assert.Throws<XenFormatException>(() => SaveFileHeader.Read(stream));
        Assert.Equal(FormatError.Truncated, e.Error);
        Assert.Contains("optional data", e.Message);
        Assert.Contains("(5 missing)", e.Message);
    }

    [Fact]
    public void Config_length_beyond_the_optional_data_is_a_truncated_config()
    {
        var bytes = SaveFileHeader.Create(Json, SaveFileConfigFormat.Json).ToBytes();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(48), 1000);
        var e = Assert.Throws<XenFormatException>(() => SaveFileHeader.Read(new MemoryStream(bytes)));
        Assert.Equal(FormatError.Truncated, e.Error);
        Assert.Contains("truncated config", e.Message);
        Assert.Contains($"({1000 - (bytes.Length - 52)} missing)", e.Message);
    }

    [Theory]
    [InlineData(1u)]
    [InlineData(3u)]
    public void Optional_data_too_short_for_the_length_field_is_rejected(uint length)
    {
        var bytes = new SaveFileHeader { MandatoryFlags = 2 }.ToBytes();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(44), length);
        var e = Assert.Throws<XenFormatException>(() =>
            SaveFileHeader.Read(new MemoryStream(TestData.Concat(bytes, new byte[8]))));
        Assert.Equal(FormatError.Truncated, e.Error);
        Assert.Contains("4-byte config length", e.Message);
    }

    [Fact]
    public void A_huge_optional_length_beyond_the_limit_is_refused_before_reading()
    {
        var bytes = new SaveFileHeader { MandatoryFlags = 2 }.ToBytes();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(44), 0xFFFF_FFF0);
        var e = Assert.Throws<XenFormatException>(() => SaveFileHeader.Read(new PipeLikeStream(bytes)));
        Assert.Equal(FormatError.OptionalDataTooLarge, e.Error);
    }

    [Fact]
    public void A_lying_length_on_a_pipe_costs_only_what_the_pipe_delivers()
    {
        var bytes = TestData.Concat(new SaveFileHeader { MandatoryFlags = 2 }.ToBytes(), new byte[100]);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(44), 1_000_000_000);
        var options = new SaveFileReaderOptions { MaxOptionalDataLength = int.MaxValue };
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<XenFormatException>(() => SaveFileHeader.Read(new PipeLikeStream(bytes), options));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(FormatError.Truncated, e.Error);
        Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes for a 148-byte input");
    }

    [Theory]
    [InlineData(60, 0)]
    [InlineData(65_536, 10)]
    [InlineData(1 << 20, 300)]
    [InlineData(64 << 20, 4_000)]
    [InlineData(64 << 20, 70_000)]
    public void Optional_data_costs_what_arrived_not_what_the_length_claims(int claimed, int delivered)
    {
        // Within the default limit, so only arrival can bound the buffer: a file cut short, read as a pipe.
        var bytes = TestData.Concat(new SaveFileHeader { MandatoryFlags = 2 }.ToBytes(), TestData.Image(delivered));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(44), (uint)claimed);
        Assert.Throws<XenFormatException>(() => SaveFileHeader.Read(new PipeLikeStream(bytes, 4096))); // warm up
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<XenFormatException>(() => SaveFileHeader.Read(new PipeLikeStream(bytes, 4096)));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(FormatError.Truncated, e.Error);
        // Doubling from a 4 KiB buffer: at most 4x the bytes that arrived, plus the buffer and the exception.
        Assert.True(allocated <= 4L * bytes.Length + 16 * 1024, $"allocated {allocated} bytes for a {bytes.Length}-byte input claiming {claimed}");
    }

    [Fact]
    public void Legacy_header_has_no_bytes_and_the_image_starts_at_zero()
    {
        Assert.Empty(SaveFileHeader.Legacy.ToBytes());
        Assert.Equal(0, SaveFileHeader.Legacy.ImageOffset);
        Assert.Throws<InvalidOperationException>(() => SaveFileHeader.Legacy.WithConfig(Json, SaveFileConfigFormat.Json));
    }

    [Fact]
    public void Mandatory_flag_names_follow_xl()
    {
        Assert.Equal(["CONFIG_JSON", "STREAM_V2", "bit5"], SaveFileHeader.DescribeMandatoryFlags(0b100011));
    }

    [Theory]
    [InlineData("Xen saved domain, xl format\n \0 \r and more", true)]
    [InlineData("Xen save", true)]
    [InlineData("Xen sav", false)]
    [InlineData("Xen saved domain, xm format", false)]
    [InlineData("LibxlFmt........", false)]
    public void Telling_the_xl_format_from_legacy_needs_at_least_eight_matching_bytes(string start, bool expected)
    {
        Assert.Equal(expected, SaveFileHeader.LooksLikeXlSavefile(Encoding.Latin1.GetBytes(start)));
    }
}
