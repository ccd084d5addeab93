using System.Reflection;
using XenIac.Bench;

// Usage: dotnet run -c Release --project tests/XenIac.Bench -- [all|NAME...]
// Environment: XENIAC_BENCH_GIB (default 4), XENIAC_BENCH_DIR (default artifacts/bench), XENIAC_BENCH_REPEATS (default 3).
var benchmarks = typeof(IBenchmark).Assembly.GetTypes()
    .Where(t => typeof(IBenchmark).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
    .Select(t => (IBenchmark)Activator.CreateInstance(t)!)
    .OrderBy(b => b.Name)
    .ToList();

if (args.Length == 0 || args.Contains("--help"))
{
    Console.WriteLine("benchmarks: " + string.Join(", ", benchmarks.Select(b => $"{b.Name} ({b.Description})")));
    return args.Length == 0 ? 1 : 0;
}

var gib = double.Parse(Environment.GetEnvironmentVariable("XENIAC_BENCH_GIB") ?? "4", System.Globalization.CultureInfo.InvariantCulture);
var repoRoot = FindRepoRoot();
var dir = Environment.GetEnvironmentVariable("XENIAC_BENCH_DIR") ?? Path.Combine(repoRoot, "artifacts", "bench");
var repeats = int.Parse(Environment.GetEnvironmentVariable("XENIAC_BENCH_REPEATS") ?? "3");
var context = new BenchContext(dir, (long)(gib * (1L << 30)), repeats);

var selected = args.Contains("all") ? benchmarks : benchmarks.Where(b => args.Contains(b.Name)).ToList();
if (selected.Count == 0)
{
    Console.Error.WriteLine($"error: no benchmark named {string.Join(", ", args)}; have {string.Join(", ", benchmarks.Select(b => b.Name))}");
    return 1;
}
// The CPU model and its vector extensions: this machine is a VM that lands on different hosts between days (an
// AMD EPYC with AVX2 hashed BLAKE3 at a fifth of the speed another host had), so a figure is only comparable with
// one taken on the same CPU.
Console.WriteLine($"# {Environment.ProcessorCount} cores ({CpuModel()}), data {gib} GiB in {dir}, best of {repeats}, {DateTime.UtcNow:u}");
foreach (var b in selected)
{
    Console.WriteLine($"## {b.Name}: {b.Description} (load average {BenchContext.LoadAverage()})");
    await b.RunAsync(context);
    Console.WriteLine($"   {b.Name} done {DateTime.UtcNow:HH:mm:ss} UTC, load average {BenchContext.LoadAverage()}");
}
return 0;

static string FindRepoRoot()
{
    var d = new DirectoryInfo(AppContext.BaseDirectory);
    while (d is not null && !File.Exists(Path.Combine(d.FullName, "XenIac.sln"))) d = d.Parent;
    return d?.FullName ?? Environment.CurrentDirectory;
}

static string CpuModel()
{
    try
    {
        var lines = File.ReadLines("/proc/cpuinfo").Take(64).ToList();
        var model = lines.FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        var flags = (lines.FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(':', 2)[1] ?? "").Split(' ');
        var vector = new[] { "avx2", "avx512f", "sha_ni" }.Where(flags.Contains);
        return $"{model}; {string.Join(' ', vector)}";
    }
    catch (IOException) { return "unknown CPU"; }
}
