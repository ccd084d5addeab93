using System.Reflection;
using System.Runtime.InteropServices;

namespace XenIac.Hosts.Libxl;

/// <summary>
/// Finds libxenlight at run time. Its SONAME carries the Xen version (libxenlight.so.4.17), so a build cannot link
/// a fixed name; the resolver probes the versions whose ABI for the calls and structs used here is known to match.
/// </summary>
internal static class LibxlLibrary
{
    /// <summary>The name the P/Invoke declarations use; the resolver maps it to the installed versioned file.</summary>
    public const string ImportName = "xenlight";

    /// <summary>
    /// Xen versions whose libxl.h declares the used functions identically and whose IDL lays out libxl_dominfo and
    /// libxl_domain_restore_params identically (checked against the Xen sources for 4.17.0 to 4.22.0; the layout
    /// test verifies the installed headers). Newest first, so a machine with two picks the newer.
    /// </summary>
    public static readonly IReadOnlyList<string> SupportedVersions = ["4.22", "4.21", "4.20", "4.19", "4.18", "4.17"];

    private static readonly Lock Gate = new();
    private static nint _handle;
    private static bool _resolverSet;

    public static string FileName(string version) => $"libxenlight.so.{version}";

    /// <summary>Loads libxenlight (once) and routes <see cref="ImportName"/> to it.</summary>
    /// <exception cref="XenHostException">No supported version is installed.</exception>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_handle != 0) return;
            var (handle, _) = Probe(SupportedVersions, TryLoad);
            if (handle == 0) throw new XenHostException(XenHostError.Unavailable, NotInstalledMessage());
            _handle = handle;
            if (!_resolverSet)
            {
                NativeLibrary.SetDllImportResolver(typeof(LibxlLibrary).Assembly, Resolve);
                _resolverSet = true;
            }
        }
    }

    /// <summary>The first version <paramref name="tryLoad"/> can open, or (0, null).</summary>
    internal static (nint Handle, string? Version) Probe(IEnumerable<string> versions, Func<string, nint> tryLoad)
    {
        foreach (var version in versions)
        {
            var handle = tryLoad(FileName(version));
            if (handle != 0) return (handle, version);
        }
        return (0, null);
    }

    internal static string NotInstalledMessage() =>
        "cannot open the libxl host: libxenlight is not installed (looked for " +
        string.Join(", ", SupportedVersions.Reverse().Select(FileName)) +
        "; supported Xen versions " + string.Join(", ", SupportedVersions.Reverse()) +
        "). On a Debian 12 dom0 it comes with xen-utils-4.17 (package libxenmisc4.17); " +
        "elsewhere use the embedded host, embedded:<folder> (--host in xen-iac, `host:` in a manifest, XenIacHost in MSBuild)";

    private static nint TryLoad(string fileName) => NativeLibrary.TryLoad(fileName, out var handle) ? handle : 0;

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == ImportName ? _handle : 0;
}
