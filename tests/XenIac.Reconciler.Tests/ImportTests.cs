using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;
using XenIac.Reconciler.Importing;
using XenIac.Reconciler.Manifests;
using XenIac.Reconciler.Planning;
using YamlDotNet.RepresentationModel;
using XenIac.Tests;

namespace XenIac.Reconciler.Tests;

/// <summary>Import: scanning a host and a savefile folder, writing a new manifest, and adding one entry to a file as a text edit.</summary>
public sealed class ImportTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-import-").FullName;
    private readonly HostProvider _hosts = new();

    private string P(string name) => Path.Combine(_dir, name);
    private HostSpec Spec => HostSpec.Embedded(P("host"));
    private IXenHost Host => _hosts.Get(Spec);

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(P("saves"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _hosts.DisposeAsync();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static ImportedDomain Saved(string name) => new() { Name = name, State = DesiredState.Saved };

    // ---- scalars -------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("web")]
    [InlineData("true")]
    [InlineData("null")]
    [InlineData("~")]
    [InlineData("yes")]
    [InlineData("1e3")]
    [InlineData("0x10")]
    [InlineData("012")]
    [InlineData("1:20")]
    [InlineData(".inf")]
    [InlineData("")]
    [InlineData("a: b")]
    [InlineData("# not a comment")]
    [InlineData("- item")]
    [InlineData("it's \"quoted\"")]
    [InlineData("../saves/with space/x.xlsave")]
    [InlineData("line\nbreak\ttab")]
    [InlineData("[flow], {map}")]
    [InlineData("ünïcode/路径")]
    [InlineData("@at `tick` %pct &amp *star !bang |pipe >gt")]
    public void A_scalar_reads_back_as_the_same_string_and_words_of_other_types_are_quoted(string value)
    {
        var written = YamlScalars.Value(value);
        Assert.DoesNotContain('\n', written);
        var yaml = new YamlStream();
        yaml.Load(new StringReader("k: " + written + "\n"));
        var node = (YamlScalarNode)((YamlMappingNode)yaml.Documents[0].RootNode).Children[new YamlScalarNode("k")];
        Assert.Equal(value, node.Value);
        if (value is "true" or "null" or "~" or "yes" or "1e3" or "0x10" or "012" or "1:20" or ".inf" or "")
            Assert.NotEqual(YamlDotNet.Core.ScalarStyle.Plain, node.Style);
        if (value == "web") Assert.Equal("web", written);
    }

    // ---- text edit ------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("# top\ndomains:\n  - name: a   # keep\n    state: saved\n# trailer\n", "  - name: new\n    state: saved\n    host: libxl\n", 4)]
    [InlineData("domains:\n- name: a\n  state: saved\n", "- name: new\n  state: saved\n  host: libxl\n", 3)]
    [InlineData("domains:\n  -   name: a\n      state: saved\n\n\n", "  -   name: new\n      state: saved\n      host: libxl\n", 3)]
    [InlineData("domains:\n  - name: a\n    state: saved\n    # a's own comment\n  # list comment\nversion: 1\n", "  - name: new\n    state: saved\n    host: libxl\n", 4)]
    [InlineData("domains:\r\n  - name: a\r\n    state: saved\r\n", "  - name: new\r\n    state: saved\r\n    host: libxl\r\n", 3)]
    [InlineData("domains:\n  - {name: a, state: saved}\n", "  - name: new\n    state: saved\n    host: libxl\n", 2)]
    [InlineData("domains:\n  - name: a\n    overrides:\n      settings:\n        memory: 8\n", "  - name: new\n    state: saved\n    host: libxl\n", 5)]
    [InlineData("domains:\n  - name: a\n    state: saved\n  - name: b\n    state: saved  # last", "\n  - name: new\n    state: saved\n    host: libxl", 5)]
    public void An_entry_goes_after_the_last_one_in_the_files_own_indentation_and_no_other_byte_changes(string original, string inserted, int atLine)
    {
        File.WriteAllText(P("m.yaml"), original);
        var draft = ManifestEdit.Open(P("m.yaml")).Add(Saved("new"), HostSpec.Libxl);
        // Everything but the inserted lines is the original, byte for byte.
        var offset = Math.Min(original.Length, string.Join('\n', original.Split('\n').Take(atLine)).Length + 1);
        Assert.Equal(original[..offset] + inserted + original[offset..], draft.Text);
        var loaded = ImportWriter.Validate(draft);
        Assert.Equal("new", loaded.Domains[^1].Name);
    }

    [Theory]
    [InlineData("domains: []   # none yet\nversion: 1\n", "domains:    # none yet\n  - name: new\n    state: saved\n    host: libxl\nversion: 1\n")]
    [InlineData("domains: []\n", "domains:\n  - name: new\n    state: saved\n    host: libxl\n")]
    [InlineData("domains:", "domains:\n  - name: new\n    state: saved\n    host: libxl")]
    [InlineData("version: 1\ndomains:\n# nothing yet\n", "version: 1\ndomains:\n  - name: new\n    state: saved\n    host: libxl\n# nothing yet\n")]
    public void An_empty_list_gets_its_first_entry_below_the_key(string original, string expected)
    {
        File.WriteAllText(P("m.yaml"), original);
        var draft = ManifestEdit.Open(P("m.yaml")).Add(Saved("new"), HostSpec.Libxl);
        Assert.Equal(expected, draft.Text);
        Assert.Equal("new", Assert.Single(ImportWriter.Validate(draft).Domains).Name);
    }

    [Fact]
    public void An_entry_says_what_differs_from_the_files_defaults_so_it_loads_as_imported()
    {
        File.WriteAllText(P("m.yaml"), $"defaults:\n  host: embedded:host\n  checkpoint: true\n  paused: true\n  format: legacy\n  savefileDir: saves\ndomains:\n");
        var edit = ManifestEdit.Open(P("m.yaml"));
        Assert.Equal(Spec, edit.DefaultHost);
        var draft = edit.Add(new ImportedDomain { Name = "new", State = DesiredState.Saved }, Spec);
        Assert.Equal("defaults:\n  host: embedded:host\n  checkpoint: true\n  paused: true\n  format: legacy\n  savefileDir: saves\ndomains:\n" +
                     "  - name: new\n    state: saved\n    paused: false\n    format: xl\n    checkpoint: false\n", draft.Text);
        var spec = Assert.Single(ImportWriter.Validate(draft).Domains);
        Assert.Equal(P("saves/new.xlsave"), spec.SavefilePath);
    }

    [Fact]
    public void A_domain_from_another_host_than_the_files_default_names_its_host_relative_to_the_manifest()
    {
        Directory.CreateDirectory(P("sub"));
        File.WriteAllText(P("sub/m.yaml"), "defaults:\n  host: embedded:../host\ndomains:\n  - name: a\n");
        var edit = ManifestEdit.Open(P("sub/m.yaml"));
        Assert.Equal(Spec, edit.DefaultHost);
        Assert.Equal(P("sub/saves"), edit.SavefileDir);
        var same = edit.Add(Saved("b"), Spec);
        Assert.EndsWith("  - name: b\n    state: saved\n", same.Text);
        var other = edit.Add(Saved("b"), HostSpec.Embedded(P("other host")));
        Assert.EndsWith("  - name: b\n    state: saved\n    host: embedded:../other host\n", other.Text);
        Assert.Equal(HostSpec.Embedded(P("other host")), ImportWriter.Validate(other).Domains[^1].Host);
    }

    [Fact]
    public async Task Folders_and_names_that_yaml_would_misread_are_quoted_and_load_back_as_the_same_paths()
    {
        var odd = P("saves #1: old, 'quoted' & [x]");
        Directory.CreateDirectory(odd);
        await SaveAsync("null", Path.GetRelativePath(_dir, Path.Combine(odd, "null.xlsave")));
        await SaveAsync("y", Path.GetRelativePath(_dir, Path.Combine(odd, "y-file.xlsave")));

        var scan = await Importer.ScanAsync(Host, odd);
        var draft = ManifestWriter.Compose(scan, P("xen-iac.yaml"), Spec, odd);
        var manifest = await ImportWriter.WriteAsync(draft, force: false, writeManifest: true);

        Assert.Contains("  savefileDir: \"saves #1: old, 'quoted' & [x]\"\n", draft.Text);
        Assert.Contains("  - name: 'null'\n", draft.Text);
        Assert.Contains("  - name: 'y'\n    savefile: \"saves #1: old, 'quoted' & [x]/y-file.xlsave\"\n", draft.Text);
        Assert.Equal([Path.Combine(odd, "null.xlsave"), Path.Combine(odd, "y-file.xlsave")], manifest.Domains.Select(d => d.SavefilePath));
        var plan = await Planner.PlanAsync(manifest, _hosts);
        Assert.False(plan.HasChanges || plan.HasErrors);
    }

    [Fact]
    public void A_folder_name_with_a_line_break_stays_inside_the_header_comment()
    {
        var draft = ManifestWriter.Compose(new ImportScan([], []), P("xen-iac.yaml"), HostSpec.Embedded(P("a\nversion: 2")), P("s\rx"));
        Assert.Equal(2, draft.Text.Split('\n').Count(l => l.StartsWith('#')));
        Assert.Empty(ImportWriter.Validate(draft).Domains);
        Assert.Contains("  host: \"embedded:a\\nversion: 2\"\n", draft.Text);
    }

    [Fact]
    public void A_domain_already_in_the_manifest_or_a_flow_list_is_refused()
    {
        File.WriteAllText(P("m.yaml"), "domains:\n  - name: a\n");
        var e = Assert.Throws<ImportException>(() => ManifestEdit.Open(P("m.yaml")).Add(Saved("a"), HostSpec.Libxl));
        Assert.Contains("'a' is already in", e.Message);
        Assert.Contains("(line 2)", e.Message);
        File.WriteAllText(P("m.yaml"), "domains: [ {name: a} ]\n");
        Assert.Contains("flow list", Assert.Throws<ImportException>(() => ManifestEdit.Open(P("m.yaml")).Add(Saved("b"), HostSpec.Libxl)).Message);
    }

    [Fact]
    public void A_utf8_byte_order_mark_and_the_files_mode_are_kept()
    {
        var bytes = new byte[] { 0xEF, 0xBB, 0xBF }.Concat("domains:\n  - name: a\n"u8.ToArray()).ToArray();
        File.WriteAllBytes(P("m.yaml"), bytes);
        File.SetUnixFileMode(P("m.yaml"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var draft = ManifestEdit.Open(P("m.yaml")).Add(Saved("b"), HostSpec.Libxl);
        ImportWriter.WriteAsync(draft, force: false, writeManifest: true).GetAwaiter().GetResult();
        var written = File.ReadAllBytes(P("m.yaml"));
        Assert.Equal(bytes, written[..bytes.Length]);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(P("m.yaml")));
    }

    // ---- scanning -------------------------------------------------------------------------------------------

    private async Task<string> SaveAsync(string name, string file, string type = "hvm")
    {
        await Host.CreateAsync(ConfigText.FromText($"name = \"{name}\"\ntype = \"{type}\"\nmemory = 4\nvcpus = 1\n"));
        await Host.SaveAsync(name, P(file), SaveOptions.Default);
        return P(file);
    }

    private static void StripHeader(string xlSavefile, string legacyPath)
    {
        long offset;
        using (var reader = SaveFileReader.Open(xlSavefile)) offset = reader.ImageOffset;
        File.WriteAllBytes(legacyPath, File.ReadAllBytes(xlSavefile)[(int)offset..]);
    }

    [Fact]
    public async Task A_folder_gives_xl_and_legacy_savefiles_and_skips_what_is_not_one_with_a_warning_each()
    {
        await SaveAsync("web", "saves/web.xlsave");
        await SaveAsync("renamed", "saves/file-name-differs.xlsave", type: "pv");
        await SaveAsync("tmp", "tmp.xlsave");
        StripHeader(P("tmp.xlsave"), P("saves/old.img"));
        File.WriteAllText(P("saves/README"), "not a savefile");
        File.WriteAllBytes(P("saves/empty.xlsave"), []);
        File.WriteAllText(P("saves/.xeniac-tmp-web.xlsave.1.abc"), "a writer's temp file");
        File.WriteAllBytes(P("saves/bad name.img"), File.ReadAllBytes(P("saves/old.img")));
        Directory.CreateDirectory(P("saves/sub"));

        var scan = await Importer.ScanAsync(Host, P("saves"));

        Assert.Equal(["old", "renamed", "web"], scan.Domains.Select(d => d.Name));
        Assert.All(scan.Domains, d => Assert.Equal(DesiredState.Saved, d.State));
        Assert.Equal(SavefileFormat.Legacy, scan.Domains[0].Format);
        Assert.Equal(P("saves/file-name-differs.xlsave"), scan.Domains[1].SavefilePath);
        Assert.Contains(scan.Warnings, w => w.StartsWith("warning: skipped " + P("saves/README") + ": not a savefile", StringComparison.Ordinal));
        Assert.Contains(scan.Warnings, w => w == "warning: skipped " + P("saves/empty.xlsave") + ": the file is empty");
        Assert.Contains(scan.Warnings, w => w.Contains("bad name.img") && w.Contains("cannot be named in a manifest"));
        Assert.DoesNotContain(scan.Warnings, w => w.Contains(".xeniac-tmp-") || w.Contains("sub"));
        Assert.Contains(scan.Warnings, w => w.StartsWith("note: " + P("saves/old.img") + " is a legacy savefile", StringComparison.Ordinal));
        Assert.Equal(4, scan.Warnings.Count);
    }

    [Fact]
    public async Task A_running_domain_whose_default_savefile_holds_another_domain_is_warned_about()
    {
        await SaveAsync("api", "saves/web.xlsave");
        await Host.CreateAsync(ConfigText.FromText("name = \"web\"\ntype = \"hvm\"\nmemory = 4\nvcpus = 1\n"));

        var scan = await Importer.ScanAsync(Host, P("saves"));

        Assert.Equal(["api", "web"], scan.Domains.Select(d => d.Name));
        Assert.Equal($"warning: 'web' would save to {P("saves/web.xlsave")}, which is the savefile of 'api'; give one of them another 'savefile:' before you save",
            Assert.Single(scan.Warnings));
    }

    [Fact]
    public async Task A_pipe_or_a_dangling_link_in_the_folder_is_skipped_without_being_opened()
    {
        await SaveAsync("web", "saves/web.xlsave");
        File.CreateSymbolicLink(P("saves/gone.xlsave"), P("nowhere.xlsave"));
        File.CreateSymbolicLink(P("saves/link.xlsave"), P("saves/web.xlsave"));
        // A loop ended the whole import with .NET's "Too many levels of symbolic links".
        File.CreateSymbolicLink(P("saves/loop1.xlsave"), P("saves/loop2.xlsave"));
        File.CreateSymbolicLink(P("saves/loop2.xlsave"), P("saves/loop1.xlsave"));
        Assert.True(Fifo.TryMake(P("saves/pipe.xlsave")), "mkfifo failed");

        // A pipe nobody writes to would block a reader forever; the scan must finish.
        var scan = await Importer.ScanAsync(Host, P("saves")).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal("web", Assert.Single(scan.Domains).Name);
        Assert.Contains("warning: skipped " + P("saves/pipe.xlsave") + ": not a regular file", scan.Warnings);
        Assert.Contains("warning: skipped " + P("saves/gone.xlsave") + ": not a regular file", scan.Warnings);
        Assert.Contains("warning: skipped " + P("saves/loop1.xlsave") + ": not a regular file", scan.Warnings);
        Assert.Contains("warning: skipped " + P("saves/loop2.xlsave") + ": not a regular file", scan.Warnings);
        // The link is a second savefile of web (the same file); one of the two is taken, the other named.
        Assert.Contains("warning: skipped " + P("saves/link.xlsave") + ": 'web' also has the equally new savefile " + P("saves/web.xlsave") + ", which is imported", scan.Warnings);
        Assert.Equal(5, scan.Warnings.Count);
    }

    [Fact]
    public async Task A_sealed_savefile_cut_short_or_appended_to_is_skipped_and_a_plan_naming_it_says_why()
    {
        // A copy that stopped early keeps its header intact: only the integrity record's length tells it apart.
        await SaveAsync("cut", "saves/cut.xlsave");
        await SaveAsync("long", "saves/long.xlsave");
        var full = new FileInfo(P("saves/cut.xlsave")).Length;
        using (var f = new FileStream(P("saves/cut.xlsave"), FileMode.Open)) f.SetLength(full / 2);
        using (var f = new FileStream(P("saves/long.xlsave"), FileMode.Append)) f.Write("tail"u8);

        var scan = await Importer.ScanAsync(Host, P("saves"));

        Assert.Empty(scan.Domains);
        Assert.Contains(scan.Warnings, w => w.StartsWith("warning: skipped " + P("saves/cut.xlsave") + ": the savefile is cut short: its integrity record states ", StringComparison.Ordinal));
        Assert.Contains(scan.Warnings, w => w.StartsWith("warning: skipped " + P("saves/long.xlsave") + ": the savefile is longer than it was written", StringComparison.Ordinal));

        File.WriteAllText(P("xen-iac.yaml"), $"version: 1\ndefaults:\n  host: {Spec}\n  savefileDir: saves\ndomains:\n  - name: cut\n    state: saved\n  - name: long\n    state: saved\n");
        var plan = await Planner.PlanAsync(ManifestLoader.Load(P("xen-iac.yaml")), _hosts);
        Assert.All(plan.Domains, d => Assert.Contains("is not a valid savefile (the savefile ", d.Error, StringComparison.Ordinal));
        Assert.Contains("cut short", plan.Domains[0].Error, StringComparison.Ordinal);
        Assert.Contains("longer than it was written", plan.Domains[1].Error, StringComparison.Ordinal);
    }

    /// <summary>
    /// An unsealed savefile says nothing of its length: a copy cut short, being newer, was imported over the whole
    /// file beside it. Its records are walked now, and the whole one is imported.
    /// </summary>
    [Fact]
    public async Task An_unsealed_savefile_cut_short_is_skipped_for_the_whole_one()
    {
        Directory.CreateDirectory(P("saves"));
        var example = Path.Combine(XenIac.Tests.SharedFixtures.RepoRoot, "examples", "savefiles", "demo.xlsave");
        File.Copy(example, P("saves/demo.xlsave"));
        Assert.Null(XenIac.Core.SaveFiles.SaveFileReader.Open(P("saves/demo.xlsave")).Header.Integrity); // unsealed, as xl writes them
        var bytes = File.ReadAllBytes(example);
        File.WriteAllBytes(P("saves/trunc.xlsave"), bytes[..(bytes.Length / 2)]);
        File.SetLastWriteTimeUtc(P("saves/trunc.xlsave"), File.GetLastWriteTimeUtc(P("saves/demo.xlsave")).AddMinutes(5));

        var scan = await Importer.ScanAsync(Host, P("saves"));

        Assert.Equal(P("saves/demo.xlsave"), Assert.Single(scan.Domains).SavefilePath);
        Assert.Contains(scan.Warnings, w => w.StartsWith("warning: skipped " + P("saves/trunc.xlsave") + ": its image is damaged: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_savefile_reached_through_a_link_imports_and_plans_with_no_changes()
    {
        await SaveAsync("web", "web.xlsave");
        File.CreateSymbolicLink(P("saves/web.xlsave"), P("web.xlsave"));

        var scan = await Importer.ScanAsync(Host, P("saves"));
        var manifest = await ImportWriter.WriteAsync(ManifestWriter.Compose(scan, P("xen-iac.yaml"), Spec, P("saves")), false, true);

        Assert.Empty(scan.Warnings);
        Assert.Equal(P("saves/web.xlsave"), Assert.Single(manifest.Domains).SavefilePath);
        var plan = await Planner.PlanAsync(manifest, _hosts);
        Assert.False(plan.HasErrors, plan.Domains[0].Error);
        Assert.False(plan.HasChanges);
    }

    [Fact]
    public async Task Two_savefiles_of_one_domain_give_the_newest_and_a_running_domain_wins_over_its_savefile()
    {
        var older = await SaveAsync("a", "saves/a-monday.xlsave");
        File.SetLastWriteTimeUtc(older, DateTime.UtcNow.AddDays(-1));
        File.Copy(older, P("saves/a-tuesday.xlsave"));
        File.SetLastWriteTimeUtc(P("saves/a-tuesday.xlsave"), DateTime.UtcNow);
        await SaveAsync("b", "saves/b.xlsave");
        await Host.CreateAsync(ConfigText.FromText("name = \"b\"\ntype = \"pvh\"\nmemory = 4\nvcpus = 2\nkernel = \"/boot/vmlinuz\"\n"));
        await Host.PauseAsync("b");

        var scan = await Importer.ScanAsync(Host, P("saves"));

        var a = scan.Domains.Single(d => d.Name == "a");
        Assert.Equal(P("saves/a-tuesday.xlsave"), a.SavefilePath);
        Assert.Contains(scan.Warnings, w => w.Contains("skipped " + older) && w.Contains("newer savefile"));
        var b = scan.Domains.Single(d => d.Name == "b");
        Assert.Equal(DesiredState.Running, b.State);
        Assert.True(b.Paused);
        Assert.Equal(P("saves/b.xlsave"), b.SavefilePath);
        var config = DomainConfig.FromXl(XlConfig.Parse(System.Text.Encoding.UTF8.GetString(b.Config!.Content)));
        Assert.Equal(("b", "pvh", (long?)2, "/boot/vmlinuz"), (config.Name, config.TypeName, config.Vcpus, config.Kernel));
    }

    [Fact]
    public async Task A_missing_savefile_folder_is_an_error_and_an_unknown_name_says_where_it_looked()
    {
        Assert.Contains("does not exist", (await Assert.ThrowsAsync<ImportException>(() => Importer.ScanAsync(Host, P("nope")))).Message);
        var e = await Assert.ThrowsAsync<ImportException>(() => Importer.FindAsync(Host, "ghost", P("saves")));
        Assert.Equal($"no domain named 'ghost' on {Spec} and no savefile of it in {P("saves")}", e.Message);
    }

    [Fact]
    public async Task A_composed_manifest_plans_with_no_changes_and_refuses_to_overwrite_without_force()
    {
        await SaveAsync("saved1", "saves/saved1.xlsave");
        await SaveAsync("tmp", "tmp.xlsave");
        StripHeader(P("tmp.xlsave"), P("saves/legacy1.img"));
        await Host.CreateAsync(ConfigText.FromText("name = \"run1\"\ntype = \"hvm\"\nmemory = 4\nvcpus = 1\ndisk = [ '/srv/r.img,raw,xvda,rw' ]\n"));
        await Host.CreateAsync(ConfigText.FromText("name = \"true\"\ntype = \"pv\"\nmemory = 4\nvcpus = 1\nkernel = \"/k\"\n"), paused: true);

        var scan = await Importer.ScanAsync(Host, P("saves"));
        var draft = ManifestWriter.Compose(scan, P("out/xen-iac.yaml"), Spec, P("saves"));
        Directory.CreateDirectory(P("out"));
        var manifest = await ImportWriter.WriteAsync(draft, force: false, writeManifest: true);

        Assert.Contains("  host: embedded:../host\n  savefileDir: ../saves\n", draft.Text);
        Assert.Contains("  - name: 'true'\n    config: configs/true.cfg\n    state: running\n    paused: true\n", draft.Text);
        Assert.Contains("  - name: legacy1\n    state: saved\n    format: legacy\n", draft.Text);
        Assert.True(File.Exists(P("out/configs/run1.cfg")));
        var plan = await Planner.PlanAsync(ManifestLoader.Load(P("out/xen-iac.yaml")), _hosts);
        Assert.False(plan.HasErrors, string.Join("; ", plan.Domains.Select(d => d.Error)));
        Assert.False(plan.HasChanges, string.Join("; ", plan.Domains.Select(d => $"{d.Spec.Name}: {d.Action} {d.Reason}")));
        Assert.Equal(4, manifest.Domains.Count);

        var again = ManifestWriter.Compose(scan, P("out/xen-iac.yaml"), Spec, P("saves"));
        Assert.Contains("exists; pass --force", (await Assert.ThrowsAsync<ImportException>(() => ImportWriter.WriteAsync(again, false, true))).Message);
        File.WriteAllText(P("out/configs/run1.cfg"), "# edited by hand\n");
        Assert.Contains("exists with other content", (await Assert.ThrowsAsync<ImportException>(() => ImportWriter.WriteAsync(again, false, false))).Message);
        Assert.Equal("# edited by hand\n", File.ReadAllText(P("out/configs/run1.cfg")));
        await ImportWriter.WriteAsync(again, force: true, writeManifest: true);
        Assert.NotEqual("# edited by hand\n", File.ReadAllText(P("out/configs/run1.cfg")));
    }

    [Theory]
    [InlineData("ssh://admin@dom0-a:2222")]
    [InlineData("ssh://dom0-b?host=embedded:/srv/xen-host")]
    public void A_remote_host_is_written_as_it_was_given_not_as_libxl_or_a_local_folder(string spec) =>
        Assert.Equal(HostSpec.Parse(spec).ToString(), ManifestWriter.HostText(HostSpec.Parse(spec), _dir));
}
