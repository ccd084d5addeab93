using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace XenIac.Core.IO;

/// <summary>
/// Reads a domain's memory file (for a save or a copy) around the page cache, in aligned blocks with O_DIRECT. The
/// file was written that way (<see cref="DirectBlockWriter"/>), so it is not cached, and reading it through the cache
/// would fill a gigabyte of fresh cache pages: in a guest VM that cost 1.7 s of CPU per GiB, more than the disk
/// takes. Seeks are allowed (a save reads front to back; a seek within the current block costs nothing). While the
/// caller works on one block the next is read into a second one, so the disk and the caller's work (a save's
/// SHA-256) overlap instead of taking turns: a read with no cache under it waits for the disk every time.
/// </summary>
internal sealed unsafe class DirectReadStream : Stream
{
    private const int BlockBytes = 4 << 20;

    private readonly SafeFileHandle _file;
    private readonly long _length;
    /// <summary>The block the caller reads from, and the one being read ahead into (addresses of aligned memory).</summary>
    private nint _block, _spare;
    private long _blockStart = -1;
    private int _blockLength;
    private long _position;
    private volatile bool _direct = true;
    /// <summary>The read of the block after the current one into <see cref="_spare"/>, while the caller uses this one.</summary>
    private Task<int>? _ahead;
    private long _aheadStart = -1;

    private DirectReadStream(SafeFileHandle file)
    {
        _file = file;
        _length = RandomAccess.GetLength(file);
        _block = (nint)NativeMemory.AlignedAlloc(BlockBytes, DirectIo.Alignment);
        _spare = (nint)NativeMemory.AlignedAlloc(BlockBytes, DirectIo.Alignment);
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
            new ReadOnlySpan<byte>((byte*)_block + at, n).CopyTo(buffer);
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
        int n;
        if (_ahead is { } ahead && _aheadStart == start)
        {
            _ahead = null;
            n = ahead.GetAwaiter().GetResult();
            (_block, _spare) = (_spare, _block);
        }
        else
        {
            // A jump elsewhere: the read ahead (into the spare block) is not what is wanted; this block is read now.
            WaitAhead();
            n = ReadAt(_block, start);
        }
        _blockStart = start;
        _blockLength = n;
        var next = start + n;
        if (n == BlockBytes && next < _length)
        {
            var spare = _spare;
            _aheadStart = next;
            _ahead = Task.Run(() => ReadAt(spare, next));
        }
    }

    private int ReadAt(nint buffer, long start)
    {
        var block = new Span<byte>((byte*)buffer, BlockBytes);
        try
        {
            return RandomAccess.Read(_file, block, start);
        }
        catch (IOException) when (_direct)
        {
            // A file system that took O_DIRECT at open but refuses the read: the same read, cached.
            _direct = false;
            DirectIo.Disable(_file);
            return RandomAccess.Read(_file, block, start);
        }
    }

    /// <summary>Lets a read ahead finish before its block is reused or freed; its failure does not matter then.</summary>
    private void WaitAhead()
    {
        if (_ahead is not { } ahead) return;
        _ahead = null;
        try { ahead.GetAwaiter().GetResult(); }
        catch (IOException) { /* a block nobody asked for */ }
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (!_file.IsClosed)
        {
            WaitAhead();
            _file.Dispose();
            NativeMemory.AlignedFree((void*)_block);
            NativeMemory.AlignedFree((void*)_spare);
        }
        base.Dispose(disposing);
    }
}
