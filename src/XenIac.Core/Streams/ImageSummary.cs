namespace XenIac.Core.Streams;

/// <summary>What a domain image holds, as far as it was read (complete when the image verified).</summary>
public sealed record ImageSummary
{
    public GuestType GuestType { get; init; }

    /// <summary>log2 of the guest page size (12 on x86); 0 when no domain header was read.</summary>
    public int PageShift { get; init; }

    /// <summary>Pages carrying contents in PAGE_DATA records (a page sent twice counts twice).</summary>
    public long Pages { get; init; }

    /// <summary>
    /// The highest pfn any PAGE_DATA entry names (with contents or not), null when there is none: the guest memory
    /// a restore must provide is at least this plus one page.
    /// </summary>
    public long? HighestPfn { get; init; }

    /// <summary>PAGE_DATA pfn entries by page type name (NOTAB, L1TAB, ..., XTAB).</summary>
    public IReadOnlyDictionary<string, long> PagesByType { get; init; } = new Dictionary<string, long>();

    /// <summary>Records by qualified name ("libxl:END", "libxc:PAGE_DATA"), in order of first appearance.</summary>
    public IReadOnlyDictionary<string, long> Records { get; init; } = new Dictionary<string, long>();

    public long RecordCount { get; init; }

    /// <summary>Online vCPUs: distinct X86_PV_VCPU_BASIC ids (PV) or CPU entries of the HVM context (HVM).</summary>
    public int VCpus { get; init; }

    /// <summary>libxc CHECKPOINT records (0 for an ordinary save).</summary>
    public int Checkpoints { get; init; }

    /// <summary>"4.17" from the libxc domain header, or "legacy-converted"; null before the header.</summary>
    public string? XenVersion { get; init; }

    /// <summary>libxc stream version (2 or 3); 0 before the header.</summary>
    public uint LibxcVersion { get; init; }

    public bool BigEndian { get; init; }

    /// <summary>The libxl header says the legacy conversion tool made the stream.</summary>
    public bool LegacyConverted { get; init; }
}
