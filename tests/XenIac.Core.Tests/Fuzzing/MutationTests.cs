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

    // Re-enable after merging h/json (its image stream reader commit): on main a pipe allocates what a length field says.
    [Fact(Skip = "findings tests/fuzz/findings/image (allocation from record length / PAGE_DATA count on an unseekable stream), fixed on branch h/json")]
    public void Image_stream_survives_mutated_input() => MutationAssert.Clean(new ImageTarget(), 10_000, SharedFixtures.RepoRoot);

    // Re-enable after merging h/parser: on main, deep list nesting overflows the stack and kills the test host.
    [Fact(Skip = "finding tests/fuzz/findings/xlcfg (stack overflow in XlConfigParser.ParseValue), fixed on branch h/parser")]
    public void Xl_cfg_survives_mutated_input() => MutationAssert.Clean(new XlCfgTarget(), 20_000, SharedFixtures.RepoRoot);

    // Re-enable after merging h/json and h/parser.
    [Fact(Skip = "findings tests/fuzz/findings/json (duplicate keys: ArgumentException; ToXlConfig: FormatException, NUL, unreadable output), fixed on branches h/json and h/parser")]
    public void Libxl_json_survives_mutated_input() => MutationAssert.Clean(new JsonConfigTarget(), 10_000, SharedFixtures.RepoRoot);

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
