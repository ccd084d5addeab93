using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace XenIac.Core.IO;

/// <summary>
/// The descriptor-level rules for pipes that carry savefile bytes between processes (standard streams, the pipes
/// to and from ssh), in one place: how to tell a pipe from a file, how to get a blocking description of one, and
/// how to enlarge it. Linux only; elsewhere every answer is "cannot" and callers keep .NET's own streams.
/// </summary>
internal static partial class PipeHandles
{
    /// <summary>Pipe capacity asked for: 1 MiB instead of Linux's 64 KiB, a sixteenth of the wake-ups on both ends.</summary>
    public const int Capacity = 1 << 20;

    /// <summary>
    /// Enlarges the pipe behind <paramref name="fd"/> to <see cref="Capacity"/>. Best effort: a refusal (an
    /// unprivileged limit below 1 MiB, not a pipe) leaves it as it was.
    /// </summary>
    public static void Enlarge(int fd)
    {
        if (OperatingSystem.IsLinux()) _ = Fcntl(fd, SetPipeSize, Capacity);
    }

    /// <summary>True when <paramref name="fd"/> is open and its description is blocking.</summary>
    public static bool IsBlocking(int fd) =>
        OperatingSystem.IsLinux() && Fcntl(fd, GetStatusFlags, 0) is >= 0 and var flags && (flags & NonBlocking) == 0;

    /// <summary>True when <paramref name="fd"/> cannot seek (a pipe, a socket, a terminal): a redirected file can.</summary>
    public static bool IsStream(int fd) => OperatingSystem.IsLinux() && Seek(fd, 0, SeekCurrent) < 0;

    /// <summary>
    /// A descriptor of its own for <paramref name="fd"/>'s description (close-on-exec), made blocking; null where
    /// that fails. For the pipes .NET made for a child process: our end is ours alone, and .NET may have made it
    /// non-blocking for its own asynchronous I/O, which a thread doing plain reads and writes must not see.
    /// </summary>
    public static SafeFileHandle? DuplicateBlocking(int fd)
    {
        if (!OperatingSystem.IsLinux()) return null;
        var copy = Fcntl(fd, DuplicateCloseOnExec, 0);
        if (copy < 0) return null;
        if (!MakeBlocking(copy))
        {
            _ = Close(copy);
            return null;
        }
        return new SafeFileHandle(copy, ownsHandle: true);
    }

    /// <summary>
    /// A new description of the pipe behind <paramref name="path"/> (such as /proc/self/fd/0), blocking; null where
    /// that fails. Opened non-blocking first, because opening a FIFO for reading waits for a writer, and a pipe whose
    /// writer has already gone has none. The description the path named keeps its flags (a parent may share it).
    /// </summary>
    public static SafeFileHandle? ReopenBlocking(string path)
    {
        if (!OperatingSystem.IsLinux()) return null;
        var fd = Open(path, ReadOnly | NonBlocking | CloseOnExec);
        if (fd < 0) return null;
        if (!MakeBlocking(fd))
        {
            _ = Close(fd);
            return null;
        }
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    private static bool MakeBlocking(int fd) =>
        Fcntl(fd, GetStatusFlags, 0) is >= 0 and var flags && Fcntl(fd, SetStatusFlags, flags & ~NonBlocking) >= 0;

    private const int DuplicateCloseOnExec = 1030; // F_DUPFD_CLOEXEC
    private const int GetStatusFlags = 3; // F_GETFL
    private const int SetStatusFlags = 4; // F_SETFL
    private const int SetPipeSize = 1031; // F_SETPIPE_SZ
    private const int ReadOnly = 0; // O_RDONLY
    private const int CloseOnExec = 0x80000; // O_CLOEXEC on Linux
    private const int NonBlocking = 0x800; // O_NONBLOCK on Linux
    private const int SeekCurrent = 1; // SEEK_CUR

    [LibraryImport("libc", EntryPoint = "fcntl")]
    private static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "lseek64")]
    private static partial long Seek(int fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
