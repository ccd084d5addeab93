namespace XenIac.Core.Streams;

/// <summary>The libxc image header (version 2 or 3) and the domain header that follows it.</summary>
public sealed record LibxcStreamHeader(uint Version, ushort Options, LibxcDomainType DomainType, int PageShift,
    uint XenMajor, uint XenMinor, long Offset)
{
    public bool IsBigEndian => (Options & StreamLayout.LibxcOptionBigEndian) != 0;

    /// <summary>The legacy conversion tool writes xen_major 0 (and its own version as xen_minor).</summary>
    public bool IsLegacyConverted => XenMajor == 0;

    public int PageSize => 1 << PageShift;

    /// <summary>"4.17", or "legacy-converted" when the conversion tool wrote the stream.</summary>
    public string XenVersion => IsLegacyConverted ? "legacy-converted" : $"{XenMajor}.{XenMinor}";
}
