using Xunit;

namespace XenIac.Fuzz;

/// <summary>The one assertion every mutation test makes; the test classes only name the target and the count.</summary>
public static class MutationAssert
{
    /// <summary>
    /// Runs <paramref name="count"/> mutated inputs (scaled by XENIAC_FUZZ_MUTATIONS) from the target's committed
    /// corpus: every input must be accepted or rejected with a documented exception, within the allocation and
    /// work bounds of <see cref="FuzzBounds"/>. A failure lists each distinct finding with its smallest input,
    /// saved under artifacts/fuzz-findings/&lt;target&gt;/ for <c>XenIac.Fuzz replay</c>.
    /// </summary>
    public static void Clean(FuzzTarget target, int count, string repoRoot)
    {
        var result = MutationRunner.Run(target, MutationRunner.Corpus(repoRoot, target), MutationRunner.Scaled(count),
            Path.Combine(repoRoot, "artifacts", "fuzz-findings"), hangAfter: TimeSpan.FromMinutes(3));
        Assert.True(result.Findings.Count == 0, result.Describe());
        Assert.False(result.Hung, result.Describe());
        Assert.Equal(MutationRunner.Scaled(count) + MutationRunner.Corpus(repoRoot, target).Count, result.Inputs);
    }
}
