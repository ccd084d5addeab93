namespace XenIac.Core.Tests.Streams;

/// <summary>
/// A read-only view of a stream with one byte replaced, so a corruption case costs no copy of a 100 MB fixture.
/// Seekable like the stream under it; optionally pretends to be a pipe.
/// </summary>
internal sealed class PatchedStream(Stream inner, long patchAt, byte value, bool seekable = true) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => seekable;
    public override bool CanWrite => false;
    public override long Length => seekable ? inner.Length : throw new NotSupportedException();

    public override long Position
    {
        get => seekable ? inner.Position : throw new NotSupportedException();
        set => Seek(value, SeekOrigin.Begin);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var at = inner.Position;
        var n = inner.Read(buffer);
        if (patchAt >= at && patchAt < at + n) buffer[(int)(patchAt - at)] = value;
        return n;
    }

    public override long Seek(long offset, SeekOrigin origin) =>
        seekable ? inner.Seek(offset, origin) : throw new NotSupportedException();

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}
