using System.Buffers.Binary;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;

namespace XenIac.Core.Tests.Streams;

/// <summary>One problem per case, planted in a writer-made image; each must be the first one reported, where it is.</summary>
public sealed class ImageStreamVerifierTests
{
    private static (byte[] Bytes, List<ImageRecord> Records) Image(GuestType type)
    {
        using var ms = new MemoryStream();
        ImageStreamWriter.Write(ms, ImageStreamWriterTests.Hvm(3, 1) with { GuestType = type });
        var bytes = ms.ToArray();
        using var reader = new ImageStreamReader(new MemoryStream(bytes));
        var records = new List<ImageRecord>();
        while (reader.MoveNext()) records.Add(reader.Current);
        return (bytes, records);
    }

    private static ImageStreamProblem Fails(byte[] bytes, bool seekable = true)
    {
        Stream s = new MemoryStream(bytes);
        if (!seekable) s = new NonSeekable(s);
        var result = ImageStreamVerifier.Verify(s);
        Assert.Equal(ImageVerificationStatus.Invalid, result.Status);
        return result.Problem!;
    }

    [Theory]
    [InlineData(8, "libxl stream version 0")]      // version word, low byte of the big-endian field moved
    [InlineData(24, "libxc image header marker")]
    [InlineData(36, "libxc stream version")]
    [InlineData(52, "page shift")]
    public void Header_fields_are_checked_at_their_offset(int at, string message)
    {
        var (bytes, _) = Image(GuestType.HVM);
        if (at == 8) bytes[11] = 0; else bytes[at] ^= 0x01;
        var p = Fails(bytes);
        Assert.Contains(message, p.Message);
        Assert.Equal(at == 36 ? 36 : at == 52 ? 52 : at, (int)p.Offset!);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Wrong_length_of_a_fixed_size_record_is_reported_at_its_header(bool seekable)
    {
        var (bytes, records) = Image(GuestType.HVM);
        var tsc = records.Single(r => r.Is(LibxcRecordType.X86TscInfo));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)tsc.Offset + 4), 16);
        var p = Fails(bytes, seekable);
        Assert.Equal(tsc.Offset, p.Offset);
        Assert.Equal(tsc.Index, p.RecordIndex);
        Assert.Contains("X86_TSC_INFO record length 16, expected 24", p.Message);
    }

    [Fact]
    public void Non_zero_padding_is_an_error_of_the_record_it_pads()
    {
        var (bytes, records) = Image(GuestType.HVM);
        var emulator = records.Single(r => r.Is(LibxlRecordType.EmulatorContext));
        Assert.NotEqual(0, emulator.PaddedLength - emulator.Length);
        bytes[emulator.Offset + 8 + emulator.PaddedLength - 1] = 0xAA;
        var p = Fails(bytes);
        Assert.Equal(emulator.Offset, p.Offset);
        Assert.Contains("non-zero padding", p.Message);
    }

    [Theory]
    [InlineData(0x00F0_0000_0000_0000UL, "reserved bits 52-59")]
    [InlineData(0x5000_0000_0000_0000UL, "reserved page type 0x5")]
    public void Bad_pfn_entries_are_refused(ulong bits, string message)
    {
        var (bytes, records) = Image(GuestType.HVM);
        var pages = records.First(r => r.Is(LibxcRecordType.PageData));
        var entry = (int)pages.Offset + 16 + 8; // pfn[1]
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(entry), BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(entry)) | bits);
        var p = Fails(bytes);
        Assert.Contains("pfn[1]", p.Message);
        Assert.Contains(message, p.Message);
        Assert.Equal(pages.Offset, p.Offset);
    }

    [Fact]
    public void An_xtab_pfn_without_its_page_removed_breaks_the_page_data_length()
    {
        var (bytes, records) = Image(GuestType.HVM);
        var pages = records.First(r => r.Is(LibxcRecordType.PageData));
        bytes[pages.Offset + 16 + 7] = 0xF0; // pfn[0] becomes XTAB but its page is still there
        var p = Fails(bytes);
        Assert.Contains("expected 8 + 24 + 8192", p.Message);
    }

    [Theory]
    [InlineData(GuestType.PV, LibxcRecordType.X86TscInfo, 0x09u, "HVM_CONTEXT record in a PV guest's image")]
    [InlineData(GuestType.HVM, LibxcRecordType.X86TscInfo, 0x07u, "SHARED_INFO record in an HVM guest's image")]
    [InlineData(GuestType.HVM, LibxcRecordType.X86TscInfo, 0x13u, "unrecognised mandatory libxc record type 0x00000013")]
    [InlineData(GuestType.HVM, LibxcRecordType.X86TscInfo, 0x8000_0013u, "unrecognised optional libxc record type")]
    [InlineData(GuestType.HVM, LibxcRecordType.X86TscInfo, 0x0Bu, "TOOLSTACK")]
    [InlineData(GuestType.HVM, LibxcRecordType.X86TscInfo, 0x0Fu, "CHECKPOINT_DIRTY_PFN_LIST")]
    [InlineData(GuestType.HVM, LibxcRecordType.StaticDataEnd, 0x01u, "PAGE_DATA before STATIC_DATA_END")]
    [InlineData(GuestType.HVM, LibxcRecordType.HvmParams, 0x09u, "a second HVM_CONTEXT")]
    [InlineData(GuestType.PV, LibxcRecordType.X86PvP2mFrames, 0x02u, "X86_PV_INFO record length")]
    public void Records_out_of_place_or_unknown_are_reported_at_their_header(GuestType guest, LibxcRecordType original, uint newType, string message)
    {
        var (bytes, records) = Image(guest);
        var target = records.First(r => r.Is(original));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)target.Offset), newType);
        var p = Fails(bytes);
        Assert.Contains(message, p.Message);
        if (original != LibxcRecordType.StaticDataEnd) Assert.Equal(target.Offset, p.Offset);
    }

    /// <summary>
    /// vCPU 0's basic state retyped as a second extended record: verify said valid with 0 vCPUs, where libxc refuses
    /// the stream ("Sender didn't send vcpu0's basic state"). Reported at the END record, where libxc finds out.
    /// </summary>
    [Fact]
    public void A_pv_image_without_vcpu0_basic_state_is_invalid()
    {
        var (bytes, records) = Image(GuestType.PV);
        Assert.True(ImageStreamVerifier.Verify(new MemoryStream(bytes)).IsValid);
        var basic = records.First(r => r.Is(LibxcRecordType.X86PvVcpuBasic));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)basic.Offset), (uint)LibxcRecordType.X86PvVcpuExtended);
        var p = Fails(bytes);
        Assert.Contains("without vCPU 0's basic state", p.Message);
        Assert.Equal(records.Single(r => r.Is(LibxcRecordType.End)).Offset, p.Offset);
    }

    [Fact]
    public void Unknown_optional_records_pass_when_allowed_as_libxc_allows_them()
    {
        var (bytes, records) = Image(GuestType.HVM);
        var tsc = records.Single(r => r.Is(LibxcRecordType.X86TscInfo));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)tsc.Offset), 0x8000_0013);
        var result = ImageStreamVerifier.Verify(new MemoryStream(bytes), new ImageVerifierOptions { AllowUnknownOptionalRecords = true });
        Assert.True(result.IsValid, result.Problem?.ToString());
        Assert.Equal(1, result.Summary.Records["libxc:OPTIONAL_0x80000013"]);
    }

    [Fact]
    public void A_libxc_record_over_128_MiB_is_refused_before_reading_it()
    {
        var (bytes, records) = Image(GuestType.HVM);
        var context = records.Single(r => r.Is(LibxcRecordType.HvmContext));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)context.Offset + 4), (128u << 20) + 8);
        var p = Fails(bytes, seekable: false);
        Assert.Contains("exceeds the libxc limit", p.Message);
        Assert.Equal(context.Offset, p.Offset);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Cut_images_are_truncated_and_trailing_bytes_are_refused(bool seekable)
    {
        var (bytes, records) = Image(GuestType.HVM);
        var cut = Fails(bytes[..^12], seekable);
        Assert.Equal(FormatError.Truncated, cut.Error);

        var trailing = Fails([.. bytes, 0], seekable);
        Assert.Contains("data follows the final END", trailing.Message);
        Assert.Equal(bytes.Length, trailing.Offset);
        Assert.Equal(records.Count, trailing.RecordIndex);
    }

    [Fact]
    public void A_checkpoint_hands_over_to_libxl_until_checkpoint_end()
    {
        // libxl header, LIBXC_CONTEXT, libxc headers, STATIC_DATA_END, CHECKPOINT, libxl CHECKPOINT_END,
        // libxc END, libxl END: a checkpointed stream with one checkpoint and no memory.
        var (bytes, records) = Image(GuestType.HVM);
        var sde = records.Single(r => r.Is(LibxcRecordType.StaticDataEnd));
        var head = bytes[..(int)(sde.Offset + 8)];
        byte[] tail = [.. Rec(0x0E), .. Rec(0x04), .. Rec(0x00), .. Rec(0x00)];
        var result = ImageStreamVerifier.Verify(new MemoryStream([.. head, .. tail]));
        Assert.True(result.IsValid, result.Problem?.ToString());
        Assert.Equal(1, result.Summary.Checkpoints);
        Assert.Equal(1, result.Summary.Records["libxl:CHECKPOINT_END"]);

        // Without the CHECKPOINT, the same CHECKPOINT_END type number is a libxc X86_PV_VCPU_BASIC in an HVM image.
        byte[] wrong = [.. Rec(0x04), .. Rec(0x00), .. Rec(0x00)];
        Assert.Contains("X86_PV_VCPU_BASIC", Fails([.. head, .. wrong]).Message);

        static byte[] Rec(uint type) { var r = new byte[8]; BinaryPrimitives.WriteUInt32LittleEndian(r, type); return r; }
    }

    [Fact]
    public void A_pre_v2_savefile_is_recognised_not_verified()
    {
        var bytes = ImageStreamWriterTests.SaveFile(ImageStreamWriterTests.Hvm(1));
        bytes[36] &= unchecked((byte)~2);
        using var saveFile = SaveFileReader.Open(new MemoryStream(bytes));
        var result = SaveFileVerification.Verify(saveFile);
        Assert.Equal(ImageVerificationStatus.NotVerified, result.Status);
        Assert.Equal(ImageStreamVerifier.LegacyImageMessage, result.Problem!.Message);
        Assert.Equal(saveFile.ImageOffset, result.Problem.Offset);
    }
}
