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
                    try { return new UnbufferedPipe(handle, InputFile.AmbientCancellation); }
                    catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException) { }
                }
                if (fd != 0) handle.Dispose();
            }
        }
        return Console.OpenStandardInput();
    }

    /// <summary>
    /// Why standard input or output cannot carry a conversation (<c>serve --stdio</c>), or null. A descriptor the parent
    /// closed is nothing the process is told of: the runtime's own files take the lowest free numbers, so a closed
    /// standard input was one of the runtime's internal pipes (serve waited on it for ever) and a closed standard
    /// output failed its first write with "access denied".
    /// </summary>
    public static string? ConversationProblem()
    {
        if (!OperatingSystem.IsLinux()) return null;
        if (AccessMode(1) is not (WriteOnly or ReadWrite) || IsOwnDescriptor(1)) return "standard output is closed or not writable";
        if (AccessMode(0) is not (ReadOnly or ReadWrite) || IsOwnDescriptor(0) || IsOwnPipe(0)) return "standard input is closed or not readable";
        return null;
    }

    /// <summary>
    /// True when <paramref name="fd"/> is close-on-exec: a descriptor this process opened itself (the NativeAOT
    /// runtime's /dev/urandom took the number of a closed standard input, and serve read random bytes as frames). One
    /// inherited from the parent cannot be: close-on-exec descriptors are closed by the exec that started this process.
    /// </summary>
    private static bool IsOwnDescriptor(int fd)
    {
        var flags = Libc.Fcntl(fd, Libc.GetDescriptorFlags, 0);
        return flags >= 0 && (flags & Libc.CloseOnExecFlag) != 0;
    }

    private const int ReadOnly = 0, WriteOnly = 1, ReadWrite = 2;

    /// <summary>O_ACCMODE of a descriptor, or -1 when it is not open.</summary>
    private static int AccessMode(int fd)
    {
        var flags = Libc.Fcntl(fd, Libc.GetStatusFlags, 0);
        return flags < 0 ? -1 : flags & 3;
    }

    /// <summary>
    /// True when <paramref name="fd"/> is a pipe whose write end this very process holds (the runtime's own pipe in
    /// the place of a closed standard input). Copies of the read end do not count: the runtime makes one of standard input.
    /// </summary>
    private static bool IsOwnPipe(int fd)
    {
        try
        {
            var target = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
            if (target is null || !target.StartsWith("pipe:", StringComparison.Ordinal)) return false;
            foreach (var entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
            {
                if (!int.TryParse(Path.GetFileName(entry), out var other) || other == fd) continue;
                try { if (new FileInfo(entry).LinkTarget == target && AccessMode(other) is WriteOnly or ReadWrite) return true; }
                catch (IOException) { /* closed while listing */ }
            }
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
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
/// The read end of a pipe (or a terminal, a character device) through a FileStream that keeps no buffer: the one kind
/// of stream whose next bytes are the pipe's next bytes, so <see cref="PipeDiscard"/> may drop them in the kernel. (A
/// buffered FileStream over a FIFO may hold bytes already read; dropping the pipe's bytes would skip the wrong ones.)
/// Every read first waits until it would not block, in slices that <paramref name="cancellation"/> ends: a writer
/// that stalls (`slow | xen-iac savefile verify -`) kept the process in a read that Ctrl+C or SIGTERM could not end
/// until the writer closed the pipe.
/// </summary>
internal sealed class UnbufferedPipe(SafeFileHandle handle, CancellationToken cancellation = default)
    : FileStream(handle, FileAccess.Read, bufferSize: 0)
{
    /// <summary>Waits until the next read or splice of this pipe returns at once (see the class).</summary>
    internal void WaitUntilReadable(CancellationToken cancellationToken = default)
    {
        if (!cancellation.CanBeCanceled && !cancellationToken.CanBeCanceled) return;
        var fd = (int)SafeFileHandle.DangerousGetHandle();
        if (!cancellationToken.CanBeCanceled) InputFile.WaitUntilReadable(fd, cancellation);
        else if (!cancellation.CanBeCanceled) InputFile.WaitUntilReadable(fd, cancellationToken);
        else
        {
            using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellation, cancellationToken);
            InputFile.WaitUntilReadable(fd, either.Token);
        }
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        if (count > 0) WaitUntilReadable();
        return base.Read(buffer, offset, count);
    }

    public override int Read(Span<byte> buffer)
    {
        if (!buffer.IsEmpty) WaitUntilReadable();
        return base.Read(buffer);
    }

    public override int ReadByte()
    {
        WaitUntilReadable();
        return base.ReadByte();
    }

    // Each override calls its own base: a derived FileStream's base ReadAsync(Memory) comes back through
    // ReadAsync(byte[]), so one calling the other here would recurse.
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        if (count > 0)
        {
            try { WaitUntilReadable(cancellationToken); }
            catch (OperationCanceledException e) { return Task.FromException<int>(e); }
        }
        return base.ReadAsync(buffer, offset, count, cancellationToken);
    }

    // The handle is synchronous, so the read under an asynchronous one blocks a thread all the same; the wait before it
    // is what the tokens can end.
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!buffer.IsEmpty)
        {
            try { WaitUntilReadable(cancellationToken); }
            catch (OperationCanceledException e) { return ValueTask.FromException<int>(e); }
        }
        return base.ReadAsync(buffer, cancellationToken);
    }
}
