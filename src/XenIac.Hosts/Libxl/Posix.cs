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

    [LibraryImport("libc", SetLastError = true)]
    private static partial long lseek(SafeFileHandle fd, long offset, int whence);
}
