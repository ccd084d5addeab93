namespace XenIac.Hosts.Libxl;

// Replaced by the libxl binding (issue 4) in this same change set.
public sealed class LibxlHost
{
    public static IXenHost Open() =>
        throw new XenHostException(XenHostError.Unavailable, "the libxl binding is not available in this build");
}
