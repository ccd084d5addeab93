namespace XenIac.Core.Streams;

/// <summary>The libxl stream header: version and options (endianness, converted from the legacy format).</summary>
public sealed record LibxlStreamHeader(uint Version, uint Options, long Offset)
{
    public bool IsBigEndian => (Options & StreamLayout.LibxlOptionBigEndian) != 0;
    public bool IsLegacyConverted => (Options & StreamLayout.LibxlOptionLegacy) != 0;
}
