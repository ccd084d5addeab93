using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace XenIac.Hosts.Remote;

/// <summary>The two kinds of frame: a JSON control message, or raw savefile bytes (no base64 on the wire).</summary>
internal enum FrameType : byte
{
    Control = 1,
    Data = 2,
}

/// <summary>
/// One frame: which call it belongs to (0: the connection itself), its type and payload. A data frame's payload
/// lives in a pooled array (<see cref="Rented"/>) that whoever ends up with the frame gives back with
/// <see cref="Release"/> once the bytes are used: a savefile is thousands of frames, and fresh arrays for each cost
/// a collection every few of them.
/// </summary>
internal readonly record struct Frame(FrameType Type, uint Call, ReadOnlyMemory<byte> Payload, byte[]? Rented = null)
{
    public JsonObject Json() => Frames.ParseControl(Payload.Span);

    public void Release()
    {
        if (Rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(Rented);
    }
}

/// <summary>
/// The wire format of <c>xen-iac serve --stdio</c>. The server first writes <see cref="Preamble"/>, so a remote that
/// prints something else (a login banner, "command not found") is named as such instead of as a bad frame. Then
/// both sides write frames: a 9-byte header (type u8, call id u32 big-endian, payload length u32 big-endian) and the
/// payload. Payload lengths are bounded per type before anything is allocated, so a hostile or broken peer costs at
/// most one frame of memory.
/// </summary>
internal static class Frames
{
    /// <summary>The protocol versions this build speaks (the hello picks the highest both sides know).</summary>
    public const int MinVersion = 1;
    public const int MaxVersion = 1;

    /// <summary>
    /// How often a server (announcing it in its hello as <c>heartbeat</c>, seconds) sends a frame for each running
    /// call even when nothing changed; a client of such a server gives the connection up after
    /// <see cref="RemoteConnection.SilenceLimit"/> without any frame while a call waits. Old servers announce none and
    /// are waited for as before.
    /// </summary>
    public static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(10);

    public static ReadOnlySpan<byte> Preamble => "xen-iac-serve\n"u8;

    public const int HeaderSize = 9;

    /// <summary>Largest control message: a domain list of thousands of entries or a long config fits many times over.</summary>
    public const int MaxControlBytes = 4 << 20;

    /// <summary>Largest data frame; writers send <see cref="DataChunkBytes"/>.</summary>
    public const int MaxDataBytes = 1 << 20;

    /// <summary>
    /// What writers put in one data frame. Each frame is a hand-off between threads on both ends (the reader, the
    /// consumer), so frames are large: at 64 KiB a 4 GiB restore made 65,536 of them and spent more time handing
    /// them over than the ssh channel took to carry the bytes. Readers take frames up to <see cref="MaxDataBytes"/>,
    /// so older peers that send 64 KiB frames still work both ways.
    /// </summary>
    public const int DataChunkBytes = 512 << 10;

    /// <summary>
    /// Restores one connection runs at once; a client queues the rest, a server refuses them (busy). Each holds a
    /// stream of up to 16 frames (16 MiB) while its restore catches up, so this bounds what one connection can make
    /// a server hold to about 136 MiB: without it 256 calls that send savefile bytes no restore reads took 3.5 GB.
    /// </summary>
    public const int MaxRestoresAtOnce = 8;

    /// <summary>
    /// A buffer for one outgoing data frame: its header first, then room for <see cref="DataChunkBytes"/> of
    /// payload, so <see cref="FrameWriter.WriteDataAsync"/> sends a frame with one write.
    /// </summary>
    public static byte[] NewDataBuffer() => new byte[HeaderSize + DataChunkBytes];

    public static void WriteHeader(Span<byte> header, FrameType type, uint call, int length)
    {
        header[0] = (byte)type;
        BinaryPrimitives.WriteUInt32BigEndian(header[1..], call);
        BinaryPrimitives.WriteUInt32BigEndian(header[5..], (uint)length);
    }

    public static byte[] Control(JsonObject message) => Encoding.UTF8.GetBytes(message.ToJsonString());

    private static readonly System.Text.Json.JsonDocumentOptions ControlOptions = new() { AllowDuplicateProperties = false };

    public static JsonObject ParseControl(ReadOnlySpan<byte> payload)
    {
        try
        {
            // Duplicate keys are refused while parsing: JsonObject would otherwise find them only when first read,
            // as an ArgumentException deep in whoever read it (it killed the server and hung the client).
            var node = JsonNode.Parse(payload, documentOptions: ControlOptions);
            return node as JsonObject ?? throw new RemoteProtocolException("a control frame is not a JSON object");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new RemoteProtocolException($"a control frame is not valid JSON ({XenIac.Core.IO.JsonProblems.Describe(e)})");
        }
    }
}

/// <summary>A stream that can wait for a given number of bytes in one go (fewer only at its end).</summary>
internal interface IReadAtLeast
{
    ValueTask<int> ReadAtLeastAsync(Memory<byte> buffer, int minimum, CancellationToken cancellationToken);
}

/// <summary>The peer broke the protocol (garbage, an oversized frame, a message out of place).</summary>
internal sealed class RemoteProtocolException(string message) : Exception(message);

/// <summary>
/// Reads frames from a stream, one at a time, from a single reader. Reads go through a buffer of its own, so a
/// frame's header and the end of the last one cost no read of their own.
/// </summary>
internal sealed class FrameReader(Stream input)
{
    private const int BufferBytes = 256 << 10;
    private readonly byte[] _buffer = new byte[BufferBytes];
    private int _start;
    private int _end;

    private int Buffered => _end - _start;

    /// <summary>The next frame, or null at a clean end of stream (between frames).</summary>
    /// <remarks>The payload is the caller's: a control frame's is a fresh array, a data frame's is rented (see <see cref="Frame.Release"/>).</remarks>
    public async Task<Frame?> ReadAsync(CancellationToken cancellationToken)
    {
        while (Buffered < Frames.HeaderSize)
        {
            if (await FillAsync(cancellationToken).ConfigureAwait(false) == 0)
            {
                if (Buffered == 0) return null;
                throw new RemoteProtocolException($"the stream ended inside a frame header ({Buffered} of {Frames.HeaderSize} bytes)");
            }
        }
        var header = _buffer.AsSpan(_start, Frames.HeaderSize);
        var type = (FrameType)header[0];
        var call = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        var length = BinaryPrimitives.ReadUInt32BigEndian(header[5..]);
        var limit = type switch
        {
            FrameType.Control => Frames.MaxControlBytes,
            FrameType.Data => Frames.MaxDataBytes,
            _ => throw new RemoteProtocolException($"unknown frame type {header[0]}"),
        };
        if (length > limit)
            throw new RemoteProtocolException($"a {type.ToString().ToLowerInvariant()} frame of {length} bytes is larger than the limit of {limit}");
        _start += Frames.HeaderSize;
        var size = (int)length;
        var rented = type == FrameType.Data ? System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(size, 1)) : null;
        var payload = rented ?? new byte[size];
        try
        {
            var have = Math.Min(Buffered, size);
            _buffer.AsSpan(_start, have).CopyTo(payload);
            _start += have;
            // The rest of a large payload goes straight into its array; a small one through the buffer.
            while (have < size)
            {
                int n;
                if (size - have >= BufferBytes / 2)
                {
                    // A reader that can wait for the whole rest is asked to: one wake-up per frame, not per write of the peer.
                    n = input is IReadAtLeast whole
                        ? await whole.ReadAtLeastAsync(payload.AsMemory(have, size - have), size - have, cancellationToken).ConfigureAwait(false)
                        : await input.ReadAsync(payload.AsMemory(have, size - have), cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    n = await FillAsync(cancellationToken).ConfigureAwait(false);
                    n = Math.Min(n, size - have);
                    _buffer.AsSpan(_start, n).CopyTo(payload.AsSpan(have));
                    _start += n;
                }
                if (n == 0) throw new RemoteProtocolException($"the stream ended inside a frame ({have} of {size} bytes)");
                have += n;
            }
        }
        catch
        {
            if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            throw;
        }
        return new Frame(type, call, payload.AsMemory(0, size), rented);
    }

    /// <summary>Reads what the stream has into the buffer (after what is still unread); 0 at its end.</summary>
    private async ValueTask<int> FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, Buffered).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }
        var n = await input.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
        _end += n;
        return n;
    }

    /// <summary>Reads and checks the server's preamble; on a mismatch the error quotes what came instead.</summary>
    public async Task ReadPreambleAsync(CancellationToken cancellationToken)
    {
        var expected = Frames.Preamble.ToArray();
        // Each arrival is checked against the preamble's start: a remote that writes something else (a banner, a
        // shell's error) and then waits is told apart at once, not when it ends or the hello's deadline passes.
        while (Buffered < expected.Length && _buffer.AsSpan(_start, Buffered).SequenceEqual(expected.AsSpan(0, Buffered)))
            if (await FillAsync(cancellationToken).ConfigureAwait(false) == 0) break;
        var read = Math.Min(Buffered, expected.Length);
        if (read == expected.Length && _buffer.AsSpan(_start, read).SequenceEqual(expected))
        {
            _start += read;
            return;
        }
        if (read == 0) throw new RemoteProtocolException("the remote closed the connection before saying anything");
        // Show a little of what came, printable, so "bash: xen-iac: command not found" or a banner is recognisable.
        if (Buffered < 200) await FillSomeAsync(TimeSpan.FromMilliseconds(200)).ConfigureAwait(false);
        var text = Encoding.UTF8.GetString(_buffer.AsSpan(_start, Math.Min(Buffered, expected.Length + 200)));
        var shown = new string([.. text.Select(c => char.IsControl(c) ? ' ' : c)]).Trim();
        throw new RemoteProtocolException($"the remote did not answer as 'xen-iac serve --stdio'; it wrote: '{shown}'");
    }

    private async Task FillSomeAsync(TimeSpan wait)
    {
        using var timeout = new CancellationTokenSource(wait);
        try { await FillAsync(timeout.Token).ConfigureAwait(false); }
        catch (Exception e) when (e is OperationCanceledException or IOException) { }
    }
}

/// <summary>Writes whole frames; safe to share between the calls of one connection (one frame at a time).</summary>
internal sealed class FrameWriter(Stream output) : IDisposable
{
    private readonly SemaphoreSlim _lock = new(1, 1);

    public Task WriteControlAsync(uint call, JsonObject message, CancellationToken cancellationToken = default) =>
        WriteAsync(FrameType.Control, call, Frames.Control(message), cancellationToken);

    /// <summary>Writes a frame from its payload (copied behind its header, so the frame goes out in one write).</summary>
    public Task WriteAsync(FrameType type, uint call, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        var frame = new byte[Frames.HeaderSize + payload.Length];
        Frames.WriteHeader(frame, type, call, payload.Length);
        payload.Span.CopyTo(frame.AsSpan(Frames.HeaderSize));
        return WriteFrameAsync(frame, cancellationToken);
    }

    /// <summary>
    /// Sends a data frame from a buffer made by <see cref="Frames.NewDataBuffer"/> whose payload (after the header
    /// room) holds <paramref name="length"/> bytes: no copy, one write.
    /// </summary>
    public Task WriteDataAsync(uint call, byte[] buffer, int length, CancellationToken cancellationToken = default)
    {
        Frames.WriteHeader(buffer, FrameType.Data, call, length);
        return WriteFrameAsync(buffer.AsMemory(0, Frames.HeaderSize + length), cancellationToken);
    }

    /// <summary>
    /// Stops waiting for the peer to read: pending and later writes fail (where the output is a pipe this process
    /// writes on a thread of its own; elsewhere nothing changes).
    /// </summary>
    public void Abandon(string why) => (output as PipeOutput)?.Abandon(why);

    /// <summary>True when data frames can come straight from a file (<see cref="WriteFileRangeAsync"/>).</summary>
    public bool SendsFiles => output is PipeOutput;

    /// <summary>
    /// Sends <paramref name="file"/> from <paramref name="offset"/> to <paramref name="end"/> as data frames of at most
    /// <see cref="Frames.DataChunkBytes"/>, moved by the kernel from the file's cached pages into the pipe (this
    /// process never copies them); stops early between frames once <paramref name="stop"/> says so. Only where
    /// <see cref="SendsFiles"/>. Returns where it stopped.
    /// </summary>
    /// <exception cref="SavefileReadException">The file could not be read; the frame went out whole (zeros) all the same.</exception>
    public async Task<long> WriteFileRangeAsync(uint call, Microsoft.Win32.SafeHandles.SafeFileHandle file, long offset, long end,
        Func<bool>? stop, CancellationToken cancellationToken)
    {
        var position = offset;
        while (position < end && stop?.Invoke() != true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chunk = (int)Math.Min(Frames.DataChunkBytes, end - position);
            await WriteDataFromFileAsync(call, file, position, chunk).ConfigureAwait(false);
            position += chunk;
        }
        return position;
    }

    private async Task WriteDataFromFileAsync(uint call, Microsoft.Win32.SafeHandles.SafeFileHandle file, long offset, int length)
    {
        if (output is not PipeOutput pipe) throw new InvalidOperationException("this connection's output cannot take file ranges");
        var header = new byte[Frames.HeaderSize];
        Frames.WriteHeader(header, FrameType.Data, call, length);
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            await pipe.WriteFileRangeAsync(header, file, offset, length).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task WriteFrameAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Once a frame has begun it is finished whatever the caller's token says: half a frame would break the
            // connection for every other call.
            await output.WriteAsync(frame, CancellationToken.None).ConfigureAwait(false);
            await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }

    public async Task WritePreambleAsync()
    {
        await output.WriteAsync(Frames.Preamble.ToArray()).ConfigureAwait(false);
        await output.FlushAsync().ConfigureAwait(false);
    }

    public void Dispose() => _lock.Dispose();
}
