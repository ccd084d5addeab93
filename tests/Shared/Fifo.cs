using System.Diagnostics;

namespace XenIac.Tests;

/// <summary>Named pipes for the tests that feed a reader something it can read only once, or refuse.</summary>
public static class Fifo
{
    /// <summary>Makes a FIFO at <paramref name="path"/> with mkfifo(1); false when that failed (no mkfifo, or a file there).</summary>
    public static bool TryMake(string path)
    {
        using var mkfifo = Process.Start("mkfifo", [path]);
        mkfifo.WaitForExit();
        return mkfifo.ExitCode == 0 && File.Exists(path);
    }
}
