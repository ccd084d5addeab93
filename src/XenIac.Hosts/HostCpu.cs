using System.Runtime.Intrinsics.X86;

namespace XenIac.Hosts;

/// <summary>
/// The CPU vendor of the machine this process runs on. In a dom0 that is the vendor Xen passes through (Xen never
/// changes the vendor leaf for dom0), which is what a savefile's CPUID policy must match to restore here.
/// </summary>
public static class HostCpu
{
    public const string Unknown = XenIac.Core.Config.Placement.UnknownVendor;

    public static string Vendor { get; } = Read();

    private static string Read()
    {
        if (!X86Base.IsSupported) return Unknown;
        // Leaf 0: the 12-byte vendor string in EBX, EDX, ECX, in that order.
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        Span<byte> text = stackalloc byte[12];
        BitConverter.TryWriteBytes(text, ebx);
        BitConverter.TryWriteBytes(text[4..], edx);
        BitConverter.TryWriteBytes(text[8..], ecx);
        var vendor = System.Text.Encoding.ASCII.GetString(text).TrimEnd('\0');
        return vendor.Length > 0 && vendor.All(c => c is >= ' ' and <= '~') ? vendor : Unknown;
    }
}
