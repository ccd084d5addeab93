using XenIac.Core.Config;
using XenIac.Hosts;
using XenIac.Hosts.Embedded;

namespace XenIac.Bench;

/// <summary>Issue 4: embedded-host save of a big domain, as a time ratio to `cp` of a file of the same size (target ≤ 1.1).</summary>
public sealed class EmbeddedSaveBenchmark : IBenchmark
{
    public string Name => "embedded-save";
    public string Description => "embedded host save of a SizeBytes domain vs cp of a same-size file (target time ratio <= 1.1)";

    public async Task RunAsync(BenchContext context)
    {
        var mib = context.SizeBytes >> 20;
        var dir = Path.Combine(context.WorkDir, "embedded-save");
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        var host = EmbeddedHost.Open(Path.Combine(dir, "host"));
        var cfg = $"name = \"big\"\ntype = \"hvm\"\nmemory = {mib}\nvcpus = 2\n";
        await host.CreateAsync(ConfigText.FromText(cfg));
        var source = await context.EnsureDataFileAsync("cp-source.bin", context.SizeBytes);
        var copy = Path.Combine(dir, "cp-copy.bin");
        var savefile = Path.Combine(dir, "big.xlsave");

        // Both sides write SizeBytes to the same disk; cp also reads them back from the page cache. Each run ends
        // with its data on disk (sync), since a save fsyncs before it renames.
        var cp = context.TimeShell($"rm -f '{copy}'; cp '{source}' '{copy}' && sync '{copy}'");
        var generated = await context.TimeAsync(() =>
            host.SaveAsync("big", savefile, new SaveOptions { Mode = SaveMode.Checkpoint }));
        File.Delete(copy);
        context.Report($"save of a {mib} MiB domain (generated memory)", generated.Time, cp, "cp+sync", "time ratio <= 1.10 (throughput >= 0.91)", context.SizeBytes, generated.AllocatedBytes);

        // A restored domain keeps its memory in a file: saving it is a read-and-write like cp.
        await host.DestroyAsync("big");
        await host.RestoreAsync(savefile, RestoreOptions.Default);
        var cp2 = context.TimeShell($"rm -f '{copy}'; cp '{source}' '{copy}' && sync '{copy}'");
        var fromFile = await context.TimeAsync(() =>
            host.SaveAsync("big", savefile, new SaveOptions { Mode = SaveMode.Checkpoint }));
        context.Report($"save of a {mib} MiB domain (memory in a file)", fromFile.Time, cp2, "cp+sync", "time ratio <= 1.10 (throughput >= 0.91)", context.SizeBytes, fromFile.AllocatedBytes);
        Console.WriteLine($"peak working set {fromFile.PeakWorkingSet >> 20} MiB");
        Directory.Delete(dir, true);
    }
}
