using XenIac.Core.IO;

namespace XenIac.Core.Tests.IO;

/// <summary>
/// The embedded host's page-cache-bypassing streams give back exactly the bytes of ordinary file streams, on the
/// paths a save takes: many small writes across block boundaries, an unaligned tail, a patch at the front after
/// the end, and reads with seeks. On a file system without O_DIRECT (tmpfs) the same tests cover the fallback.
/// O_DIRECT is off unless asked for (XENIAC_DIRECT_IO=1): these tests ask.
/// </summary>
public sealed class DirectStreamTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-direct-").FullName;
    private readonly bool _wanted = DirectIo.Wanted;

    /// <summary>Direct transfers are asked for (XENIAC_DIRECT_IO=1); other tests meanwhile just take that path too.</summary>
    public DirectStreamTests() => DirectIo.Wanted = true;

    public void Dispose()
    {
        DirectIo.Wanted = _wanted;
        Directory.Delete(_dir, true);
    }

    [SkippableFact]
    public void Direct_transfers_are_used_on_this_disk_when_asked_for_and_not_otherwise()
    {
        using var file = File.OpenHandle(Path.Combine(_dir, "probe.bin"), FileMode.CreateNew, FileAccess.Write);
        var fd = (int)file.DangerousGetHandle();
        Skip.IfNot(DirectIo.TryEnable(file), $"the file system under {_dir} refuses O_DIRECT");
        Assert.NotEqual(0, Libc.Fcntl(fd, Libc.GetStatusFlags, 0) & 0x4000);
        DirectIo.Disable(file);
        DirectIo.Wanted = false;
        Assert.False(DirectIo.TryEnable(file));
        Assert.Equal(0, Libc.Fcntl(fd, Libc.GetStatusFlags, 0) & 0x4000);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(4096 * 3, 2)]
    [InlineData(DirectBlockWriter.BlockBytes * 3 + 12345, 3)]
    [InlineData(DirectBlockWriter.BlockBytes * 7, 4)]
    public void A_savefile_written_in_pieces_then_patched_at_the_front_is_what_an_ordinary_stream_writes(int length, int seed)
    {
        var random = new Random(seed);
        var data = new byte[length];
        random.NextBytes(data);
        var patch = new byte[37];
        random.NextBytes(patch);
        var path = Path.Combine(_dir, "direct.bin");
        using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024))
        {
            using (var direct = DirectWriteStream.TryOver(file))
            {
                var target = (Stream?)direct ?? file;
                for (var at = 0; at < length;)
                {
                    var n = Math.Min(length - at, random.Next(1, 700_000));
                    target.Write(data, at, n);
                    at += n;
                }
                Assert.Equal(length, target.Position);
                if (length > 100)
                {
                    target.Position = 50;
                    target.Write(patch);
                    target.Position = length;
                    patch.CopyTo(data, 50);
                }
            }
            Assert.Equal(length, file.Position);
            file.Flush(flushToDisk: true);
        }
        Assert.True(data.AsSpan().SequenceEqual(File.ReadAllBytes(path)));
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(4095, 0)]
    [InlineData(4096, 0)]
    [InlineData((8 << 20) + 12345, 0)]
    [InlineData((1 << 20) + 1, 1)] // an unaligned start: all of it the ordinary way
    public void A_whole_object_written_around_the_page_cache_has_exactly_its_bytes_and_the_file_is_left_ordinary(int length, int skew)
    {
        var buffer = DirectIo.AllocateAligned(length + skew);
        var data = buffer[skew..];
        new Random(length).NextBytes(data.Span);
        var path = Path.Combine(_dir, "pack.bin");
        using (var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write))
        {
            DirectIo.WriteNewFile(file, data.Span);
            // Left without O_DIRECT (0x4000 on x86-64), so later ordinary writes to it cannot fail on alignment.
            Assert.Equal(0, Libc.Fcntl((int)file.DangerousGetHandle(), Libc.GetStatusFlags, 0) & 0x4000);
        }
        Assert.True(data.Span.SequenceEqual(File.ReadAllBytes(path)));
    }

    [Fact]
    public void Reads_with_seeks_across_blocks_give_the_file_s_bytes()
    {
        var random = new Random(5);
        var data = new byte[DirectBlockWriter.BlockBytes * 2 + 4096 * 5];
        random.NextBytes(data);
        var path = Path.Combine(_dir, "read.bin");
        File.WriteAllBytes(path, data);
        using var stream = DirectReadStream.Open(path);
        Assert.Equal(data.Length, stream.Length);
        var whole = new byte[data.Length];
        stream.ReadExactly(whole);
        Assert.True(data.AsSpan().SequenceEqual(whole));
        Assert.Equal(0, stream.Read(new byte[10]));
        foreach (var at in new[] { 4096L * 1500, 3, DirectBlockWriter.BlockBytes - 5L, data.Length - 7L })
        {
            stream.Position = at;
            var piece = new byte[Math.Min(9000, data.Length - (int)at)];
            stream.ReadExactly(piece);
            Assert.True(data.AsSpan((int)at, piece.Length).SequenceEqual(piece));
        }
    }
}
