using System.Diagnostics;
using System.Globalization;
using XenIac.Core.Config;
using XenIac.Hosts;
using XenIac.Hosts.Embedded;

namespace XenIac.Bench;

/// <summary>Issue 18: restoring 8 clones of one embedded snapshot vs restoring it once (target time ratio ≤ 2, thanks to shared pages).</summary>
public sealed class EmbeddedCloneBenchmark : IBenchmark
{
    private const int Clones = 8;

    public string Name => "embedded-clones";
    public string Description => $"embedded host: {Clones} clones of a SizeBytes snapshot in parallel vs one plain restore (target time ratio <= 2), and disk use";

    public async Task RunAsync(BenchContext context)
    {
        var mib = context.SizeBytes >> 20;
        var dir = Path.Combine(context.WorkDir, "embedded-clones");
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        var hostDir = Path.Combine(dir, "host");
        var host = EmbeddedHost.Open(hostDir);
        await host.CreateAsync(ConfigText.FromText($"name = \"snap\"\ntype = \"hvm\"\nmemory = {mib}\nvcpus = 2\nvif = [ 'bridge=xenbr0' ]\n"));
        var savefile = Path.Combine(dir, "snap.xlsave");
        await host.SaveAsync("snap", savefile, SaveOptions.Default);

        // Each run ends with nothing restored, so every clone run loads its base again: no run is flattered by the last.
        var one = await context.TimeAsync(async () =>
        {
            await host.RestoreAsync(savefile, RestoreOptions.Default);
            await host.DestroyAsync("snap");
        });
        long cloneDiskKiB = 0;
        var clones = await context.TimeAsync(async () =>
        {
            var pool = new MacPool();
            await Task.WhenAll(Enumerable.Range(1, Clones).Select(i => host.RestoreAsync(savefile,
                new RestoreOptions { Fixups = new CloneFixups { Name = $"snap-{i}" }, Macs = pool })));
            cloneDiskKiB = DiskKiB(hostDir);
            foreach (var i in Enumerable.Range(1, Clones)) await host.DestroyAsync($"snap-{i}");
        });
        var ratio = clones.Time.TotalSeconds / one.Time.TotalSeconds;
        Console.WriteLine($"restore of one {mib} MiB snapshot: {one.Time.TotalSeconds:F3} s; {Clones} clones in parallel: {clones.Time.TotalSeconds:F3} s; " +
                          $"time ratio {ratio:F2} (target <= 2.00)");
        Console.WriteLine($"disk use with {Clones} clones: {cloneDiskKiB / 1024} MiB (memory {mib} MiB each, {Clones * mib} MiB if copied; " +
                          $"{cloneDiskKiB / 1024.0 / mib:F2}x one memory)");
        Directory.Delete(dir, true);
    }

    /// <summary>Allocated blocks (du), so the clones' sparse overlays count only what they hold.</summary>
    private static long DiskKiB(string path)
    {
        using var du = Process.Start(new ProcessStartInfo("du", ["-sk", path]) { RedirectStandardOutput = true })!;
        var output = du.StandardOutput.ReadToEnd();
        du.WaitForExit();
        return long.Parse(output.Split('\t')[0], CultureInfo.InvariantCulture);
    }
}
