using System.Runtime.InteropServices;
using XenIac.Core.SaveFiles;

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
    /// Copies from the current position of <paramref name="source"/> (a file, or the image of a savefile read
    /// from a file) to the end of <paramref name="destination"/>, a file, and leaves both positioned after
    /// the copied bytes. Returns how many were copied: 0 when not applicable, fewer than all when the kernel
    /// refused part way (the caller copies the rest).
    /// </summary>
    public static long Copy(Stream source, Stream destination, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        if (!OperatingSystem.IsLinux()) return 0;
        var (inner, image) = source switch
        {
            ImageStream i when i.Inner is FileStream f => (f, i),
            FileStream f => (f, null),
            _ => ((FileStream?)null, (ImageStream?)null),
        };
        if (inner is null || destination is not FileStream output || !output.CanWrite || !inner.CanSeek || !output.CanSeek) return 0;

        output.Flush();
        var inStart = inner.Position;
        var outStart = output.Position;
        var inOffset = inStart;
        var outOffset = outStart;
        var fdIn = (int)inner.SafeFileHandle.DangerousGetHandle();
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
        if (image is not null) image.Seek(image.Position + copied, SeekOrigin.Begin);
        else inner.Seek(inStart + copied, SeekOrigin.Begin);
        output.Seek(outStart + copied, SeekOrigin.Begin);
        return copied;
    }

    private const uint SyncFileRangeWrite = 2;

    [LibraryImport("libc", EntryPoint = "sync_file_range")]
    private static partial int SyncFileRange(int fd, long offset, long length, uint flags);

    [LibraryImport("libc", EntryPoint = "copy_file_range", SetLastError = true)]
    private static partial nint CopyFileRange(int fdIn, ref long offIn, int fdOut, ref long offOut, nuint length, uint flags);
}
