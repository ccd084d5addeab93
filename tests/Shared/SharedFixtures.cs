using System.IO.Compression;
using System.Runtime.CompilerServices;

namespace XenIac.Tests;

/// <summary>
/// Locates <c>../shared/</c> beside the repository (fixtures made for the project, real Xen savefiles among them)
/// and unpacks the gzipped real savefiles once per test run into a temp folder.
/// </summary>
public static class SharedFixtures
{
    private static readonly Lazy<string?> SharedDir = new(FindShared);
    private static readonly object UnpackLock = new();

    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The shared folder, or null when it is absent (tests then skip and say so).</summary>
    public static string? Shared => SharedDir.Value;

#if XENIAC_TEST_PROJECT
    private static string SystemTempPath => TestTemp.SystemTemp;
#else
    private static string SystemTempPath => Path.GetTempPath();
#endif

    public static string? RealXenDir =>
        Shared is { } s && Directory.Exists(Path.Combine(s, "fixtures", "real-xen")) ? Path.Combine(s, "fixtures", "real-xen") : null;

    public const string MissingReason = "../shared/fixtures/real-xen is absent beside the repository; real-Xen fixture tests need it";

    public static IEnumerable<string> RealSavefileNames() =>
        RealXenDir is null ? [] : Directory.EnumerateFiles(RealXenDir, "*.xlsave.gz").Select(p => Path.GetFileName(p)[..^".gz".Length]).Order();

    /// <summary>Path of the raw (gunzipped) real savefile NAME (e.g. "pv-plain.xlsave").</summary>
    public static string RealSavefile(string name)
    {
        var dir = RealXenDir ?? throw new InvalidOperationException(MissingReason);
        // Kept between runs (unpacking takes a while): the system temp folder, not the run's (TestTemp).
        var outDir = Path.Combine(SystemTempPath, "xeniac-real-xen-" + Environment.UserName);
        var target = Path.Combine(outDir, name);
        lock (UnpackLock)
        {
            if (File.Exists(target) && new FileInfo(target).Length > 0) return target;
            Directory.CreateDirectory(outDir);
            var temp = target + "." + Environment.ProcessId + ".tmp";
            using (var input = new GZipStream(File.OpenRead(Path.Combine(dir, name + ".gz")), CompressionMode.Decompress))
            using (var output = File.Create(temp))
                input.CopyTo(output);
            File.Move(temp, target, overwrite: true);
            return target;
        }
    }

    private static string? FindShared()
    {
        var candidate = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));
        return Directory.Exists(candidate) ? candidate : null;
    }

    private static string FindRepoRoot([CallerFilePath] string thisFile = "")
    {
        // Prefer the source location (tests/Shared/..), fall back to walking up from the test binaries.
        var fromSource = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", ".."));
        if (File.Exists(Path.Combine(fromSource, "XenIac.sln"))) return fromSource;
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "XenIac.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root (XenIac.sln)");
    }
}
