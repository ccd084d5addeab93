using Microsoft.Win32.SafeHandles;

namespace XenIac.Core.IO;

/// <summary>
/// Standard input and output for the bytes of a savefile a command streams through them (`verify -`, `convert SRC -`).
/// Where the descriptor blocks (as shells hand out pipes, files and /dev/null), a FileStream over it, so the codec can
/// have the kernel move the bytes: sendfile onto standard output (a pipe gets references to cached pages), splice of
/// skipped guest pages from a standard-input pipe into /dev/null. Anything else (a terminal, a descriptor a parent made
/// non-blocking, another OS) gets the console streams, which wait for room where a FileStream would fail with EAGAIN.
/// </summary>
public static class StandardStreams
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
            var handle = PipeHandles.IsBlocking(0) ? new SafeFileHandle(0, ownsHandle: false) : PipeHandles.ReopenBlocking("/proc/self/fd/0");
            if (handle is not null)
            {
                var fd = (int)handle.DangerousGetHandle();
                // A pipe cannot seek; a redirected file can, and never waits: that one keeps the console stream.
                if (PipeHandles.IsStream(fd))
                {
                    PipeHandles.Enlarge(fd);
                    try { return new UnbufferedPipe(handle); }
                    catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException) { }
                }
                if (fd != 0) handle.Dispose();
            }
        }
        return Console.OpenStandardInput();
    }

    /// <summary>Standard output for writing a savefile's bytes to it.</summary>
    public static Stream OpenOutput()
    {
        if (OperatingSystem.IsLinux() && Console.IsOutputRedirected && PipeHandles.IsBlocking(1))
        {
            try
            {
                var output = new FileStream(new SafeFileHandle(1, ownsHandle: false), FileAccess.Write, bufferSize: 0);
                if (!output.CanSeek) PipeHandles.Enlarge(1);
                return output;
            }
            catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException) { }
        }
        return Console.OpenStandardOutput();
    }
}

/// <summary>
/// The read end of a pipe through a FileStream that keeps no buffer: the one kind of stream whose next bytes are the
/// pipe's next bytes, so <see cref="PipeDiscard"/> may drop them in the kernel. (A buffered FileStream over a FIFO may
/// hold bytes already read; dropping the pipe's bytes would skip the wrong ones.)
/// </summary>
internal sealed class UnbufferedPipe(SafeFileHandle handle) : FileStream(handle, FileAccess.Read, bufferSize: 0);
