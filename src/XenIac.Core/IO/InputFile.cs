using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace XenIac.Core.IO;

/// <summary>
/// Opens a file a user named for reading, where it may be a FIFO (`mkfifo`, a shell's `&lt;(...)` on some systems).
/// Opening a FIFO for reading waits in the kernel until a writer comes, and a thread in open() cannot be cancelled:
/// Ctrl+C or SIGTERM cancelled the command's token, nothing looked at it, and only SIGKILL ended the process. Here a
/// FIFO is opened without waiting and the wait for its writer is a poll that the command's cancellation ends. The
/// same holds for every read of a pipe or a terminal once open (a writer that stalls): see <see cref="UnbufferedPipe"/>.
/// </summary>
public static partial class InputFile
{
    private static readonly AsyncLocal<CancellationToken> s_cancellation = new();

    /// <summary>
    /// Until the result is disposed, waits for a FIFO's writer, and for the bytes of a pipe or terminal, in this flow
    /// of work (the async calls it makes included) end when <paramref name="cancellationToken"/> is cancelled. Ambient
    /// because the opens and reads sit deep in synchronous readers (a manifest, a config, a savefile header) that take
    /// no token.
    /// </summary>
    public static IDisposable CancelWaitsOn(CancellationToken cancellationToken)
    {
        var previous = s_cancellation.Value;
        s_cancellation.Value = cancellationToken;
        return new Scope(previous);
    }

    /// <summary>The cancellation <see cref="CancelWaitsOn"/> set for this flow of work; none outside it.</summary>
    internal static CancellationToken AmbientCancellation => s_cancellation.Value;

    private sealed class Scope(CancellationToken previous) : IDisposable
    {
        public void Dispose() => s_cancellation.Value = previous;
    }

    /// <summary>
    /// Opens <paramref name="path"/> for reading with <paramref name="options"/>' buffer size and sharing. A FIFO or
    /// pipe, and a terminal or other character device, get no buffer whatever the options ask: their reads wait in
    /// slices the ambient cancellation ends (a buffer would sit above the wait and hide bytes from it).
    /// </summary>
    /// <exception cref="OperationCanceledException">The path is a FIFO and the wait for its writer was cancelled.</exception>
    public static FileStream Open(string path, FileStreamOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var type = FileType(path);
        if (type == Fifo && OpenFifo(path) is { } fifo) return Wrap(fifo);
        if (type == CharacterDevice)
        {
            // Opened as it always was (a terminal's open does not wait); only its reads become cancellable.
            var device = File.OpenHandle(path, FileMode.Open, FileAccess.Read, options.Share);
            return Wrap(device);
        }
        return new FileStream(path, options);

        static FileStream Wrap(SafeFileHandle handle)
        {
            try { return new UnbufferedPipe(handle, AmbientCancellation); }
            catch
            {
                handle.Dispose();
                throw;
            }
        }
    }

    /// <inheritdoc cref="Open(string, FileStreamOptions)"/>
    public static FileStream Open(string path, int bufferSize = 4096, FileOptions options = FileOptions.None,
        FileShare share = FileShare.Read) =>
        Open(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = share, BufferSize = bufferSize, Options = options });

    /// <summary>True when <paramref name="path"/>, following links, is a FIFO or pipe (it can be read once, and never seeks).</summary>
    public static bool IsFifo(string path) => FileType(path) == Fifo;

    private const int Fifo = Libc.TypeFifo;
    private const int CharacterDevice = Libc.TypeCharacterDevice;

    /// <summary>The S_IFMT bits of <paramref name="path"/>'s mode, following links; 0 when it cannot be told (or not on Linux).</summary>
    private static int FileType(string path) =>
        OperatingSystem.IsLinux() ? Libc.FileType(Libc.CurrentDirectory, Path.GetFullPath(path), 0) : 0; // flags 0: follow links

    /// <summary>
    /// A blocking handle on the FIFO at <paramref name="path"/> once a writer has written or come and gone; null when it
    /// cannot be opened so (the ordinary open then reports why). The caller has told it is a FIFO: one statx per open.
    /// </summary>
    private static SafeFileHandle? OpenFifo(string path)
    {
        var cancellationToken = s_cancellation.Value;
        cancellationToken.ThrowIfCancellationRequested();
        // O_NONBLOCK: the open returns at once, writer or not. Reading now would return 0 (end of file) while no writer
        // is connected, which would look like an empty file, so the data is waited for first.
        var fd = Libc.Open(Path.GetFullPath(path), Libc.ReadOnly | Libc.NonBlocking | Libc.CloseOnExec);
        if (fd < 0) return null;
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            // A pipe (/dev/stdin, /proc/self/fd/N onto a shell's pipe) never waits in a blocking open, and poll does not
            // report its end when its writer left before this open: waiting would hang on `true | xen-iac ... /dev/stdin`.
            if (!IsAnonymousPipe(fd)) WaitForWriter(fd, cancellationToken);
            // Reads from here on are the plain blocking ones every other file gets.
            if (!PipeHandles.MakeBlocking(fd))
                throw new IOException($"cannot read '{path}': cannot make the FIFO blocking (errno {Marshal.GetLastPInvokeError()})");
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static bool IsAnonymousPipe(int fd)
    {
        try { return new FileInfo($"/proc/self/fd/{fd}").LinkTarget?.StartsWith("pipe:", StringComparison.Ordinal) == true; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>
    /// Waits until the FIFO has bytes to read, or a writer came and closed it (Linux reports POLLHUP only for a writer
    /// that left after this open, so a FIFO nobody has opened yet keeps waiting, as a blocking open would). In slices,
    /// so that cancellation is seen within a tenth of a second without a second descriptor to wake the poll.
    /// </summary>
    private static void WaitForWriter(int fd, CancellationToken cancellationToken) => WaitUntilReadable(fd, cancellationToken);

    /// <summary>
    /// Waits until a read of <paramref name="fd"/> would not block: bytes, the end, or an error for the read to report.
    /// A read in the kernel cannot be cancelled, so it starts only once it will return.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    internal static void WaitUntilReadable(int fd, CancellationToken cancellationToken)
    {
        var poll = new Libc.PollFd { Fd = fd, Events = Libc.PollIn };
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int rc;
            unsafe { rc = Libc.Poll(&poll, 1, 100); }
            if (rc > 0) return;
            if (rc < 0 && Marshal.GetLastPInvokeError() != Libc.Interrupted) return; // let the read report the problem
        }
    }
}
