using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace XenIac.Core.IO;

/// <summary>
/// Turns O_DIRECT on and off for an open file (Linux only; .NET has no option for it on Unix). Big files (guest
/// memory, savefiles) move this way: see <see cref="DirectBlockWriter"/> for why.
/// </summary>
internal static partial class DirectIo
{
    /// <summary>Buffer address, file offset and length of every direct transfer are multiples of this.</summary>
    public const int Alignment = 4096;

    /// <summary>True when <paramref name="file"/> now bypasses the page cache; false where that is not possible.</summary>
    public static bool TryEnable(SafeFileHandle file)
    {
        // XENIAC_NO_DIRECT_IO=1 keeps every transfer in the page cache (to compare, or for a file system that
        // takes O_DIRECT but serves it badly).
        if (!OperatingSystem.IsLinux() || DirectFlag == 0 || Environment.GetEnvironmentVariable("XENIAC_NO_DIRECT_IO") == "1") return false;
        var fd = (int)file.DangerousGetHandle();
        var flags = Fcntl(fd, GetFlags, 0);
        return flags >= 0 && Fcntl(fd, SetFlags, flags | DirectFlag) >= 0;
    }

    /// <summary>Back to ordinary, cached transfers (for an unaligned tail, or a file system that refused a direct one).</summary>
    public static void Disable(SafeFileHandle file)
    {
        var fd = (int)file.DangerousGetHandle();
        var flags = Fcntl(fd, GetFlags, 0);
        if (flags >= 0) _ = Fcntl(fd, SetFlags, flags & ~DirectFlag);
    }

    private const int GetFlags = 3, SetFlags = 4;

    /// <summary>O_DIRECT's value differs between architectures; 0 where it is not known here.</summary>
    private static int DirectFlag => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 => 0x4000,
        Architecture.Arm64 or Architecture.Arm => 0x10000,
        _ => 0,
    };

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);
}
