using System.Diagnostics;
using System.Security.Cryptography;

namespace XenIac.Bench;

/// <summary>
/// Why the store uses native zstd (ZstdNet) and SHA-256: each candidate on 64 KiB chunks (the store's chunk size)
/// of random, text-like and zero data, in one process, in one run.
/// </summary>
public sealed class StoreCodecsBenchmark : IBenchmark
{
    public string Name => "store-codecs";
    public string Description => "zstd level 1: native (ZstdNet) vs managed (ZstdSharp); SHA-256 vs BLAKE3; on 64 KiB chunks";

    public Task RunAsync(BenchContext context)
    {
        const int chunk = 64 << 10;
        var count = (int)Math.Clamp(context.SizeBytes / 4 / chunk, 1024, 16384);
        var mib = (double)count * chunk / (1 << 20);
        var random = RandomNumberGenerator.GetBytes(chunk);
        var text = new byte[chunk];
        for (var i = 0; i < text.Length; i++) text[i] = (byte)("guest memory page "[i % 18] ^ (i / 4096 % 3));
        var zero = new byte[chunk];
        var output = new byte[chunk * 2];
        foreach (var (name, data) in new[] { ("random", random), ("text", text), ("zero", zero) })
        {
            using var managed = new ZstdSharp.Compressor(1);
            using var native = new ZstdNet.Compressor(new ZstdNet.CompressionOptions(1));
            int managedSize = 0, nativeSize = 0;
            var m = Time(() => { for (var i = 0; i < count; i++) managedSize = managed.Wrap(data, output); });
            var n = Time(() => { for (var i = 0; i < count; i++) nativeSize = native.Wrap(data, output); });
            Console.WriteLine($"zstd -1 on {name}: native {mib / n:F0} MiB/s ({nativeSize} bytes/chunk), managed {mib / m:F0} MiB/s ({managedSize} bytes/chunk): native/managed {m / n:F2}");
        }
        var digest = new byte[32];
        var sha = Time(() => { for (var i = 0; i < count; i++) SHA256.HashData(random, digest); });
        var blake = Time(() => { for (var i = 0; i < count; i++) Blake3.Hasher.Hash(random); });
        Console.WriteLine($"SHA-256 {mib / sha:F0} MiB/s, BLAKE3 (managed SIMD) {mib / blake:F0} MiB/s ({count} chunks of 64 KiB)");
        return Task.CompletedTask;
    }

    private static double Time(Action action)
    {
        action(); // warm up: JIT and the libraries' first-call costs stay out of the figure
        var best = double.MaxValue;
        for (var r = 0; r < 3; r++)
        {
            var sw = Stopwatch.StartNew();
            action();
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return best;
    }
}
