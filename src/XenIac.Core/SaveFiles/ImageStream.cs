namespace XenIac.Core.SaveFiles;

/// <summary>
/// Read-only view of the image part of a savefile: position 0 is the first image byte. Forwards reads to the
/// underlying stream without buffering, so the image is never copied into memory. Seekable only when the
/// underlying stream is.
/// </summary>
internal sealed class ImageStream : Stream, IO.IDiscardingStream
{
    private readonly Stream _inner;
    private readonly long _origin;
    private readonly bool _leaveOpen;
    private long _position;

    public ImageStream(Stream inner, long origin, bool leaveOpen)
    {
        _inner = inner;
        _origin = origin;
        _leaveOpen = leaveOpen;
    }

    /// <summary>Offset of the image start in the file, for reporting absolute offsets.</summary>
    public long Origin => _origin;

    /// <summary>The stream the image is read from (for in-kernel copies between files).</summary>
    internal Stream Inner => _inner;

    public override bool CanRead => true;
    public override bool CanSeek => _inner.CanSeek;
    public override bool CanWrite => false;
    public override long Length => CanSeek ? _inner.Length - _origin : throw new NotSupportedException("The image stream comes from an unseekable source.");

    public override long Position
    {
        get => _position;
        set => Seek(value, SeekOrigin.Begin);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = _inner.Read(buffer);
        _position += n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        _position += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Drops up to <paramref name="count"/> bytes where the source is a pipe (see <see cref="IO.PipeDiscard"/>); 0 where it cannot.</summary>
    public long Discard(long count)
    {
        var n = IO.PipeDiscard.TryDiscard(_inner, count);
        _position += n;
        return n;
    }

    public override int ReadByte()
    {
        var b = _inner.ReadByte();
        if (b >= 0) _position++;
        return b;
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        if (!CanSeek) throw new NotSupportedException("The image stream comes from an unseekable source.");
        var target = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            SeekOrigin.End => Length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        if (target < 0) throw new IOException("Cannot seek before the start of the image stream.");
        _inner.Seek(_origin + target, SeekOrigin.Begin);
        _position = target;
        return target;
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_leaveOpen) _inner.Dispose();
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        if (!_leaveOpen) await _inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
