namespace XenIac.Hosts;

/// <summary>Turns a host spec (<c>embedded:&lt;folder&gt;</c>, <c>libxl</c>, or none) into an open host.</summary>
public static class XenHosts
{
    public const string EmbeddedPrefix = "embedded:";
    public const string LibxlSpec = "libxl";

    /// <summary>True on a Xen dom0, where libxl can work.</summary>
    public static bool IsDom0 =>
        File.Exists("/dev/xen/privcmd") || ReadCapabilities().Contains("control_d", StringComparison.Ordinal);

    /// <summary>
    /// Opens the host named by <paramref name="spec"/>. Without a spec: libxl on a dom0, otherwise a clear error
    /// that says how to choose the embedded host. Relative embedded folders resolve against
    /// <paramref name="baseDirectory"/> (the manifest's folder) or the current directory.
    /// </summary>
    public static IXenHost Open(string? spec, string? baseDirectory = null)
    {
        if (string.IsNullOrWhiteSpace(spec))
        {
            if (IsDom0) return OpenLibxl();
            throw new XenHostException(XenHostError.Unavailable,
                "no host given and this machine is not a Xen dom0 (no /dev/xen/privcmd): " +
                "choose the embedded host with --host embedded:<folder> (or `host:` in the manifest)");
        }
        if (spec == LibxlSpec) return OpenLibxl();
        if (spec.StartsWith(EmbeddedPrefix, StringComparison.Ordinal))
        {
            var folder = spec[EmbeddedPrefix.Length..];
            if (folder.Length == 0) throw NoFolder();
            return EmbeddedHost.Open(Path.GetFullPath(folder, baseDirectory ?? Environment.CurrentDirectory));
        }
        throw UnknownHost(spec);
    }

    private static XenHostException NoFolder() => new(XenHostError.Unavailable, "embedded host needs a folder: embedded:<folder>");

    private static XenHostException UnknownHost(string spec) => new(XenHostError.Unavailable,
        $"unknown host '{spec}': use 'libxl' (the local dom0) or 'embedded:<folder>'");

    /// <summary>
    /// For a host typed by a person (--host, $XENIAC_HOST): the embedded folder is made absolute against
    /// <paramref name="baseDirectory"/> (the current directory) so it means the same wherever it is used later.
    /// A missing folder whose parent exists is created here and reported through <paramref name="created"/>, so a
    /// new host is never made silently; a missing parent is an error, so a typo does not grow a folder tree.
    /// (A manifest's <c>host:</c> is declared in a reviewed file and is created on first use.)
    /// </summary>
    public static string? PrepareTypedSpec(string? spec, Action<string>? created = null, string? baseDirectory = null)
    {
        // Checked now, not when a domain first needs the host: a plan whose domains all name their own host would
        // otherwise accept any --host silently.
        if (spec is null || spec == LibxlSpec) return spec;
        if (!spec.StartsWith(EmbeddedPrefix, StringComparison.Ordinal)) throw UnknownHost(spec);
        if (spec.Length == EmbeddedPrefix.Length)
            throw NoFolder();
        var folder = Path.TrimEndingDirectorySeparator(Path.GetFullPath(spec[EmbeddedPrefix.Length..], baseDirectory ?? Environment.CurrentDirectory));
        if (File.Exists(folder))
            throw new XenHostException(XenHostError.Unavailable, $"embedded host folder '{folder}' is a file, not a folder");
        if (!Directory.Exists(folder))
        {
            var parent = Path.GetDirectoryName(folder);
            if (parent is null || !Directory.Exists(parent))
                throw new XenHostException(XenHostError.Unavailable,
                    $"embedded host folder '{folder}' cannot be created: its parent folder '{parent}' does not exist");
            try { Directory.CreateDirectory(folder); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new XenHostException(XenHostError.Unavailable, $"cannot create embedded host folder '{folder}': {e.Message}", e);
            }
            created?.Invoke(folder);
        }
        return EmbeddedPrefix + folder;
    }

    private static IXenHost OpenLibxl() => Libxl.LibxlHost.Open();

    private static string ReadCapabilities()
    {
        try { return File.ReadAllText("/proc/xen/capabilities"); }
        catch (IOException) { return ""; }
        catch (UnauthorizedAccessException) { return ""; }
    }
}
