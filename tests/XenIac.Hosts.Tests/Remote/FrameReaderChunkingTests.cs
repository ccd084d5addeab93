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

    [Theory]
    [InlineData("""{"t":"hello","t":"hello","version":1}""")]
    [InlineData("""{"t":"call","op":"create","config":{"text":"a","text":"b"}}""")]
    [InlineData("""{"t":"result","value":[{"name":"a","name":"b"}]}""")]
    public void A_control_message_with_a_key_twice_is_a_protocol_error_when_read(string json)
    {
        var e = Assert.Throws<RemoteProtocolException>(() => Frames.ParseControl(System.Text.Encoding.UTF8.GetBytes(json)));
        Assert.Contains("not valid JSON", e.Message);
        Assert.DoesNotContain("LineNumber", e.Message);
    }

    /// <summary>An empty or too deep control frame quoted the JSON library ("LineNumber: 0 | BytePositionInLine: 91").</summary>
    [Theory]
    [InlineData("", "there is no JSON value")]
    [InlineData("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "line 1")]
    public void A_control_frame_that_is_not_json_is_said_in_the_users_terms(string json, string said)
    {
        var e = Assert.Throws<RemoteProtocolException>(() => Frames.ParseControl(System.Text.Encoding.UTF8.GetBytes(json)));
        Assert.Contains(said, e.Message);
        Assert.DoesNotContain("LineNumber", e.Message);
        Assert.DoesNotContain("BytePositionInLine", e.Message);
    }

    /// <summary>
    /// The same through a real OS pipe read by <see cref="PipeInput"/>'s thread and ring (as every ssh connection
    /// is): the writer splits the bytes at random, pauses now and then so the reader waits on an empty ring, and
    /// sometimes stops inside a frame. Frames read are the frames written; a cut ends cleanly only between frames.
    /// </summary>
    [Theory]
    [InlineData(21)]
    [InlineData(22)]
    [InlineData(23)]
    [InlineData(24)]
    public async Task Frames_through_a_real_pipe_and_its_reading_thread_read_back_the_same(int seed)
    {
        if (!OperatingSystem.IsLinux()) return;
        var random = new Random(seed);
        for (var round = 0; round < 6; round++)
        {
            var (bytes, written) = await WriteFramesAsync(random, count: 25);
            var cut = round % 2 == 0 ? bytes.Length : random.Next(bytes.Length);
            var splitSeed = random.Next();
            using var server = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.In);
            var client = new System.IO.Pipes.AnonymousPipeClientStream(System.IO.Pipes.PipeDirection.Out, server.ClientSafePipeHandle);
            var input = PipeInput.TryOpen((int)server.SafePipeHandle.DangerousGetHandle(), "test reader")!;
            server.Dispose();
            var writing = Task.Run(() =>
            {
                var split = new Random(splitSeed);
                using (client)
                    for (var at = 0; at < cut;)
                    {
                        // Sizes from one byte to more than the ring (1 MiB), as ssh's 32 KiB writes and larger.
                        var n = Math.Min(cut - at, split.Next(4) switch { 0 => split.Next(1, 64), 1 => 32 << 10, 2 => split.Next(1, 300_000), _ => split.Next(1, 2 << 20) });
                        client.Write(bytes, at, n);
                        at += n;
                        if (split.Next(8) == 0) Thread.Sleep(split.Next(3));
                    }
            });
            var reader = new FrameReader(input);
            var frames = 0;
            var boundaries = new List<int> { 0 };
            foreach (var (_, _, payload) in written) boundaries.Add(boundaries[^1] + Frames.HeaderSize + payload.Length);
            try
            {
                while (await reader.ReadAsync(default).WaitAsync(TimeSpan.FromSeconds(60)) is { } frame)
                {
                    var (type, call, payload) = written[frames++];
                    Assert.Equal(type, frame.Type);
                    Assert.Equal(call, frame.Call);
                    Assert.True(payload.AsSpan().SequenceEqual(frame.Payload.Span), $"round {round}: payload of frame {frames} differs");
                    frame.Release();
                }
                Assert.True(boundaries.Contains(cut), $"round {round}: a cut at {cut}, inside a frame, read as a clean end");
                Assert.Equal(boundaries.IndexOf(cut), frames);
            }
            catch (RemoteProtocolException)
            {
                Assert.False(boundaries.Contains(cut), $"round {round}: a cut at {cut}, between frames, was a protocol error");
            }
            await writing;
            await input.DisposeAsync();
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
