using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace XenIac.Core.IO;

/// <summary>
/// Opens a file that must be a regular file (an object of a folder store) without ever waiting in the open: a plain
/// open of a FIFO blocks until some process writes to it, so a FIFO planted where a manifest belongs held every store
/// command forever. The open does not block (O_NONBLOCK, which means nothing to a regular file's reads), and anything
/// but a regular file is refused before a byte is read.
/// </summary>
public static class RegularFile
{
    /// <exception cref="FileNotFoundException">Nothing is there.</exception>
    /// <exception cref="DirectoryNotFoundException">A folder on the way is missing.</exception>
    /// <exception cref="UnauthorizedAccessException">Permission denied.</exception>
    /// <exception cref="NotRegularFileException">A FIFO, device, socket or folder is there (links are followed).</exception>
    /// <exception cref="IOException">Any other failure to open it.</exception>
    public static SafeFileHandle OpenRead(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        if (!OperatingSystem.IsLinux()) return File.OpenHandle(full, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        var fd = Libc.Open(full, Libc.ReadOnly | Libc.NonBlocking | Libc.CloseOnExec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            var message = Marshal.GetPInvokeErrorMessage(errno);
            throw errno switch
            {
                2 => new FileNotFoundException($"'{path}': {message}", path), // ENOENT
                20 => new DirectoryNotFoundException($"'{path}': {message}"), // ENOTDIR
                1 or 13 => new UnauthorizedAccessException($"'{path}': {message}"), // EPERM, EACCES
                _ => new IOException($"'{path}': {message}"),
            };
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        var type = TypeOf(fd);
        if (type == RegularType) return handle;
        handle.Dispose();
        throw new NotRegularFileException(path, type switch
        {
            Libc.TypeFifo => "a FIFO",
            Libc.TypeCharacterDevice => "a character device",
            Libc.TypeBlockDevice => "a block device",
            Libc.TypeFolder => "a folder",
            Libc.TypeSocket => "a socket",
            _ => "not a regular file",
        });
    }

    private const int RegularType = Libc.TypeRegular;

    /// <summary>The S_IFMT bits of the open file's mode (statx on the descriptor itself); 0 when it cannot be told.</summary>
    private static int TypeOf(int fd) => Libc.FileType(fd, "", Libc.EmptyPath);
}

/// <summary>A path that must be a regular file names something else; <see cref="Kind"/> says what ("a FIFO", ...).</summary>
public sealed class NotRegularFileException(string path, string kind)
    : IOException($"'{path}' is {kind}, not a regular file")
{
    public string Path { get; } = path;
    public string Kind { get; } = kind;
}
