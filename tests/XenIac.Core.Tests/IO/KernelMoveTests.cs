using XenIac.Core.IO;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;
using XenIac.Core.Tests.SaveFiles;
using XenIac.Core.Tests.Streams;
using XenIac.Tests;

namespace XenIac.Core.Tests.IO;

/// <summary>
/// Bytes the kernel moves without user space seeing them: guest pages a verification skips are spliced out of a pipe
/// into /dev/null, and an image rewritten onto a pipe is sent from the source file. The verdicts and bytes must be
/// exactly what the ordinary read paths give.
/// </summary>
public sealed class KernelMoveTests
{
    // 2,000 pages of 4 KiB: about 8 MiB of page data, far more than the skip buffer (1 MiB) the read path grows to.
    private static readonly byte[] Savefile = ImageStreamWriterTests.SaveFile(ImageStreamWriterTests.Hvm(2000));

    /// <summary>
    /// A FIFO fed <paramref name="bytes"/> by a task; the reader end without a buffer, as StandardStreams opens a piped
    /// stdin, or (<paramref name="buffered"/>) as a FileStream opened by path with a buffer, as `verify FIFO` opens one.
    /// </summary>
    private static (FileStream Reader, Task Writer) Feed(byte[] bytes, bool buffered = false)
    {
        var fifo = Path.Combine(TestData.TempDir(), "image.fifo");
        Skip.IfNot(OperatingSystem.IsLinux(), "splice is Linux's");
        Skip.IfNot(Fifo.TryMake(fifo), "mkfifo failed");
        var writer = Task.Run(async () =>
        {
            await using var w = new FileStream(fifo, FileMode.Open, FileAccess.Write);
            // In pieces, so the reader meets short reads and an empty pipe part way.
            for (var i = 0; i < bytes.Length; i += 100_000) await w.WriteAsync(bytes.AsMemory(i, Math.Min(100_000, bytes.Length - i)));
        });
        return (buffered
            ? new FileStream(fifo, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 64 * 1024)
            : new UnbufferedPipe(File.OpenHandle(fifo, FileMode.Open, FileAccess.Read, FileShare.ReadWrite)), writer);
    }

    private static (ImageVerification Result, long Allocated) VerifyImage(Stream savefile)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        using var reader = SaveFileReader.Open(savefile, leaveOpen: true);
        var result = ImageStreamVerifier.Verify(reader.Image, origin: reader.ImageOffset);
        return (result, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [SkippableFact]
    public async Task Pages_skipped_from_a_pipe_are_dropped_in_the_kernel_with_the_files_verdict()
    {
        var (fromFile, _) = VerifyImage(new MemoryStream(Savefile));
        var (fromReads, readAllocated) = VerifyImage(new NonSeekable(new MemoryStream(Savefile)));
        var (pipe, writer) = Feed(Savefile);
        ImageVerification fromPipe;
        long pipeAllocated;
        using (pipe) (fromPipe, pipeAllocated) = VerifyImage(pipe);
        await writer;

        Assert.Equal(ImageVerificationStatus.Valid, fromFile.Status);
        Assert.Equal(fromFile.Status, fromPipe.Status);
        SameSummary(fromFile.Summary, fromPipe.Summary);
        SameSummary(fromFile.Summary, fromReads.Summary);
        // The read path grows a skip buffer; the kernel path has none to grow.
        Assert.True(pipeAllocated < readAllocated, $"skipping from a pipe allocated {pipeAllocated} bytes, reading {readAllocated}");
    }

    [SkippableFact]
    public async Task A_pipe_drops_what_it_is_asked_to_and_reads_on_from_there()
    {
        var bytes = TestData.Image(3 << 20, seed: 5);
        var (pipe, writer) = Feed(bytes);
        long dropped = 0;
        var next = new byte[10];
        using (pipe)
        {
            while (dropped < 2_500_000 && PipeDiscard.TryDiscard(pipe, 2_500_000 - dropped) is > 0 and var n) dropped += n;
            pipe.ReadExactly(next);
            while (PipeDiscard.TryDiscard(pipe, long.MaxValue) > 0) { }
            Assert.Equal(0, pipe.Read(new byte[1]));
        }
        await writer;

        Assert.Equal(2_500_000, dropped);
        Assert.Equal(bytes.AsSpan(2_500_000, 10).ToArray(), next);
        // Nothing else can drop bytes: the caller reads them.
        Assert.Equal(0, PipeDiscard.TryDiscard(new MemoryStream(bytes), 100));
        Assert.Equal(0, PipeDiscard.TryDiscard(new NonSeekable(new MemoryStream(bytes)), 100));
    }

    [SkippableFact]
    public async Task A_buffered_stream_over_a_pipe_is_read_not_dropped_because_its_buffer_runs_ahead_of_the_pipe()
    {
        var (fromFile, _) = VerifyImage(new MemoryStream(Savefile));
        // Fewer bytes than a pipe holds, so the writer is done before the reader closes.
        var (pipe, writer) = Feed(Savefile.AsSpan(0, 1000).ToArray(), buffered: true);
        ImageVerification fromPipe;
        using (pipe)
        {
            pipe.ReadExactly(new byte[1]); // the buffer now holds bytes the pipe no longer has
            Assert.Equal(0, PipeDiscard.TryDiscard(pipe, 100));
        }
        await writer;
        (pipe, writer) = Feed(Savefile, buffered: true);
        using (pipe) (fromPipe, _) = VerifyImage(pipe);
        await writer;

        Assert.Equal(ImageVerificationStatus.Valid, fromPipe.Status);
        SameSummary(fromFile.Summary, fromPipe.Summary);
    }

    private static void SameSummary(ImageSummary expected, ImageSummary actual)
    {
        Assert.Equal(expected with { PagesByType = actual.PagesByType, Records = actual.Records }, actual);
        Assert.Equal(expected.PagesByType, actual.PagesByType);
        Assert.Equal(expected.Records, actual.Records);
    }

    [SkippableFact]
    public async Task A_pipe_that_ends_inside_the_pages_is_cut_short_where_the_file_would_be()
    {
        var cut = Savefile.AsSpan(0, Savefile.Length / 2).ToArray();
        var (fromFile, _) = VerifyImage(new NonSeekable(new MemoryStream(cut)));
        var (pipe, writer) = Feed(cut);
        ImageVerification fromPipe;
        using (pipe) (fromPipe, _) = VerifyImage(pipe);
        await writer;

        Assert.Equal(ImageVerificationStatus.Invalid, fromFile.Status);
        Assert.Contains("cut short", fromFile.Problem!.Message);
        Assert.Equal(fromFile.Status, fromPipe.Status);
        Assert.Equal(fromFile.Problem.Message, fromPipe.Problem!.Message);
        Assert.Equal(fromFile.Problem.Offset, fromPipe.Problem.Offset);
    }

    /// <summary>
    /// Damaged savefiles, through the pipe path and the read path: random bytes changed (most in the record headers
    /// near the start and the end, where a change alters the structure, some anywhere), lengths cut at random. Whatever
    /// the damage, splicing the skipped pages away must give the very verdict reading them gives: status, problem,
    /// offset and summary.
    /// </summary>
    [SkippableTheory]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(33)]
    public async Task Damaged_savefiles_get_the_same_verdict_from_a_pipe_as_from_reads(int seed)
    {
        var random = new Random(seed);
        var small = ImageStreamWriterTests.SaveFile(ImageStreamWriterTests.Hvm(400));
        for (var round = 0; round < 12; round++)
        {
            var bytes = small.ToArray();
            var changes = random.Next(1, 4);
            for (var i = 0; i < changes; i++)
            {
                var at = random.Next(3) switch
                {
                    0 => random.Next(Math.Min(4096, bytes.Length)),
                    1 => bytes.Length - 1 - random.Next(Math.Min(4096, bytes.Length)),
                    _ => random.Next(bytes.Length),
                };
                bytes[at] = random.Next(2) == 0 ? (byte)random.Next(256) : (byte)(bytes[at] ^ (1 << random.Next(8)));
            }
            if (random.Next(3) == 0) bytes = bytes.AsSpan(0, random.Next(bytes.Length)).ToArray();

            ImageVerification expected;
            try { (expected, _) = VerifyImage(new NonSeekable(new MemoryStream(bytes))); }
            catch (XenFormatException e)
            {
                // The header itself is broken: the pipe must refuse it the same way.
                var (refused, refusedWriter) = Feed(bytes);
                using (refused)
                {
                    var again = Assert.Throws<XenFormatException>(() => VerifyImage(refused));
                    Assert.Equal(e.Message, again.Message);
                }
                await DrainAsync(refusedWriter);
                continue;
            }
            var (pipe, writer) = Feed(bytes);
            ImageVerification actual;
            using (pipe) (actual, _) = VerifyImage(pipe);
            await DrainAsync(writer);

            Assert.Equal(expected.Status, actual.Status);
            Assert.Equal(expected.Problem?.Message, actual.Problem?.Message);
            Assert.Equal(expected.Problem?.Offset, actual.Problem?.Offset);
            SameSummary(expected.Summary, actual.Summary);
        }
    }

    /// <summary>The feeding task ends once the reader closed the FIFO; a reader that stopped early leaves it a broken pipe.</summary>
    private static async Task DrainAsync(Task writer)
    {
        try { await writer.WaitAsync(TimeSpan.FromSeconds(30)); }
        catch (IOException) { }
    }

    [SkippableFact]
    public async Task An_image_rewritten_onto_a_pipe_arrives_byte_for_byte()
    {
        var dir = TestData.TempDir();
        var source = Path.Combine(dir, "d.xlsave");
        await File.WriteAllBytesAsync(source, Savefile);
        var fifo = Path.Combine(dir, "out.fifo");
        Skip.IfNot(OperatingSystem.IsLinux(), "sendfile is Linux's");
        Skip.IfNot(Fifo.TryMake(fifo), "mkfifo failed");

        var received = Task.Run(async () =>
        {
            await using var r = new FileStream(fifo, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            using var all = new MemoryStream();
            await r.CopyToAsync(all);
            return all.ToArray();
        });
        SaveFileHeader written;
        await using (var pipe = new FileStream(fifo, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0))
        {
            Assert.False(pipe.CanSeek);
            written = await SaveFileRewriter.RewriteAsync(source, pipe, sourceIsLegacy: false, (_, _) => SaveFileHeader.Legacy);
        }
        var bytes = await received;

        using var reader = SaveFileReader.Open(source);
        Assert.Equal(SaveFileFormat.Legacy, written.Format);
        Assert.Equal(Savefile.AsSpan((int)reader.ImageOffset).ToArray(), bytes);
    }

    [SkippableFact]
    public async Task An_image_rewritten_onto_dev_null_is_sent_whole()
    {
        Skip.IfNot(File.Exists("/dev/null"), "no /dev/null");
        var dir = TestData.TempDir();
        var source = Path.Combine(dir, "d.xlsave");
        await File.WriteAllBytesAsync(source, Savefile);
        var progress = new List<long>();
        await using var sink = new FileStream("/dev/null", FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
        await SaveFileRewriter.RewriteAsync(source, sink, sourceIsLegacy: false, (_, _) => SaveFileHeader.Legacy,
            progress: new SynchronousProgress(progress));

        using var reader = SaveFileReader.Open(source);
        Assert.Equal(Savefile.Length - reader.ImageOffset, progress.Last());
    }

    private sealed class SynchronousProgress(List<long> seen) : IProgress<long>
    {
        public void Report(long value) => seen.Add(value);
    }
}
