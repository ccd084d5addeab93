using System.Diagnostics.CodeAnalysis;
using XenIac.Hosts.Embedded;
using XenIac.Hosts.Remote;

namespace XenIac.Hosts;

public enum HostKind
{
    /// <summary>No host named: libxl on a dom0, otherwise an error saying how to choose the embedded host.</summary>
    Default,
    Libxl,
    Embedded,
    /// <summary>A host reached over OpenSSH (<c>ssh://…</c>): the remote's libxl or an embedded host there.</summary>
    Ssh,
}

/// <summary>
/// Which host to use: <c>libxl</c>, <c>embedded:&lt;folder&gt;</c>, or none. The one place host text is read, so
/// --host, $XENIAC_HOST, a manifest's <c>host:</c> and an MSBuild <c>Host</c> mean the same thing: surrounding white
/// space is ignored, blank is none, and an embedded folder is absolute once parsed.
/// </summary>
public readonly record struct HostSpec
{
    public const string EmbeddedPrefix = "embedded:";
    public const string LibxlText = "libxl";

    /// <summary>The environment variable a person sets for the host when a command is given none.</summary>
    public const string EnvironmentVariable = "XENIAC_HOST";

    private HostSpec(HostKind kind, string? folder, SshTarget? ssh = null)
    {
        Kind = kind;
        Folder = folder;
        Ssh = ssh;
    }

    public HostKind Kind { get; }

    /// <summary>The embedded host's absolute folder (no trailing separator); null for other kinds.</summary>
    public string? Folder { get; }

    /// <summary>Where an ssh host is and what runs there; null for other kinds.</summary>
    public SshTarget? Ssh { get; }

    public bool IsDefault => Kind == HostKind.Default;

    public static HostSpec Default => default;

    public static HostSpec Libxl { get; } = new(HostKind.Libxl, null);

    /// <summary>The embedded host in <paramref name="folder"/>, made absolute against <paramref name="baseDirectory"/> (or the current directory).</summary>
    public static HostSpec Embedded(string folder, string? baseDirectory = null) =>
        new(HostKind.Embedded, Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder, baseDirectory ?? Environment.CurrentDirectory)));

    /// <summary>Reads host text; blank (or null) is <see cref="Default"/>.</summary>
    /// <exception cref="XenHostException">Unavailable: an unknown host, or an embedded host without a usable folder.</exception>
    public static HostSpec Parse(string? text, string? baseDirectory = null) =>
        TryParse(text, baseDirectory, out var spec, out var error) ? spec : throw new XenHostException(XenHostError.Unavailable, error);

    /// <summary>As <see cref="Parse"/>, with the problem as text (for errors placed at a manifest's line).</summary>
    public static bool TryParse(string? text, string? baseDirectory, out HostSpec spec, [NotNullWhen(false)] out string? error)
    {
        spec = Default;
        error = null;
        var trimmed = text?.Trim() ?? "";
        if (trimmed.Length == 0) return true;
        if (trimmed == LibxlText)
        {
            spec = Libxl;
            return true;
        }
        if (trimmed.StartsWith(SshTarget.Scheme, StringComparison.Ordinal))
        {
            if (!SshTarget.TryParse(trimmed, out var target, out error)) return false;
            // The remote's own host text must mean something there; its folder is the remote's, so it is checked
            // for form only (absolute, no NUL), never against this machine's files.
            if (target.RemoteHost is { } remote && remote != LibxlText
                && !(remote.StartsWith(EmbeddedPrefix, StringComparison.Ordinal) && remote.Length > EmbeddedPrefix.Length
                     && remote[EmbeddedPrefix.Length] == '/' && !remote.Contains('\0')))
            {
                error = $"ssh host '{trimmed}': host= must be 'libxl' or 'embedded:<absolute folder on the remote>', not '{remote}'";
                return false;
            }
            spec = new HostSpec(HostKind.Ssh, null, target);
            return true;
        }
        if (!trimmed.StartsWith(EmbeddedPrefix, StringComparison.Ordinal))
        {
            error = $"unknown host '{trimmed}': use 'libxl' (the local dom0), 'embedded:<folder>' or 'ssh://[user@]host[:port]'";
            return false;
        }
        var folder = trimmed[EmbeddedPrefix.Length..];
        if (folder.Length == 0)
        {
            error = "embedded host needs a folder: embedded:<folder>";
            return false;
        }
        if (folder.Contains('\0'))
        {
            error = "the embedded host folder contains a NUL character, which no path can hold";
            return false;
        }
        try
        {
            spec = Embedded(folder, baseDirectory);
            return true;
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            error = $"embedded host folder '{folder}' is not a usable path: {e.Message}";
            return false;
        }
    }

    /// <summary>The host $XENIAC_HOST names; <see cref="Default"/> when it is unset or blank.</summary>
    public static HostSpec FromEnvironment() => Parse(Environment.GetEnvironmentVariable(EnvironmentVariable));

    /// <summary>
    /// Where the lock that keeps two applies on one host apart lives: in an embedded host's folder, else one per
    /// machine (libxl's domains are the machine's).
    /// </summary>
    public string ApplyLockPath => Kind switch
    {
        HostKind.Embedded => Path.Combine(Folder!, "locks", "apply.lock"),
        // An ssh host's applies from this machine are kept apart here, one lock per remote host.
        HostKind.Ssh => Path.Combine(LockFolder, $"xen-iac-apply-ssh-{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Ssh!.ToString())))[..16]}.lock"),
        _ => Path.Combine(LockFolder, "xen-iac-apply.lock"),
    };

    private static string LockFolder => Directory.Exists("/run/lock") ? "/run/lock" : Path.GetTempPath();

    /// <summary>
    /// For a host typed by a person (--host, $XENIAC_HOST), checked now rather than when a domain first needs it:
    /// a missing embedded folder whose parent exists is created here and reported through <paramref name="created"/>,
    /// so a new host is never made silently; a missing parent is an error, so a typo does not grow a folder tree.
    /// A manifest's hosts follow the same rule (the Reconciler's HostProvider).
    /// </summary>
    public HostSpec PrepareTyped(Action<string>? created = null)
    {
        if (Kind != HostKind.Embedded) return this;
        var folder = Folder!;
        if (File.Exists(folder))
            throw new XenHostException(XenHostError.Unavailable, $"embedded host folder '{folder}' is a file, not a folder");
        if (Directory.Exists(folder)) return this;
        var parent = Path.GetDirectoryName(folder);
        if (parent is null || !Directory.Exists(parent))
            throw new XenHostException(XenHostError.Unavailable,
                $"embedded host folder '{folder}' cannot be created: its parent folder '{parent}' does not exist");
        try { EmbeddedHost.CreatePrivateFolder(folder); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new XenHostException(XenHostError.Unavailable, $"cannot create embedded host folder '{folder}': {e.Message}", e);
        }
        created?.Invoke(folder);
        return this;
    }

    /// <summary>
    /// Opens the host. <see cref="Default"/>: libxl on a dom0, otherwise a clear error that says how to choose the
    /// embedded host. An embedded host takes its options from the environment, read here, once per host.
    /// </summary>
    public IXenHost Open() => Kind switch
    {
        HostKind.Libxl => Hosts.Libxl.LibxlHost.Open(),
        HostKind.Embedded => EmbeddedHost.Open(Folder!, EmbeddedHostOptions.FromEnvironment()),
        HostKind.Ssh => SshConnector.Open(Ssh!),
        _ when XenHosts.IsDom0 => Hosts.Libxl.LibxlHost.Open(),
        _ => throw new XenHostException(XenHostError.Unavailable,
            "no host given and this machine is not a Xen dom0 (no /dev/xen/privcmd): " +
            "choose the embedded host, embedded:<folder> (--host in xen-iac, `host:` in a manifest, XenIacHost in MSBuild)"),
    };

    /// <summary>The spec as it is written: <c>libxl</c>, <c>embedded:/abs/folder</c>, or empty for the default.</summary>
    public override string ToString() => Kind switch
    {
        HostKind.Libxl => LibxlText,
        HostKind.Embedded => EmbeddedPrefix + Folder,
        HostKind.Ssh => Ssh!.ToString(),
        _ => "",
    };
}
