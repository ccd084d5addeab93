using XenIac.Core.SaveFiles;
using XenIac.Fuzz;
using XenIac.Tests;

namespace XenIac.Core.Tests.Fuzzing;

/// <summary>
/// Deterministic fuzzing in the normal suite (tests/XenIac.Fuzz/Harness, shared with the AFL harness): tens of
/// thousands of mutated inputs per parser from the committed corpus in tests/fuzz/corpus, a fixed seed, only
/// documented exceptions, allocation and counted work within <see cref="FuzzBounds"/>.
/// </summary>
public sealed class MutationTests
{
    [Fact]
    public void Savefile_header_survives_mutated_input() => MutationAssert.Clean(new SavefileTarget(), 40_000, SharedFixtures.RepoRoot);

    [Fact]
    public void Image_stream_survives_mutated_input() => MutationAssert.Clean(new ImageTarget(), 10_000, SharedFixtures.RepoRoot);

    [Fact]
    public void Xl_cfg_survives_mutated_input() => MutationAssert.Clean(new XlCfgTarget(), 20_000, SharedFixtures.RepoRoot);

    [Fact]
    public void Libxl_json_survives_mutated_input() => MutationAssert.Clean(new JsonConfigTarget(), 10_000, SharedFixtures.RepoRoot);

    /// <summary>
    /// The xlcfg target on a config of many one-line statements of a few keys (finding ed62223e34f6a78c: a Set and
    /// a re-parse per edited key made 29 parses of a 13 KB input, 14 MB): counted at n and 10n, linear and within
    /// the bound.
    /// </summary>
    [Fact]
    public void Xl_cfg_target_allocates_linearly_in_repeated_statements()
    {
        static (long Allocated, int Length) Run(int n)
        {
            var text = "name = 'w'\nmemory = 32\n" + string.Concat(Enumerable.Repeat("boot = \"c\"\nvnc = 0\non = \"none\"\n", n));
            var input = System.Text.Encoding.UTF8.GetBytes(text);
            Assert.Null(FuzzRunner.Check(new XlCfgTarget(), input, out var allocated, out _));
            return (allocated, input.Length);
        }
        Run(10);
        var small = Run(1_000);
        var large = Run(10_000);
        Assert.True(large.Allocated < 20 * small.Allocated, $"n: {small.Allocated} bytes, 10n: {large.Allocated} bytes");
        Assert.True(large.Allocated <= FuzzBounds.AllocPerByte * (long)large.Length, $"10n: {large.Allocated} bytes for {large.Length} input bytes");
    }

    /// <summary>The mutator itself: same seed, same inputs; and its mutations do reach the documented-error paths.</summary>
    [Fact]
    public void Mutator_is_deterministic()
    {
        var seeds = MutationRunner.Corpus(SharedFixtures.RepoRoot, new XlCfgTarget());
        var a = new Mutator(seeds, new XlCfgTarget().Tokens, 7);
        var b = new Mutator(seeds, new XlCfgTarget().Tokens, 7);
        for (var i = 0; i < 200; i++) Assert.Equal(a.Next(), b.Next());
    }

    [Fact]
    public void Runner_reports_an_undocumented_exception_and_a_broken_bound()
    {
        Assert.Null(FuzzRunner.Check(new Throwing(new XenFormatException(FormatError.Truncated, "test", 0)), [1, 2, 3], out _, out _));
        Assert.IsType<IndexOutOfRangeException>(FuzzRunner.Check(new Throwing(new IndexOutOfRangeException()), [1], out _, out _));
        Assert.IsType<FuzzBoundException>(FuzzRunner.Check(new Allocating(), new byte[10], out var allocated, out _));
        Assert.True(allocated > FuzzBounds.MaxAllocation(10));
    }

    private sealed class Throwing(Exception e) : FuzzTarget
    {
        public override string Name => "throwing";
        public override IReadOnlyList<Type> Documented { get; } = [typeof(XenFormatException)];
        public override void Run(byte[] input, WorkMeter meter) => throw e;
        public override IEnumerable<byte[]> WarmUpInputs() => [];
    }

    private sealed class Allocating : FuzzTarget
    {
        public override string Name => "allocating";
        public override IReadOnlyList<Type> Documented { get; } = [];
        public override void Run(byte[] input, WorkMeter meter) => GC.KeepAlive(new byte[FuzzBounds.AllocFixed * 2]);
        public override IEnumerable<byte[]> WarmUpInputs() => [];
    }
}
