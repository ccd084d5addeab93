using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace XenIac.Core.IO;

/// <summary>
/// Turns O_DIRECT on and off for an open file (Linux only; .NET has no option for it on Unix), when asked for with
/// <c>XENIAC_DIRECT_IO=1</c>: big files (guest memory, savefiles, store packs) then move around the page cache, see
/// <see cref="DirectBlockWriter"/>. Off by default since 2026-12-08: measured then on this 2-core VM, an embedded
/// 256 MiB save took 1.03–1.05 s through the page cache (with writeback started every 16 MiB) against 1.16–1.97 s
/// direct, and a restore 0.72–0.76 s against 0.65–1.19 s (three rounds each, cli-stream benchmark); the direct writes
/// go to the disk one 4 MiB block at a time, slower than the kernel's writeback that day, where on 2026-12-04 they had
/// been faster (README, issue 19). The page cache is also what cp, the reference, uses.
/// </summary>
internal static partial class DirectIo
{
    /// <summary>Buffer address, file offset and length of every direct transfer are multiples of this.</summary>
    public const int Alignment = 4096;

    /// <summary>Whether big transfers should bypass the page cache (<c>XENIAC_DIRECT_IO=1</c>; tests turn it on).</summary>
    internal static bool Wanted { get; set; } = Environment.GetEnvironmentVariable("XENIAC_DIRECT_IO") == "1";

    /// <summary>
    /// True when <paramref name="file"/> now bypasses the page cache; false where that is not possible or not
    /// <see cref="Wanted"/>.
    /// </summary>
    public static bool TryEnable(SafeFileHandle file)
    {
        if (!Wanted || !OperatingSystem.IsLinux() || DirectFlag == 0) return false;
        var fd = (int)file.DangerousGetHandle();
        var flags = Libc.Fcntl(fd, Libc.GetStatusFlags, 0);
        return flags >= 0 && Libc.Fcntl(fd, Libc.SetStatusFlags, flags | DirectFlag) >= 0;
    }

    /// <summary>Back to ordinary, cached transfers (for an unaligned tail, or a file system that refused a direct one).</summary>
    public static void Disable(SafeFileHandle file)
    {
        var fd = (int)file.DangerousGetHandle();
        var flags = Libc.Fcntl(fd, Libc.GetStatusFlags, 0);
        if (flags >= 0) _ = Libc.Fcntl(fd, Libc.SetStatusFlags, flags & ~DirectFlag);
    }

    /// <summary>
    /// A buffer of <paramref name="length"/> bytes whose start is aligned for direct transfers (a slice of a pinned
    /// array, so it never moves and the collector frees it like any other).
    /// </summary>
    public static Memory<byte> AllocateAligned(int length)
    {
        var array = GC.AllocateUninitializedArray<byte>(length + Alignment, pinned: true);
        unsafe
        {
            var address = (nint)System.Runtime.CompilerServices.Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
            var skip = (int)((Alignment - address % Alignment) % Alignment);
            return array.AsMemory(skip, length);
        }
    }

    /// <summary>
    /// Writes <paramref name="bytes"/> as the whole content of a new file: the aligned bulk with O_DIRECT when the
    /// buffer is aligned (<see cref="AllocateAligned"/>) and the file system takes it, the unaligned tail (and
    /// everything, otherwise) through the page cache. The file is left without O_DIRECT.
    /// </summary>
    public static unsafe void WriteNewFile(SafeFileHandle file, ReadOnlySpan<byte> bytes)
    {
        var bulk = bytes.Length / Alignment * Alignment;
        bool aligned;
        fixed (byte* p = bytes) aligned = (nint)p % Alignment == 0;
        if (bulk > 0 && aligned && TryEnable(file))
        {
            try
            {
                RandomAccess.Write(file, bytes[..bulk], 0);
            }
            catch (IOException)
            {
                // Some file systems take O_DIRECT and refuse the write (EINVAL): the same bytes the ordinary way
                // (a real failure, a full disk, fails again there and is reported).
                bulk = 0;
            }
            finally { Disable(file); }
        }
        else bulk = 0;
        RandomAccess.Write(file, bytes[bulk..], bulk);
    }

    /// <summary>O_DIRECT's value differs between architectures; 0 where it is not known here.</summary>
    private static int DirectFlag => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 => 0x4000,
        Architecture.Arm64 or Architecture.Arm => 0x10000,
        _ => 0,
    };
}
