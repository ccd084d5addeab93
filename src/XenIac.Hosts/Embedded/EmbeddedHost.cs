namespace XenIac.Hosts;

public sealed partial class EmbeddedHost
{
    public static IXenHost Open(string folder) =>
        throw new XenHostException(XenHostError.Unavailable, $"embedded host at {folder} is not available in this build");
}
