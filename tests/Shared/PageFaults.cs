using System.Diagnostics;
using System.Globalization;

namespace XenIac.Tests;

/// <summary>
/// Minor page faults of one <c>BINARY --version</c> start, as the kernel counts them for the child (getrusage, through
/// <c>/usr/bin/time</c>): how the native benchmark reports what the binary's prefault constructor saves. Counted, not
/// timed; not asserted by a test, because the saving depends on the kernel having a free huge page at that moment.
/// </summary>
public static class PageFaults
{
    public const string Timer = "/usr/bin/time";

    public static bool CanCount => File.Exists(Timer);

    /// <param name="prefault">false: with <c>XENIAC_NO_PREFAULT=1</c>, the prefault off.</param>
    /// <returns>The start's exit code, and its faults (null when the timer printed no number).</returns>
    public static (int ExitCode, long? Faults) OfVersionStart(string binary, bool prefault)
    {
        var start = new ProcessStartInfo(Timer, ["-f", "%R", binary, "--version"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (!prefault) start.Environment["XENIAC_NO_PREFAULT"] = "1";
        using var p = Process.Start(start)!;
        p.StandardOutput.ReadToEnd();
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, long.TryParse(err.Trim().Split('\n')[^1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null);
    }
}
