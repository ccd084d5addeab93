namespace XenIac.Hosts;

/// <summary>Facts about the machine XenIac runs on. Host specs are read by <see cref="HostSpec"/>.</summary>
public static class XenHosts
{
    /// <summary>True on a Xen dom0, where libxl can work.</summary>
    public static bool IsDom0 =>
        File.Exists("/dev/xen/privcmd") || ReadCapabilities().Contains("control_d", StringComparison.Ordinal);

    private static string ReadCapabilities()
    {
        try { return File.ReadAllText("/proc/xen/capabilities"); }
        catch (IOException) { return ""; }
        catch (UnauthorizedAccessException) { return ""; }
    }
}
