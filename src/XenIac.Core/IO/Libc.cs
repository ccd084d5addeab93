using System.Runtime.InteropServices;

namespace XenIac.Core.IO;

/// <summary>
/// The Linux C library calls .NET has no API for, declared once for every stream and file helper (and the store's
/// folder backend), with the flag values they use. Every call sets errno for <see cref="Marshal.GetLastPInvokeError"/>;
/// callers decide whether a failure matters (most of these are hints whose failure only costs speed).
/// </summary>
internal static unsafe partial class Libc
{
    public const int ReadOnly = 0; // O_RDONLY
    public const int NonBlocking = 0x800; // O_NONBLOCK on Linux
    /// <summary>O_DIRECTORY, whose value differs between architectures (on arm64 0x10000 is O_DIRECT).</summary>
    public static int Directory => RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x4000 : 0x10000;
    public const int CloseOnExec = 0x80000; // O_CLOEXEC on Linux
    public const int DuplicateCloseOnExec = 1030; // F_DUPFD_CLOEXEC
    public const int GetDescriptorFlags = 1; // F_GETFD
    public const int CloseOnExecFlag = 1; // FD_CLOEXEC
    public const int GetStatusFlags = 3; // F_GETFL
    public const int SetStatusFlags = 4; // F_SETFL
    public const int SetPipeSize = 1031; // F_SETPIPE_SZ
    public const int SeekCurrent = 1; // SEEK_CUR
    public const int CurrentDirectory = -100; // AT_FDCWD
    public const int NoFollow = 0x100; // AT_SYMLINK_NOFOLLOW
    public const uint StatxType = 0x1; // STATX_TYPE
    public const short PollIn = 0x1; // POLLIN
    public const int Interrupted = 4; // EINTR
    /// <summary>sync_file_range's SYNC_FILE_RANGE_WRITE alone: start writing dirty pages, do not wait for the disk.</summary>
    public const uint StartWriteback = 2;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Returned;
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags);

    public const int WriteAccess = 2; // W_OK

    /// <summary>link(2): makes <paramref name="newPath"/> name the file, failing with EEXIST when something has that name (atomically, unlike a check and a rename).</summary>
    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Link(string oldPath, string newPath);

    public const int ErrorExists = 17; // EEXIST

    [LibraryImport("libc", EntryPoint = "access", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Access(string path, int mode);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "lseek64", SetLastError = true)]
    public static partial long Seek(int fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    public static partial int SyncFs(int fd);

    [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    public static partial int SyncFileRange(int fd, long offset, long length, uint flags);

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    public const int EmptyPath = 0x1000; // AT_EMPTY_PATH: statx of dirfd itself
    // The S_IFMT values of a file's type.
    public const int TypeFifo = 0x1000, TypeCharacterDevice = 0x2000, TypeFolder = 0x4000, TypeBlockDevice = 0x6000,
        TypeRegular = 0x8000, TypeLink = 0xA000, TypeSocket = 0xC000;

    /// <summary>
    /// The S_IFMT bits of a file's mode (<see cref="TypeFifo"/>, ...) by statx, which has one layout on every Linux
    /// architecture (stx_mode is a u16 at offset 28), unlike stat; 0 when it cannot be told (no such file, no statx).
    /// The one reading of a file's type for the checks that must not open a FIFO or a device to find out.
    /// </summary>
    public static int FileType(int dirfd, string path, int flags)
    {
        Span<byte> buffer = stackalloc byte[256];
        int rc;
        fixed (byte* p = buffer) rc = Statx(dirfd, path, flags, StatxType, p);
        return rc == 0 ? System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(buffer[28..]) & 0xF000 : 0;
    }

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeout);

    [LibraryImport("libc", EntryPoint = "sendfile64", SetLastError = true)]
    public static partial nint SendFile(int fdOut, int fdIn, ref long offset, nuint count);

    [LibraryImport("libc", EntryPoint = "copy_file_range", SetLastError = true)]
    public static partial nint CopyFileRange(int fdIn, ref long offIn, int fdOut, ref long offOut, nuint length, uint flags);

    [LibraryImport("libc", EntryPoint = "splice", SetLastError = true)]
    public static partial nint Splice(int fdIn, nint offIn, int fdOut, nint offOut, nuint length, uint flags);
}
