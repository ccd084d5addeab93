namespace XenIac.Lab.Tests;

/// <summary>
/// Scenario set-config (tests/lab/scenarios/20-set-config.sh): `xen-iac savefile set-config` on a real savefile,
/// then real `xl restore`. Skips with the reason until the set-config command is merged into this build.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class SetConfigScenarioTests(LabFixture labs)
{
    private const string S = "set-config";

    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void Xl_restores_the_file_and_the_domain_runs_under_the_new_config(string xen)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk("set-config");
        s.RequireOk("config-after");
        using (var stored = s.ReadJson("config-after.out"))
            Assert.Equal("tiny-hvm-setcfg", stored.RootElement.GetProperty("c_info").GetProperty("name").GetString());

        s.RequireOk("xl-restore");
        s.RequireOk("running");
        s.RequireOk("xl-list-l");
        using var listed = s.ReadJson("xl-list-l.out");
        var config = listed.RootElement[0].GetProperty("config");
        Assert.Equal("tiny-hvm-setcfg", config.GetProperty("c_info").GetProperty("name").GetString());
        // The source savefile's config had libxl's default on_crash (destroy, left out of the JSON).
        Assert.Equal("preserve", config.GetProperty("on_crash").GetString());
    }

    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void An_incompatible_config_is_refused_and_the_file_left_alone_unless_forced(string xen)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk("refuses-incompatible");      // set-config exited non-zero for a PV config on an HVM image
        Assert.Contains("error:", s.Read("refuses-incompatible.err"));
        s.RequireOk("unchanged-after-refusal");   // cmp: byte for byte the original
        s.RequireOk("force-incompatible");
        s.RequireOk("config-after-force");
        using var forced = s.ReadJson("config-after-force.out");
        Assert.Equal("pv", forced.RootElement.GetProperty("c_info").GetProperty("type").GetString());
    }
}
