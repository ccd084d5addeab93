using XenIac.Tests;
using CsCheck;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;

namespace XenIac.Core.Tests.Streams;

public sealed class ImageStreamWriterTests
{
    internal static byte PageByte(ulong pfn, int i) => (byte)(pfn * 31 + (ulong)i * 7 + 1);

    internal static DomainImageDescription Hvm(long pages, int vcpus = 1) => new()
    {
        GuestType = GuestType.HVM,
        PageCount = pages,
        VCpus = vcpus,
        FillPage = (pfn, page) => { for (var i = 0; i < page.Length; i++) page[i] = PageByte(pfn, i); },
        CpuidPolicy = new byte[24 * 3],
        MsrPolicy = new byte[16 * 2],
        HvmParams = [new(2, 0xfeffc), new(12, 0x1)],
        EmulatorContext = "QEVM\0\0\0\u0003 device state"u8.ToArray(),
        TscKhz = 2_596_153,
    };

    internal static byte[] SaveFile(DomainImageDescription d, string name = "demo")
    {
        var type = d.GuestType.ToString().ToLowerInvariant();
        var header = SaveFileHeader.Create($"{{\"c_info\":{{\"type\":\"{type}\",\"name\":\"{name}\"}}}}", SaveFileConfigFormat.Json);
        Assert.True(header.IsStreamV2);
        using var ms = new MemoryStream();
        SaveFileWriter.WriteHeader(ms, header);
        ImageStreamWriter.Write(ms, d);
        return ms.ToArray();
    }

    [SkippableTheory]
    [InlineData(GuestType.HVM)]
    [InlineData(GuestType.PV)]
    public void Written_savefile_passes_xens_own_checker(GuestType type)
    {
        Skip.IfNot(ReferenceChecker.Available, ReferenceChecker.MissingReason);
        var d = Hvm(1500, vcpus: 2) with { GuestType = type };
        var path = Path.Combine(Path.GetTempPath(), $"xeniac-writer-{type}-{Environment.ProcessId}.xlsave");
        File.WriteAllBytes(path, SaveFile(d));
        try
        {
            var (rc, output) = ReferenceChecker.Run(path);
            Assert.True(rc == 0, output);
            Assert.Contains($"Domain Header: x86 {(type == GuestType.PV ? "PV" : "HVM")} from Xen 4.17", output);
            Assert.Contains("Squashed 2 Page Data records together", output);
            if (type == GuestType.HVM) Assert.Contains("Index 0, type Qemu Upstream", output);
            else Assert.Contains("vcpu1 basic context, 5168 bytes", output);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData(GuestType.HVM, 2049, 3)]
    [InlineData(GuestType.PV, 700, 2)]
    [InlineData(GuestType.PVH, 1, 1)]
    public void Written_image_reads_back_page_for_page_and_summarises(GuestType type, int pages, int vcpus)
    {
        var bytes = SaveFile(Hvm(pages, vcpus) with { GuestType = type });
        using var saveFile = SaveFileReader.Open(new MemoryStream(bytes));
        var result = SaveFileVerification.Verify(saveFile);
        Assert.True(result.IsValid, result.Problem?.ToString());
        Assert.Equal(type, result.Summary.GuestType);
        Assert.Equal(pages, result.Summary.Pages);
        Assert.Equal(vcpus, result.Summary.VCpus);
        Assert.Equal((pages + 1023) / 1024, result.Summary.Records["libxc:PAGE_DATA"]);
        Assert.Equal("4.17", result.Summary.XenVersion);
        Assert.Equal(type == GuestType.PV ? 0 : 1, result.Summary.Records.GetValueOrDefault("libxl:EMULATOR_CONTEXT"));

        using var again = SaveFileReader.Open(new MemoryStream(bytes));
        using var reader = again.OpenImage();
        ulong next = 0;
        while (reader.MoveNext())
        {
            if (!reader.Current.Is(LibxcRecordType.PageData)) continue;
            foreach (var page in reader.ReadPages())
            {
                Assert.Equal(next++, page.Pfn);
                Assert.Equal(PageType.NoTab, page.Type);
                for (var i = 0; i < page.Contents.Length; i += 509) Assert.Equal(PageByte(page.Pfn, i), page.Contents.Span[i]);
            }
        }
        Assert.Equal((ulong)pages, next);
    }

    [Fact]
    public void Memory_can_come_from_a_stream_and_pages_without_contents_take_none_of_it()
    {
        ulong[] pfns = [5, 9, 0x10_0000, 3];
        var memory = new byte[3 * 4096];
        for (var i = 0; i < memory.Length; i++) memory[i] = (byte)(i / 4096 + 1);
        var d = new DomainImageDescription
        {
            GuestType = GuestType.HVM, Pfns = pfns, Memory = new MemoryStream(memory),
            PageTypes = pfn => pfn == 9 ? PageType.XTab : PageType.NoTab,
        };
        using var image = new MemoryStream();
        ImageStreamWriter.Write(image, d);
        image.Position = 0;
        using var reader = new ImageStreamReader(image);
        var seen = new List<(ulong, PageType, byte)>();
        while (reader.MoveNext())
            if (reader.Current.Is(LibxcRecordType.PageData))
                foreach (var p in reader.ReadPages()) seen.Add((p.Pfn, p.Type, p.HasContents ? p.Contents.Span[4095] : (byte)0));
        Assert.Equal([(5UL, PageType.NoTab, (byte)1), (9UL, PageType.XTab, (byte)0), (0x10_0000UL, PageType.NoTab, (byte)2), (3UL, PageType.NoTab, (byte)3)], seen);
    }

    [Fact]
    public void A_memory_stream_shorter_than_the_pages_is_the_callers_error()
    {
        var d = new DomainImageDescription { GuestType = GuestType.PV, PageCount = 2, Memory = new MemoryStream(new byte[4096 + 10]) };
        var e = Assert.Throws<ArgumentException>(() => ImageStreamWriter.Write(Stream.Null, d));
        Assert.Contains("inside page 1", e.Message);
    }

    private static readonly Gen<DomainImageDescription> Descriptions =
        Gen.Select(Gen.Bool.Select(pv => pv ? GuestType.PV : GuestType.HVM), Gen.Int[1, 4], Gen.Int[0, 2100], Gen.Int[0, 1000])
            .Select((type, vcpus, pages, seed) =>
            {
                var rng = new Random(seed);
                var pfns = Enumerable.Range(0, pages).Select(_ => (ulong)rng.NextInt64(0, 1L << 30)).Distinct().ToArray();
                var types = new[] { PageType.NoTab, PageType.NoTab, PageType.XTab, PageType.XAlloc, PageType.Broken };
                return new DomainImageDescription
                {
                    GuestType = type, VCpus = vcpus, Pfns = pfns,
                    PageTypes = pfn => types[(int)(pfn % (ulong)types.Length)],
                    FillPage = (pfn, page) => page.Fill((byte)pfn),
                    EmulatorContext = new byte[seed % 13],
                };
            });

    [Fact]
    public void Property_writer_output_verifies_and_reads_back_every_pfn_and_page()
    {
        Descriptions.Sample(d =>
        {
            using var image = new MemoryStream();
            ImageStreamWriter.Write(image, d);
            image.Position = 0;
            var result = ImageStreamVerifier.Verify(image);
            Assert.True(result.IsValid, result.Problem?.ToString());
            Assert.Equal(d.VCpus, result.Summary.VCpus);
            var expectedWithContents = d.Pfns!.Count(p => PageDataInfo.CarriesContents((ulong)d.PageTypes!(p) << 60));
            Assert.Equal(expectedWithContents, result.Summary.Pages);

            image.Position = 0;
            using var reader = new ImageStreamReader(new NonSeekable(image));
            var i = 0;
            while (reader.MoveNext())
                if (reader.Current.Is(LibxcRecordType.PageData))
                    foreach (var page in reader.ReadPages())
                    {
                        Assert.Equal(d.Pfns![i++], page.Pfn);
                        Assert.Equal(d.PageTypes!(page.Pfn), page.Type);
                        if (page.HasContents) Assert.True(page.Contents.Span.IndexOfAnyExcept((byte)page.Pfn) < 0);
                    }
            Assert.Equal(d.Pfns!.Count, i);
        }, iter: 60);
    }

    [Fact]
    public void Property_corrupt_or_cut_images_fail_only_with_XenFormatException_at_an_offset_inside_the_image()
    {
        var image = new MemoryStream();
        ImageStreamWriter.Write(image, Hvm(1100, 2));
        var pristine = image.ToArray();
        Gen.Select(Gen.Int[0, pristine.Length - 1], Gen.Byte[1, 255], Gen.Int[0, 3], Gen.Bool).Sample((at, xor, mode, seekable) =>
        {
            var bytes = (byte[])pristine.Clone();
            if (mode == 0) bytes = bytes[..at];
            else if (mode == 1) bytes[at] ^= xor;
            else
            {
                // Corrupt a record header region more often: that is where parsing decisions are made.
                var headerish = at / 8 * 8;
                bytes[headerish + (xor & 7)] ^= xor;
            }
            Stream s = new MemoryStream(bytes);
            if (!seekable) s = new NonSeekable(s);
            var result = ImageStreamVerifier.Verify(s, origin: 1000);
            if (result.IsValid) return; // a flip inside page contents is not a stream error
            var offset = result.Problem?.Offset;
            Assert.NotNull(offset);
            Assert.InRange(offset.Value, 1000, 1000 + pristine.Length);

            s = new MemoryStream(bytes);
            using var reader = new ImageStreamReader(seekable ? s : new NonSeekable(s));
            try
            {
                while (reader.MoveNext())
                    if (reader.Current.Is(LibxcRecordType.PageData)) foreach (var _ in reader.ReadPages()) { }
                    else reader.ReadBody();
            }
            catch (XenFormatException e)
            {
                Assert.NotNull(e.Offset);
                Assert.True(e.Error is FormatError.InvalidImage or FormatError.Truncated);
            }
        }, iter: 400);
    }
}

/// <summary>Hides seeking, as a pipe would.</summary>
internal sealed class NonSeekable(Stream inner) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, Math.Min(count, 7000));
    public override int Read(Span<byte> buffer) => inner.Read(buffer[..Math.Min(buffer.Length, 7000)]);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
