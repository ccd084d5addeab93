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

/// <summary>One frame: which call it belongs to (0: the connection itself), its type and payload.</summary>
internal readonly record struct Frame(FrameType Type, uint Call, ReadOnlyMemory<byte> Payload)
{
    public JsonObject Json() => Frames.ParseControl(Payload.Span);
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

    public static ReadOnlySpan<byte> Preamble => "xen-iac-serve\n"u8;

    public const int HeaderSize = 9;

    /// <summary>Largest control message: a domain list of thousands of entries or a long config fits many times over.</summary>
    public const int MaxControlBytes = 4 << 20;

    /// <summary>Largest data frame; writers send <see cref="DataChunkBytes"/>.</summary>
    public const int MaxDataBytes = 1 << 20;

    /// <summary>
    /// What writers put in one data frame: below the runtime's large-object threshold (85,000 bytes), so the
    /// per-frame buffers the reader hands on are cheap short-lived allocations, not large-object-heap churn.
    /// </summary>
    public const int DataChunkBytes = 64 << 10;

    public static byte[] Control(JsonObject message) => Encoding.UTF8.GetBytes(message.ToJsonString());

    public static JsonObject ParseControl(ReadOnlySpan<byte> payload)
    {
        try
        {
            return JsonNode.Parse(payload) as JsonObject
                ?? throw new RemoteProtocolException("a control frame is not a JSON object");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new RemoteProtocolException($"a control frame is not valid JSON ({e.Message})");
        }
    }
}

/// <summary>The peer broke the protocol (garbage, an oversized frame, a message out of place).</summary>
internal sealed class RemoteProtocolException(string message) : Exception(message);

/// <summary>Reads frames from a stream, one at a time, from a single reader.</summary>
internal sealed class FrameReader(Stream input)
{
    private readonly byte[] _header = new byte[Frames.HeaderSize];

    /// <summary>The next frame, or null at a clean end of stream (between frames).</summary>
    /// <remarks>The payload is a fresh array the caller may keep.</remarks>
    public async Task<Frame?> ReadAsync(CancellationToken cancellationToken)
    {
        var got = await ReadFullyAsync(_header, cancellationToken).ConfigureAwait(false);
        if (got == 0) return null;
        if (got < Frames.HeaderSize) throw new RemoteProtocolException($"the stream ended inside a frame header ({got} of {Frames.HeaderSize} bytes)");
        var type = (FrameType)_header[0];
        var call = BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(1));
        var length = BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(5));
        var limit = type switch
        {
            FrameType.Control => Frames.MaxControlBytes,
            FrameType.Data => Frames.MaxDataBytes,
            _ => throw new RemoteProtocolException($"unknown frame type {_header[0]}"),
        };
        if (length > limit)
            throw new RemoteProtocolException($"a {type.ToString().ToLowerInvariant()} frame of {length} bytes is larger than the limit of {limit}");
        var payload = new byte[length];
        var read = await ReadFullyAsync(payload, cancellationToken).ConfigureAwait(false);
        if (read < length) throw new RemoteProtocolException($"the stream ended inside a frame ({read} of {length} bytes)");
        return new Frame(type, call, payload);
    }

    /// <summary>Reads and checks the server's preamble; on a mismatch the error quotes what came instead.</summary>
    public async Task ReadPreambleAsync(CancellationToken cancellationToken)
    {
        var expected = Frames.Preamble.ToArray();
        var got = new byte[expected.Length];
        var read = await ReadFullyAsync(got, cancellationToken).ConfigureAwait(false);
        if (read == expected.Length && got.AsSpan().SequenceEqual(expected)) return;
        if (read == 0) throw new RemoteProtocolException("the remote closed the connection before saying anything");
        // Show a little of what came, printable, so "bash: xen-iac: command not found" or a banner is recognisable.
        var more = new byte[200];
        var extra = read == expected.Length ? await ReadSomeAsync(more, TimeSpan.FromMilliseconds(200)).ConfigureAwait(false) : 0;
        var text = Encoding.UTF8.GetString([.. got.AsSpan(0, read), .. more.AsSpan(0, extra)]);
        var shown = new string([.. text.Select(c => char.IsControl(c) ? ' ' : c)]).Trim();
        throw new RemoteProtocolException($"the remote did not answer as 'xen-iac serve --stdio'; it wrote: '{shown}'");
    }

    private async Task<int> ReadSomeAsync(byte[] buffer, TimeSpan wait)
    {
        using var timeout = new CancellationTokenSource(wait);
        try { return await input.ReadAsync(buffer, timeout.Token).ConfigureAwait(false); }
        catch (Exception e) when (e is OperationCanceledException or IOException) { return 0; }
    }

    private async Task<int> ReadFullyAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = await input.ReadAsync(buffer[total..], cancellationToken).ConfigureAwait(false);
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}

/// <summary>Writes whole frames; safe to share between the calls of one connection (one frame at a time).</summary>
internal sealed class FrameWriter(Stream output) : IDisposable
{
    private readonly SemaphoreSlim _lock = new(1, 1);

    public Task WriteControlAsync(uint call, JsonObject message, CancellationToken cancellationToken = default) =>
        WriteAsync(FrameType.Control, call, Frames.Control(message), cancellationToken);

    public async Task WriteAsync(FrameType type, uint call, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        var header = new byte[Frames.HeaderSize];
        header[0] = (byte)type;
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(1), call);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(5), (uint)payload.Length);
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Once a frame has begun it is finished whatever the caller's token says: half a frame would break the
            // connection for every other call.
            await output.WriteAsync(header, CancellationToken.None).ConfigureAwait(false);
            await output.WriteAsync(payload, CancellationToken.None).ConfigureAwait(false);
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
