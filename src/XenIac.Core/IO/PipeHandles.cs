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
        if (OperatingSystem.IsLinux()) _ = Libc.Fcntl(fd, Libc.SetPipeSize, Capacity);
    }

    /// <summary>True when <paramref name="fd"/> is open and its description is blocking.</summary>
    public static bool IsBlocking(int fd) =>
        OperatingSystem.IsLinux() && Libc.Fcntl(fd, Libc.GetStatusFlags, 0) is >= 0 and var flags && (flags & Libc.NonBlocking) == 0;

    /// <summary>True when <paramref name="fd"/> cannot seek (a pipe, a socket, a terminal): a redirected file can.</summary>
    public static bool IsStream(int fd) => OperatingSystem.IsLinux() && Libc.Seek(fd, 0, Libc.SeekCurrent) < 0;

    /// <summary>
    /// A descriptor of its own for <paramref name="fd"/>'s description (close-on-exec), made blocking; null where
    /// that fails. For the pipes .NET made for a child process: our end is ours alone, and .NET may have made it
    /// non-blocking for its own asynchronous I/O, which a thread doing plain reads and writes must not see.
    /// </summary>
    public static SafeFileHandle? DuplicateBlocking(int fd)
    {
        if (!OperatingSystem.IsLinux()) return null;
        var copy = Libc.Fcntl(fd, Libc.DuplicateCloseOnExec, 0);
        if (copy < 0) return null;
        if (!MakeBlocking(copy))
        {
            _ = Libc.Close(copy);
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
        var fd = Libc.Open(path, Libc.ReadOnly | Libc.NonBlocking | Libc.CloseOnExec);
        if (fd < 0) return null;
        if (!MakeBlocking(fd))
        {
            _ = Libc.Close(fd);
            return null;
        }
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Clears O_NONBLOCK on the descriptor's file description; false where that fails.</summary>
    internal static bool MakeBlocking(int fd) =>
        Libc.Fcntl(fd, Libc.GetStatusFlags, 0) is >= 0 and var flags && Libc.Fcntl(fd, Libc.SetStatusFlags, flags & ~Libc.NonBlocking) >= 0;
}
