using XenIac.Core.Streams;
using XenIac.Fuzz;

// XenIac.Fuzz <target>                  AFL harness (SharpFuzz out-of-process loop; run under afl-fuzz)
// XenIac.Fuzz replay <target> <file>... runs inputs once each, prints the outcome; exit 1 on any finding
// XenIac.Fuzz minimize <target> <in> <out>  shrinks a finding's input, keeping the same finding
// XenIac.Fuzz seeds <corpus-dir>        writes the generated savefile/image seeds (small valid files)
// XenIac.Fuzz mutate <target> <count> [max-depth]  the tests' deterministic mutation campaign over tests/fuzz/corpus
//                                       (findings to artifacts/fuzz-findings/<target>/)
var targets = FuzzTarget.CoreTargets.Append(new ManifestTarget()).ToDictionary(t => t.Name);

if (args.Length >= 1 && targets.TryGetValue(args[0], out var aflTarget))
{
    // Instrumented code may only run inside the loop (its coverage map is set up there), so warm up on the first input.
    var warm = false;
    SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
    {
        if (!warm) { FuzzRunner.WarmUp(aflTarget); warm = true; }
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        // A finding escapes as an exception: SharpFuzz reports it to afl-fuzz as a crash.
        if (FuzzRunner.Check(aflTarget, ms.ToArray(), out _, out _) is { } finding)
            throw new FuzzFindingException(aflTarget.Name, finding);
    });
    return 0;
}

switch (args.FirstOrDefault())
{
    case "replay" when args.Length >= 3 && targets.TryGetValue(args[1], out var target):
    {
        FuzzRunner.WarmUp(target);
        var failed = 0;
        foreach (var file in args.Skip(2))
        {
            var input = File.ReadAllBytes(file);
            var finding = FuzzRunner.Check(target, input, out var allocated, out var work);
            Console.WriteLine($"{file}: {input.Length} bytes, {allocated} allocated, {work} work: " +
                              (finding is null ? "ok" : finding.ToString()));
            if (finding is not null) failed++;
        }
        return failed == 0 ? 0 : 1;
    }
    case "minimize" when args.Length == 4 && targets.TryGetValue(args[1], out var target):
    {
        FuzzRunner.WarmUp(target);
        var input = File.ReadAllBytes(args[2]);
        var key = FuzzRunner.Check(target, input, out _, out _) is { } f ? MutationRunner.KeyOf(f) : null;
        if (key is null) { Console.Error.WriteLine($"{args[2]}: no finding to minimize"); return 1; }
        var small = Minimize(input, candidate => FuzzRunner.Check(target, candidate, out _, out _) is { } e && MutationRunner.KeyOf(e) == key);
        File.WriteAllBytes(args[3], small);
        Console.WriteLine($"{key}: {input.Length} -> {small.Length} bytes, {args[3]}");
        return 0;
    }
    case "seeds" when args.Length == 2:
        WriteSeeds(args[1]);
        return 0;
    case "mutate" when args.Length >= 3 && targets.TryGetValue(args[1], out var target):
    {
        var root = XenIac.Tests.SharedFixtures.RepoRoot;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = MutationRunner.Run(target, MutationRunner.Corpus(root, target), int.Parse(args[2]),
            Path.Combine(root, "artifacts", "fuzz-findings"), TimeSpan.FromMinutes(5),
            maxDepth: args.Length >= 4 ? int.Parse(args[3]) : 20_000);
        Console.WriteLine(result.Describe());
        // The campaign's figures as a note quotes them: when, how long, how fast, and how busy the machine was.
        var load = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
        Console.WriteLine($"{target.Name}: seed {MutationRunner.Seed}, {result.Inputs} inputs in {clock.Elapsed.TotalSeconds:F0} s " +
                          $"({result.Inputs / Math.Max(clock.Elapsed.TotalSeconds, 0.001):F0}/s), {result.Findings.Count} findings, " +
                          $"load average {load}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        return result.Findings.Count == 0 ? 0 : 1;
    }
    default:
        Console.Error.WriteLine($"usage: XenIac.Fuzz <{string.Join('|', targets.Keys)}> | replay <target> <file>... | seeds <corpus-dir> | mutate <target> <count> [max-depth]");
        return 2;
}

// The savefile and image seeds: a few small valid files of each guest type, config format and byte layout.
static void WriteSeeds(string corpus)
{
    void Write(string target, string name, byte[] bytes)
    {
        Directory.CreateDirectory(Path.Combine(corpus, target));
        File.WriteAllBytes(Path.Combine(corpus, target, name), bytes);
    }
    foreach (var type in new[] { GuestType.HVM, GuestType.PV, GuestType.PVH })
    {
        var name = type.ToString().ToLowerInvariant();
        var json = SeedFactory.SmallSavefile(type, 2, json: true);
        var xl = SeedFactory.SmallSavefile(type, 1, json: false);
        Write("image", $"gen-{name}-json.xlsave", json);
        Write("image", $"gen-{name}-bare.img", SeedFactory.BareImage(type, 1));
        // The header target reads only the header and optional data: the image part is cut to a few bytes.
        Write("savefile", $"gen-{name}-json.xlsave", json[..(int)Math.Min(json.Length, HeaderEnd(json) + 16)]);
        Write("savefile", $"gen-{name}-xlcfg.xlsave", xl[..(int)Math.Min(xl.Length, HeaderEnd(xl) + 16)]);
    }
    Write("savefile", "gen-noconfig.xlsave", SeedFactory.SmallSavefile(GuestType.HVM, 1, json: false, withConfig: false)[..64]);
}

// Delta debugging, simplified: drop ever smaller chunks while the same finding (type and throwing method) remains.
static byte[] Minimize(byte[] input, Func<byte[], bool> stillFails)
{
    for (var chunk = Math.Max(1, input.Length / 2); chunk >= 1; chunk /= 2)
    {
        for (var at = 0; at < input.Length;)
        {
            var candidate = input[..at].Concat(input[Math.Min(input.Length, at + chunk)..]).ToArray();
            if (candidate.Length < input.Length && stillFails(candidate)) input = candidate;
            else at += chunk;
        }
    }
    return input;
}

static long HeaderEnd(byte[] savefile)
{
    using var reader = XenIac.Core.SaveFiles.SaveFileReader.Open(new MemoryStream(savefile));
    return reader.ImageOffset;
}

/// <summary>What the AFL harness throws for a finding, so the crash log names the target and the original error.</summary>
internal sealed class FuzzFindingException(string target, Exception inner) : Exception($"{target}: {inner.GetType().FullName}: {inner.Message}", inner);
