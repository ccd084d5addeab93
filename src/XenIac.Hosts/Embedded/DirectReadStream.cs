using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace XenIac.Hosts.Embedded;

/// <summary>
/// Reads a domain's memory file (for a save or a copy) around the page cache, in aligned blocks with O_DIRECT. The
/// file was written that way (<see cref="DirectBlockWriter"/>), so it is not cached, and reading it through the cache
/// would fill a gigabyte of fresh cache pages: in a guest VM that cost 1.7 s of CPU per GiB, more than the disk
/// takes. Seeks are allowed (a save reads front to back; a seek within the current block costs nothing).
/// </summary>
internal sealed unsafe class DirectReadStream : Stream
{
    private const int BlockBytes = 4 << 20;

    private readonly SafeFileHandle _file;
    private readonly long _length;
    private readonly byte* _block;
    private long _blockStart = -1;
    private int _blockLength;
    private long _position;
    private bool _direct = true;

    private DirectReadStream(SafeFileHandle file)
    {
        _file = file;
        _length = RandomAccess.GetLength(file);
        _block = (byte*)NativeMemory.AlignedAlloc(BlockBytes, DirectIo.Alignment);
    }

    /// <summary>Opens <paramref name="path"/> for reading directly, or as an ordinary buffered stream where that is not possible.</summary>
    public static Stream Open(string path)
    {
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        if (DirectIo.TryEnable(handle)) return new DirectReadStream(handle);
        handle.Dispose();
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
    }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _position = value;
        }
    }

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        _ => _length + offset,
    };

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_file.IsClosed, this);
        var total = 0;
        while (!buffer.IsEmpty && _position < _length)
        {
            if (_position < _blockStart || _position >= _blockStart + _blockLength)
            {
                Load(_position - _position % BlockBytes);
                if (_blockLength == 0) break;
            }
            var at = (int)(_position - _blockStart);
            var n = Math.Min(buffer.Length, _blockLength - at);
            if (n <= 0) break;
            new ReadOnlySpan<byte>(_block + at, n).CopyTo(buffer);
            buffer = buffer[n..];
            _position += n;
            total += n;
        }
        return total;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Read(buffer.Span));
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private void Load(long start)
    {
        var block = new Span<byte>(_block, BlockBytes);
        int n;
        try
        {
            n = RandomAccess.Read(_file, block, start);
        }
        catch (IOException) when (_direct)
        {
            // A file system that took O_DIRECT at open but refuses the read: the same read, cached.
            _direct = false;
            DirectIo.Disable(_file);
            n = RandomAccess.Read(_file, block, start);
        }
        _blockStart = start;
        _blockLength = n;
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (!_file.IsClosed)
        {
            _file.Dispose();
            NativeMemory.AlignedFree(_block);
        }
        base.Dispose(disposing);
    }
}
