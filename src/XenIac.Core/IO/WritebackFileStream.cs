using System.Runtime.InteropServices;

namespace XenIac.Core.IO;

/// <summary>
/// A file being written in full before one closing fsync (a savefile, a restored domain's memory). Linux keeps
/// written pages in memory until a tenth of RAM is dirty, so without help a 1 GiB file reaches the disk only when
/// the fsync asks for it, and the writer waits for the whole disk write after the last byte instead of beside the
/// earlier ones. Every <see cref="KickBytes"/> written, this asks the kernel to start writing what is dirty
/// (sync_file_range with WRITE only: it does not wait for the disk), so the fsync finds little left. Measured by
/// the ssh-restore and embedded save/restore benchmarks.
/// That is not all a closing fsync waits for in a VM: the virtual disk's cache flush makes the host write what it
/// holds of the file, and that only starts at the fsync. So every <see cref="SyncBytes"/> an fsync also runs on
/// another thread, the host's disk working while the writer produces the next bytes (a writer slowed by hashing:
/// 0.87–0.92 s against 1.10 s for 256 MiB over four rounds, 2026-12-08, in a C model of the save). The closing
/// fsync waits for it and reports its failure: a write error reaches only one fsync per file descriptor.
/// </summary>
internal sealed partial class WritebackFileStream(string path, FileStreamOptions options) : FileStream(path, options)
{
    /// <summary>Small enough that the disk starts early, large enough that the calls cost nothing.</summary>
    private const long KickBytes = 16L << 20;

    /// <summary>Span writes at least this long skip the stream's buffer (see <see cref="Write(ReadOnlySpan{byte})"/>).</summary>
    private const int PastBufferBytes = 64 << 10;

    /// <summary>An fsync beside the writer after this many bytes (when the previous one is done).</summary>
    private const long SyncBytes = 64L << 20;

    private long _sinceKick;
    private long _sinceSync;
    private Task? _syncing;

    public override void Write(byte[] buffer, int offset, int count)
    {
        base.Write(buffer, offset, count);
        Wrote(count);
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (buffer.Length >= PastBufferBytes)
        {
            // FileStream sends a subclass's span writes through Stream.Write, which copies them into a rented array
            // first: a whole extra copy of a savefile (7.5% of an embedded save's profile). Written here instead, after
            // what the buffer holds. Reading SafeFileHandle puts the buffer into the file first.
            var handle = SafeFileHandle;
            var at = Position;
            RandomAccess.Write(handle, buffer, at);
            Position = at + buffer.Length;
        }
        else base.Write(buffer);
        Wrote(buffer.Length);
    }

    public override void WriteByte(byte value)
    {
        base.WriteByte(value);
        Wrote(1);
    }

    public override async Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        await base.WriteAsync(buffer, offset, count, cancellationToken).ConfigureAwait(false);
        Wrote(count);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await base.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        Wrote(buffer.Length);
    }

    /// <summary>Counts bytes the kernel copied into the file past this stream (copy_file_range), as if written here.</summary>
    internal void WrotePast(long bytes) => Wrote(bytes);

    /// <summary>Waits for the fsync beside the writer (and rethrows its failure) before its own.</summary>
    public override void Flush(bool flushToDisk)
    {
        if (flushToDisk) WaitForSync(rethrow: true);
        base.Flush(flushToDisk);
    }

    protected override void Dispose(bool disposing)
    {
        // The handle must outlive the fsync that uses it; a failure there matters only to a Flush(true) not made.
        if (disposing) WaitForSync(rethrow: false);
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        WaitForSync(rethrow: false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private void WaitForSync(bool rethrow)
    {
        if (_syncing is not { } syncing) return;
        _syncing = null;
        Task.WaitAny(syncing);
        if (rethrow && syncing.Exception?.InnerException is { } failure)
            throw new IOException($"cannot write '{Name}' to the disk: {failure.Message}", failure);
    }

    /// <summary>Counts written bytes towards the next kick and the next fsync beside the writer.</summary>
    private void Wrote(long bytes)
    {
        _sinceSync += bytes;
        if (_sinceSync >= SyncBytes && _syncing is not { IsCompleted: false } && Environment.ProcessorCount > 1)
        {
            _sinceSync = 0;
            // A failed earlier one is kept for the closing fsync to report, not replaced.
            if (_syncing is not { IsFaulted: true })
            {
                var handle = SafeFileHandle;
                _syncing = Task.Run(() => RandomAccess.FlushToDisk(handle));
            }
        }
        _sinceKick += bytes;
        if (_sinceKick < KickBytes || !OperatingSystem.IsLinux()) return;
        _sinceKick = 0;
        // Offset 0 and length 0 mean the whole file: pages written in any order (a restore's pfns) are all covered,
        // and pages already on their way are skipped. A failure only loses the head start; the fsync still decides.
        _ = Libc.SyncFileRange((int)SafeFileHandle.DangerousGetHandle(), 0, 0, Libc.StartWriteback);
    }
}
