using System.Text.Json;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;

namespace XenIac.Cli.Tests;

/// <summary>plan / apply over a manifest with hosts:, the real tool process, embedded folders playing two dom0s.</summary>
public sealed class FleetCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-cli-fleet-").FullName;

    private string P(string name) => Path.Combine(_dir, name);

    private static string Cfg(string name) => $"name = \"{name}\"\ntype = \"hvm\"\nmemory = 4\nvcpus = 1\n";

    private Task<CliResult> Run(params string[] args) => CliRunner.RunAsync(args, workingDirectory: _dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    /// <summary>A host folder whose marker says which machine it plays.</summary>
    private void Machine(string name, string vendor)
    {
        Directory.CreateDirectory(P("hosts/" + name));
        File.WriteAllText(P($"hosts/{name}/xeniac-embedded-host.json"),
            $$"""{"kind":"xeniac-embedded-host","version":1,"xenVersion":"4.19.1","cpuVendor":"{{vendor}}","memoryMiB":2048}""");
    }

    private void Manifest(string webHost, string extra = "") => File.WriteAllText(P("xen-iac.yaml"),
        "hosts:\n  a: embedded:hosts/a\n  b: embedded:hosts/b\ndomains:\n" +
        $"  - name: web\n    config: web.cfg\n    host: {webHost}\n  - name: db\n    config: db.cfg\n    host: b\n{extra}");

    [Fact]
    public async Task Changing_host_migrates_cold_and_plan_names_the_host_of_every_step()
    {
        Machine("a", "AuthenticAMD");
        Machine("b", "AuthenticAMD");
        File.WriteAllText(P("web.cfg"), Cfg("web"));
        File.WriteAllText(P("db.cfg"), Cfg("db"));
        Manifest("a");
        var first = await Run("apply", "--auto-approve");
        Assert.True(first.ExitCode == 0, first.StdErr + first.StdOut);

        Manifest("b");
        var json = await Run("plan", "--json");
        Assert.True(json.ExitCode == 0, json.StdErr);
        var domains = JsonDocument.Parse(json.StdOut).RootElement.GetProperty("domains").EnumerateArray().ToDictionary(d => d.GetProperty("name").GetString()!);
        var web = domains["web"];
        Assert.Equal(["save", "restore"], web.GetProperty("steps").EnumerateArray().Select(s => s.GetString()));
        var stepHosts = web.GetProperty("stepHosts").EnumerateArray().Select(s => s.GetString()!).ToList();
        Assert.EndsWith("hosts/a", stepHosts[0]);
        Assert.EndsWith("hosts/b", stepHosts[1]);
        Assert.Equal("b", web.GetProperty("hostName").GetString());
        Assert.EndsWith("hosts/a", web.GetProperty("sourceHost").GetString());
        Assert.Equal("b", domains["db"].GetProperty("hostName").GetString());
        Assert.EndsWith("hosts/b", domains["db"].GetProperty("host").GetString());

        var text = await Run("plan");
        Assert.Contains("a -> b", text.StdOut);

        var apply = await Run("apply", "--auto-approve");
        Assert.True(apply.ExitCode == 0, apply.StdErr + apply.StdOut);
        var after = await Run("plan", "--detailed-exitcode");
        Assert.True(after.ExitCode == 0, after.StdErr + after.StdOut);
        Assert.Contains("No changes", after.StdOut);
        Assert.True(Directory.Exists(P("hosts/b/domains/web")));
        Assert.False(Directory.Exists(P("hosts/a/domains/web")));
    }

    [Fact]
    public async Task A_savefile_of_another_cpu_vendor_is_an_error_naming_both_and_the_other_domains_apply()
    {
        Machine("a", "AuthenticAMD");
        Machine("b", "AuthenticAMD");
        File.WriteAllText(P("web.cfg"), Cfg("web"));
        File.WriteAllText(P("db.cfg"), Cfg("db"));
        Directory.CreateDirectory(P("saves"));
        using (var file = File.Create(P("saves/intel.xlsave")))
        {
            SaveFileWriter.WriteHeader(file, SaveFileHeader.Create(Cfg("intel"), SaveFileConfigFormat.XlCfg));
            ImageStreamWriter.Write(file, new DomainImageDescription
            {
                GuestType = GuestType.HVM, VCpus = 1, Pfns = [0, 1],
                CpuidPolicy = Placement.VendorLeaf("GenuineIntel"), MsrPolicy = new byte[16],
            });
        }
        Manifest("a", "  - name: intel\n    host: a\n");

        var plan = await Run("plan", "--detailed-exitcode");
        Assert.Equal(1, plan.ExitCode);
        Assert.Contains("intel", plan.StdErr);
        Assert.Contains("GenuineIntel", plan.StdErr);
        Assert.Contains("AuthenticAMD", plan.StdErr);
        Assert.Contains("cpu.vendor", plan.StdOut);

        var apply = await Run("apply", "--auto-approve");
        Assert.NotEqual(0, apply.ExitCode);
        Assert.True(Directory.Exists(P("hosts/a/domains/web")), apply.StdOut + apply.StdErr);
        Assert.True(Directory.Exists(P("hosts/b/domains/db")));
        Assert.False(Directory.Exists(P("hosts/a/domains/intel")));
    }

    [Fact]
    public async Task Domain_restore_checks_placement_too_one_error_line_naming_why_and_force_restores_with_the_findings_shown()
    {
        Machine("a", "AuthenticAMD");
        // An HVM image written by Xen 4.20 for a host playing 4.19.1, from an Intel machine: two reasons to refuse.
        using (var file = File.Create(P("newer.xlsave")))
        {
            SaveFileWriter.WriteHeader(file, SaveFileHeader.Create(Cfg("newer"), SaveFileConfigFormat.XlCfg));
            ImageStreamWriter.Write(file, new DomainImageDescription
            {
                GuestType = GuestType.HVM, VCpus = 1, Pfns = [0, 1], XenMinor = 20,
                CpuidPolicy = Placement.VendorLeaf("GenuineIntel"), MsrPolicy = new byte[16],
            });
        }

        var refused = await Run("domain", "restore", "newer.xlsave", "--host", "embedded:hosts/a");
        Assert.Equal(1, refused.ExitCode);
        var error = Assert.Single(refused.StdErr.Split('\n'), l => l.StartsWith("error: ", StringComparison.Ordinal));
        Assert.Contains("GenuineIntel", error);
        Assert.Contains("Xen 4.20", error);
        Assert.Contains("--force", error);
        Assert.False(Directory.Exists(P("hosts/a/domains/newer")));

        var forced = await Run("domain", "restore", "newer.xlsave", "--host", "embedded:hosts/a", "--force");
        Assert.True(forced.ExitCode == 0, forced.StdErr);
        Assert.Contains("cpu.vendor", forced.StdErr);
        Assert.Contains("image.xen_version", forced.StdErr);
        Assert.True(Directory.Exists(P("hosts/a/domains/newer")));
    }
}
