using System.Runtime.InteropServices;

namespace XenIac.Core.IO;

/// <summary>
/// A file being written in full before one closing fsync (a savefile, a restored domain's memory). Linux keeps
/// written pages in memory until a tenth of RAM is dirty, so without help a 1 GiB file reaches the disk only when
/// the fsync asks for it, and the writer waits for the whole disk write after the last byte instead of beside the
/// earlier ones. Every <see cref="KickBytes"/> written, this asks the kernel to start writing what is dirty
/// (sync_file_range with WRITE only: it does not wait for the disk), so the fsync finds little left. Measured by
/// the ssh-restore and embedded save/restore benchmarks.
/// </summary>
internal sealed partial class WritebackFileStream(string path, FileStreamOptions options) : FileStream(path, options)
{
    /// <summary>Small enough that the disk starts early, large enough that the calls cost nothing.</summary>
    private const long KickBytes = 16L << 20;

    private long _sinceKick;

    public override void Write(byte[] buffer, int offset, int count)
    {
        base.Write(buffer, offset, count);
        Wrote(count);
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        base.Write(buffer);
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

    /// <summary>Counts written bytes towards the next kick.</summary>
    private void Wrote(long bytes)
    {
        _sinceKick += bytes;
        if (_sinceKick < KickBytes || !OperatingSystem.IsLinux()) return;
        _sinceKick = 0;
        // Offset 0 and length 0 mean the whole file: pages written in any order (a restore's pfns) are all covered,
        // and pages already on their way are skipped. A failure only loses the head start; the fsync still decides.
        _ = Libc.SyncFileRange((int)SafeFileHandle.DangerousGetHandle(), 0, 0, Libc.StartWriteback);
    }
}
