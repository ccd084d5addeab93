using XenIac.Reconciler.Manifests;

namespace XenIac.Reconciler.Tests;

public sealed class ManifestLoaderTests
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-manifest-").FullName;

    private string Path(string name) => System.IO.Path.Combine(_dir, name);

    private Manifest Load(string yaml) => ManifestLoader.Parse(yaml, Path("xen-iac.yaml"));

    private ManifestException Fails(string yaml) => Assert.Throws<ManifestException>(() => Load(yaml));

    public ManifestLoaderTests()
    {
        File.WriteAllText(Path("web.cfg"), "name = \"web\"\n");
        File.WriteAllText(Path("web-alt.cfg"), "name = \"web\"\n");
    }

    [Fact]
    public void Defaults_apply_paths_resolve_against_the_manifest_and_settings_are_typed()
    {
        var m = Load("""
            version: 1
            defaults:
              host: embedded:./state
              state: saved
              savefileDir: out
            domains:
              - name: web
                config: web.cfg
                overrides:
                  config: web-alt.cfg
                  settings:
                    memory: 512
                    bootloader: pygrub
                    disk: ["/dev/vg/web,raw,xvda,rw"]
                    acpi: true
              - name: db
                state: running
                checkpoint: true
                paused: true
                savefile: db.img
                format: legacy
                config: web.cfg
                host: libxl
            """);

        var web = m.Domains[0];
        Assert.Equal("web", web.Name);
        Assert.Equal(DesiredState.Saved, web.State);
        Assert.Equal("embedded:" + Path("state"), web.Host.ToString());
        Assert.Equal(Path("web.cfg"), web.ConfigPath);
        Assert.Equal(Path("web-alt.cfg"), web.OverrideConfigPath);
        Assert.Equal(System.IO.Path.Combine(Path("out"), "web.xlsave"), web.SavefilePath);
        Assert.Equal(["memory", "bootloader", "disk", "acpi"], web.OverrideSettings.Select(s => s.Key));
        Assert.Equal(512, web.OverrideSettings[0].Value.Number);
        Assert.Equal("pygrub", web.OverrideSettings[1].Value.String);
        Assert.Equal(["/dev/vg/web,raw,xvda,rw"], web.OverrideSettings[2].Value.List!);
        Assert.Equal(1, web.OverrideSettings[3].Value.Number);
        Assert.Equal(new SourceLocation(Path("xen-iac.yaml"), 7, 11), web.Location);

        var db = m.Domains[1];
        Assert.Equal(DesiredState.Running, db.State);
        Assert.True(db.Checkpoint);
        Assert.True(db.Paused);
        Assert.Equal(SavefileFormat.Legacy, db.Format);
        Assert.Equal(Path("db.img"), db.SavefilePath);
        Assert.Equal("libxl", db.Host.ToString());
    }

    [Fact]
    public void Unknown_keys_are_errors_at_their_line_and_column()
    {
        var e = Fails("""
            domains:
              - name: web
                config: web.cfg
                chekpoint: true
            """);
        var error = Assert.Single(e.Errors);
        Assert.Equal(4, error.Location.Line);
        Assert.Equal(5, error.Location.Column);
        Assert.Contains("unknown key 'chekpoint'", error.Message);
        Assert.Contains("checkpoint", error.Message);
        Assert.StartsWith($"{Path("xen-iac.yaml")}:4:5: ", e.Message);
    }

    [Fact]
    public void Wrong_types_are_errors_with_what_was_expected()
    {
        var e = Fails("""
            domains:
              - name: web
                checkpoint: yes
                state: hibernating
                paused: [true]
            """);
        Assert.Equal(3, e.Errors.Count);
        Assert.Contains(e.Errors, x => x.Location.Line == 3 && x.Message.Contains("true or false"));
        Assert.Contains(e.Errors, x => x.Location.Line == 4 && x.Message.Contains("running, saved, absent"));
        Assert.Contains(e.Errors, x => x.Location.Line == 5 && x.Message.Contains("true or false"));
    }

    [Fact]
    public void Duplicate_names_point_at_the_second_and_name_the_first()
    {
        var e = Fails("""
            domains:
              - name: web
              - name: db
              - name: web
            """);
        var error = Assert.Single(e.Errors);
        Assert.Equal(4, error.Location.Line);
        Assert.Contains("duplicate domain name 'web' (first defined at line 2)", error.Message);
    }

    [Fact]
    public void Two_domains_on_one_savefile_are_an_error_at_the_second()
    {
        var e = Fails("""
            domains:
              - name: s1
                state: saved
                savefile: same.xlsave
              - name: s2
                state: saved
                savefile: ./same.xlsave
            """);
        var error = Assert.Single(e.Errors);
        Assert.Equal(7, error.Location.Line);
        Assert.Contains("domain 's2' has the savefile of domain 's1' (line 4)", error.Message);
    }

    [Fact]
    public void Missing_files_are_errors_at_the_path_value()
    {
        var e = Fails("""
            domains:
              - name: web
                config: nope.cfg
                overrides:
                  config: also-missing.cfg
            """);
        Assert.Equal(2, e.Errors.Count);
        Assert.Equal((3, 13), (e.Errors[0].Location.Line, e.Errors[0].Location.Column));
        Assert.Contains("'config' file not found: nope.cfg", e.Errors[0].Message);
        Assert.Equal(5, e.Errors[1].Location.Line);
    }

    [Theory]
    [InlineData("version: 1\ndomains:\n\t- name: a\n", 3, 1)]
    [InlineData("version: 1\ndomains:\n  - name: a\n    state: saved\n\tconfig: x\n", 5, 1)]
    [InlineData("version: 1\ndomains:\n  - name: a\n \tstate: saved\n", 4, 2)]
    public void A_tab_in_the_indentation_is_located_at_the_tab(string text, int line, int column)
    {
        // The scanner put these at the mapping it was reading (1:1) or at the end of the line before.
        var error = Assert.Single(Fails(text).Errors);
        Assert.Contains("tab", error.Message, StringComparison.Ordinal);
        Assert.Equal((line, column), (error.Location.Line, error.Location.Column));
    }

    [Fact]
    public void A_config_that_names_a_folder_says_so()
    {
        var e = Fails($$"""
            domains:
              - name: web
                config: {{System.IO.Path.GetTempPath()}}
            """);
        Assert.Contains("'config' names a folder, not a file", Assert.Single(e.Errors).Message);
    }

    [Fact]
    public void Invalid_yaml_is_reported_with_its_place()
    {
        var e = Fails("domains:\n  - name: web\n    config: [web.cfg\n");
        var error = Assert.Single(e.Errors);
        Assert.Contains("invalid YAML", error.Message);
        Assert.True(error.Location.Line >= 3);
    }

    [Fact]
    public void A_key_given_twice_is_named_at_its_place()
    {
        var e = Fails("version: 1\nversion: 1\ndomains: []\n");
        var error = Assert.Single(e.Errors);
        Assert.Equal("the key 'version' appears twice in one mapping", error.Message);
        Assert.Equal(2, error.Location.Line);
    }

    [Fact]
    public void Duplicate_keys_in_a_mapping_are_reported_by_place()
    {
        var e = Fails("domains:\n  - name: web\n    name: db\n");
        Assert.Equal(3, Assert.Single(e.Errors).Location.Line);
    }

    [Theory]
    [InlineData("domains:\n  - name: web\n    state: saved\n    checkpoint: true\n", "contradicts state 'saved'")]
    [InlineData("domains:\n  - name: web\n    format: legacy\n", "legacy savefile stores no config")]
    [InlineData("domains:\n  - name: 'web server'\n", "invalid domain name")]
    [InlineData("domains:\n  - name: web\n    host: xenserver\n", "unknown host 'xenserver'")]
    [InlineData("domains:\n  - name: web\n    overrides:\n      settings:\n        9lives: 1\n", "invalid setting name '9lives'")]
    [InlineData("domains:\n  - name: web\n    overrides:\n      settings:\n        vif: [{mac: x}]\n", "list items must be strings")]
    [InlineData("version: 2\ndomains: []\n", "unsupported manifest version 2")]
    [InlineData("version: \"2\"\ndomains: []\n", "'version' must be a whole number")]
    [InlineData("version: one\ndomains: []\n", "'version' must be a whole number")]
    [InlineData("hosts: []\n", "missing 'domains'")]
    [InlineData("- name: web\n", "a manifest is a mapping")]
    public void Semantic_errors_are_explained(string yaml, string expected)
    {
        Assert.Contains(Fails(yaml).Errors, e => e.Message.Contains(expected));
    }

    /// <summary>Compose files quote their version; "'version' must be a whole number" for version "1" read as a riddle.</summary>
    [Theory]
    [InlineData("version: 1\n")]
    [InlineData("version: \"1\"\n")]
    [InlineData("version: '1'\n")]
    [InlineData("")]
    public void Version_1_may_be_quoted(string version) => Assert.Empty(Load(version + "domains: []\n").Domains);

    [Fact]
    public void A_missing_manifest_file_is_a_manifest_error()
    {
        var e = Assert.Throws<ManifestException>(() => ManifestLoader.Load(Path("none.yaml")));
        Assert.Contains("manifest not found", e.Message);
        Assert.True(e.ManifestMissing);
        Assert.False(Assert.Throws<ManifestException>(() => ManifestLoader.Parse("version: 1\n", Path("x.yaml"))).ManifestMissing);
    }
}
