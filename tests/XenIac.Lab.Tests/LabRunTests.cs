using Xunit.Abstractions;

namespace XenIac.Lab.Tests;

/// <summary>The lab itself, per generation: it boots real Xen 4.17 / 4.20 and every stage reports. Prints the measured times.</summary>
[Collection(LabCollection.Name)]
public sealed class LabRunTests(LabFixture labs, ITestOutputHelper output)
{
    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void Lab_boots_that_Xen_with_a_dom0_and_reports_every_stage(string xen)
    {
        var lab = labs[xen];
        lab.Require();
        var root = lab.Root;
        output.WriteLine($"lab results (Xen {xen}, {root.GetProperty("suite").GetString()}): {lab.OutDir}/results.json; total {root.GetProperty("totalSeconds")} s; " +
            $"image cache {(root.GetProperty("cache").GetProperty("hit").GetBoolean() ? "hit" : "miss")} " +
            $"(cold build {root.GetProperty("cache").GetProperty("coldBuildSeconds")} s); longest console silence after dom0 was up " +
            $"{(root.TryGetProperty("longestSilenceSeconds", out var silence) ? silence.ToString() : "?")} s; load average {LoadAverage()}");
        var stages = root.GetProperty("stages").EnumerateArray().ToList();
        foreach (var s in stages)
            output.WriteLine($"  {s.GetProperty("name").GetString(),-28} {s.GetProperty("status").GetString(),-8} {s.GetProperty("seconds")} s  {s.GetProperty("detail").GetString()}");

        var names = stages.Select(s => s.GetProperty("name").GetString()).ToList();
        foreach (var expected in new[] { "check", "prepare", "publish", "disk", "boot", "dom0", "collect" })
        {
            Assert.Contains(expected, names);
            var stage = stages.First(s => s.GetProperty("name").GetString() == expected);
            Assert.True(stage.GetProperty("status").GetString() == "ok", $"stage {expected}: {stage.GetProperty("detail").GetString()}");
        }
        // Every scenario the harness has ran and reported back (a missing one means dom0 never got to it).
        var scenarios = Directory.GetFiles(Path.Combine(XenIac.Tests.SharedFixtures.RepoRoot, "tests", "lab", "scenarios"), "*-*.sh")
            .Where(p => System.Text.RegularExpressions.Regex.IsMatch(Path.GetFileName(p), @"^[0-9]{2}-"))
            .Select(p => Path.GetFileNameWithoutExtension(p)[3..]);
        var ran = root.GetProperty("scenarios").EnumerateArray().Select(s => s.GetProperty("name").GetString()).ToList();
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("XENIAC_LAB_SCENARIOS")))
            Assert.Equal(scenarios.Order(), ran.Order());

        // Every scenario passed as a whole (the scenario tests each judge their own steps; this names the lab's
        // own reason, e.g. the step a time limit cut short, once, in one place).
        var notPassed = root.GetProperty("scenarios").EnumerateArray()
            .Where(s => s.GetProperty("status").GetString() != "passed")
            .Select(s => $"{s.GetProperty("name").GetString()}: {s.GetProperty("status").GetString()}").ToList();
        Assert.True(notPassed.Count == 0, $"scenarios that did not pass: {string.Join("; ", notPassed)}\nthe lab's reason: {root.GetProperty("reason").GetString()}");

        // It is really that Xen, as the dom0 toolstack sees it.
        Assert.Equal(xen, root.GetProperty("xen").GetString());
        var xlInfo = File.ReadAllText(lab.OutPath("xl-info.txt"));
        Assert.Matches($@"(?m)^xen_major\s*:\s*{xen.Split('.')[0]}$", xlInfo);
        Assert.Matches($@"(?m)^xen_minor\s*:\s*{xen.Split('.')[1]}$", xlInfo);
        Assert.Contains("hvm", xlInfo);   // xen_caps: the emulated CPU gives Xen SVM + NPT, so HVM guests work
    }

    private static string LoadAverage()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "?"; }
    }

    [SkippableFact]
    public void A_machine_that_goes_silent_is_stopped_within_the_watch_limit_with_what_Xen_still_says()
    {
        var lab = labs[LabFixture.StallWatch];
        lab.RequireResults();
        var root = lab.Root;
        var reason = root.GetProperty("reason").GetString() ?? "";
        output.WriteLine($"stall watch ({lab.OutDir}): {root.GetProperty("status").GetString()} after {root.GetProperty("totalSeconds")} s: {reason}");
        Assert.Equal("failed", root.GetProperty("status").GetString());
        Assert.Contains("the emulated machine stalled: no console output for", reason);
        // QEMU was stopped (SIGSTOP): it used no CPU, and nothing answered Xen's debug keys.
        Assert.Contains("QEMU used 0% of a core", reason);
        Assert.Contains("Xen did not answer its debug keys", reason);
        // Stopped by the 40 s watch, long before the 1800 s scenario limit would have ended it.
        Assert.True(root.GetProperty("totalSeconds").GetDouble() < 600, $"the frozen run took {root.GetProperty("totalSeconds")} s");
        // What dom0 got to write before the freeze is still collected.
        var collect = root.GetProperty("stages").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "collect");
        Assert.Equal("ok", collect.GetProperty("status").GetString());
    }
}
