namespace XenIac.Core.Streams;

/// <summary>
/// The XEN_DOMCTL_PFINFO_* type in bits 60-63 of a PAGE_DATA pfn entry. 0x5-0x8 are reserved (invalid in a stream).
/// BROKEN, XALLOC and XTAB pages carry no contents.
/// </summary>
public enum PageType : byte
{
    NoTab = 0x0,
    L1Tab = 0x1,
    L2Tab = 0x2,
    L3Tab = 0x3,
    L4Tab = 0x4,
    L1TabPin = 0x9,
    L2TabPin = 0xA,
    L3TabPin = 0xB,
    L4TabPin = 0xC,
    Broken = 0xD,
    XAlloc = 0xE,
    XTab = 0xF,
}
