using System.Diagnostics;
using XenIac.Tests;

namespace XenIac.Bench;

/// <summary>
/// Issue 16: the NativeAOT `xen-iac` as users start it, whole process: start-up (--version) against the managed
/// tool, `savefile verify` of a big seekable savefile against Xen's verify-stream-v2 and `cat FILE > /dev/null`,
/// `plan --json` over 1,000 domains, and the binary's size. The binary is XENIAC_CLI or
/// artifacts/native/linux-x64/xen-iac (./build.sh Native makes it).
/// </summary>
public sealed class NativeBenchmark : IBenchmark
{
    public string Name => "native";
    public string Description => "NativeAOT xen-iac, whole process: --version (target <= 25 ms), savefile verify of the big file vs verify-stream-v2 (>= 10x) and cat (>= 2x), plan --json over 1,000 domains (<= 0.15 s), size";

    public async Task RunAsync(BenchContext context)
    {
        var native = BenchContext.NativeTool;
        if (native is null)
        {
            Console.WriteLine("native: no NativeAOT binary (run ./build.sh Native, or set XENIAC_CLI); skipped");
            return;
        }
        var managed = $"dotnet '{Path.Combine(AppContext.BaseDirectory, "xen-iac.dll")}'";
        Console.WriteLine($"native binary {native}: {new FileInfo(native).Length / 1048576.0:F1} MiB" +
                          $" (+ libzstd.so {new FileInfo(Path.Combine(Path.GetDirectoryName(native)!, "libzstd.so")).Length / 1048576.0:F1} MiB)");

        // Twenty starts per timing, so the shell's own start is shared out: what one start costs.
        const int starts = 20;
        var nativeStart = context.TimeShell($"for i in $(seq {starts}); do '{native}' --version > /dev/null; done") / starts;
        var managedStart = context.TimeShell($"for i in $(seq {starts}); do {managed} --version > /dev/null; done") / starts;
        Console.WriteLine($"--version: native {nativeStart.TotalMilliseconds:F1} ms (target <= 25 ms), managed {managedStart.TotalMilliseconds:F1} ms " +
                          $"({managedStart / nativeStart:F1}x)");
        // What the prefault constructor (src/XenIac.Cli/Native/prefault.c) buys: the same starts without it.
        var unprefaulted = context.TimeShell($"for i in $(seq {starts}); do XENIAC_NO_PREFAULT=1 '{native}' --version > /dev/null; done") / starts;
        Console.WriteLine($"--version without the prefault (XENIAC_NO_PREFAULT=1): {unprefaulted.TotalMilliseconds:F1} ms; page faults per start " +
                          $"{MinorFaults(native, prefault: true)} with it, {MinorFaults(native, prefault: false)} without");

        var path = Path.Combine(context.WorkDir, $"stream-verify-{context.SizeBytes >> 20}m.xlsave");
        if (!File.Exists(path)) StreamVerifyBenchmark.WriteImage(path, context.SizeBytes);
        var size = new FileInfo(path).Length;
        var cat = context.TimeShell($"cat '{path}' > /dev/null");
        var verify = context.TimeShell($"'{native}' savefile verify '{path}' > /dev/null");
        var verifyManaged = context.TimeShell($"{managed} savefile verify '{path}' > /dev/null");
        var cat2 = context.TimeShell($"cat '{path}' > /dev/null");
        if (cat2 < cat) cat = cat2;
        Console.WriteLine($"savefile verify ({size >> 20} MiB, seekable): native {verify.TotalSeconds:F3} s, managed {verifyManaged.TotalSeconds:F3} s; " +
                          $"cat > /dev/null {cat.TotalSeconds:F3} s: native is {cat / verify:F1}x cat (target >= 2)");
        if (StreamVerifyBenchmark.FindChecker() is { } checker)
        {
            var python = new BenchContext(context.WorkDir, context.SizeBytes, 1).TimeShell(
                $"PYTHONPATH='{checker.PythonPath}' python3 '{checker.Script}' -f xl -i '{path}' > /dev/null");
            Console.WriteLine($"verify-stream-v2 {python.TotalSeconds:F3} s: native is {python / verify:F1}x verify-stream-v2 (target >= 10)");
        }
        else Console.WriteLine("verify-stream-v2 not available (set XENIAC_VERIFY_STREAM_V2 or provide the Xen mirror): comparison skipped");

        var dir = await PlanBenchmark.EnsureManifestAsync(context);
        var plan = context.TimeShell($"cd '{dir}' && '{native}' plan --json > /dev/null");
        var human = context.TimeShell($"cd '{dir}' && '{native}' plan > /dev/null 2>&1");
        var planManaged = context.TimeShell($"cd '{dir}' && {managed} plan --json > /dev/null");
        Console.WriteLine($"plan over 1000 domains: native --json {plan.TotalSeconds:F3} s (target <= 0.15 s), native default output {human.TotalSeconds:F3} s, " +
                          $"managed --json {planManaged.TotalSeconds:F3} s");
        using var check = Process.Start(new ProcessStartInfo(native, ["plan", "--json"]) { WorkingDirectory = dir, RedirectStandardOutput = true })!;
        var output = await check.StandardOutput.ReadToEndAsync();
        await check.WaitForExitAsync();
        Console.WriteLine($"(native plan exit code {check.ExitCode}; {output.Split("\"action\": \"none\"").Length - 1} domains unchanged)");
    }

    private static string MinorFaults(string native, bool prefault) =>
        !PageFaults.CanCount ? $"n/a (no {PageFaults.Timer})" : PageFaults.OfVersionStart(native, prefault).Faults?.ToString() ?? "n/a";
}
