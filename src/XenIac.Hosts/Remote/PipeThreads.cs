using Microsoft.Win32.SafeHandles;
using XenIac.Core.IO;

namespace XenIac.Hosts.Remote;

/// <summary>
/// The read end of a pipe from ssh (or, on the server, from sshd), read by a thread of its own with plain blocking
/// reads into a 1 MiB ring. .NET's own pipe streams hand every read to the thread pool or the socket engine: ssh
/// writes 32 KiB at a time, so a savefile took one epoll wake-up and thread hand-off per 32 KiB (140,000 futex calls
/// per GiB on the client of a restore, on two cores that ssh itself keeps busy). Here a consumer that wants a whole
/// frame waits once for it (<see cref="ReadAtLeastAsync"/>). Bytes are copied out of the ring, so a read the consumer
/// gives up on (cancelled) leaves no kernel write pending into the consumer's buffer.
/// </summary>
internal sealed class PipeInput : ForwardReadStream, IReadAtLeast
{
    private const int RingBytes = PipeHandles.Capacity;
    private readonly FileStream _pipe;
    private readonly byte[] _ring = new byte[RingBytes];
    private readonly object _lock = new();
    private int _head;
    private int _count;
    private bool _ended;
    private bool _disposed;
    private Exception? _error;
    private TaskCompletionSource? _waiter;
    private int _wanted;

    /// <param name="pipe">A blocking, unbuffered stream over the pipe; owned (closed once the reading thread ends).</param>
    public PipeInput(FileStream pipe, string name)
    {
        _pipe = pipe;
        new Thread(Run) { IsBackground = true, Name = name }.Start();
    }

    /// <summary>
    /// A reader over the pipe <paramref name="fd"/> stands for, or null where it cannot have one (not Linux, not a
    /// pipe). The pipe is enlarged first (<see cref="PipeHandles.Enlarge"/>): fewer, larger reads.
    /// </summary>
    public static PipeInput? TryOpen(int fd, string name)
    {
        if (!PipeHandles.IsStream(fd) || PipeHandles.DuplicateBlocking(fd) is not { } handle) return null;
        PipeHandles.Enlarge(fd);
        return new PipeInput(Wrap(handle, FileAccess.Read), name);
    }

    internal static FileStream Wrap(SafeFileHandle handle, FileAccess access)
    {
        try { return new FileStream(handle, access, bufferSize: 0); }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private void Run()
    {
        try
        {
            while (true)
            {
                int offset, room;
                lock (_lock)
                {
                    while (_count == RingBytes && !_disposed) Monitor.Wait(_lock);
                    if (_disposed) return;
                    // Only this thread moves the start of an empty ring (no consumer reads from it then).
                    if (_count == 0) _head = 0;
                    offset = (_head + _count) % RingBytes;
                    room = offset >= _head ? RingBytes - offset : _head - offset;
                }
                int n;
                Exception? error = null;
                try { n = _pipe.Read(_ring, offset, room); }
                catch (Exception e) when (e is IOException or ObjectDisposedException or UnauthorizedAccessException)
                {
                    n = 0;
                    error = e;
                }
                TaskCompletionSource? wake = null;
                lock (_lock)
                {
                    if (n > 0) _count += n;
                    else
                    {
                        _ended = true;
                        _error = error;
                    }
                    if (_waiter is not null && (_ended || _count >= _wanted))
                    {
                        wake = _waiter;
                        _waiter = null;
                    }
                }
                wake?.TrySetResult();
                if (n == 0) return;
            }
        }
        finally
        {
            _pipe.Dispose();
        }
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ReadAtLeastAsync(buffer, 1, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAtLeastAsync(buffer.AsMemory(offset, count), 1, cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) =>
        ReadAtLeastAsync(buffer.AsMemory(offset, count), 1, CancellationToken.None).AsTask().GetAwaiter().GetResult();

    /// <summary>
    /// Reads at least <paramref name="minimum"/> bytes (fewer only at the end of the pipe, or when cancelled after
    /// some were read), waiting once for them rather than once per write of the peer.
    /// </summary>
    public async ValueTask<int> ReadAtLeastAsync(Memory<byte> buffer, int minimum, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        minimum = Math.Clamp(minimum, Math.Min(1, buffer.Length), buffer.Length);
        var total = 0;
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                total += Take(buffer.Span[total..]);
                if (total >= minimum) return total;
                if (_ended)
                {
                    if (total == 0 && _error is not null) throw new IOException(_error.Message, _error);
                    return total;
                }
                // Woken when this much is in (at most half the ring, which the reading thread can always reach).
                _wanted = Math.Min(minimum - total, RingBytes / 2);
                _waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _waiter.Task;
            }
            try
            {
                await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (total > 0)
            {
                // The bytes already taken out of the ring are the caller's: a cancel must not drop them.
                return total;
            }
        }
    }

    /// <summary>Copies what the ring holds into <paramref name="destination"/>; called under the lock.</summary>
    private int Take(Span<byte> destination)
    {
        var taken = 0;
        while (_count > 0 && taken < destination.Length)
        {
            var n = Math.Min(Math.Min(_count, RingBytes - _head), destination.Length - taken);
            _ring.AsSpan(_head, n).CopyTo(destination[taken..]);
            taken += n;
            _count -= n;
            _head = (_head + n) % RingBytes;
        }
        if (taken > 0) Monitor.Pulse(_lock);
        return taken;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            TaskCompletionSource? wake;
            lock (_lock)
            {
                _disposed = true;
                wake = _waiter;
                _waiter = null;
                Monitor.Pulse(_lock);
            }
            wake?.TrySetResult();
            // A thread blocked in read() keeps the pipe until its writer ends or writes; the descriptor is closed by
            // that thread, never under it. A thread waiting for room ends now and closes it.
        }
        base.Dispose(disposing);
    }
}

/// <summary>
/// The write end of a pipe to ssh (or, on the server, to sshd), written by a thread of its own with plain blocking
/// writes: the writer's frames go out in one hand-off each, where .NET's pipe stream retried every write that the
/// 1 MiB pipe could only partly take through the socket engine (one epoll wake-up per 32 KiB that ssh drained).
/// Writes complete once the bytes are in the pipe, so the caller may reuse its buffer; a failed write fails every
/// later one with the same error. Disposing ends the pipe after the writes already given.
/// </summary>
internal sealed class PipeOutput : Stream
{
    private readonly FileStream _pipe;
    private readonly System.Collections.Concurrent.BlockingCollection<Job> _writes = new();
    private volatile Exception? _failed;
    /// <summary>The write under way (its task), so that <see cref="Abandon"/> can end the wait for it.</summary>
    private volatile TaskCompletionSource? _current;

    /// <param name="pipe">A blocking, unbuffered stream over the pipe; owned (closed after the last write).</param>
    public PipeOutput(FileStream pipe, string name)
    {
        _pipe = pipe;
        new Thread(Run) { IsBackground = true, Name = name }.Start();
    }

    /// <summary>
    /// A writer over the pipe <paramref name="fd"/> stands for, or null where it cannot have one (not Linux, not a
    /// pipe). The pipe is enlarged first (<see cref="PipeHandles.Enlarge"/>): whole frames fit in it.
    /// </summary>
    public static PipeOutput? TryOpen(int fd, string name)
    {
        if (!PipeHandles.IsStream(fd) || PipeHandles.DuplicateBlocking(fd) is not { } handle) return null;
        PipeHandles.Enlarge(fd);
        return new PipeOutput(PipeInput.Wrap(handle, FileAccess.Write), name);
    }

    /// <summary>Bytes to write, then (for a data frame from a savefile) <c>Count</c> bytes of <c>File</c> at <c>Offset</c>.</summary>
    private readonly record struct Job(ReadOnlyMemory<byte> Bytes, SafeFileHandle? File, long Offset, int Count, TaskCompletionSource Done);

    private void Run()
    {
        try
        {
            foreach (var job in _writes.GetConsumingEnumerable())
            {
                if (_failed is { } failed)
                {
                    job.Done.TrySetException(new IOException(failed.Message, failed));
                    continue;
                }
                try
                {
                    _current = job.Done;
                    _pipe.Write(job.Bytes.Span);
                    if (job.File is not null) WriteRange(job);
                    job.Done.TrySetResult();
                }
                catch (SavefileReadException e)
                {
                    job.Done.TrySetException(e);
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException or UnauthorizedAccessException)
                {
                    _failed = e;
                    job.Done.TrySetException(e);
                }
            }
        }
        finally
        {
            _pipe.Dispose();
        }
    }

    /// <summary>
    /// The file range behind a frame header already written: sendfile (the pipe gets references to the cached
    /// pages, no copy through this process), the rest read and written where the kernel would not. A range the file
    /// no longer has is made up with zeros, so the frame stays whole and the connection usable, and fails the write
    /// with <see cref="SavefileReadException"/>: the caller then cancels the call the bytes belonged to.
    /// </summary>
    private void WriteRange(Job job)
    {
        var sent = (int)FileRangeCopy.SendRange(job.File!, job.Offset, job.Count, _pipe.SafeFileHandle);
        if (sent == job.Count) return;
        var buffer = new byte[Math.Min(job.Count - sent, 256 << 10)];
        Exception? failure = null;
        while (sent < job.Count)
        {
            var n = 0;
            if (failure is null)
            {
                try
                {
                    n = RandomAccess.Read(job.File!, buffer.AsSpan(0, Math.Min(buffer.Length, job.Count - sent)), job.Offset + sent);
                    if (n == 0) failure = new EndOfStreamException("the savefile ended early (was it changed while being sent?)");
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
                {
                    failure = e;
                }
            }
            if (failure is not null)
            {
                n = Math.Min(buffer.Length, job.Count - sent);
                buffer.AsSpan(0, n).Clear();
            }
            _pipe.Write(buffer.AsSpan(0, n));
            sent += n;
        }
        if (failure is not null) throw new SavefileReadException(failure.Message, failure);
    }

    /// <summary>
    /// Gives up on the pipe: the write under way (blocked, when the reader stopped reading but keeps its end open) and
    /// every queued one fail at once with <paramref name="why"/>, and later ones fail as they come. A blocking write
    /// cannot be interrupted, so the thread may stay in it until the process ends; what waited for it does not.
    /// </summary>
    public void Abandon(string why)
    {
        var failure = new IOException(why);
        _failed ??= failure;
        _writes.CompleteAdding();
        _current?.TrySetException(failure);
        while (_writes.TryTake(out var job)) job.Done.TrySetException(failure);
    }

    /// <summary>
    /// Writes <paramref name="header"/>, then <paramref name="count"/> bytes of <paramref name="file"/> at
    /// <paramref name="offset"/>, without the bytes passing through this process where the kernel can move them.
    /// </summary>
    /// <exception cref="SavefileReadException">The file could not be read; the pipe is still whole.</exception>
    public Task WriteFileRangeAsync(ReadOnlyMemory<byte> header, SafeFileHandle file, long offset, int count)
    {
        if (_failed is { } failed) return Task.FromException(new IOException(failed.Message, failed));
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try { _writes.Add(new Job(header, file, offset, count, done)); }
        catch (InvalidOperationException) { throw new ObjectDisposedException(nameof(PipeOutput)); }
        return done.Task;
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>
    /// Hands the bytes to the writing thread; the task ends once they are in the pipe. Not cancellable once given: a
    /// frame begun is finished (half a frame would break the connection for every other call).
    /// </summary>
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty) return ValueTask.CompletedTask;
        if (_failed is { } failed) return ValueTask.FromException(new IOException(failed.Message, failed));
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try { _writes.Add(new Job(buffer, null, 0, 0, done)); }
        catch (InvalidOperationException) { throw new ObjectDisposedException(nameof(PipeOutput)); }
        return new ValueTask(done.Task);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) =>
        WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _writes.CompleteAdding();
        base.Dispose(disposing);
    }
}

/// <summary>A savefile being sent could not be read (the connection is still whole; the call is to be cancelled).</summary>
internal sealed class SavefileReadException(string message, Exception inner) : IOException(message, inner);
