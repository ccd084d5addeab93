using System.Diagnostics;
using System.Text;
using XenIac.Tests;

namespace XenIac.Cli.Tests;

public sealed record CliResult(int ExitCode, string StdOut, string StdErr, byte[] StdOutBytes);

/// <summary>Runs the built <c>xen-iac</c> as a real process, the way users and scripts do.</summary>
public static class CliRunner
{

    public static async Task<CliResult> RunAsync(IEnumerable<string> args, byte[]? stdin = null, string? workingDirectory = null,
        IDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var psi = ToolUnderTest.StartInfo(args);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.RedirectStandardInput = true;
        psi.UseShellExecute = false;
        psi.WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory;
        if (environment is not null)
            foreach (var (k, v) in environment) psi.Environment[k] = v;

        using var process = Process.Start(psi)!;
        var stdoutTask = ReadAllAsync(process.StandardOutput.BaseStream);
        var stderrTask = process.StandardError.ReadToEndAsync();
        if (stdin is not null) await process.StandardInput.BaseStream.WriteAsync(stdin);
        process.StandardInput.Close();

        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try { await process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"xen-iac {string.Join(' ', args)} did not finish in time");
        }
        var stdout = await stdoutTask;
        return new CliResult(process.ExitCode, Encoding.UTF8.GetString(stdout), await stderrTask, stdout);
    }

    public static Task<CliResult> RunAsync(params string[] args) => RunAsync((IEnumerable<string>)args);

    /// <summary>
    /// Starts the tool in the background (output drained; standard input closed unless <paramref name="keepInput"/>, then
    /// the caller's to write and close) for tests that signal or kill it.
    /// </summary>
    public static Process Start(IEnumerable<string> args, string workingDirectory, IDictionary<string, string>? environment = null,
        bool keepInput = false)
    {
        var psi = ToolUnderTest.StartInfo(args);
        psi.WorkingDirectory = workingDirectory;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.RedirectStandardInput = true;
        if (environment is not null)
            foreach (var (k, v) in environment) psi.Environment[k] = v;
        var p = Process.Start(psi)!;
        if (!keepInput) p.StandardInput.Close();
        _ = p.StandardOutput.ReadToEndAsync();
        return p;
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        using var ms = new MemoryStream();
        await stream.CopyToAsync(ms);
        return ms.ToArray();
    }
}
