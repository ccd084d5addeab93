using XenIac.Hosts.Remote;
using XenIac.Tests;

namespace XenIac.Hosts.Tests.Remote;

/// <summary>
/// The frame reader buffers its input and reads large payloads straight into their arrays, so a frame may arrive
/// in any split: a header across two reads, a payload that begins in the buffer and ends in the stream. Whatever
/// the split, the frames read must be the frames written, and a stream cut anywhere must end cleanly (between
/// frames) or with a protocol error, never with other exceptions or wrong bytes.
/// </summary>
public sealed class FrameReaderChunkingTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 7)]
    [InlineData(3, 4096)]
    [InlineData(4, 200_000)]
    [InlineData(5, 1 << 20)]
    public async Task Frames_split_into_reads_of_any_size_read_back_the_same(int seed, int maxRead)
    {
        var random = new Random(seed);
        var (bytes, written) = await WriteFramesAsync(random, count: 40);
        var reader = new FrameReader(new OneWayStream(bytes, maxRead) { Varied = random });
        foreach (var (type, call, payload) in written)
        {
            var frame = await reader.ReadAsync(default);
            Assert.NotNull(frame);
            Assert.Equal(type, frame.Value.Type);
            Assert.Equal(call, frame.Value.Call);
            Assert.True(payload.AsSpan().SequenceEqual(frame.Value.Payload.Span), $"payload of call {call} differs");
            frame.Value.Release();
        }
        Assert.Null(await reader.ReadAsync(default));
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public async Task A_stream_cut_anywhere_ends_cleanly_or_with_a_protocol_error(int seed)
    {
        var random = new Random(seed);
        var (bytes, written) = await WriteFramesAsync(random, count: 6);
        var boundaries = new HashSet<int> { 0 };
        var at = 0;
        foreach (var (_, _, payload) in written) boundaries.Add(at += Frames.HeaderSize + payload.Length);
        for (var i = 0; i < 60; i++)
        {
            var cut = random.Next(bytes.Length);
            var reader = new FrameReader(new OneWayStream(bytes[..cut], 70_000) { Varied = random });
            var frames = 0;
            try
            {
                while (await reader.ReadAsync(default) is { } frame)
                {
                    frame.Release();
                    frames++;
                }
                Assert.True(boundaries.Contains(cut), $"a cut at {cut}, inside a frame, read as a clean end");
            }
            catch (RemoteProtocolException)
            {
                Assert.False(boundaries.Contains(cut), $"a cut at {cut}, between frames, was a protocol error");
            }
            Assert.True(frames <= written.Count);
        }
    }

    private static async Task<(byte[] Bytes, List<(FrameType Type, uint Call, byte[] Payload)> Written)> WriteFramesAsync(Random random, int count)
    {
        var written = new List<(FrameType, uint, byte[])>();
        using var output = new MemoryStream();
        using (var writer = new FrameWriter(output))
        {
            for (var i = 0; i < count; i++)
            {
                var data = random.Next(3) > 0;
                // Sizes around the reader's buffer and its direct-read threshold, small ones, empty ones and the limit.
                int[] sizes = [0, 1, 8, 4095, 100_000, 128 << 10, (128 << 10) + 1, 256 << 10, (256 << 10) + 9, Frames.DataChunkBytes, Frames.MaxDataBytes];
                var size = data ? sizes[random.Next(sizes.Length)] : random.Next(2, 300);
                var payload = new byte[size];
                random.NextBytes(payload);
                var call = (uint)random.Next(1, 1000);
                await writer.WriteAsync(data ? FrameType.Data : FrameType.Control, call, payload);
                written.Add((data ? FrameType.Data : FrameType.Control, call, payload));
            }
        }
        return (output.ToArray(), written);
    }
}
