using System.IO.Pipes;
using System.Runtime.InteropServices;

namespace XenIac.Hosts.Remote;

/// <summary>
/// Enlarges the pipes between xen-iac and ssh (both ends of a connection) from Linux's 64 KiB to 1 MiB. A savefile
/// crosses them in 512 KiB frames; with 64 KiB pipes each frame was a dozen wake-ups of the writer as ssh drained
/// the pipe 16 KiB at a time, each a thread hand-off on a two-core machine that ssh itself keeps busy.
/// Best effort: where the system refuses (an unprivileged limit below 1 MiB, not a pipe), the pipe stays as it is.
/// </summary>
internal static partial class PipeBuffers
{
    private const int Bytes = 1 << 20;
    private const int SetPipeSize = 1031; // F_SETPIPE_SZ

    public static void TryEnlarge(Stream stream)
    {
        if (stream is PipeStream pipe) TryEnlarge((int)pipe.SafePipeHandle.DangerousGetHandle());
        else if (stream is FileStream file) TryEnlarge((int)file.SafeFileHandle.DangerousGetHandle());
    }

    public static void TryEnlarge(int fd)
    {
        if (OperatingSystem.IsLinux()) _ = Fcntl(fd, SetPipeSize, Bytes);
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);
}
