namespace XenIac.Core.Streams;

/// <summary>
/// Sizes, offsets and constant values of the libxl migration stream v2 and the libxc migration stream (v2/v3), in
/// one place so the reader, verifier and writer cannot disagree. Names follow the two specs
/// (docs/specs/libxl-migration-stream.pandoc and libxc-migration-stream.pandoc in the Xen tree).
/// </summary>
internal static class StreamLayout
{
    // libxl header: ident u64, version u32, options u32; big-endian whatever the options say.
    public const int LibxlHeaderLength = 16;
    public const ulong LibxlIdent = 0x4c6962786c466d74; // "LibxlFmt"
    public const uint LibxlVersion = 2;
    public const uint LibxlOptionBigEndian = 1u << 0;
    public const uint LibxlOptionLegacy = 1u << 1;
    public const uint LibxlReservedOptions = ~(LibxlOptionBigEndian | LibxlOptionLegacy);

    // libxc image header: marker u64, id u32, version u32, options u16, reserved u16, reserved u32; big-endian.
    public const int LibxcImageHeaderLength = 24;
    public const ulong LibxcMarker = ulong.MaxValue;
    public const uint LibxcIdent = 0x58454E46; // "XENF"
    public const uint LibxcVersionMin = 2;
    public const uint LibxcVersionMax = 3;
    /// <summary>The first version with STATIC_DATA_END and the CPUID/MSR policy records.</summary>
    public const uint LibxcVersionStaticData = 3;
    public const ushort LibxcOptionBigEndian = 1 << 0;
    public const ushort LibxcReservedOptions = 0xfffe;

    // libxc domain header: type u32, page_shift u16, reserved u16, xen_major u32, xen_minor u32; stream byte order.
    public const int DomainHeaderLength = 16;
    /// <summary>x86 pages; the reader accepts up to 64 KiB pages so a wrong shift cannot ask for a huge buffer.</summary>
    public const int X86PageShift = 12;
    public const int MaxPageShift = 16;

    // Records, both layers: type u32, body_length u32, body, zero padding to a multiple of 8.
    public const int RecordHeaderLength = 8;
    public const int RecordAlignment = 8;
    public const uint OptionalRecordBit = 0x8000_0000;
    /// <summary>libxc's REC_LENGTH_MAX: a longer record is refused before anything is read or allocated.</summary>
    public const uint LibxcRecordLengthMax = 128u << 20;
    /// <summary>libxl sets no limit; XenIac loads no libxl body bigger than this into memory.</summary>
    public const int MaxBufferedBodyLength = 128 << 20;

    // PAGE_DATA: count u32, reserved u32, pfn[count] u64, then page_size bytes per page that carries data.
    public const int PageDataHeaderLength = 8;
    public const int PageDataPfnLength = 8;
    public const ulong PfnMask = (1UL << 52) - 1;
    public const ulong PfnReservedMask = ((1UL << 60) - 1) & ~PfnMask;
    public const int PageTypeShift = 60;
    /// <summary>What Xen's saver puts in one PAGE_DATA record (MAX_BATCH_SIZE).</summary>
    public const int MaxPagesPerRecord = 1024;

    public const int X86PvInfoLength = 8;
    public const int X86PvVcpuHeaderLength = 8;
    public const int X86TscInfoLength = 24;
    public const int HvmParamsHeaderLength = 8;
    public const int HvmParamEntryLength = 16;
    public const int X86CpuidLeafLength = 24;
    public const int X86MsrEntryLength = 16;
    public const int EmulatorHeaderLength = 8;
    public const int CheckpointStateLength = 8;

    // HVM context blob (Xen's hvm save format): descriptors of typecode u16, instance u16, length u32, then data.
    public const int HvmSaveDescriptorLength = 8;
    public const ushort HvmSaveTypeEnd = 0;
    public const ushort HvmSaveTypeHeader = 1;
    public const ushort HvmSaveTypeCpu = 2;
    public const uint HvmSaveHeaderMagic = 0x54381286;

    public static long Padding(long length) => (RecordAlignment - (length & (RecordAlignment - 1))) & (RecordAlignment - 1);
}
