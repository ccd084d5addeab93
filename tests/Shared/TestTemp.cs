#if XENIAC_TEST_PROJECT
using System.Runtime.CompilerServices;

namespace XenIac.Tests;

/// <summary>
/// Every temp folder and file a test process makes, and those of the processes it starts (the CLI under test, sshd,
/// msbuild), goes into one folder of its own under the system temp folder, removed when the test process ends.
/// The suite makes thousands of them (savefiles, embedded hosts, stores), many without removing them, and a day of
/// runs had filled the disk with 35 GB of leftovers. A run killed before its end leaves its folder behind; the next
/// test process removes the folders of runs whose process is gone.
/// </summary>
internal static class TestTemp
{
    private const string Prefix = "xeniac-run-";

    /// <summary>The temp folder the process was given, for caches meant to outlive a run (unpacked fixtures).</summary>
    public static string SystemTemp { get; private set; } = Path.GetTempPath();

    [ModuleInitializer]
    internal static void Redirect()
    {
        if (!OperatingSystem.IsLinux()) return;
        SystemTemp = Path.GetTempPath();
        RemoveEndedRuns();
        // Short: a Unix socket's path (.NET's named pipes, msbuild's nodes) must stay under 108 bytes inside it.
        var root = Path.Combine(SystemTemp, $"{Prefix}{Environment.ProcessId}-{Guid.NewGuid():N}"[..(Prefix.Length + 20)]);
        Directory.CreateDirectory(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        // Path.GetTempPath reads TMPDIR at every call on Unix, and started processes inherit it.
        Environment.SetEnvironmentVariable("TMPDIR", root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(root);
    }

    private static void RemoveEndedRuns()
    {
        try
        {
            foreach (var dir in Directory.EnumerateDirectories(SystemTemp, Prefix + "*"))
            {
                var name = Path.GetFileName(dir).AsSpan(Prefix.Length);
                var dash = name.IndexOf('-');
                if (dash > 0 && int.TryParse(name[..dash], out var pid) && !Directory.Exists($"/proc/{pid}")) TryDelete(dir);
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
#endif
