using System.Runtime.InteropServices;

namespace XenIac.Core.IO;

/// <summary>
/// In-kernel copy between two files with Linux copy_file_range, as cp does: the image of a big savefile never
/// passes through user space (and file systems that can share extents do so). Anything it cannot handle is
/// left to the caller's ordinary read/write loop.
/// </summary>
internal static partial class FileRangeCopy
{
    private const long Chunk = 64L << 20;

    /// <summary>
    /// Copies <paramref name="input"/> from <paramref name="inputOffset"/> to its end onto <paramref name="output"/>
    /// at its current position, and leaves <paramref name="output"/> positioned after the copied bytes (the input's
    /// position is not moved: its owner knows what the offset meant). Returns how many bytes were copied: 0 when not
    /// applicable, fewer than all when the kernel refused part way (the caller copies the rest).
    /// </summary>
    public static long Copy(FileStream input, long inputOffset, FileStream output, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(inputOffset);
        if (!OperatingSystem.IsLinux() || !output.CanWrite || !input.CanSeek || !output.CanSeek) return 0;

        output.Flush();
        var outStart = output.Position;
        var inOffset = inputOffset;
        var outOffset = outStart;
        var fdIn = (int)input.SafeFileHandle.DangerousGetHandle();
        var fdOut = (int)output.SafeFileHandle.DangerousGetHandle();
        long copied = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var n = CopyFileRange(fdIn, ref inOffset, fdOut, ref outOffset, (nuint)Chunk, 0);
            if (n <= 0) break; // 0 is the end of the source; -1 (EXDEV, ENOSYS, EINVAL, ...) leaves the rest to the caller
            copied += n;
            // Start writing this chunk to disk now, so the caller's closing fsync has little left to wait for.
            _ = SyncFileRange(fdOut, outOffset - n, n, SyncFileRangeWrite);
            progress?.Report(copied);
        }
        output.Seek(outStart + copied, SeekOrigin.Begin);
        return copied;
    }

    private const uint SyncFileRangeWrite = 2;

    [LibraryImport("libc", EntryPoint = "sync_file_range")]
    private static partial int SyncFileRange(int fd, long offset, long length, uint flags);

    [LibraryImport("libc", EntryPoint = "copy_file_range", SetLastError = true)]
    private static partial nint CopyFileRange(int fdIn, ref long offIn, int fdOut, ref long offOut, nuint length, uint flags);
}
