using System.Text.Json;
using System.Text.Json.Nodes;

namespace XenIac.Lab.Tests;

/// <summary>
/// Scenario libxl-host (tests/lab/scenarios/40-libxl-host.sh): `xen-iac domain ... --host libxl` on real Xen, and
/// real xl on the files it writes. Skips with the reason when the build has no `xen-iac domain`.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class LibxlHostScenarioTests(LabFixture labs)
{
    private const string S = "libxl-host";

    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void Xeniac_restores_through_libxl_what_real_xl_saved(string xen)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk("domain-restore-xl-file");
        s.RequireOk("running-after-xeniac-restore");
        s.RequireOk("domain-list-json");
        using var list = s.ReadJson("domain-list-json.out");
        var domain = list.RootElement.EnumerateArray().Single(d => d.GetProperty("name").GetString() == "tiny-hvm-alt");
        Assert.Equal(32 * 1024, domain.GetProperty("memoryKiB").GetInt64(), 1024.0);
    }

    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void Xeniac_saves_through_libxl_a_file_Xen_and_xeniac_verify_and_real_xl_restores(string xen)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk("domain-save");
        s.RequireOk("gone-after-save");
        s.RequireOk("domain-save.xen-verify");
        Assert.Contains($"Domain Header: x86 HVM from Xen {lab.Xen}", s.Read("domain-save.xen-verify.out"));
        s.RequireOk("domain-save.verify-json");
        using var verify = s.ReadJson("domain-save.verify-json.out");
        Assert.True(verify.RootElement.GetProperty("valid").GetBoolean());
        using var inspect = s.ReadJson("domain-save.inspect-json.out");
        Assert.Equal(3, inspect.RootElement.GetProperty("mandatoryFlags").GetInt32());
        Assert.Equal("json", inspect.RootElement.GetProperty("configFormat").GetString());
        s.RequireOk("xl-restore-xeniac-file");
        s.RequireOk("running-after-xl-restore");
    }

    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void Xl_restores_a_file_carrying_an_integrity_record(string xen)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk("seal");
        s.RequireOk("seal.verify-integrity");
        using (var verify = s.ReadJson("seal.verify-integrity.out"))
            Assert.Equal("match", verify.RootElement.GetProperty("integrity").GetProperty("status").GetString());
        using (var inspect = s.ReadJson("seal.inspect-json.out"))
            Assert.Equal("sha256", inspect.RootElement.GetProperty("integrity").GetProperty("algorithm").GetString());
        // The step order in the scenario: seal, then real xl restores that very file.
        s.RequireOk("xl-restore-xeniac-file");
        s.RequireOk("running-after-xl-restore");
    }

    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void Host_info_reports_the_running_Xen_and_free_memory_through_libxl(string xen)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk("host-info");
        using var info = s.ReadJson("host-info.out");
        Assert.StartsWith(lab.Xen + ".", info.RootElement.GetProperty("xenVersion").GetString() + ".");
        Assert.True(info.RootElement.GetProperty("freeMemoryKiB").GetInt64() > 0);
        Assert.NotEqual("", info.RootElement.GetProperty("cpuVendor").GetString());
    }

    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void Two_clones_of_one_real_savefile_run_at_once_under_their_own_names_and_tear_down(string xen)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk("clone-two");
        using (var made = s.ReadJson("clone-two.out"))
            Assert.Equal(["labclone-1", "labclone-2"], made.RootElement.EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        s.RequireOk("running-clone-1");
        s.RequireOk("running-clone-2");
        using (var list = s.ReadJson("clone-list-json.out"))
        {
            var clones = list.RootElement.EnumerateArray().Where(d => d.GetProperty("name").GetString()!.StartsWith("labclone-", StringComparison.Ordinal)).ToList();
            Assert.Equal(2, clones.Count);
            Assert.NotEqual(clones[0].GetProperty("domid").GetInt32(), clones[1].GetProperty("domid").GetInt32());
        }
        s.RequireOk("clone-teardown");
        s.RequireOk("gone-after-teardown");
    }

    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void Apply_restores_a_snapshot_from_the_store_through_a_pipe_into_libxl(string xen)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk("store-push");
        s.RequireOk("store-apply-restore");
        s.RequireOk("running-after-store-restore");
        // No savefile on the way: the manifest's working copy was never written.
        s.RequireOk("store-no-working-copy");
    }

    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void A_checkpoint_keeps_the_domain_running_and_restores_paused(string xen)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk("domain-checkpoint");
        s.RequireOk("running-after-checkpoint");
        s.RequireOk("domain-restore-paused");
        var state = s.Read("paused.state.txt").Split('\n').Single(l => l.StartsWith("tiny-hvm-alt ", StringComparison.Ordinal));
        Assert.Contains('p', state.Split(' ', StringSplitOptions.RemoveEmptyEntries)[4]);
    }

    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void Xl_cfg_converts_to_the_libxl_json_xl_itself_makes_and_libxl_creates_the_domain_from_it(string xen)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk("xl-dry-run");
        s.RequireOk("xeniac-convert");
        var xl = JsonNode.Parse(s.Read("xl-dry-run.out"))!;
        var ours = JsonNode.Parse(s.Read("xeniac-convert.out"))!;
        // Every value XenIac writes must be the value xl writes for the same setting. libxl leaves out values equal
        // to its defaults; for the on_* actions that default is destroy.
        var compared = 0;
        foreach (var (path, value) in Leaves(ours, []))
        {
            var shown = string.Join('/', path);
            var theirs = At(xl, path);
            if (theirs is null && path[0].StartsWith("on_", StringComparison.Ordinal) && Normal(value) == "destroy") continue;
            Assert.True(theirs is not null, $"xl -N create has no {shown} (XenIac wrote {value})");
            Assert.Equal(Normal(value), Normal(theirs!.ToJsonString()));
            compared++;
        }
        Assert.True(compared >= 8, $"only {compared} values compared");
        foreach (var key in new[] { "c_info/name", "c_info/type", "b_info/max_memkb", "b_info/target_memkb", "b_info/max_vcpus" })
            Assert.NotNull(At(ours, key.Split('/')));

        s.RequireOk("domain-create");
        s.RequireOk("running-after-create");
    }

    // Paths are segment lists: libxl keys such as "type.hvm" contain dots.
    private static IEnumerable<(string[] Path, string Value)> Leaves(JsonNode node, string[] prefix)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o)
                    if (v is not null) foreach (var leaf in Leaves(v, [.. prefix, k])) yield return leaf;
                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                    if (a[i] is { } v) foreach (var leaf in Leaves(v, [.. prefix, $"[{i}]"])) yield return leaf;
                break;
            default:
                yield return (prefix, node.ToJsonString());
                break;
        }
    }

    private static JsonNode? At(JsonNode root, string[] path)
    {
        JsonNode? node = root;
        foreach (var part in path)
        {
            node = part.StartsWith('[') && part.EndsWith(']')
                ? node is JsonArray a && int.Parse(part[1..^1]) is var i && i < a.Count ? a[i] : null
                : (node as JsonObject)?[part];
            if (node is null) return null;
        }
        return node;
    }

    // libxl's JSON writes some numbers and booleans as strings ("True"); compare the text.
    private static string Normal(string json) => json.Trim('"').ToLowerInvariant();
}
