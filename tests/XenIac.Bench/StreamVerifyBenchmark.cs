using System.Diagnostics;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;

namespace XenIac.Bench;

/// <summary>
/// Issue 7: structural verification of a big savefile made by the image writer. verify-seek skips page contents by
/// seeking (target: 10x cat > /dev/null and Xen's verify-stream-v2); verify-pipe reads everything from a pipe fed
/// by cat (target: >= 0.9 of cat's throughput through a pipe).
/// </summary>
public sealed class StreamVerifyBenchmark : IBenchmark
{
    public string Name => "verify";
    public string Description => "image verifier: verify-seek vs cat and verify-stream-v2 (target >= 10x), verify-pipe vs cat | cat (target >= 0.9)";

    public async Task RunAsync(BenchContext context)
    {
        var path = Path.Combine(context.WorkDir, $"stream-verify-{context.SizeBytes >> 20}m.xlsave");
        if (!File.Exists(path)) WriteImage(path, context.SizeBytes);
        var size = new FileInfo(path).Length;

        var cat = context.TimeShell($"cat '{path}' > /dev/null");
        var seek = await context.TimeAsync(() =>
        {
            using var saveFile = SaveFileReader.Open(path);
            Check(SaveFileVerification.Verify(saveFile));
            return Task.CompletedTask;
        });
        context.Report("verify-seek", seek.Time, cat, "cat > /dev/null", ">= 10", size, seek.AllocatedBytes);

        if (FindChecker() is { } checker)
        {
            var python = new BenchContext(context.WorkDir, context.SizeBytes, 1).TimeShell(
                $"PYTHONPATH='{checker.PythonPath}' python3 '{checker.Script}' -f xl -i '{path}'");
            context.Report("verify-seek", seek.Time, python, "verify-stream-v2", ">= 10", size, seek.AllocatedBytes);
        }
        else
        {
            Console.WriteLine("verify-stream-v2 not available (set XENIAC_VERIFY_STREAM_V2 or provide the Xen mirror): python timing skipped");
        }

        var catPipe = context.TimeShell($"cat '{path}' | cat > /dev/null");
        var pipe = await context.TimeAsync(() =>
        {
            using var p = Process.Start(new ProcessStartInfo("cat", [path]) { RedirectStandardOutput = true, UseShellExecute = false })!;
            using (var saveFile = SaveFileReader.Open(p.StandardOutput.BaseStream))
                Check(SaveFileVerification.Verify(saveFile));
            p.WaitForExit();
            return Task.CompletedTask;
        });
        var raw = await context.TimeAsync(() =>
        {
            using var p = Process.Start(new ProcessStartInfo("cat", [path]) { RedirectStandardOutput = true, UseShellExecute = false })!;
            var buffer = new byte[1 << 20];
            while (p.StandardOutput.BaseStream.Read(buffer) > 0) { }
            p.WaitForExit();
            return Task.CompletedTask;
        });
        // The machine is shared: take the better of a baseline before and after, as the reader benchmark does.
        var catPipe2 = context.TimeShell($"cat '{path}' | cat > /dev/null");
        if (catPipe2 < catPipe) catPipe = catPipe2;
        context.Report("plain pipe read (no verification)", raw.Time, catPipe, "cat | cat > /dev/null", "(for reference)", size, raw.AllocatedBytes);
        context.Report("verify-pipe", pipe.Time, catPipe, "cat | cat > /dev/null", ">= 0.90", size, pipe.AllocatedBytes);
        context.Report("verify-pipe", pipe.Time, cat, "cat > /dev/null", "(for reference)", size, pipe.AllocatedBytes);
        Console.WriteLine($"peak working set {pipe.PeakWorkingSet / (1 << 20)} MiB for a {size / (1 << 20)} MiB file");
    }

    private static void Check(ImageVerification result)
    {
        if (!result.IsValid) throw new InvalidOperationException($"benchmark image did not verify: {result.Problem}");
    }

    internal static void WriteImage(string path, long size)
    {
        var temp = path + ".tmp";
        using (var output = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            SaveFileWriter.WriteHeader(output, SaveFileHeader.Create("{\"c_info\":{\"type\":\"hvm\",\"name\":\"bench\"}}", SaveFileConfigFormat.Json));
            ImageStreamWriter.Write(output, new DomainImageDescription
            {
                GuestType = GuestType.HVM,
                PageCount = size / 4096,
                // Non-repeating, non-zero contents so neither sparse files nor compression flatter anyone.
                FillPage = (pfn, page) =>
                {
                    var x = pfn * 0x9E3779B97F4A7C15UL + 1;
                    var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(page);
                    for (var i = 0; i < words.Length; i++)
                    {
                        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                        words[i] = x;
                    }
                },
                EmulatorContext = new byte[6110],
            });
        }
        File.Move(temp, path, overwrite: true);
    }

    internal static (string Script, string PythonPath)? FindChecker()
    {
        if (Environment.GetEnvironmentVariable("XENIAC_VERIFY_STREAM_V2") is { Length: > 0 } script && File.Exists(script))
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(script))!;
            return (script, $"{dir}:{Path.Combine(dir, "python")}");
        }
        const string mirror = "/work/.mirror/xen-project+xen/repo";
        if (!Directory.Exists(mirror)) return null;
        var target = Path.Combine(Path.GetTempPath(), "xeniac-bench-verify-stream-v2");
        var scriptPath = Path.Combine(target, "tools", "python", "scripts", "verify-stream-v2");
        if (!File.Exists(scriptPath))
        {
            Directory.CreateDirectory(target);
            using var p = Process.Start(new ProcessStartInfo("bash",
                ["-c", $"git -C '{mirror}' archive HEAD tools/python/xen tools/python/scripts/verify-stream-v2 | tar -x -C '{target}'"]) { UseShellExecute = false })!;
            p.WaitForExit();
            if (p.ExitCode != 0 || !File.Exists(scriptPath)) return null;
        }
        return (scriptPath, Path.Combine(target, "tools", "python"));
    }
}
