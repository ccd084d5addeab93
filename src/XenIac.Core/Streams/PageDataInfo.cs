namespace XenIac.Core.Streams;

/// <summary>
/// The validated head of a PAGE_DATA record: its raw pfn entries (type in bits 60-63, pfn in bits 0-51) and how
/// many of them carry page contents. <see cref="Entries"/> is only valid until the reader moves on.
/// </summary>
public readonly record struct PageDataInfo(int Count, int PagesWithContents, ReadOnlyMemory<ulong> Entries)
{
    public static ulong PfnOf(ulong entry) => entry & StreamLayout.PfnMask;

    public static PageType TypeOf(ulong entry) => (PageType)(entry >> StreamLayout.PageTypeShift);

    /// <summary>NOTAB and the page-table types (pinned or not) carry contents; BROKEN, XALLOC and XTAB do not.</summary>
    public static bool CarriesContents(ulong entry) => ((entry >> StreamLayout.PageTypeShift) & 0x7) <= 4;
}
