using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace XenIac.Lab.Tests;

/// <summary>
/// Scenario xl-save (tests/lab/scenarios/10-xl-save.sh): real <c>xl save</c> (plain, -c, -p, with an alternative
/// config; HVM and PV) and xen-iac's reading of every file, in dom0 and again on the host.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class XlSaveScenarioTests(LabFixture labs)
{
    private const string S = "xl-save";

    /// <summary>generation, label → the domain name and type xl stored, and the xl description to compare with.</summary>
    public static TheoryData<string, string, string, string> Files()
    {
        var data = new TheoryData<string, string, string, string>();
        foreach (var xen in LabFixture.All)
        {
            data.Add(xen, "hvm-checkpoint", "tiny-hvm", "hvm");   // xl save -c
            data.Add(xen, "hvm-paused", "tiny-hvm", "hvm");       // xl save -p
            data.Add(xen, "hvm-altcfg", "tiny-hvm-alt", "hvm");   // xl save DOM FILE ALT.cfg
            data.Add(xen, "hvm-plain", "tiny-hvm-alt", "hvm");    // xl save (of the domain restored from hvm-altcfg)
            data.Add(xen, "pv-plain", "tiny-pv", "pv");           // xl save, PV guest
        }
        return data;
    }

    private static string SavefilePath(LabRun lab, string label) => lab.OutPath("files", label + ".xlsave");

    [SkippableTheory]
    [MemberData(nameof(Files))]
    public void Xl_saved_the_file_and_Xen_own_checker_reads_it(string xen, string label, string name, string type)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk($"{label}.xl-save");
        s.RequireOk($"{label}.xen-verify");
        // verify-stream-v2 (xen-utils) names the guest type and the Xen that wrote the stream.
        Assert.Contains($"Domain Header: x86 {type.ToUpperInvariant()} from Xen {lab.Xen}", s.Read($"{label}.xen-verify.out"));
        Assert.NotEqual("", name);
    }

    [SkippableTheory]
    [MemberData(nameof(Files))]
    public void Inspect_in_dom0_reads_the_xl_header_and_finds_the_image(string xen, string label, string name, string type)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk($"{label}.inspect-json");
        using var json = s.ReadJson($"{label}.inspect-json.out");
        var h = json.RootElement;
        Assert.Equal("xl", h.GetProperty("format").GetString());
        Assert.Equal("little", h.GetProperty("byteOrder").GetString());
        Assert.Equal(3, h.GetProperty("mandatoryFlags").GetInt32());          // STREAMv2 | CONFIG_JSON, as xl 4.17 and 4.20 write
        Assert.Equal("json", h.GetProperty("configFormat").GetString());
        Assert.True(h.GetProperty("streamV2").GetBoolean());
        // The offset xen-iac reports must be where the libxl stream really starts in the file.
        var offset = h.GetProperty("imageOffset").GetInt64();
        using var file = File.OpenRead(SavefilePath(lab, label));
        file.Position = offset;
        var ident = new byte[8];
        file.ReadExactly(ident);
        Assert.Equal("LibxlFmt", Encoding.ASCII.GetString(ident));
        Assert.NotEqual("", name + type);
    }

    [SkippableTheory]
    [MemberData(nameof(Files))]
    public void Stored_config_is_the_one_xl_described(string xen, string label, string name, string type)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk($"{label}.config");
        using var config = s.ReadJson($"{label}.config.out");
        var c = config.RootElement;
        Assert.Equal(name, c.GetProperty("c_info").GetProperty("name").GetString());
        Assert.Equal(type, c.GetProperty("c_info").GetProperty("type").GetString());

        if (label == "hvm-altcfg")
        {
            // xl stored the ALTERNATIVE config (xl.cfg text handed to xl save, here turned into JSON by xl),
            // and xl restore brought the domain back under it.
            Assert.Contains("name    = \"tiny-hvm-alt\"", s.Read("tiny-hvm-alt.cfg"));
            Assert.Equal("restart", c.GetProperty("on_reboot").GetString());
            s.RequireOk("hvm-altcfg.xl-restore");
            s.RequireOk("hvm-altcfg.running");
            using var restored = s.ReadJson("hvm-altcfg.restored.xl-list-l.json");
            Assert.Equal("tiny-hvm-alt", restored.RootElement[0].GetProperty("config").GetProperty("c_info").GetProperty("name").GetString());
            return;
        }

        // The domain's own config: what `xl list -l` said just before the save.
        using var before = s.ReadJson($"{label}.before.xl-list-l.json");
        var xl = before.RootElement[0].GetProperty("config");
        Assert.Equal(xl.GetProperty("c_info").GetProperty("name").GetString(), c.GetProperty("c_info").GetProperty("name").GetString());
        Assert.Equal(xl.GetProperty("c_info").GetProperty("uuid").GetString(), c.GetProperty("c_info").GetProperty("uuid").GetString());
        foreach (var field in new[] { "max_memkb", "target_memkb", "max_vcpus" })
            Assert.Equal(xl.GetProperty("b_info").GetProperty(field).GetInt64(), c.GetProperty("b_info").GetProperty(field).GetInt64());
    }

    [SkippableTheory]
    [MemberData(nameof(Files))]
    public void Host_reads_the_copies_exactly_as_dom0_did(string xen, string label, string name, string type)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk($"{label}.inspect-json");
        s.RequireOk($"{label}.config");
        var path = SavefilePath(lab, label);

        // The copy is the file dom0 wrote (its sha256 list was made in dom0).
        var sums = File.ReadAllLines(lab.OutPath("files", "SHA256SUMS"))
            .Select(l => l.Split("  ", 2)).ToDictionary(p => p[1], p => p[0]);
        using (var stream = File.OpenRead(path))
            Assert.Equal(sums[label + ".xlsave"], Convert.ToHexStringLower(SHA256.HashData(stream)));

        var inspect = HostXenIac.RunOk(lab, "savefile", "inspect", "--json", path);
        Assert.Equal(s.Read($"{label}.inspect-json.out"), inspect.StdOut);
        var config = HostXenIac.RunOk(lab, "savefile", "config", path);
        Assert.Equal(s.ReadBytes($"{label}.config.out"), config.StdOutBytes);
        var text = HostXenIac.RunOk(lab, "savefile", "inspect", path);
        Assert.Contains("config:               json", text.StdOut);
        Assert.NotEqual("", name + type);
    }

    [SkippableTheory]
    [MemberData(nameof(Files))]
    public void Verify_in_dom0_and_on_the_host_agrees_with_Xen(string xen, string label, string name, string type)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk($"{label}.verify-json");   // skips with the reason until `savefile verify` is merged
        using var json = s.ReadJson($"{label}.verify-json.out");
        var v = json.RootElement;
        Assert.True(v.GetProperty("valid").GetBoolean());
        Assert.Equal(type.ToUpperInvariant(), v.GetProperty("guestType").GetString());
        Assert.Equal(12, v.GetProperty("pageShift").GetInt32());
        Assert.StartsWith(lab.Xen, v.GetProperty("xenVersion").GetString());
        Assert.True(v.GetProperty("pages").GetInt64() > 0);
        // records is name -> count; Xen's checker squashes runs of PAGE_DATA and says how many it saw.
        var pageData = v.GetProperty("records").GetProperty("libxc:PAGE_DATA").GetInt64();
        var xenText = s.Read($"{label}.xen-verify.out");
        var squashed = System.Text.RegularExpressions.Regex.Matches(xenText, @"Squashed (\d+) Page Data records").Sum(m => long.Parse(m.Groups[1].Value));
        var single = System.Text.RegularExpressions.Regex.Matches(xenText, @"Libxc Record: Page data").Count;
        Assert.Equal(squashed + single, pageData);

        // The same reading on the host copy (field by field: the output may name the file, whose path differs).
        var host = HostXenIac.RunOk(lab, "savefile", "verify", "--json", SavefilePath(lab, label));
        using var hostJson = JsonDocument.Parse(host.StdOut);
        foreach (var field in new[] { "valid", "guestType", "pageShift", "pages", "records", "checkpoints", "xenVersion" })
            Assert.Equal(v.GetProperty(field).GetRawText(), hostJson.RootElement.GetProperty(field).GetRawText());
        Assert.NotEqual("", name);
    }

    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void Verify_rejects_a_truncated_copy_of_a_real_savefile(string xen)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        Skip.IfNot(lab.HasCommand("savefile verify"), "xen-iac savefile verify is not in this build");
        s.RequireOk("hvm-plain.xl-save");
        var truncated = Path.Combine(lab.OutDir, "hvm-plain.truncated.xlsave");
        using (var source = File.OpenRead(SavefilePath(lab, "hvm-plain")))
        using (var target = File.Create(truncated))
        {
            var half = new byte[source.Length / 2];
            source.ReadExactly(half);
            target.Write(half);
        }
        var r = HostXenIac.Run(lab, "savefile", "verify", "--json", truncated);
        Assert.Equal(1, r.ExitCode);
        using var json = JsonDocument.Parse(r.StdOut);
        Assert.False(json.RootElement.GetProperty("valid").GetBoolean());
        File.Delete(truncated);
    }

    /// <summary>What each xl save option did to the domain, as xl listed it afterwards (the claims the fixtures rest on).</summary>
    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void Xl_save_options_leave_the_domain_as_documented(string xen)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk("hvm-checkpoint.xl-save");
        s.RequireOk("hvm-paused.xl-save");
        s.RequireOk("hvm-plain.xl-save");
        Assert.Contains("tiny-hvm ", s.Read("hvm-checkpoint.after.xl-list.txt"));          // -c: still there
        var paused = s.Read("hvm-paused.state.txt").Split('\n').First(l => l.StartsWith("tiny-hvm ", StringComparison.Ordinal));
        Assert.Contains("p", paused.Split(' ', StringSplitOptions.RemoveEmptyEntries)[4]); // -p: left paused
        Assert.DoesNotContain("tiny-hvm-alt", s.Read("hvm-plain.after.xl-list.txt"));      // plain: gone
    }

    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void Config_show_reads_the_guest_config_in_dom0(string xen)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk("config-show-json");   // skips with the reason until `config show` is merged
        Assert.Contains("tiny-hvm", s.Read("config-show-json.out"));
    }
}
