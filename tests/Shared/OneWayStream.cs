namespace XenIac.Tests;

/// <summary>
/// A read-only stream that cannot seek and reads in small uneven pieces, like a pipe; optionally it fails where its
/// end would be, as a store stream does when the whole-file digest does not match. With <see cref="Varied"/> each
/// read returns a random number of bytes up to the piece size, as a socket may.
/// </summary>
public sealed class OneWayStream(byte[] data, int pieceSize = 3001) : Stream
{
    private int _at;

    /// <summary>The message of the IOException thrown at the end instead of returning 0; null: a clean end.</summary>
    public string? FailAtEnd { get; init; }

    /// <summary>When set, each read returns from 1 to pieceSize bytes, drawn from it; null: always pieceSize.</summary>
    public Random? Varied { get; init; }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_at == data.Length && FailAtEnd is { } message) throw new IOException(message);
        var piece = Varied is { } random ? random.Next(1, pieceSize + 1) : pieceSize;
        var n = Math.Min(Math.Min(buffer.Length, piece), data.Length - _at);
        data.AsSpan(_at, n).CopyTo(buffer);
        _at += n;
        return n;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
