namespace XenIac.Core.Streams;

/// <summary>
/// The kind of guest an image holds. The libxc domain header only knows x86 PV and x86 HVM; a PVH guest is saved
/// as HVM, so PVH is reported only when the savefile's config says so.
/// </summary>
public enum GuestType
{
    Unknown,
    PV,
    HVM,
    PVH,
}
