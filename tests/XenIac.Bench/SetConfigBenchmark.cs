using XenIac.Core.Config;
using XenIac.Core.SaveFiles;

namespace XenIac.Bench;

/// <summary>Issue 3: replace the config of a big savefile (checked, rewritten atomically) against cp of the same file.</summary>
public sealed class SetConfigBenchmark : IBenchmark
{
    public string Name => "set-config";
    public string Description => "savefile set-config on a big savefile vs cp of the same file (target time ratio <= 1.2)";

    private const string StoredJson = """{"c_info":{"type":"pv","name":"bench"},"b_info":{"max_vcpus":1,"avail_vcpus":[0],"max_memkb":65536,"target_memkb":65536}}""";

    public async Task RunAsync(BenchContext context)
    {
        var header = SaveFileHeader.Create(StoredJson, SaveFileConfigFormat.Json);
        var source = await context.EnsureDataFileAsync("set-config.xlsave", context.SizeBytes, s => header.WriteToAsync(s).AsTask());
        var size = new FileInfo(source).Length;
        var target = Path.Combine(context.WorkDir, "set-config-work.xlsave");
        var copy = Path.Combine(context.WorkDir, "set-config-cp.xlsave");
        File.Copy(source, target, overwrite: true);

        // Alternate between two compatible configs so every run really rewrites the file.
        var configs = new[] { "name = 'bench'\ntype = 'pv'\nmemory = 64\nvcpus = 1\n", "name = 'bench2'\ntype = 'pv'\nmemory = 64\nvcpus = 1\n" };
        var turn = 0;
        // set-config replaces an existing big file (freeing its blocks), so cp overwrites an existing copy too.
        File.Copy(source, copy, overwrite: true);
        var cp1 = context.TimeShell($"cp '{source}' '{copy}'");
        var ours = await context.TimeAsync(() => SavefileConfigEditor.SetConfigAsync(target, configs[turn++ % 2], "bench.cfg"));
        var cp2 = context.TimeShell($"cp '{source}' '{copy}'");
        var cp = cp1 < cp2 ? cp1 : cp2;
        // set-config fsyncs the new file before renaming it (a crash never leaves a torn savefile); cp does not.
        var cpSync = context.TimeShell($"cp '{source}' '{copy}' && sync '{copy}'");
        File.Delete(copy);

        context.Report("set-config", ours.Time, cp, "cp", "time ratio <= 1.20", size, ours.AllocatedBytes);
        context.Report("set-config", ours.Time, cpSync, "cp+sync", "same durability", size, ours.AllocatedBytes);
        Console.WriteLine($"time ratio (ours / cp): {ours.Time.TotalSeconds / cp.TotalSeconds:F2}, (ours / cp+sync): {ours.Time.TotalSeconds / cpSync.TotalSeconds:F2}; peak working set {ours.PeakWorkingSet / (1 << 20)} MiB for a {size / (1 << 20)} MiB file");
    }
}
