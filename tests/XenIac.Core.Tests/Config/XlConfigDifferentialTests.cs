using System.Text;
using Xunit.Abstractions;
using XenIac.Core.Config;
using XenIac.Tests;

namespace XenIac.Core.Tests.Config;

/// <summary>
/// XenIac's xl.cfg parser against Xen's own (libxlutil 4.17 via P/Invoke), config by config: both accept or
/// both reject, and for accepted ones every key reads back the same as string, list and number.
/// </summary>
public sealed class XlConfigDifferentialTests(ITestOutputHelper output)
{
    public static TheoryData<string> HandWrittenNames() => [.. XlConfigCorpus.HandWritten().Select(c => c.Name)];

    [SkippableTheory]
    [MemberData(nameof(HandWrittenNames))]
    public void Hand_written_config_is_read_as_xen_reads_it(string name)
    {
        Skip.If(LibXlUtil.Instance is null, LibXlUtil.UnavailableReason);
        var text = XlConfigCorpus.HandWritten().Single(c => c.Name == name).Text;
        var disagreement = Compare(XlText.Encode(text), out var accepted);
        Assert.True(disagreement is null, disagreement);
        output.WriteLine(accepted ? "both accept" : "both reject");
    }

    [SkippableFact]
    public void Generated_and_mutated_configs_are_read_as_xen_reads_them()
    {
        Skip.If(LibXlUtil.Instance is null, LibXlUtil.UnavailableReason);
        // XENIAC_DIFF_SCALE=N runs N times the corpus, for a deeper search than CI needs.
        var scale = int.TryParse(Environment.GetEnvironmentVariable("XENIAC_DIFF_SCALE"), out var s) && s > 0 ? s : 1;
        var corpus = XlConfigCorpus.Generated(400 * scale).Concat(XlConfigCorpus.Mutated(600 * scale)).Concat(XlConfigCorpus.RandomText(500 * scale)).ToList();
        var failures = new List<string>();
        int accepted = 0, rejected = 0;
        foreach (var text in corpus)
        {
            var d = Compare(Encoding.UTF8.GetBytes(text), out var ok);
            if (d is not null) failures.Add(d);
            else if (ok) accepted++;
            else rejected++;
        }
        output.WriteLine($"{corpus.Count} configs (seed {XlConfigCorpus.Seed}): {accepted} accepted by both, {rejected} rejected by both, {failures.Count} disagreements");
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        // The corpus is only evidence if it exercises both sides.
        Assert.True(accepted > 200 && rejected > 200, $"accepted {accepted}, rejected {rejected}");
    }

    [SkippableFact]
    public void Random_bytes_deep_nesting_and_long_lines_are_read_as_xen_reads_them()
    {
        Skip.If(LibXlUtil.Instance is null, LibXlUtil.UnavailableReason);
        var scale = int.TryParse(Environment.GetEnvironmentVariable("XENIAC_DIFF_SCALE"), out var s) && s > 0 ? s : 1;
        var corpus = XlConfigCorpus.RandomBytes(3000 * scale).Concat(XlConfigCorpus.DeepNesting(60 * scale)).Concat(XlConfigCorpus.LongLines()).ToList();
        var failures = new List<string>();
        int accepted = 0, rejected = 0, abortingSkipped = 0, withNul = 0, withHighBytes = 0, deepAccepted = 0, deepRejected = 0;
        foreach (var data in corpus)
        {
            if (XlConfigCorpus.CouldAbortXen(data))
            {
                abortingSkipped++;
                continue;
            }
            var d = Compare(data, out var ok);
            if (d is not null) { failures.Add(d); continue; }
            if (ok) accepted++; else rejected++;
            if (Array.IndexOf(data, (byte)0) >= 0) withNul++;
            if (data.Any(b => b >= 0x80)) withHighBytes++;
            if (data.Length > 9000 && data.Count(b => b == (byte)'[') > 1900) { if (ok) deepAccepted++; else deepRejected++; }
        }
        output.WriteLine($"{corpus.Count} inputs (seed {XlConfigCorpus.Seed}): {accepted} accepted by both, {rejected} rejected by both, " +
            $"{withNul} with NUL, {withHighBytes} with bytes >= 0x80, deep: {deepAccepted} accepted / {deepRejected} rejected, " +
            $"{abortingSkipped} not sent (a NUL in a string aborts Xen), {failures.Count} disagreements");
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        Assert.True(accepted > 300 && rejected > 300 && withNul > 200 && withHighBytes > 300, "the corpus must exercise both verdicts, NULs and high bytes");
        Assert.True(deepAccepted > 10 && deepRejected > 10, $"deep: {deepAccepted} accepted, {deepRejected} rejected");
    }

    [SkippableFact]
    public void Inputs_on_which_xen_aborts_are_rejected_and_the_others_read_as_xen_reads_them()
    {
        Skip.If(LibXlUtil.Instance is null, LibXlUtil.UnavailableReason);
        Skip.If(LibXlUtilForked.UnavailableReason is not null, LibXlUtilForked.UnavailableReason);
        // The random inputs that may put a NUL inside a string, plus a few written for it.
        List<byte[]> inputs =
        [
            .. XlConfigCorpus.RandomBytes(3000).Where(XlConfigCorpus.CouldAbortXen),
            "a = 'x\0y'\n"u8.ToArray(), "a = \"\0\"\n"u8.ToArray(), "a = '\\'\0'\n"u8.ToArray(), "a = 'x\0\n"u8.ToArray(),
            "a = [ 'ok', 'n\0' ]\n"u8.ToArray(), "# 'x\0'\n"u8.ToArray(), "a = 'x' # \0'\n"u8.ToArray(),
        ];
        var verdicts = LibXlUtilForked.Verdicts(inputs);
        var failures = new List<string>();
        int aborted = 0, compared = 0;
        for (var i = 0; i < inputs.Count; i++)
        {
            if (verdicts[i] == XenVerdict.Aborted)
            {
                aborted++;
                // xl dies on these: XenIac must refuse them, with its own located error.
                try
                {
                    XlConfig.Parse(inputs[i], "corpus");
                    failures.Add($"Xen aborts, XenIac accepts: \"{LibXlUtil.Show(inputs[i])}\"");
                }
                catch (XlConfigException) { }
                continue;
            }
            // Xen got through it in a child, so it is safe to parse in this process too.
            compared++;
            var d = Compare(inputs[i], out var ok);
            if (d is not null) failures.Add(d);
            else if (ok != (verdicts[i] == XenVerdict.Accepted)) failures.Add($"the child and this process disagree: \"{LibXlUtil.Show(inputs[i])}\"");
        }
        output.WriteLine($"{inputs.Count} inputs: {aborted} abort Xen (all rejected by XenIac), {compared} compared in process, {failures.Count} disagreements");
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        Assert.True(aborted > 50 && compared > 50, $"aborted {aborted}, compared {compared}");
    }

    [SkippableFact]
    public void Real_lab_configs_are_read_as_xen_reads_them()
    {
        Skip.If(LibXlUtil.Instance is null, LibXlUtil.UnavailableReason);
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        foreach (var path in Directory.EnumerateFiles(Path.Combine(SharedFixtures.RealXenDir!, "meta"), "*.cfg"))
        {
            var d = Compare(File.ReadAllBytes(path), out var ok);
            Assert.True(d is null, d);
            Assert.True(ok, path);
        }
    }

    private static string? Compare(byte[] data, out bool accepted)
    {
        XlConfig? ours = null;
        XlConfigException? error = null;
        try { ours = XlConfig.Parse(data, "corpus"); }
        catch (XlConfigException e) { error = e; }

        var keys = XlConfigCorpus.KeyPool.Concat(ours?.Keys ?? []).ToList();
        var xen = LibXlUtil.Instance!.Parse(data, keys);
        var shown = LibXlUtil.Show(data);
        accepted = xen.Accepted;
        if (xen.Accepted != (ours is not null))
            return xen.Accepted
                ? $"Xen accepts, XenIac rejects ({error!.Message}): \"{shown}\""
                : $"Xen rejects ({xen.Report.Trim()}), XenIac accepts: \"{shown}\"";
        if (ours is null) return null;

        if (!data.AsSpan().SequenceEqual(ours.ToBytes())) return $"round trip changed the bytes: \"{shown}\"";
        foreach (var key in keys.Distinct())
        {
            var (xenValue, xenLong) = xen.Settings[key];
            var ourValue = ours.Get(key);
            if (!Equals(xenValue, ourValue))
                return $"'{key}': Xen has {xenValue?.ToXl() ?? "nothing"}, XenIac {ourValue?.ToXl() ?? "nothing"}: \"{shown}\"";
            long? ourLong = ours.TryGetLong(key, out var l, out _) ? l : null;
            if (xenLong != ourLong)
                return $"'{key}' as a number: Xen {xenLong?.ToString() ?? "fails"}, XenIac {ourLong?.ToString() ?? "fails"}: \"{shown}\"";
        }
        return null;
    }
}
