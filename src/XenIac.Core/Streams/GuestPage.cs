namespace XenIac.Core.Streams;

/// <summary>
/// One pfn entry of a PAGE_DATA record. <see cref="Contents"/> is one page for NOTAB and page-table types and
/// empty for BROKEN, XALLOC and XTAB; its buffer is reused for the next page, so copy what must outlive the step.
/// </summary>
public readonly record struct GuestPage(ulong Pfn, PageType Type, ReadOnlyMemory<byte> Contents)
{
    public bool HasContents => !Contents.IsEmpty;
}
