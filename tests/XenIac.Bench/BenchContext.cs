using System.Diagnostics;

namespace XenIac.Bench;

/// <summary>One benchmark: it measures XenIac against a Unix baseline on the same data in the same run.</summary>
public interface IBenchmark
{
    string Name { get; }
    string Description { get; }
    Task RunAsync(BenchContext context);
}

/// <summary>Measurement helpers shared by the benchmarks: big files, timed commands, best-of-N, memory.</summary>
public sealed class BenchContext
{
    public BenchContext(string workDir, long sizeBytes, int repeats)
    {
        WorkDir = workDir;
        SizeBytes = sizeBytes;
        Repeats = repeats;
        Directory.CreateDirectory(workDir);
    }

    public string WorkDir { get; }
    /// <summary>Size of the big image or file each benchmark uses (XENIAC_BENCH_GIB, default 4 GiB).</summary>
    public long SizeBytes { get; }
    public int Repeats { get; }

    /// <summary>
    /// Writes <paramref name="size"/> bytes of non-repeating, non-zero data (so neither sparse files nor
    /// compression flatter anyone), unless the file already has that size.
    /// </summary>
    public async Task<string> EnsureDataFileAsync(string name, long size, Func<Stream, Task>? writePrefix = null)
    {
        var path = Path.Combine(WorkDir, name);
        if (File.Exists(path) && new FileInfo(path).Length >= size) return path;
        await using var output = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        if (writePrefix is not null) await writePrefix(output);
        var buffer = new byte[1 << 20];
        var rng = new Random(42);
        while (output.Length < size)
        {
            rng.NextBytes(buffer);
            var n = (int)Math.Min(buffer.Length, size - output.Length);
            await output.WriteAsync(buffer.AsMemory(0, n));
        }
        return path;
    }

    /// <summary>Runs a shell command and returns its wall time (the best of <see cref="Repeats"/>).</summary>
    public TimeSpan TimeShell(string command)
    {
        var best = TimeSpan.MaxValue;
        for (var i = 0; i < Repeats; i++)
        {
            var elapsed = RunShell(command);
            if (elapsed < best) best = elapsed;
        }
        return best;
    }

    /// <summary>Runs a shell command once and returns its wall time; a non-zero exit fails the benchmark.</summary>
    private static TimeSpan RunShell(string command)
    {
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(new ProcessStartInfo("bash", ["-c", command]) { UseShellExecute = false })!;
        p.WaitForExit();
        sw.Stop();
        if (p.ExitCode != 0) throw new InvalidOperationException($"'{command}' exited with {p.ExitCode}");
        return sw.Elapsed;
    }

    /// <summary>Times an in-process action (best of <see cref="Repeats"/>) and the managed memory it allocated.</summary>
    public async Task<(TimeSpan Time, long AllocatedBytes, long PeakWorkingSet)> TimeAsync(Func<Task> action)
    {
        var best = TimeSpan.MaxValue;
        long allocated = 0;
        for (var i = 0; i < Repeats; i++)
        {
            GC.Collect();
            var before = GC.GetTotalAllocatedBytes(precise: true);
            var sw = Stopwatch.StartNew();
            await action();
            sw.Stop();
            allocated = Math.Max(allocated, GC.GetTotalAllocatedBytes(precise: true) - before);
            if (sw.Elapsed < best) best = sw.Elapsed;
        }
        using var self = Process.GetCurrentProcess();
        return (best, allocated, self.PeakWorkingSet64);
    }

    /// <summary>
    /// The `xen-iac` users run, as a shell command: the NativeAOT binary (XENIAC_CLI, or artifacts/native/linux-x64
    /// made by ./build.sh Native) when there is one, else the managed build beside the benchmarks.
    /// </summary>
    public static string Tool => NativeTool is { } native ? $"'{native}'" : $"dotnet '{Path.Combine(AppContext.BaseDirectory, "xen-iac.dll")}'";

    // A managed apphost given as XENIAC_CLI is named as what it is (a figure said "NativeAOT" for one).
    public static string ToolKind => NativeTool is null ? "managed xen-iac (no native binary: ./build.sh Native)"
        : File.Exists(Path.ChangeExtension(NativeTool, ".dll")) ? $"managed xen-iac apphost {NativeTool}" : $"NativeAOT xen-iac {NativeTool}";

    public static string? NativeTool { get; } = FindNative();

    private static string? FindNative()
    {
        if (Environment.GetEnvironmentVariable("XENIAC_CLI") is { Length: > 0 } set && File.Exists(set)) return Path.GetFullPath(set);
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "XenIac.sln"))) d = d.Parent;
        var path = d is null ? null : Path.Combine(d.FullName, "artifacts", "native", "linux-x64", "xen-iac");
        return path is not null && File.Exists(path) ? path : null;
    }

    /// <summary>
    /// The whole machine's CPU time so far, busy and idle, in seconds (/proc/stat's first line: user, nice, system,
    /// irq, softirq and steal are busy; idle and iowait are not). Around a command it says whether the command had the
    /// cores to itself or waited for them: on a machine whose cores are all busy, every CPU-second a tool adds is wall time.
    /// </summary>
    public static (double Busy, double Idle)? MachineCpu()
    {
        try
        {
            var f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 9 || f[0] != "cpu") return null;
            var v = f.Skip(1).Take(8).Select(x => long.Parse(x, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            const double ticks = 100; // USER_HZ, 100 on every Linux architecture .NET runs on
            return ((v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / ticks, (v[3] + v[4]) / ticks);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return null; }
    }

    /// <summary>Runs a shell command once; prints its wall time and the machine's busy and idle CPU-seconds meanwhile.</summary>
    public static void PrintMachineCpu(string label, string command)
    {
        var before = MachineCpu();
        var elapsed = RunShell(command);
        var after = MachineCpu();
        Console.WriteLine(before is { } b && after is { } a
            ? $"machine CPU during {label}: {elapsed.TotalSeconds:F3} s wall, {a.Busy - b.Busy:F2} CPU-s busy, {a.Idle - b.Idle:F2} CPU-s idle ({Environment.ProcessorCount} cores)"
            : $"machine CPU during {label}: {elapsed.TotalSeconds:F3} s wall, n/a (no /proc/stat)");
    }

    /// <summary>The 1/5/15-minute load averages: ratios measured on a busy machine say so next to the figure.</summary>
    public static string LoadAverage()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "unknown"; }
    }

    public static string Rate(long bytes, TimeSpan t) => $"{bytes / t.TotalSeconds / (1 << 20):F0} MiB/s";

    /// <summary>Prints one result line; the ratio is baseline time / our time (higher is better for us).</summary>
    public void Report(string what, TimeSpan ours, TimeSpan baseline, string baselineName, string target, long bytes, long allocated)
    {
        var ratio = baseline.TotalSeconds / ours.TotalSeconds;
        Console.WriteLine($"{what}: {ours.TotalSeconds:F3} s ({Rate(bytes, ours)}) vs {baselineName} {baseline.TotalSeconds:F3} s " +
                          $"({Rate(bytes, baseline)}): throughput ratio {ratio:F2} (target {target}); managed allocations {allocated / 1024} KiB");
    }
}
