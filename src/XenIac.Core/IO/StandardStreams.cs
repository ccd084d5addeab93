using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace XenIac.Core.IO;

/// <summary>
/// Standard input and output for the bytes of a savefile a command streams through them (`verify -`, `convert SRC -`).
/// Where the descriptor blocks (as shells hand out pipes, files and /dev/null), a FileStream over it, so the codec can
/// have the kernel move the bytes: sendfile onto standard output (a pipe gets references to cached pages), splice of
/// skipped guest pages from a standard-input pipe into /dev/null. Anything else (a terminal, a descriptor a parent made
/// non-blocking, another OS) gets the console streams, which wait for room where a FileStream would fail with EAGAIN.
/// </summary>
public static partial class StandardStreams
{
    /// <summary>
    /// Standard input for reading a savefile from it. A pipe a parent made non-blocking (some CI runners and Node.js
    /// do) is opened again through /proc as a blocking description of this process's own, since .NET's console stream
    /// fails on such a pipe the moment it is empty; the parent's description keeps its flags.
    /// </summary>
    public static Stream OpenInput()
    {
        if (OperatingSystem.IsLinux() && Console.IsInputRedirected)
        {
            var handle = IsBlocking(0) ? new SafeFileHandle(0, ownsHandle: false) : ReopenBlocking("/proc/self/fd/0");
            if (handle is not null)
            {
                var fd = (int)handle.DangerousGetHandle();
                // A pipe cannot seek; a redirected file can, and never waits: that one keeps the console stream.
                if (Seek(fd, 0, SeekCurrent) < 0)
                {
                    Enlarge(fd);
                    try { return new UnbufferedPipe(handle); }
                    catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException) { }
                }
                if (fd != 0) handle.Dispose();
            }
        }
        return Console.OpenStandardInput();
    }

    /// <summary>
    /// A new description of the pipe behind <paramref name="path"/>, blocking. Opened non-blocking first, because
    /// opening a FIFO for reading waits for a writer, and a pipe whose writer has already gone has none.
    /// </summary>
    private static SafeFileHandle? ReopenBlocking(string path)
    {
        var fd = Open(path, ReadOnly | NonBlocking | CloseOnExec);
        if (fd < 0) return null;
        var flags = Fcntl(fd, GetStatusFlags, 0);
        if (flags < 0 || Fcntl(fd, SetStatusFlags, flags & ~NonBlocking) < 0)
        {
            _ = Close(fd);
            return null;
        }
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Standard output for writing a savefile's bytes to it.</summary>
    public static Stream OpenOutput()
    {
        if (OperatingSystem.IsLinux() && Console.IsOutputRedirected && IsBlocking(1))
        {
            try
            {
                var output = new FileStream(new SafeFileHandle(1, ownsHandle: false), FileAccess.Write, bufferSize: 0);
                if (!output.CanSeek) Enlarge(1);
                return output;
            }
            catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException) { }
        }
        return Console.OpenStandardOutput();
    }

    private static bool IsBlocking(int fd) => Fcntl(fd, GetStatusFlags, 0) is >= 0 and var flags && (flags & NonBlocking) == 0;

    // A pipe of 1 MiB instead of 64 KiB: a sixteenth of the wake-ups on both of its ends. Refusal (a pipe limit below
    // 1 MiB for unprivileged users) leaves the pipe as it was.
    private static void Enlarge(int fd) => _ = Fcntl(fd, SetPipeSize, 1 << 20);

    private const int GetStatusFlags = 3; // F_GETFL
    private const int SetStatusFlags = 4; // F_SETFL
    private const int SetPipeSize = 1031; // F_SETPIPE_SZ
    private const int ReadOnly = 0; // O_RDONLY
    private const int CloseOnExec = 0x80000; // O_CLOEXEC on Linux
    private const int NonBlocking = 0x800; // O_NONBLOCK on Linux

    [LibraryImport("libc", EntryPoint = "fcntl")]
    private static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    private const int SeekCurrent = 1; // SEEK_CUR

    [LibraryImport("libc", EntryPoint = "lseek64")]
    private static partial long Seek(int fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}

/// <summary>
/// The read end of a pipe through a FileStream that keeps no buffer: the one kind of stream whose next bytes are the
/// pipe's next bytes, so <see cref="PipeDiscard"/> may drop them in the kernel. (A buffered FileStream over a FIFO may
/// hold bytes already read; dropping the pipe's bytes would skip the wrong ones.)
/// </summary>
internal sealed class UnbufferedPipe(SafeFileHandle handle) : FileStream(handle, FileAccess.Read, bufferSize: 0);
