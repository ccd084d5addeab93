using System.Diagnostics;
using System.Text;

namespace XenIac.Lab.Tests;

public sealed record HostRun(int ExitCode, byte[] StdOutBytes, string StdErr)
{
    public string StdOut => Encoding.UTF8.GetString(StdOutBytes);
}

/// <summary>Runs the xen-iac the lab published (the very binary dom0 ran) on the host, on the copies brought back.</summary>
public static class HostXenIac
{
    public static HostRun Run(LabRun lab, params string[] args)
    {
        var psi = new ProcessStartInfo(lab.XenIac)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "1";
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        using var stdout = new MemoryStream();
        var copy = process.StandardOutput.BaseStream.CopyToAsync(stdout);
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"xen-iac {string.Join(' ', args)} did not finish in 2 minutes");
        }
        copy.Wait();
        return new HostRun(process.ExitCode, stdout.ToArray(), stderr.Result);
    }

    public static HostRun RunOk(LabRun lab, params string[] args)
    {
        var r = Run(lab, args);
        Assert.True(r.ExitCode == 0, $"xen-iac {string.Join(' ', args)} exited {r.ExitCode} on the host: {r.StdErr}");
        return r;
    }
}
