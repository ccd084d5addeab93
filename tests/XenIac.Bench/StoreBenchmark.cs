using System.Diagnostics;
using System.Globalization;
using XenIac.Core.Config;
using XenIac.Hosts;
using XenIac.Hosts.Embedded;

namespace XenIac.Bench;

/// <summary>
/// Issue 13: the snapshot store, whole process through the CLI, against cp, sha256sum, zstd -1 -T0 and restic on
/// the same two savefiles (one domain saved twice with 2% of its pages rewritten between, in 64 KiB runs).
/// </summary>
public sealed class StoreBenchmark : IBenchmark
{
    public string Name => "store";
    public string Description => "store push/pull/verify vs cp, cp+sync, sha256sum; dedup vs restic; compression vs zstd -1 -T0 (targets: push, pull >= 1.0x cp; verify >= 2x sha256sum; second push <= 5% of the first's stored bytes; RSS <= 128 MiB)";

    public async Task RunAsync(BenchContext context)
    {
        var mib = context.SizeBytes >> 20;
        var dir = Path.Combine(context.WorkDir, "store");
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        Directory.CreateDirectory(dir);
        var a = Path.Combine(dir, "a.xlsave");
        var b = Path.Combine(dir, "b.xlsave");
        await using (var host = EmbeddedHost.Open(Path.Combine(dir, "host")))
        {
            await host.CreateAsync(ConfigText.FromText($"name = \"big\"\ntype = \"hvm\"\nmemory = {mib}\nvcpus = 2\n"));
            await host.SaveAsync("big", a, new SaveOptions { Mode = SaveMode.Checkpoint });
            // 2% of the pages, in 16-page (64 KiB) runs at random pfns, as a guest dirties buffers between two saves.
            var rng = new Random(5);
            var pages = mib * 256;
            var run = new byte[16 * 4096];
            for (long written = 0; written < pages / 50; written += 16)
            {
                rng.NextBytes(run);
                await host.WriteMemoryAsync("big", (long)rng.Next((int)(pages - 16)) * 4096, run);
            }
            await host.SaveAsync("big", b, new SaveOptions { Mode = SaveMode.Checkpoint });
        }
        var size = new FileInfo(a).Length;
        var tool = BenchContext.Tool;
        Console.WriteLine($"tool: {BenchContext.ToolKind}");
        var store = Path.Combine(dir, "s");
        var copy = Path.Combine(dir, "copy");
        var pulled = Path.Combine(dir, "pulled");

        var cp = Best(context, () => Delete(copy), $"cp '{a}' '{copy}'");
        var cpSync = Best(context, () => Delete(copy), $"cp '{a}' '{copy}' && sync '{copy}'");
        // GNU cp copies with copy_file_range, in the kernel, without reading the bytes into a process; cat moves
        // every byte through user space as any program that looks at them (hashes, compresses) has to.
        var catCopy = Best(context, () => Delete(copy), $"cat '{a}' > '{copy}'");
        var push = Best(context, () => Delete(store), $"{tool} store push '{a}' --store '{store}'");
        var stored1 = FolderBytes(store);
        // Read once first, as the repeats of the first push read a: both pushes then measure the same thing (the
        // embedded host writes savefiles around the page cache, so b is not cached after its save; a push of an
        // uncached 4 GiB savefile read it from the disk and took twice as long, 13.3 s against 6.6 s, 2026-12-06).
        Run($"cat '{b}' > /dev/null");
        var push2 = Run($"{tool} store push '{b}' --store '{store}'");
        var stored2 = FolderBytes(store) - stored1;
        var pull = Best(context, () => Delete(pulled), $"{tool} store pull $({tool} store ls --store '{store}' --json | grep -m1 '\"id\"' | cut -d'\"' -f4) '{pulled}' --store '{store}'");
        var pullNull = Best(context, null, $"{tool} store pull $({tool} store ls --store '{store}' --json | grep -m1 '\"id\"' | cut -d'\"' -f4) - --store '{store}' > /dev/null");
        var sha = Best(context, null, $"sha256sum '{a}' > /dev/null");
        var verify = Best(context, null, $"{tool} store verify --store '{store}'");
        var zstd = Best(context, () => Delete(copy + ".zst"), $"zstd -1 -T0 -q -f '{a}' -o '{copy}.zst'");
        var zstdBytes = new FileInfo(copy + ".zst").Length;

        Line("push (first, all new)", push, cp, "cp", ">= 1.0", size);
        Line("push (first, all new)", push, cpSync, "cp+sync", "(a push ends durable, like cp+sync)", size);
        Line("push (first, all new)", push, catCopy, "cat > file", "(a copy through user space)", size);
        Line("push (second, 2% changed)", push2, cp, "cp", "(for reference)", size);
        Line("pull to a file", pull, cp, "cp", ">= 1.0", size);
        Line("pull to a file", pull, cpSync, "cp+sync", "(a pull ends durable, like cp+sync)", size);
        Line("pull to a file", pull, catCopy, "cat > file", "(a copy through user space)", size);
        Line("pull to /dev/null (streamed)", pullNull, cp, "cp", "(for reference)", size);
        Line("verify (whole store: two snapshots)", verify, sha, "sha256sum", ">= 2.0", size);
        Console.WriteLine($"stored: first push {stored1 >> 20} MiB of {size >> 20} MiB (ratio {(double)stored1 / size:F3}); zstd -1 -T0: {zstdBytes >> 20} MiB in {zstd.Time.TotalSeconds:F3} s (ratio {(double)zstdBytes / size:F3}); our push {push.Time.TotalSeconds:F3} s");
        Console.WriteLine($"dedup: second push added {stored2 >> 20} MiB = {100.0 * stored2 / stored1:F2}% of the first's stored bytes (target <= 5%)");
        Console.WriteLine($"peak RSS: push {push.RssKiB >> 10} MiB, pull {pull.RssKiB >> 10} MiB, verify {verify.RssKiB >> 10} MiB (target <= 128 MiB)");

        if (Which("restic"))
        {
            var repo = Path.Combine(dir, "restic");
            var env = $"RESTIC_PASSWORD=bench RESTIC_REPOSITORY='{repo}'";
            Run($"{env} restic init -q");
            var r1 = Run($"{env} restic backup -q '{a}'");
            var rb1 = FolderBytes(repo);
            var r2 = Run($"{env} restic backup -q '{b}'");
            var rb2 = FolderBytes(repo) - rb1;
            Console.WriteLine($"restic 0.x backup: first {r1.Time.TotalSeconds:F3} s, {rb1 >> 20} MiB; second added {rb2 >> 20} MiB = {100.0 * rb2 / rb1:F2}% " +
                              $"(ours: first {push.Time.TotalSeconds:F3} s, second added {100.0 * stored2 / stored1:F2}%)");
        }
        else Console.WriteLine("restic: not installed (apt-get install restic); dedup comparison skipped");
        RealFixtures(dir, tool);
        Directory.Delete(dir, true);
    }

    /// <summary>The real xl savefiles of ../shared pushed into one store: what compression and dedup make of real guests.</summary>
    private static void RealFixtures(string dir, string tool)
    {
        var shared = "";
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "XenIac.sln"))) root = root.Parent;
        if (root is not null) shared = Path.Combine(root.FullName, "..", "shared", "fixtures", "real-xen");
        if (!Directory.Exists(shared))
        {
            Console.WriteLine("real fixtures: ../shared/fixtures/real-xen is absent; skipped");
            return;
        }
        var store = Path.Combine(dir, "real-store");
        long total = 0;
        foreach (var gz in Directory.GetFiles(shared, "*.xlsave.gz").Order())
        {
            var file = Path.Combine(dir, Path.GetFileNameWithoutExtension(gz));
            using (var input = new System.IO.Compression.GZipStream(File.OpenRead(gz), System.IO.Compression.CompressionMode.Decompress))
            using (var output = File.Create(file))
                input.CopyTo(output);
            total += new FileInfo(file).Length;
            Run($"{tool} store push '{file}' --store '{store}' > /dev/null");
        }
        var stored = FolderBytes(store);
        Console.WriteLine($"real fixtures: {Directory.GetFiles(shared, "*.xlsave.gz").Length} savefiles, {total >> 20} MiB, stored in {stored / 1048576.0:F1} MiB (ratio {(double)stored / total:F3}, compression and dedup together)");
    }

    private readonly record struct Timed(TimeSpan Time, long RssKiB);

    private static void Line(string what, Timed ours, Timed baseline, string name, string target, long bytes) =>
        Console.WriteLine($"{what}: {ours.Time.TotalSeconds:F3} s ({BenchContext.Rate(bytes, ours.Time)}) vs {name} {baseline.Time.TotalSeconds:F3} s " +
                          $"({BenchContext.Rate(bytes, baseline.Time)}): throughput ratio {baseline.Time.TotalSeconds / ours.Time.TotalSeconds:F2} (target {target}); peak RSS {ours.RssKiB >> 10} MiB");

    /// <summary>Best wall time of the repeats (the setup runs untimed before each); peak RSS from /usr/bin/time.</summary>
    private static Timed Best(BenchContext context, Action? setup, string command)
    {
        var best = new Timed(TimeSpan.MaxValue, 0);
        for (var i = 0; i < context.Repeats; i++)
        {
            setup?.Invoke();
            var t = Run(command);
            best = new Timed(t.Time < best.Time ? t.Time : best.Time, Math.Max(best.RssKiB, t.RssKiB));
        }
        return best;
    }

    private static Timed Run(string command)
    {
        var rssFile = Path.GetTempFileName();
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(new ProcessStartInfo("/usr/bin/time", ["-f", "%M", "-o", rssFile, "bash", "-c", command]) { UseShellExecute = false })!;
        p.WaitForExit();
        sw.Stop();
        if (p.ExitCode != 0) throw new InvalidOperationException($"'{command}' exited with {p.ExitCode}");
        var rss = long.TryParse(File.ReadAllText(rssFile).Trim().Split('\n')[^1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var k) ? k : 0;
        File.Delete(rssFile);
        return new Timed(sw.Elapsed, rss);
    }

    private static void Delete(string path)
    {
        if (Directory.Exists(path)) Directory.Delete(path, true);
        else File.Delete(path);
    }

    private static long FolderBytes(string dir) =>
        new DirectoryInfo(dir).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);

    private static bool Which(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, program)));
}
