using XenIac.Core.IO;
using XenIac.Core.SaveFiles;

namespace XenIac.Core.Tests.SaveFiles;

public sealed class SaveFileRewriterTests
{
    private static string Write(string dir, string name, SaveFileHeader header, byte[] image)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllBytes(path, TestData.Concat(header.ToBytes(), image));
        return path;
    }

    [Fact]
    public async Task Replacing_the_config_keeps_image_flags_extension_and_makes_the_file_private()
    {
        var dir = TestData.TempDir();
        var header = SaveFileHeader.Create("{\"old\":1}", SaveFileConfigFormat.Json, SaveFileByteOrder.BigEndian)
            with { Extension = new byte[] { 0xEE, 0xFF }, OptionalFlags = 7 };
        var image = TestData.SoundImage(200_000);
        var path = Write(dir, "d.xlsave", header, image);

        await SaveFileRewriter.ReplaceConfigAsync(path, "{\"new\":22}", SaveFileConfigFormat.Json);

        using var reader = SaveFileReader.Open(path);
        Assert.Equal("{\"new\":22}", reader.Header.ConfigText);
        Assert.Equal(SaveFileByteOrder.BigEndian, reader.Header.ByteOrder);
        Assert.Equal(7u, reader.Header.OptionalFlags);
        Assert.Equal(3u, reader.Header.MandatoryFlags);
        Assert.Equal(new byte[] { 0xEE, 0xFF }, reader.Header.Extension.ToArray());
        using var copy = new MemoryStream();
        reader.Image.CopyTo(copy);
        Assert.Equal(image, copy.ToArray());
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Empty(Directory.GetFiles(dir, AtomicFile.TempPrefix + "*"));
    }

    [Fact]
    public async Task Legacy_round_trip_restores_the_exact_bytes_of_a_v2_savefile()
    {
        var dir = TestData.TempDir();
        var config = "{\"c_info\":{\"name\":\"x\"}}";
        var image = TestData.SoundImage(16_384);
        var original = Write(dir, "a.xlsave", SaveFileHeader.Create(config, SaveFileConfigFormat.Json), image);

        var legacy = Path.Combine(dir, "a.legacy");
        await SaveFileRewriter.ConvertToLegacyAsync(original, legacy);
        Assert.Equal(image, await File.ReadAllBytesAsync(legacy));

        var back = Path.Combine(dir, "b.xlsave");
        var header = await SaveFileRewriter.ConvertFromLegacyAsync(legacy, back, config, SaveFileConfigFormat.Json);
        Assert.True(header.IsStreamV2);
        Assert.Equal(await File.ReadAllBytesAsync(original), await File.ReadAllBytesAsync(back));
    }

    [Fact]
    public async Task A_legacy_image_that_is_not_v2_gets_no_stream_v2_flag()
    {
        var dir = TestData.TempDir();
        var legacy = Path.Combine(dir, "old.img");
        await File.WriteAllBytesAsync(legacy, TestData.Image(3000));
        var header = await SaveFileRewriter.ConvertFromLegacyAsync(legacy, Path.Combine(dir, "new.xlsave"), "name=\"o\"\n", SaveFileConfigFormat.XlCfg);
        Assert.False(header.IsStreamV2);
        Assert.Equal(SaveFileConfigFormat.XlCfg, header.ConfigFormat);
    }

    [Fact]
    public async Task Converting_an_xl_file_as_if_legacy_is_refused()
    {
        var dir = TestData.TempDir();
        var path = Write(dir, "x.xlsave", SaveFileHeader.Create("{}", SaveFileConfigFormat.Json), TestData.Image(100));
        var e = await Assert.ThrowsAsync<XenFormatException>(() =>
            SaveFileRewriter.ConvertFromLegacyAsync(path, Path.Combine(dir, "y"), "{}", SaveFileConfigFormat.Json));
        Assert.Contains("already has an xl savefile header", e.Message);
    }

    [Fact]
    public async Task A_cancelled_rewrite_leaves_the_original_untouched_and_no_temp_file()
    {
        var dir = TestData.TempDir();
        var path = Write(dir, "big.xlsave", SaveFileHeader.Create("{\"v\":1}", SaveFileConfigFormat.Json), TestData.SoundImage(8 * 1024 * 1024));
        var before = await File.ReadAllBytesAsync(path);
        using var cts = new CancellationTokenSource();
        var progress = new CancelAfter(cts, 1024 * 1024);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            SaveFileRewriter.RewriteAsync(path, path, false, (h, _) => h.WithConfig("{\"v\":2}", SaveFileConfigFormat.Json),
                progress: progress, cancellationToken: cts.Token));

        Assert.Equal(before, await File.ReadAllBytesAsync(path));
        Assert.Equal([path], Directory.GetFiles(dir));
    }

    [Fact]
    public async Task A_corrupt_source_fails_before_anything_is_written()
    {
        var dir = TestData.TempDir();
        var source = Path.Combine(dir, "bad.xlsave");
        await File.WriteAllBytesAsync(source, new byte[10]);
        var destination = Path.Combine(dir, "out.xlsave");
        await File.WriteAllTextAsync(destination, "previous good file");

        await Assert.ThrowsAsync<XenFormatException>(() => SaveFileRewriter.ConvertToLegacyAsync(source, destination));
        Assert.Equal("previous good file", await File.ReadAllTextAsync(destination));
    }

    public static TheoryData<string> Damages() => ["cut in a page", "cut before END", "record length", "bytes after END"];

    private static byte[] Damage(byte[] image, string how) => how switch
    {
        "cut in a page" => image[..(image.Length / 2)],
        "cut before END" => image[..^8],
        // The first PAGE_DATA record claims a length past the end (its length field follows its type).
        "record length" => Patched(image, (int)FirstPageData(image) + 4, 0x7fff_fff0),
        "bytes after END" => TestData.Concat(image, new byte[8]),
        _ => throw new ArgumentException(how),
    };

    private static long FirstPageData(byte[] image)
    {
        using var reader = new XenIac.Core.Streams.ImageStreamReader(new MemoryStream(image), 0);
        while (reader.MoveNext())
            if (reader.Current.Is(XenIac.Core.Streams.LibxcRecordType.PageData)) return reader.Current.Offset;
        throw new InvalidOperationException("no PAGE_DATA record");
    }

    private static byte[] Patched(byte[] bytes, int offset, uint value)
    {
        var copy = bytes.ToArray();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(offset), value);
        return copy;
    }

    [Theory]
    [MemberData(nameof(Damages))]
    public async Task A_damaged_image_is_neither_rewritten_nor_sealed_and_nothing_is_written(string how)
    {
        // The image is copied as bytes; without a look at its records a cut or damaged one came out under a new
        // header (set-config, convert) or sealed with a digest vouching for it, all with success.
        var dir = TestData.TempDir();
        var source = Write(dir, "hurt.xlsave", SaveFileHeader.Create("{\"v\":1}", SaveFileConfigFormat.Json), Damage(TestData.SoundImage(100_000), how));
        var before = await File.ReadAllBytesAsync(source);
        var destination = Path.Combine(dir, "out.legacy");
        await File.WriteAllTextAsync(destination, "previous good file");

        var rewrite = await Assert.ThrowsAsync<XenFormatException>(() => SaveFileRewriter.ReplaceConfigAsync(source, "{\"v\":2}", SaveFileConfigFormat.Json));
        Assert.Contains("is damaged, nothing was written", rewrite.Message);
        Assert.NotNull(rewrite.Offset);
        await Assert.ThrowsAsync<XenFormatException>(() => SaveFileRewriter.SealAsync(source));
        await Assert.ThrowsAsync<XenFormatException>(() => SaveFileRewriter.ConvertToLegacyAsync(source, destination));

        Assert.Equal(before, await File.ReadAllBytesAsync(source));
        Assert.Equal("previous good file", await File.ReadAllTextAsync(destination));
        Assert.Equal(2, Directory.GetFiles(dir).Length);
    }

    private sealed class CancelAfter(CancellationTokenSource cts, long bytes) : IProgress<long>
    {
        public void Report(long value)
        {
            if (value >= bytes) cts.Cancel();
        }
    }
}
