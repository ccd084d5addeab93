namespace XenIac.Core.Streams;

/// <summary>The specs' record names, so messages and summaries read like the specs.</summary>
internal static class ImageRecordNames
{
    private static readonly string[] Libxl =
    [
        "END", "LIBXC_CONTEXT", "EMULATOR_XENSTORE_DATA", "EMULATOR_CONTEXT", "CHECKPOINT_END", "CHECKPOINT_STATE",
    ];

    private static readonly string[] Libxc =
    [
        "END", "PAGE_DATA", "X86_PV_INFO", "X86_PV_P2M_FRAMES", "X86_PV_VCPU_BASIC", "X86_PV_VCPU_EXTENDED",
        "X86_PV_VCPU_XSAVE", "SHARED_INFO", "X86_TSC_INFO", "HVM_CONTEXT", "HVM_PARAMS", "TOOLSTACK",
        "X86_PV_VCPU_MSRS", "VERIFY", "CHECKPOINT", "CHECKPOINT_DIRTY_PFN_LIST", "STATIC_DATA_END",
        "X86_CPUID_POLICY", "X86_MSR_POLICY",
    ];

    private static readonly string[] PageTypes =
    [
        "NOTAB", "L1TAB", "L2TAB", "L3TAB", "L4TAB", "RESERVED_5", "RESERVED_6", "RESERVED_7", "RESERVED_8",
        "L1TAB_PIN", "L2TAB_PIN", "L3TAB_PIN", "L4TAB_PIN", "BROKEN", "XALLOC", "XTAB",
    ];

    public static bool IsKnown(ImageLayer layer, uint type) => type < (layer == ImageLayer.Libxl ? Libxl : Libxc).Length;

    public static string Name(ImageLayer layer, uint type)
    {
        var names = layer == ImageLayer.Libxl ? Libxl : Libxc;
        if (type < names.Length) return names[type];
        return (type & StreamLayout.OptionalRecordBit) != 0 ? $"OPTIONAL_0x{type:x8}" : $"UNKNOWN_0x{type:x8}";
    }

    // Built once: the verifier counts records by qualified name, and a name built per record would cost an
    // allocation per 8-byte record header (see ImageStreamReader's allocation bound).
    private static readonly string[] QualifiedLibxl = [.. Libxl.Select(n => "libxl:" + n)];
    private static readonly string[] QualifiedLibxc = [.. Libxc.Select(n => "libxc:" + n)];

    public static string Qualified(ImageLayer layer, uint type)
    {
        var names = layer == ImageLayer.Libxl ? QualifiedLibxl : QualifiedLibxc;
        return type < names.Length ? names[type] : (layer == ImageLayer.Libxl ? "libxl:" : "libxc:") + Name(layer, type);
    }

    public static string PageTypeName(int type) => PageTypes[type & 0xF];
}
