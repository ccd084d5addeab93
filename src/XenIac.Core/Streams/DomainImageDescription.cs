namespace XenIac.Core.Streams;

/// <summary>
/// What <see cref="ImageStreamWriter"/> needs to write a domain image. Memory comes from <see cref="Memory"/> (page
/// contents in pfn-list order) or <see cref="FillPage"/>, one page at a time; neither is ever read whole. Blobs
/// that only a real hypervisor can produce (vCPU and HVM contexts) default to zero-filled stand-ins of the sizes
/// Xen 4.17 writes on x86-64, so an image made without Xen is structurally complete.
/// </summary>
public sealed record DomainImageDescription
{
    /// <summary>PV, HVM, or PVH (written as an HVM libxc domain, as Xen does).</summary>
    public required GuestType GuestType { get; init; }

    /// <summary>The guest pfns to save, in stream order; when null, pfns 0 to <see cref="PageCount"/> - 1.</summary>
    public IReadOnlyList<ulong>? Pfns { get; init; }

    public long PageCount { get; init; }

    /// <summary>Page types by pfn (default NOTAB). BROKEN, XALLOC and XTAB pages take no contents from the source.</summary>
    public Func<ulong, PageType>? PageTypes { get; init; }

    /// <summary>Page contents, one page per pfn carrying contents, in <see cref="Pfns"/> order.</summary>
    public Stream? Memory { get; init; }

    /// <summary>Fills one page; used when <see cref="Memory"/> is null. With neither, pages are zero.</summary>
    public PageFiller? FillPage { get; init; }

    public int VCpus { get; init; } = 1;

    public uint XenMajor { get; init; } = 4;

    public uint XenMinor { get; init; } = 17;

    /// <summary>X86_CPUID_POLICY body (xen_cpuid_leaf_t[], 24 bytes each); omitted when null.</summary>
    public ReadOnlyMemory<byte>? CpuidPolicy { get; init; }

    /// <summary>X86_MSR_POLICY body (xen_msr_entry_t[], 16 bytes each); omitted when null.</summary>
    public ReadOnlyMemory<byte>? MsrPolicy { get; init; }

    /// <summary>X86_TSC_INFO fields.</summary>
    public uint TscMode { get; init; }

    public uint TscKhz { get; init; }

    public ulong TscNanoseconds { get; init; }

    public uint TscIncarnation { get; init; }

    /// <summary>HVM: Xen's HVM context blob; when null a minimal one with a header and one CPU entry per vCPU.</summary>
    public ReadOnlyMemory<byte>? HvmContext { get; init; }

    /// <summary>HVM: HVM params (index, value); the record is left out when empty, as Xen elides empty records.</summary>
    public IReadOnlyList<KeyValuePair<ulong, ulong>>? HvmParams { get; init; }

    /// <summary>HVM: the device model's saved state, written as a libxl EMULATOR_CONTEXT record (qemu upstream, index 0).</summary>
    public ReadOnlyMemory<byte>? EmulatorContext { get; init; }

    /// <summary>PV: X86_PV_VCPU_BASIC context per vCPU; default zeros of x86-64 vcpu_guest_context size.</summary>
    public Func<int, ReadOnlyMemory<byte>>? PvVcpuContext { get; init; }

    /// <summary>PV: the shared info page; default zeros.</summary>
    public ReadOnlyMemory<byte>? SharedInfo { get; init; }

    public bool IsPv => GuestType == GuestType.PV;
}
