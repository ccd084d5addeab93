using XenIac.Core.SaveFiles;

namespace XenIac.Bench;

/// <summary>Issue 2: stream a big image through the savefile reader to a null sink, against cat FILE > /dev/null.</summary>
public sealed class ReaderBenchmark : IBenchmark
{
    public string Name => "reader";
    public string Description => "savefile reader streaming the image to a null sink vs cat > /dev/null (target >= 0.9)";

    public async Task RunAsync(BenchContext context)
    {
        var header = SaveFileHeader.Create("{\"c_info\":{\"name\":\"bench\"}}", SaveFileConfigFormat.Json);
        var path = await context.EnsureDataFileAsync("reader.xlsave", context.SizeBytes, s => header.WriteToAsync(s).AsTask());
        var size = new FileInfo(path).Length;

        var cat1 = context.TimeShell($"cat '{path}' > /dev/null");
        var ours = await context.TimeAsync(async () =>
        {
            await using var reader = SaveFileReader.Open(path);
            await SaveFileWriter.CopyAsync(reader.Image, Stream.Null, null, CancellationToken.None);
        });
        var cat2 = context.TimeShell($"cat '{path}' > /dev/null");
        var cat = cat1 < cat2 ? cat1 : cat2;
        context.Report("reader -> null", ours.Time, cat, "cat", ">= 0.90", size, ours.AllocatedBytes);
        Console.WriteLine($"peak working set {ours.PeakWorkingSet / (1 << 20)} MiB for a {size / (1 << 20)} MiB file");
    }
}
