using System.Text.Json;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;
using XenIac.Hosts.Embedded;

namespace XenIac.Cli.Tests;

/// <summary>xen-iac import end to end: the real tool process against an embedded host folder and a folder of savefiles.</summary>
public sealed class ImportCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-cli-import-").FullName;

    private string P(string name) => Path.Combine(_dir, name);

    private Task<CliResult> Run(params string[] args) => CliRunner.RunAsync(args, workingDirectory: _dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static ConfigText Cfg(string name, string type, int vcpus = 1) => ConfigText.FromText(type switch
    {
        "hvm" => $"name = \"{name}\"\ntype = \"hvm\"\nmemory = 4\nvcpus = {vcpus}\ndisk = [ '/srv/{name}.img,raw,xvda,rw' ]\nvif = [ 'mac=00:16:3e:00:00:{vcpus:x2},bridge=xenbr0' ]\n",
        _ => $"name = \"{name}\"\ntype = \"{type}\"\nmemory = 4\nvcpus = {vcpus}\nkernel = '/boot/vmlinuz-{name}'\ncmdline = 'root=/dev/xvda ro'\n",
    });

    /// <summary>
    /// The 20 domains of the issue: 8 running and 4 paused on the host, 8 saved in a folder (2 of them legacy,
    /// without a header), PV, PVH and HVM, with names YAML would misread if they were not quoted.
    /// </summary>
    private async Task<IReadOnlyList<string>> TwentyDomainsAsync()
    {
        Directory.CreateDirectory(P("saves"));
        var names = new List<string>();
        await using var host = EmbeddedHost.Open(P("host"));
        string[] types = ["hvm", "pv", "pvh"];
        for (var i = 0; i < 20; i++)
        {
            var name = i switch { 0 => "true", 1 => "0x10", 13 => "1e3", _ => $"dom-{i:00}" };
            names.Add(name);
            await host.CreateAsync(Cfg(name, types[i % 3], 1 + i % 2), paused: i is >= 8 and < 12);
            if (i < 12) continue;
            await host.SaveAsync(name, P($"saves/{name}.xlsave"), SaveOptions.Default);
            if (i >= 18)
            {
                // The configless legacy format: the image alone, as old xl wrote it.
                long offset;
                using (var reader = SaveFileReader.Open(P($"saves/{name}.xlsave"))) offset = reader.ImageOffset;
                File.WriteAllBytes(P($"saves/{name}.img"), File.ReadAllBytes(P($"saves/{name}.xlsave"))[(int)offset..]);
                File.Delete(P($"saves/{name}.xlsave"));
            }
        }
        return names;
    }

    [Fact]
    public async Task Importing_a_host_of_20_domains_and_a_savefile_folder_gives_a_manifest_that_plans_with_no_changes()
    {
        var names = await TwentyDomainsAsync();

        var import = await Run("import", "--host", "embedded:host", "--savefiles", "saves", "--out", "xen-iac.yaml");
        Assert.True(import.ExitCode == 0, import.StdErr);
        // The six xl savefiles store disks or kernels: restoring them will need consent, and import says so; the
        // two legacy ones store no config at all.
        var notes = import.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(8, notes.Length);
        Assert.Equal(6, notes.Count(n => System.Text.RegularExpressions.Regex.IsMatch(n,
            "^note: the stored config of .*saves/.*xlsave names what dom0 would run or open .*needs trustConfig: true")));
        Assert.Equal(2, notes.Count(n => n.StartsWith("note: " + P("saves/dom-1"), StringComparison.Ordinal) && n.Contains("is a legacy savefile")));
        Assert.Contains("Imported 20 domains (12 running, 8 saved)", import.StdOut);

        var plan = await Run("plan", "--detailed-exitcode", "--show-unchanged");
        Assert.True(plan.ExitCode == 0, plan.StdOut + plan.StdErr);
        Assert.Contains("No changes", plan.StdOut);

        var json = await Run("plan", "--json");
        var domains = JsonDocument.Parse(json.StdOut).RootElement.GetProperty("domains").EnumerateArray().ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal), domains.Select(d => d.GetProperty("name").GetString()!));
        Assert.All(domains, d => Assert.Equal("none", d.GetProperty("action").GetString()));

        var text = File.ReadAllText(P("xen-iac.yaml"));
        Assert.Contains("  host: embedded:host\n  savefileDir: saves\n", text);
        Assert.Contains("  - name: 'true'\n    config: configs/true.cfg\n    state: running\n", text);
        Assert.Contains("  - name: '0x10'\n", text);
        Assert.Contains("  - name: '1e3'\n    state: saved\n", text);
        Assert.Contains("  - name: dom-08\n    config: configs/dom-08.cfg\n    state: running\n    paused: true\n", text);
        Assert.Contains("  - name: dom-19\n    state: saved\n    format: legacy\n", text);
        Assert.Equal(12, Directory.GetFiles(P("configs"), "*.cfg").Length);
        // The configs are xl.cfg converted from what the host remembers, and read back as the same domain.
        var pvh = DomainConfig.FromXl(XlConfig.Parse(File.ReadAllText(P("configs/dom-02.cfg"))));
        Assert.Equal(("dom-02", "pvh", "/boot/vmlinuz-dom-02"), (pvh.Name, pvh.TypeName, pvh.Kernel));

        // Printed instead of written: the same manifest.
        var printed = await Run("import", "--host", "embedded:host", "--savefiles", "saves");
        Assert.Equal(0, printed.ExitCode);
        Assert.Equal(text, printed.StdOut);
    }

    [Fact]
    public async Task Importing_one_domain_keeps_every_other_byte_of_a_commented_manifest_and_plans_with_no_changes()
    {
        await using (var host = EmbeddedHost.Open(P("host")))
        {
            await host.CreateAsync(Cfg("web", "hvm"));
            await host.CreateAsync(Cfg("db", "pvh"));
            await host.CreateAsync(Cfg("batch", "pv"));
            Directory.CreateDirectory(P("saves"));
            await host.SaveAsync("batch", P("saves/batch.xlsave"), SaveOptions.Default);
        }
        Assert.Equal(0, (await Run("import", "--host", "embedded:host", "--out", "all.yaml")).ExitCode);
        File.WriteAllText(P("web.cfg"), Cfg("web", "hvm").Text);
        var original = "# Production domains; reviewed in PR #12.\r\n" +
                       "version: 1\r\n" +
                       "defaults:\r\n" +
                       "  host: embedded:host     # the lab host\r\n" +
                       "\r\n" +
                       "domains:\r\n" +
                       "# --- web tier ---\r\n" +
                       "- name: web\r\n" +
                       "  config: web.cfg   # hand-written\r\n" +
                       "  state: running\r\n" +
                       "  # no overrides yet\r\n" +
                       "\r\n" +
                       "# end of file\r\n";
        File.WriteAllText(P("xen-iac.yaml"), original);

        var db = await Run("import", "db", "-f", "xen-iac.yaml");
        Assert.True(db.ExitCode == 0, db.StdErr);
        Assert.Contains("Added 'db' (running)", db.StdOut);
        var expected = original.Replace("  # no overrides yet\r\n",
            "  # no overrides yet\r\n- name: db\r\n  config: configs/db.cfg\r\n  state: running\r\n");
        Assert.Equal(expected, File.ReadAllText(P("xen-iac.yaml")));

        // A saved domain is found in the manifest's savefile folder (saves/, the default).
        var batch = await Run("import", "batch", "-f", "xen-iac.yaml", "--json");
        Assert.True(batch.ExitCode == 0, batch.StdErr);
        Assert.Equal("saved", JsonDocument.Parse(batch.StdOut).RootElement.GetProperty("domains")[0].GetProperty("state").GetString());
        var db_ = "- name: db\r\n  config: configs/db.cfg\r\n  state: running\r\n";
        Assert.Equal(expected.Replace(db_, db_ + "- name: batch\r\n  state: saved\r\n"), File.ReadAllText(P("xen-iac.yaml")));

        foreach (var name in new[] { "db", "batch" })
        {
            var plan = await Run("plan", "--detailed-exitcode", "--target", name);
            Assert.True(plan.ExitCode == 0, plan.StdOut + plan.StdErr);
        }
        Assert.Equal(0, (await Run("plan", "--detailed-exitcode")).ExitCode);
    }

    private static void OneErrorLine(CliResult result, string contains)
    {
        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains(contains, line);
    }

    [Fact]
    public async Task Refusals_exit_1_with_one_error_line_and_change_nothing()
    {
        await using (var host = EmbeddedHost.Open(P("host"))) await host.CreateAsync(Cfg("web", "hvm"));
        var manifest = "domains:\n  - name: web\n    state: running\n    host: embedded:host\n";
        File.WriteAllText(P("xen-iac.yaml"), manifest);

        OneErrorLine(await Run("import", "web", "-f", "xen-iac.yaml"), "'web' is already in");
        OneErrorLine(await Run("import", "ghost", "-f", "xen-iac.yaml", "--host", "embedded:host"), "no domain named 'ghost' on embedded:");
        Assert.Equal(manifest, File.ReadAllText(P("xen-iac.yaml")));

        OneErrorLine(await Run("import", "--host", "embedded:host", "--out", "xen-iac.yaml"), "xen-iac.yaml exists; pass --force");
        Assert.Equal(manifest, File.ReadAllText(P("xen-iac.yaml")));
        Assert.False(Directory.Exists(P("configs")));
        var forced = await Run("import", "--host", "embedded:host", "--out", "xen-iac.yaml", "--force");
        Assert.Equal(0, forced.ExitCode);
        Assert.Contains("config: configs/web.cfg", File.ReadAllText(P("xen-iac.yaml")));

        // What can never be written is said first: it said "exists; pass --force", and with --force that it cannot be.
        OneErrorLine(await Run("import", "--host", "embedded:host", "--out", "/dev/null"), "'/dev/null' is not a regular file");
        OneErrorLine(await Run("import", "--host", "embedded:missing", "--out", "new.yaml"), "embedded host folder '" + P("missing") + "' does not exist");
        Assert.False(Directory.Exists(P("missing")));
        OneErrorLine(await Run("import", "--host", "embedded:host", "--savefiles", "nope"), "savefile folder 'nope' does not exist");
        OneErrorLine(await Run("import", "-f", "xen-iac.yaml"), "give its NAME");
        OneErrorLine(await Run("import", "web", "--out", "x.yaml"), "give one of them");
        OneErrorLine(await Run("import", "web", "-f", "none.yaml"), "manifest not found");
        // A missing manifest: the line says how to get one (the library's message does not: the MSBuild tasks have no -f).
        var missing = await Run("plan", "-f", "none.yaml");
        OneErrorLine(missing, "manifest not found");
        OneErrorLine(missing, "(give another with -f FILE, or write one for what a host has with 'xen-iac import --host HOST -o none.yaml')");
        // In another folder: the suggestion writes where the user looked, not into the current folder.
        OneErrorLine(await Run("plan", "-f", "sub/none.yaml"), "'xen-iac import --host HOST -o sub/none.yaml'");
    }

    [Fact]
    public async Task Files_that_are_not_savefiles_are_skipped_with_a_warning_and_the_rest_imported()
    {
        Directory.CreateDirectory(P("saves"));
        await using (var host = EmbeddedHost.Open(P("host")))
        {
            await host.CreateAsync(Cfg("keep", "pv"));
            await host.SaveAsync("keep", P("saves/keep.xlsave"), SaveOptions.Default);
            await host.CreateAsync(Cfg("keep", "pv"));
        }
        File.WriteAllText(P("saves/notes.txt"), "not a savefile at all");
        File.WriteAllBytes(P("saves/truncated.xlsave"), File.ReadAllBytes(P("saves/keep.xlsave"))[..20]);

        var import = await Run("import", "--host", "embedded:host", "--savefiles", "saves", "--out", "xen-iac.yaml");
        Assert.Equal(0, import.ExitCode);
        var lines = import.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("warning: skipped " + P("saves/notes.txt") + ": not a savefile", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("warning: skipped " + P("saves/truncated.xlsave"), StringComparison.Ordinal));
        // The domain runs and has a savefile: imported as running, with that savefile.
        Assert.Contains(lines, l => l.StartsWith("note: 'keep' runs on", StringComparison.Ordinal));
        Assert.Equal(3, lines.Length);
        Assert.Equal(0, (await Run("plan", "--detailed-exitcode")).ExitCode);

        // --json without --out: the manifest text, the domains and the same warnings, for scripts.
        var json = await Run("import", "--host", "embedded:host", "--savefiles", "saves", "--json");
        Assert.Equal(0, json.ExitCode);
        var root = JsonDocument.Parse(json.StdOut).RootElement;
        Assert.Equal(File.ReadAllText(P("xen-iac.yaml")), root.GetProperty("yaml").GetString());
        Assert.False(root.TryGetProperty("manifest", out _));
        var keep = Assert.Single(root.GetProperty("domains").EnumerateArray().ToList());
        Assert.Equal(("keep", "running", P("saves/keep.xlsave"), P("configs/keep.cfg")),
            (keep.GetProperty("name").GetString(), keep.GetProperty("state").GetString(), keep.GetProperty("savefile").GetString(), keep.GetProperty("config").GetString()));
        Assert.Equal(lines, root.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()!).ToArray());
    }
}
