using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace XenIac.Hosts.Libxl;

/// <summary>
/// File-offset calls libxl depends on. .NET writes and reads files with pwrite/pread, which leave the OS file
/// offset where it was; libxl reads and writes at that offset, so it must be placed explicitly.
/// </summary>
internal static partial class Posix
{
    private const int SEEK_SET = 0;
    private const int SEEK_CUR = 1;

    public static void SeekTo(SafeFileHandle file, long offset)
    {
        if (lseek(file, offset, SEEK_SET) != offset)
            throw new IOException($"cannot position the file at byte {offset}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>The OS file offset: how far libxl has read or written.</summary>
    public static long Offset(SafeFileHandle file) => lseek(file, 0, SEEK_CUR);

    /// <summary>
    /// A pipe whose read end libxl can restore from while this process writes the image into the other end: how
    /// a savefile that exists only as a stream (a snapshot coming out of a store) reaches libxl without a temp file.
    /// Both ends close on exec, so libxl's save helper inherits only what libxl hands it.
    /// </summary>
    public static (SafeFileHandle Read, SafeFileHandle Write) Pipe()
    {
        Span<int> fds = stackalloc int[2];
        if (pipe2(ref MemoryMarshal.GetReference(fds), O_CLOEXEC) != 0)
            throw new IOException($"cannot make a pipe: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return (new SafeFileHandle(fds[0], ownsHandle: true), new SafeFileHandle(fds[1], ownsHandle: true));
    }

    private const int O_CLOEXEC = 0x80000;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int pipe2(ref int fds, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial long lseek(SafeFileHandle fd, long offset, int whence);
}
