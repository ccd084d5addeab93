using System.Security.Cryptography;

namespace XenIac.Core.SaveFiles;

/// <summary>
/// SHA-256 of every byte that passes: read from the inner stream (forward seeks read and hash what they skip,
/// so a verifier that skips page data by seeking still hashes it) or written to it.
/// </summary>
internal sealed class IntegrityHashingStream : Stream
{
    private readonly Stream _inner;
    private readonly bool _reading;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _count;
    private byte[]? _skip;

    /// <summary>Writes at least this long are hashed beside the write (<see cref="WriteHashingBeside"/>).</summary>
    private const int ParallelBytes = 1 << 20;

    private IntegrityHashingStream(Stream inner, bool reading)
    {
        _inner = inner;
        _reading = reading;
    }

    public static IntegrityHashingStream ForReading(Stream source) => new(source, reading: true);

    public static IntegrityHashingStream ForWriting(Stream destination) => new(destination, reading: false);

    /// <summary>Bytes hashed so far.</summary>
    public long Count => _count;

    /// <summary>The record for what passed so far.</summary>
    public SaveFileIntegrity Result() => new(_count, _hash.GetCurrentHash());

    public override bool CanRead => _reading;
    public override bool CanSeek => _reading && _inner.CanSeek;
    public override bool CanWrite => !_reading;
    public override long Length => _inner.Length;

    public override long Position
    {
        get => _reading && _inner.CanSeek ? _inner.Position : _count;
        set => Seek(value, SeekOrigin.Begin);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (!_reading) throw new NotSupportedException();
        var n = _inner.Read(buffer);
        _hash.AppendData(buffer[..n]);
        _count += n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!_reading) throw new NotSupportedException();
        var n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        _hash.AppendData(buffer.Span[..n]);
        _count += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        return Read(one) == 1 ? one[0] : -1;
    }

    /// <summary>Forward only: the skipped bytes are read and hashed, since the digest covers them too.</summary>
    public override long Seek(long offset, SeekOrigin origin)
    {
        if (!CanSeek) throw new NotSupportedException();
        var position = _inner.Position;
        var target = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => position + offset,
            SeekOrigin.End => _inner.Length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        if (target < position) throw new NotSupportedException("An integrity check reads the image once, forward only.");
        _skip ??= new byte[SaveFileWriter.CopyBufferSize];
        var remaining = target - position;
        while (remaining > 0)
        {
            var n = Read(_skip, 0, (int)Math.Min(_skip.Length, remaining));
            if (n == 0) break;
            remaining -= n;
        }
        return _inner.Position;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_reading) throw new NotSupportedException();
        if (buffer.Length >= ParallelBytes && Environment.ProcessorCount > 1) WriteHashingBeside(buffer);
        else
        {
            _inner.Write(buffer);
            _hash.AppendData(buffer);
        }
        _count += buffer.Length;
    }

    /// <summary>
    /// A write big enough to share (a save's page records, megabytes each) is hashed on another core while this
    /// thread hands it to the file: a sealed save's SHA-256 took as long as its copies into the file, one after the
    /// other. The call returns only when both are done, so the caller's buffer is not used after it, and the digest
    /// sees the writes in order.
    /// </summary>
    private unsafe void WriteHashingBeside(ReadOnlySpan<byte> buffer)
    {
        fixed (byte* bytes = buffer)
        {
            var (at, length) = ((nint)bytes, buffer.Length);
            var hashing = Task.Run(() => _hash.AppendData(new ReadOnlySpan<byte>((byte*)at, length)));
            try
            {
                _inner.Write(buffer);
            }
            finally
            {
                // Pinned and alive until the hash has read it, whatever the write did (WaitAny does not throw).
                Task.WaitAny(hashing);
            }
            hashing.GetAwaiter().GetResult();
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_reading) throw new NotSupportedException();
        if (buffer.Length >= ParallelBytes && Environment.ProcessorCount > 1)
        {
            var hashing = Task.Run(() => _hash.AppendData(buffer.Span), CancellationToken.None);
            try
            {
                await _inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                // The caller may reuse its buffer once this returns: the hash must be done with it.
                await Task.WhenAny(hashing).ConfigureAwait(false);
            }
            await hashing.ConfigureAwait(false);
        }
        else
        {
            await _inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            _hash.AppendData(buffer.Span);
        }
        _count += buffer.Length;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => _inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        // The inner stream belongs to the caller.
        if (disposing) _hash.Dispose();
        base.Dispose(disposing);
    }
}
