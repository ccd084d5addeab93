using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace XenIac.Core.IO;

/// <summary>
/// In-kernel copy from a file with Linux copy_file_range, as cp does: the image of a big savefile never passes
/// through user space (and file systems that can share extents do so). Where the destination is no regular file
/// (a pipe, /dev/null, a terminal: `savefile convert SRC -`), sendfile moves the bytes instead, which hands a pipe
/// references to the source's cached pages rather than copies. Anything neither can handle is left to the caller's
/// ordinary read/write loop.
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
        if (!OperatingSystem.IsLinux() || !output.CanWrite || !input.CanSeek) return 0;
        if (!output.CanSeek) return Send(input, inputOffset, output, progress, cancellationToken);

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
            var n = Libc.CopyFileRange(fdIn, ref inOffset, fdOut, ref outOffset, (nuint)Chunk, 0);
            if (n < 0) ThrowIfWriteFailed(Marshal.GetLastPInvokeError(), "copy_file_range");
            // A seekable destination that is not a regular file (/dev/null) refuses at once: the pages can still be sent.
            if (n < 0 && copied == 0) return Send(input, inputOffset, output, progress, cancellationToken);
            if (n <= 0) break; // 0 is the end of the source; -1 (EXDEV, ENOSYS, EINVAL, ...) leaves the rest to the caller
            copied += n;
            // Start writing this chunk to disk now, so the caller's closing fsync has little left to wait for: an atomic
            // write's stream does that for what the kernel put past it as for its own writes (fsyncs beside it too).
            if (output is WritebackFileStream writeback) writeback.WrotePast(n);
            else _ = Libc.SyncFileRange(fdOut, outOffset - n, n, Libc.StartWriteback);
            progress?.Report(copied);
        }
        output.Seek(outStart + copied, SeekOrigin.Begin);
        return copied;
    }

    /// <summary>
    /// sendfile from <paramref name="inputOffset"/> to the end of <paramref name="input"/> onto the destination's
    /// descriptor (where it stands). A blocking pipe waits in the kernel for its reader; a non-blocking one is left to
    /// the caller's loop after the bytes already sent, as is any refusal.
    /// </summary>
    private static long Send(FileStream input, long inputOffset, FileStream output, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        output.Flush();
        var outStart = output.CanSeek ? output.Position : 0;
        long copied = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var n = SendRange(input.SafeFileHandle, inputOffset + copied, Chunk, output.SafeFileHandle, out var error);
            // Here the bytes are this copy's result (a file, or the command's own output): a failed write or read fails it.
            ThrowIfWriteFailed(error, "sendfile");
            if (n <= 0) break;
            copied += n;
            progress?.Report(copied);
        }
        // sendfile moved a seekable destination's own offset; FileStream keeps its own idea of where it stands.
        if (copied > 0 && output.CanSeek) output.Seek(outStart + copied, SeekOrigin.Begin);
        return copied;
    }

    /// <summary>
    /// sendfile of <paramref name="count"/> bytes at <paramref name="offset"/> of <paramref name="input"/> onto the
    /// blocking descriptor <paramref name="output"/> (a pipe: it gets references to the cached pages, no copy).
    /// Returns how many bytes were sent: fewer than asked where the kernel refused or the file ended early (the
    /// caller sends the rest its own way, or fails). Never throws for the kernel's errors: a pipe's writer (the ssh
    /// channel) pads a source that could not be read and fails only that call, not the connection.
    /// </summary>
    public static long SendRange(SafeFileHandle input, long offset, long count, SafeFileHandle output) =>
        SendRange(input, offset, count, output, out _);

    private static long SendRange(SafeFileHandle input, long offset, long count, SafeFileHandle output, out int error)
    {
        error = 0;
        if (!OperatingSystem.IsLinux()) return 0;
        var added = false;
        var addedOut = false;
        try
        {
            input.DangerousAddRef(ref added);
            output.DangerousAddRef(ref addedOut);
            var fdIn = (int)input.DangerousGetHandle();
            var fdOut = (int)output.DangerousGetHandle();
            var position = offset;
            while (position - offset < count)
            {
                var n = Libc.SendFile(fdOut, fdIn, ref position, (nuint)Math.Min(Chunk, count - (position - offset)));
                if (n < 0) error = Marshal.GetLastPInvokeError();
                if (n <= 0) break;
            }
            return position - offset;
        }
        finally
        {
            if (added) input.DangerousRelease();
            if (addedOut) output.DangerousRelease();
        }
    }

    /// <summary>
    /// A refusal (EXDEV, EINVAL, ENOSYS: this pair of files cannot be copied so) leaves the rest to the caller's
    /// ordinary loop; a failed write (a full disk, a quota, an I/O error) is the copy's failure and must never pass
    /// for a short copy: the caller would go on and the result would be replaced over a good file, torn.
    /// </summary>
    private static void ThrowIfWriteFailed(int errno, string call)
    {
        if (errno is 5 /* EIO */ or 27 /* EFBIG */ or 28 /* ENOSPC */ or 122 /* EDQUOT */)
            throw new IOException($"cannot write the new file: {Marshal.GetPInvokeErrorMessage(errno)} (in {call})", errno);
    }
}
