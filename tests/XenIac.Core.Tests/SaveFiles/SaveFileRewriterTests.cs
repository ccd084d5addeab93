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
        var image = TestData.Image(200_000);
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
        var image = TestData.Concat("LibxlFmt"u8.ToArray(), TestData.Image(10_000));
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
        var path = Write(dir, "big.xlsave", SaveFileHeader.Create("{\"v\":1}", SaveFileConfigFormat.Json), TestData.Image(8 * 1024 * 1024));
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

    private sealed class CancelAfter(CancellationTokenSource cts, long bytes) : IProgress<long>
    {
        public void Report(long value)
        {
            if (value >= bytes) cts.Cancel();
        }
    }
}
