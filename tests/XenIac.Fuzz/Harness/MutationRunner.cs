using System.Security.Cryptography;
using System.Text;

namespace XenIac.Fuzz;

/// <summary>
/// The deterministic mutation campaign the test suite runs for each target: seeds first, then
/// <c>count</c> inputs from a <see cref="Mutator"/> with a fixed seed, each checked by <see cref="FuzzRunner"/>.
/// Findings are grouped by (exception type, throwing method) and the smallest input of each group is written to
/// <c>artifacts/fuzz-findings/&lt;target&gt;/</c> so it can be replayed with <c>XenIac.Fuzz replay</c>.
/// </summary>
public static class MutationRunner
{
    public const int DefaultSeed = 20261202;

    /// <summary>The mutator's seed: fixed, so the suite is deterministic; XENIAC_FUZZ_SEED picks another campaign for a soak.</summary>
    public static int Seed { get; } =
        int.TryParse(Environment.GetEnvironmentVariable("XENIAC_FUZZ_SEED"), System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : DefaultSeed;

    /// <summary>Inputs per target in the test suite: XENIAC_FUZZ_MUTATIONS scales it (e.g. 0.1 on a slow machine, 10 for a soak).</summary>
    public static int Scaled(int count) =>
        double.TryParse(Environment.GetEnvironmentVariable("XENIAC_FUZZ_MUTATIONS"), System.Globalization.CultureInfo.InvariantCulture, out var f) && f > 0
            ? Math.Max(1, (int)(count * f)) : count;

    public sealed record Finding(string Key, Exception Error, byte[] Input, string? SavedAs)
    {
        public override string ToString() =>
            $"{Key}: {Error.GetType().Name}: {XlCfgTarget.Clip(Error.Message)} (input {Input.Length} bytes{(SavedAs is null ? "" : ", saved as " + SavedAs)})";
    }

    public sealed record Result(string Target, int Inputs, long MaxAllocated, long MaxWork, IReadOnlyList<Finding> Findings, bool Hung)
    {
        public string Describe()
        {
            var sb = new StringBuilder($"{Target}: {Inputs} inputs, max {MaxAllocated} bytes allocated, max {MaxWork} work units");
            if (Hung) sb.Append("; HUNG (see the last saved input)");
            foreach (var f in Findings) sb.Append('\n').Append("  ").Append(f);
            return sb.ToString();
        }
    }

    /// <summary>Loads the committed seed corpus of <paramref name="target"/> (tests/fuzz/corpus/&lt;name&gt;/).</summary>
    public static IReadOnlyList<byte[]> Corpus(string repoRoot, FuzzTarget target)
    {
        var dir = Path.Combine(repoRoot, "tests", "fuzz", "corpus", target.Name);
        var seeds = Directory.Exists(dir) ? Directory.GetFiles(dir).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList() : [];
        if (seeds.Count == 0) throw new InvalidOperationException($"no seed corpus in {dir}");
        return seeds;
    }

    /// <summary>
    /// Runs the campaign on its own thread (so an input that makes no progress for <paramref name="hangAfter"/> fails
    /// the test instead of blocking the suite; work, not time, is what the bounds measure).
    /// </summary>
    public static Result Run(FuzzTarget target, IReadOnlyList<byte[]> seeds, int count, string? findingsDir, TimeSpan hangAfter,
        int maxDepth = 20_000)
    {
        var findings = new Dictionary<string, Finding>();
        byte[]? current = null;
        long maxAlloc = 0, maxWork = 0;
        var done = 0;
        var thread = new Thread(() =>
        {
            FuzzRunner.WarmUp(target);
            var mutator = new Mutator(seeds, target.Tokens, Seed, maxDepth: maxDepth);
            for (var i = 0; i < seeds.Count + count; i++)
            {
                var input = i < seeds.Count ? seeds[i] : mutator.Next();
                Volatile.Write(ref current, input);
                var error = FuzzRunner.Check(target, input, out var allocated, out var work);
                maxAlloc = Math.Max(maxAlloc, allocated);
                maxWork = Math.Max(maxWork, work);
                if (error is not null)
                {
                    var key = KeyOf(error);
                    lock (findings)
                        if (!findings.TryGetValue(key, out var known) || known.Input.Length > input.Length)
                            findings[key] = new Finding(key, error, input, null);
                }
                Volatile.Write(ref done, i + 1);
            }
        }) { IsBackground = true, Name = "mutation-" + target.Name };
        thread.Start();
        // A hang is one input that makes no progress for hangAfter, so a long soak is not cut off as a whole.
        var hung = false;
        for (var last = -1; !thread.Join(hangAfter);)
        {
            var now = Volatile.Read(ref done);
            if (now == last) { hung = true; break; }
            last = now;
        }
        List<Finding> list;
        lock (findings) list = [.. findings.Values.OrderBy(f => f.Key, StringComparer.Ordinal)];
        if (hung && Volatile.Read(ref current) is { } stuck)
            list.Add(new Finding("hang", new TimeoutException($"input {Volatile.Read(ref done)} made no progress for {hangAfter}"), stuck, null));
        if (findingsDir is not null) list = [.. list.Select(f => f with { SavedAs = Save(findingsDir, target, f.Input) })];
        return new Result(target.Name, Volatile.Read(ref done), maxAlloc, maxWork, list, hung);
    }

    /// <summary>Groups findings by exception type and the method that threw it (the first frame in XenIac code).</summary>
    public static string KeyOf(Exception e)
    {
        var frame = e.StackTrace?.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("at XenIac.", StringComparison.Ordinal) && !l.Contains("XenIac.Fuzz."))
                    ?? e.StackTrace?.Split('\n').FirstOrDefault()?.Trim() ?? "";
        var paren = frame.IndexOf('(');
        if (paren > 0) frame = frame[..paren];
        if (e is FuzzBoundException) frame = e.Message.Contains(" allocated ", StringComparison.Ordinal) ? "allocation" : "work";
        if (e is FuzzInvariantException) frame = new string(e.Message.TakeWhile(c => c != ':' && c != '(').Take(48).ToArray()).Trim();
        return $"{e.GetType().Name} {frame}";
    }

    private static string Save(string dir, FuzzTarget target, byte[] input)
    {
        var folder = Path.Combine(dir, target.Name);
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, Convert.ToHexString(SHA256.HashData(input))[..16].ToLowerInvariant() + ".bin");
        File.WriteAllBytes(path, input);
        return path;
    }
}
