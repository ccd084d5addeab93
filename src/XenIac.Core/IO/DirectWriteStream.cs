namespace XenIac.Core.IO;

/// <summary>
/// A big file being written front to back (a savefile: an embedded save, a store pull), sent to the disk in aligned blocks with
/// <see cref="DirectBlockWriter"/> while the save goes on producing the next bytes. A move of the position (the
/// integrity record patched in place after the image) first puts everything written so far into the file, then
/// writes the ordinary way. Disposing puts the rest into the file; the caller's file stream then syncs it.
/// </summary>
internal sealed class DirectWriteStream : Stream
{
    private readonly FileStream _file;
    private readonly DirectBlockWriter _direct;
    private DirectBlockWriter.Block? _block;
    private int _filled;
    /// <summary>Where the current block starts in the file.</summary>
    private long _blockStart;
    /// <summary>Set once the stream left the sequential, direct mode: writes go straight to the file here.</summary>
    private long? _position;
    private long _end;

    private DirectWriteStream(FileStream file, DirectBlockWriter direct)
    {
        _file = file;
        _direct = direct;
        _blockStart = file.Position;
        _end = _blockStart;
    }

    /// <summary>
    /// A direct stream over <paramref name="file"/> (written from its current position on), or null when direct
    /// writes are not possible there (the caller then writes to the file itself).
    /// </summary>
    public static DirectWriteStream? TryOver(Stream file)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (file is not FileStream stream) return null;
        stream.Flush();
        if (stream.Position % DirectBlockWriter.Alignment != 0) return null;
        return DirectBlockWriter.TryOpen(stream.SafeFileHandle) is { } direct ? new DirectWriteStream(stream, direct) : null;
    }

    public override bool CanRead => false;
    public override bool CanSeek => true;
    public override bool CanWrite => true;
    public override long Length => _end;

    public override long Position
    {
        get => _position ?? _blockStart + _filled;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            if (value == Position) return;
            LeaveDirect();
            _position = value;
        }
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => Position + offset,
            _ => _end + offset,
        };
        return Position;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_position is { } position)
        {
            RandomAccess.Write(_file.SafeFileHandle, buffer, position);
            _position = position + buffer.Length;
            _end = Math.Max(_end, _position.Value);
            return;
        }
        while (!buffer.IsEmpty)
        {
            var block = _block ??= _direct.Rent();
            var n = Math.Min(buffer.Length, DirectBlockWriter.BlockBytes - _filled);
            buffer[..n].CopyTo(block.Span[_filled..]);
            _filled += n;
            buffer = buffer[n..];
            if (_filled == DirectBlockWriter.BlockBytes) SubmitBlock();
        }
        _end = Math.Max(_end, _blockStart + _filled);
    }

    public override void WriteByte(byte value) => Write([value]);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Write(buffer, offset, count);
        return Task.CompletedTask;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    /// <summary>Nothing is held for long: blocks go out as they fill, the rest at the end.</summary>
    public override void Flush() { }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private void SubmitBlock()
    {
        _direct.Submit(_block!, _filled, _blockStart);
        _blockStart += _filled;
        _filled = 0;
        _block = null;
    }

    /// <summary>Everything written so far into the file (a partial last block the ordinary way), then direct writes end.</summary>
    private void LeaveDirect()
    {
        if (_position is not null) return;
        var end = _blockStart + _filled;
        if (_filled > 0) SubmitBlock();
        else if (_block is not null)
        {
            _direct.Return(_block);
            _block = null;
        }
        _direct.Complete();
        _position = end;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            try
            {
                LeaveDirect();
                // The caller's stream goes on from the end (its fsync, its length), as if it had written the bytes.
                _file.Position = _end;
            }
            finally
            {
                _direct.Dispose();
            }
        }
        base.Dispose(disposing);
    }
}
