using XenIac.Core.IO;
using System.Threading.Channels;

namespace XenIac.Hosts.Remote;

/// <summary>
/// Savefile bytes between the connection's frame reader and the one consumer of a call (a restore on the server, a
/// local savefile on the client). Bounded to a few MiB, so a peer sending faster than the disk or the host takes
/// them is held back (the frame reader waits, and so does the peer through the pipe or TCP window), never buffered
/// without end. The consumer reads it as a forward-only stream.
/// </summary>
internal sealed class ChunkStream : ForwardReadStream
{
    /// <summary>Frames held at most: 8 MiB of this build's frames (1 MiB of an older peer's 64 KiB ones).</summary>
    private const int Capacity = 16;
    // Not SingleReader: besides the consumer, Abandon (from the call's end) and AddAsync (from the connection's
    // reader) drain it, possibly at once; each frame must come out exactly once, or its pooled buffer would be given
    // back twice and handed to two frames.
    private readonly Channel<Frame> _chunks = Channel.CreateBounded<Frame>(
        new BoundedChannelOptions(Capacity) { SingleReader = false, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
    private Frame _frame;
    private ReadOnlyMemory<byte> _current;
    private volatile bool _abandoned;

    /// <summary>
    /// Hands a data frame to the consumer, waiting while it is behind; from here its buffer is this stream's to
    /// give back. Dropped (and given back) once the consumer has gone.
    /// </summary>
    public async ValueTask AddAsync(Frame frame, CancellationToken cancellationToken)
    {
        if (_abandoned || frame.Payload.IsEmpty)
        {
            frame.Release();
            return;
        }
        try
        {
            while (!_abandoned && !_chunks.Writer.TryWrite(frame))
            {
                if (!await _chunks.Writer.WaitToWriteAsync(cancellationToken).ConfigureAwait(false))
                {
                    frame.Release();
                    return;
                }
            }
            if (_abandoned) Drain();
        }
        catch (ChannelClosedException)
        {
            frame.Release();
        }
        catch (OperationCanceledException)
        {
            frame.Release();
            throw;
        }
    }

    /// <summary>The end of the bytes: null for a clean end, else the reason the consumer's next read fails with.</summary>
    public void Complete(Exception? error = null) => _chunks.Writer.TryComplete(error);

    /// <summary>The consumer is done (or failed): later chunks are dropped rather than waiting for a reader that never comes.</summary>
    public void Abandon()
    {
        _abandoned = true;
        _chunks.Writer.TryComplete();
        Drain();
    }

    private void Drain()
    {
        while (_chunks.Reader.TryRead(out var frame)) frame.Release();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty || !await FillAsync(cancellationToken).ConfigureAwait(false)) return 0;
        return Take(buffer.Span);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    // The hosts read savefiles synchronously from worker threads (the embedded host's image reader).
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty) return 0;
        var fill = FillAsync(CancellationToken.None);
        if (!(fill.IsCompletedSuccessfully ? fill.Result : fill.AsTask().GetAwaiter().GetResult())) return 0;
        return Take(buffer);
    }

    /// <summary>Makes a current chunk available; false at the end of the bytes.</summary>
    private async ValueTask<bool> FillAsync(CancellationToken cancellationToken)
    {
        while (_current.IsEmpty)
        {
            try
            {
                if (!await _chunks.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false)) return false;
            }
            catch (ChannelClosedException e) when (e.InnerException is not null)
            {
                throw e.InnerException;
            }
            _frame.Release();
            _frame = default;
            if (_chunks.Reader.TryRead(out _frame)) _current = _frame.Payload;
        }
        return true;
    }

    private int Take(Span<byte> buffer)
    {
        var n = Math.Min(buffer.Length, _current.Length);
        _current.Span[..n].CopyTo(buffer);
        _current = _current[n..];
        return n;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) Abandon();
        base.Dispose(disposing);
    }

}
