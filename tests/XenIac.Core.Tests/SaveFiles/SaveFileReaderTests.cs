using XenIac.Core.SaveFiles;

namespace XenIac.Core.Tests.SaveFiles;

public sealed class SaveFileReaderTests
{
    [Fact]
    public void On_a_pipe_the_reader_consumes_exactly_the_header_and_hands_out_the_image()
    {
        var header = SaveFileHeader.Create("{\"a\":1}", SaveFileConfigFormat.Json);
        var image = TestData.Image(5000);
        var pipe = new PipeLikeStream(TestData.Concat(header.ToBytes(), image));

        using var reader = SaveFileReader.Open(pipe, leaveOpen: true);

        Assert.Equal(header.ImageOffset, pipe.Consumed);
        Assert.False(reader.Image.CanSeek);
        using var copy = new MemoryStream();
        reader.Image.CopyTo(copy);
        Assert.Equal(image, copy.ToArray());
        Assert.Equal(header.ImageOffset, reader.ImageOffset);
    }

    [Fact]
    public async Task Async_open_on_a_seekable_stream_gives_a_seekable_image_relative_to_its_start()
    {
        var header = SaveFileHeader.Create("memory = 128\n", SaveFileConfigFormat.XlCfg);
        var image = TestData.Image(4096);
        await using var reader = await SaveFileReader.OpenAsync(new MemoryStream(TestData.Concat(header.ToBytes(), image)));

        Assert.True(reader.Image.CanSeek);
        Assert.Equal(image.Length, reader.Image.Length);
        reader.Image.Seek(100, SeekOrigin.Begin);
        Assert.Equal(image[100], (byte)reader.Image.ReadByte());
        Assert.Equal(101, reader.Image.Position);
        reader.Image.Position = image.Length - 1;
        Assert.Equal(image[^1], (byte)reader.Image.ReadByte());
        Assert.Throws<IOException>(() => reader.Image.Seek(-1, SeekOrigin.Begin));
    }

    [Fact]
    public void A_bad_header_disposes_the_stream_unless_asked_to_leave_it_open()
    {
        var owned = new MemoryStream(new byte[100]);
        Assert.Throws<XenFormatException>(() => SaveFileReader.Open(owned));
        Assert.False(owned.CanRead);

        var kept = new MemoryStream(new byte[100]);
        Assert.Throws<XenFormatException>(() => SaveFileReader.Open(kept, leaveOpen: true));
        Assert.True(kept.CanRead);
    }

    [Fact]
    public void Override_config_replaces_the_stored_one_and_the_result_says_so()
    {
        var header = SaveFileHeader.Create("{\"c_info\":{\"name\":\"a\"}}", SaveFileConfigFormat.Json);
        using var reader = SaveFileReader.Open(new MemoryStream(header.ToBytes()));

        var stored = reader.ResolveConfig();
        Assert.False(stored.IsOverride);
        Assert.Equal(SaveFileConfigFormat.Json, stored.Format);
        Assert.Equal("{\"c_info\":{\"name\":\"a\"}}", stored.Text);

        var overridden = reader.ResolveConfig("name = \"b\"\n", SaveFileConfigFormat.XlCfg);
        Assert.True(overridden.IsOverride);
        Assert.Equal("name = \"b\"\n", overridden.Text);
        Assert.Equal(SaveFileConfigFormat.XlCfg, overridden.Format);
    }

    [Fact]
    public void Legacy_file_is_all_image_and_needs_a_config_from_the_caller()
    {
        var image = TestData.Image(777);
        using var reader = SaveFileReader.OpenLegacy(new MemoryStream(image));

        Assert.Equal(SaveFileFormat.Legacy, reader.Header.Format);
        Assert.Equal(0, reader.ImageOffset);
        var e = Assert.Throws<XenFormatException>(() => reader.ResolveConfig());
        Assert.Contains("legacy", e.Message);
        Assert.True(reader.ResolveConfig("name=\"x\"", SaveFileConfigFormat.XlCfg).IsOverride);
        using var copy = new MemoryStream();
        reader.Image.CopyTo(copy);
        Assert.Equal(image, copy.ToArray());
    }

    [Fact]
    public void A_file_without_config_and_no_override_cannot_be_restored()
    {
        using var reader = SaveFileReader.Open(new MemoryStream(new SaveFileHeader { MandatoryFlags = 2 }.ToBytes()));
        var e = Assert.Throws<XenFormatException>(() => reader.ResolveConfig());
        Assert.Contains("stores no config", e.Message);
    }

    [Fact]
    public async Task Writer_writes_header_then_copies_the_image_and_reports_progress()
    {
        var header = SaveFileHeader.Create("{\"x\":true}", SaveFileConfigFormat.Json, SaveFileByteOrder.BigEndian);
        var image = TestData.Image(3 * 1024 * 1024 + 17);
        using var output = new MemoryStream();
        var reports = new List<long>();

        var copied = await SaveFileWriter.WriteAsync(output, header, new MemoryStream(image), new SyncProgress(reports.Add));

        Assert.Equal(image.Length, copied);
        Assert.Equal(image.Length, reports[^1]);
        Assert.True(reports.Count >= 4, "progress is reported per chunk");
        Assert.Equal(TestData.Concat(header.ToBytes(), image), output.ToArray());
    }

    [Fact]
    public void A_file_opened_by_path_reads_ahead_as_its_options_say_and_reads_the_same_bytes()
    {
        var path = Path.Combine(Path.GetTempPath(), $"xeniac-readahead-{Guid.NewGuid():N}.xlsave");
        var header = SaveFileHeader.Create("{\"c_info\":{\"name\":\"a\"}}", SaveFileConfigFormat.Json);
        var image = TestData.Image(200_000);
        File.WriteAllBytes(path, TestData.Concat(header.ToBytes(), image));
        try
        {
            byte[] Image(SaveFileReaderOptions options)
            {
                using var reader = SaveFileReader.Open(path, options);
                using var copy = new MemoryStream();
                reader.Image.CopyTo(copy);
                return copy.ToArray();
            }
            Assert.Equal(image, Image(SaveFileReaderOptions.Default));
            Assert.Equal(image, Image(SaveFileReaderOptions.Inspection));
            Assert.Equal(image, Image(new SaveFileReaderOptions { ReadBufferSize = 0 }));

            // What the option is for: a look at the header allocates its read-ahead, so plan's thousand looks stay cheap.
            long Allocated(SaveFileReaderOptions options)
            {
                var before = GC.GetAllocatedBytesForCurrentThread();
                using (var reader = SaveFileReader.Open(path, options)) Assert.Equal(header.ConfigText, reader.Header.ConfigText);
                return GC.GetAllocatedBytesForCurrentThread() - before;
            }
            Allocated(SaveFileReaderOptions.Default);
            Assert.True(Allocated(SaveFileReaderOptions.Default) >= 64 * 1024);
            Assert.InRange(Allocated(SaveFileReaderOptions.Inspection), 0, 16 * 1024);
            Assert.Throws<ArgumentOutOfRangeException>(() => new SaveFileReaderOptions { ReadBufferSize = -1 });
        }
        finally
        {
            File.Delete(path);
        }
    }

    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
