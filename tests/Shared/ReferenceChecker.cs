using System.Diagnostics;

namespace XenIac.Tests;

/// <summary>
/// Xen's own stream checker (tools/python/scripts/verify-stream-v2 and its xen.migration package), found through
/// XENIAC_VERIFY_STREAM_V2 (the script, with the "xen" package beside it or in python/ beside it) or extracted
/// from the Xen git mirror when this machine has one. Tests skip with <see cref="MissingReason"/> otherwise.
/// </summary>
public static class ReferenceChecker
{
    private const string Mirror = "/work/.mirror/xen-project+xen/repo";
    private static readonly Lazy<(string Script, string PythonPath)?> Location = new(Find);

    public static bool Available => Location.Value is not null;

    public static string MissingReason { get; private set; } = "";

    public static (int ExitCode, string Output) Run(string path, string format = "xl")
    {
        var (script, pythonPath) = Location.Value ?? throw new InvalidOperationException(MissingReason);
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { script, "-v", "-f", format, "-i", path }) psi.ArgumentList.Add(a);
        psi.Environment["PYTHONPATH"] = pythonPath;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }

    private static (string, string)? Find()
    {
        if (!HasPython3())
        {
            MissingReason = "python3 is not on PATH; Xen's verify-stream-v2 needs it";
            return null;
        }
        if (Environment.GetEnvironmentVariable("XENIAC_VERIFY_STREAM_V2") is { Length: > 0 } script)
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(script))!;
            if (File.Exists(script)) return (script, string.Join(':', dir, Path.Combine(dir, "python")));
            MissingReason = $"XENIAC_VERIFY_STREAM_V2 points at {script}, which does not exist";
            return null;
        }
        if (!Directory.Exists(Mirror))
        {
            MissingReason = $"Xen's verify-stream-v2 not available: set XENIAC_VERIFY_STREAM_V2 or provide the Xen git mirror at {Mirror}";
            return null;
        }
        var target = Path.Combine(Path.GetTempPath(), $"xeniac-verify-stream-v2-{Environment.ProcessId}");
        Directory.CreateDirectory(target);
        var archive = Path.Combine(target, "tools.tar");
        var (rc, output) = Exec("git", "-C", Mirror, "archive", "-o", archive, "HEAD", "tools/python/xen", "tools/python/scripts/verify-stream-v2");
        if (rc == 0) (rc, output) = Exec("tar", "-xf", archive, "-C", target);
        if (rc != 0)
        {
            MissingReason = $"could not extract verify-stream-v2 from {Mirror}: {output.Trim()}";
            return null;
        }
        return (Path.Combine(target, "tools", "python", "scripts", "verify-stream-v2"), Path.Combine(target, "tools", "python"));
    }

    private static bool HasPython3()
    {
        try { return Exec("python3", "--version").ExitCode == 0; }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }

    private static (int ExitCode, string Output) Exec(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output + err.Result);
    }
}
