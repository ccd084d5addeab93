using NJsonSchema;
using XenIac.Hosts;
using XenIac.Reconciler.Applying;
using XenIac.Reconciler.Manifests;
using XenIac.Reconciler.Planning;

namespace XenIac.Reconciler.Tests;

/// <summary>Labels and target patterns, --replace, saved plans and drift against a real embedded host in a temp folder.</summary>
public sealed class GitOpsPlanningTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-gitops-").FullName;
    private readonly HostProvider _hosts = new();

    private string P(string name) => Path.Combine(_dir, name);
    private string HostText => "embedded:" + P("host");
    private IXenHost Host => _hosts.Get(HostSpec.Parse(HostText));

    public Task InitializeAsync()
    {
        foreach (var n in new[] { "web-1", "web-2", "db" }) File.WriteAllText(P(n + ".cfg"), ReconcilerTests.Cfg(n));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _hosts.DisposeAsync();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private Manifest Manifest(string domains)
    {
        File.WriteAllText(P("xen-iac.yaml"), $"defaults:\n  host: {HostText}\ndomains:\n{domains}");
        return ManifestLoader.Load(P("xen-iac.yaml"));
    }

    private Manifest Three() => Manifest("""
          - name: web-1
            config: web-1.cfg
            labels: {rack: a, tier: web}
          - name: web-2
            config: web-2.cfg
            state: saved
            labels:
              rack: b
              tier: web
          - name: db
            config: db.cfg
            state: saved
            labels: {rack: a}

        """);

    private static IEnumerable<string> Names(IEnumerable<DomainSpec> specs) => specs.Select(d => d.Name);

    [Fact]
    public void Labels_load_per_domain_and_bad_ones_are_errors_at_their_line()
    {
        var m = Three();
        Assert.Equal("a", m.Domains[0].Labels["rack"]);
        Assert.Equal("web", m.Domains[1].Labels["tier"]);
        Assert.Empty(ManifestLoader.Parse("domains:\n  - name: x\n", P("x.yaml")).Domains[0].Labels);

        var e = Assert.Throws<ManifestException>(() => ManifestLoader.Parse(
            "domains:\n  - name: x\n    labels:\n      rack: a\n      \"bad key\": b\n      tier: [web]\n      zone: \"a,b\"\n", P("x.yaml")));
        Assert.Equal(3, e.Errors.Count);
        Assert.Contains(e.Errors, x => x.Location.Line == 5 && x.Message.Contains("invalid label name 'bad key'"));
        Assert.Contains(e.Errors, x => x.Location.Line == 6 && x.Message.Contains("label 'tier' must be a string"));
        Assert.Contains(e.Errors, x => x.Location.Line == 7 && x.Message.Contains("invalid value 'a,b'"));
    }

    [Theory]
    [InlineData("domains:\n  - name: x\n    labels:\n      \"bad key\": a\n")]
    [InlineData("domains:\n  - name: x\n    labels:\n      rack: [a]\n")]
    [InlineData("domains:\n  - name: x\n    labels: rack\n")]
    [InlineData("domains:\n  - name: x\n    labels:\n      rack: null\n")]
    [InlineData("domains:\n  - name: x\n    labels:\n      rack: ~\n")]
    public async Task The_schema_rejects_the_labels_the_loader_rejects(string yaml)
    {
        var schema = await JsonSchema.FromJsonAsync(ManifestSchema.Text);
        var stream = new YamlDotNet.RepresentationModel.YamlStream();
        stream.Load(new StringReader(yaml));
        Assert.NotEmpty(schema.Validate(ManifestSchemaTests.ToJson(stream.Documents[0].RootNode)!.ToJsonString()));
        Assert.Throws<ManifestException>(() => ManifestLoader.Parse(yaml, P("x.yaml")));
    }

    [Fact]
    public void A_yaml_null_is_a_missing_value_not_the_text_null()
    {
        var e = Assert.Throws<ManifestException>(() => ManifestLoader.Parse(
            "domains:\n  - name: x\n    labels:\n      rack: null\n    config: ~\n    overrides:\n      settings:\n        memory: NULL\n", P("x.yaml")));
        Assert.Contains(e.Errors, x => x.Location.Line == 4 && x.Message.Contains("label 'rack' must be a string"));
        Assert.Contains(e.Errors, x => x.Location.Line == 5 && x.Message.Contains("'config' is null"));
        Assert.Contains(e.Errors, x => x.Location.Line == 8 && x.Message.Contains("setting 'memory' is null"));
        // Quoted, it is the text.
        Assert.Equal("null", ManifestLoader.Parse("domains:\n  - name: x\n    labels:\n      rack: \"null\"\n", P("x.yaml")).Domains[0].Labels["rack"]);
    }

    [Fact]
    public void Targets_take_names_globs_and_label_selectors_and_one_that_selects_nothing_is_an_error()
    {
        var m = Three();
        Assert.Equal(["web-1", "web-2"], Names(Targets.Select(m, ["web-*"])));
        Assert.Equal(["web-1", "web-2"], Names(Targets.Select(m, ["web-?"])));
        Assert.Equal(["web-1", "db"], Names(Targets.Select(m, ["label:rack=a"])));
        Assert.Equal(["web-1"], Names(Targets.Select(m, ["label:rack=a,tier=web"])));
        Assert.Equal(["db"], Names(Targets.Select(m, ["label:tier!=web"])));
        Assert.Equal(["web-1", "web-2"], Names(Targets.Select(m, ["label:tier"])));
        Assert.Equal(["db"], Names(Targets.Select(m, ["label:rack,tier!=web"])));
        // The union of several targets, in manifest order, each domain once.
        Assert.Equal(["web-1", "web-2", "db"], Names(Targets.Select(m, ["db", "web-*", "web-1"])));
        Assert.Equal(3, Targets.Select(m, null).Count);

        var none = Assert.Throws<ManifestException>(() => Targets.Select(m, ["web-1", "app-*", "label:rack=z"]));
        Assert.Contains("app-*, label:rack=z", none.Message);
        var malformed = Assert.Throws<ManifestException>(() => Targets.Select(m, ["label:rack=a=b"]));
        Assert.Contains("not a label selector", malformed.Message);
        Assert.Throws<ManifestException>(() => Targets.Select(m, ["label:"]));
    }

    [Theory]
    [InlineData("web-*", "web-1", true)]
    [InlineData("web-*", "web-", true)]
    [InlineData("web-*", "db", false)]
    [InlineData("*-1", "web-1", true)]
    [InlineData("w?b-?", "web-2", true)]
    [InlineData("w?b-?", "web-22", false)]
    [InlineData("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false)]
    [InlineData("*", "", true)]
    [InlineData("?", "", false)]
    public void Glob_matches_like_a_shell(string pattern, string name, bool matches) => Assert.Equal(matches, Targets.Glob(pattern, name));

    [Fact]
    public async Task Replace_turns_unchanged_domains_into_replace_actions_and_apply_makes_them_afresh()
    {
        var m = Three();
        Assert.True((await Applier.ApplyAsync(m, _hosts, new ApplyOptions())).Succeeded);
        var before = File.GetLastWriteTimeUtc(P("saves/db.xlsave"));
        Assert.False((await Planner.PlanAsync(m, _hosts)).HasChanges);

        var plan = await Planner.PlanAsync(m, _hosts, null, new PlanOptions { Replace = ["web-1", "db"] });
        var web1 = plan.Domains.Single(d => d.Name == "web-1");
        var db = plan.Domains.Single(d => d.Name == "db");
        Assert.Equal(PlanAction.Replace, web1.Action);
        Assert.Equal([PlanAction.Checkpoint], web1.Steps);
        Assert.StartsWith(Planner.ReplaceReason, web1.Reason);
        Assert.Equal(PlanAction.Replace, db.Action);
        Assert.Equal([PlanAction.Create, PlanAction.Save], db.Steps);
        Assert.Equal(PlanAction.None, plan.Domains.Single(d => d.Name == "web-2").Action);

        var web1Before = (await Host.FindDomainAsync("web-1"))!.DomId;
        await Task.Delay(20);
        var result = await Applier.ApplyAsync(m, _hosts, new ApplyOptions { Replace = ["label:rack=a"] });
        Assert.True(result.Succeeded, string.Join("; ", ApplyEventText.Failures(result)));
        Assert.Equal(["db", "web-1"], result.Results.Select(r => r.Domain));
        Assert.All(result.Results, r => Assert.Equal(PlanAction.Replace, r.Action));
        Assert.True(File.Exists(P("saves/web-1.xlsave")));
        Assert.True(File.GetLastWriteTimeUtc(P("saves/db.xlsave")) > before);
        // The running domain kept running (a checkpoint), the saved one is saved again and not running.
        Assert.Equal(web1Before, (await Host.FindDomainAsync("web-1"))!.DomId);
        Assert.Null(await Host.FindDomainAsync("db"));
        Assert.False((await Planner.PlanAsync(m, _hosts)).HasChanges);
    }

    [Fact]
    public async Task Replace_of_an_absent_domain_is_an_error_and_of_an_unknown_one_too()
    {
        var m = Manifest("  - name: db\n    config: db.cfg\n    state: absent\n");
        var plan = await Planner.PlanAsync(m, _hosts, null, new PlanOptions { Replace = ["db"] });
        Assert.Contains("desired absent", plan.Domains[0].Error);
        await Assert.ThrowsAsync<ManifestException>(() => Planner.PlanAsync(m, _hosts, null, new PlanOptions { Replace = ["nope"] }));
        var two = Three();
        var outside = await Assert.ThrowsAsync<ManifestException>(() => Planner.PlanAsync(two, _hosts, ["web-1"], new PlanOptions { Replace = ["db"] }));
        Assert.Contains("outside --target", outside.Message);
    }

    private async Task<SavedPlan> SaveAndReadAsync(Manifest m, PlanOptions? options = null)
    {
        var plan = await Planner.PlanAsync(m, _hosts, null, options ?? PlanOptions.Default);
        await SavedPlan.Create(plan, new SavedPlanRequest()).WriteAsync(P("plan.json"));
        return SavedPlan.Read(P("plan.json"));
    }

    [Fact]
    public async Task A_saved_plan_reads_back_as_the_plan_it_was_and_is_private()
    {
        var m = Three();
        var plan = await Planner.PlanAsync(m, _hosts);
        var saved = await SaveAndReadAsync(m);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(P("plan.json")));
        Assert.True(SavedPlan.IsSavedPlan(P("plan.json")));
        Assert.False(SavedPlan.IsSavedPlan(P("xen-iac.yaml")));

        var back = saved.ToPlan();
        Assert.Equal(plan.Domains.Select(d => (d.Name, d.Action, string.Join(",", d.Steps), d.Reason, d.Spec.SavefilePath, d.Spec.State)),
            back.Domains.Select(d => (d.Name, d.Action, string.Join(",", d.Steps), d.Reason, d.Spec.SavefilePath, d.Spec.State)));
        Assert.Equal(P("xen-iac.yaml"), saved.ManifestPath);
        saved.CheckInputs();
        saved.CheckCurrent(await Planner.PlanAsync(m, _hosts));
    }

    [Fact]
    public async Task A_saved_plan_is_stale_after_a_manifest_or_config_edit_a_domain_started_by_hand_or_a_savefile_rewritten()
    {
        var m = Three();
        Assert.True((await Applier.ApplyAsync(m, _hosts, new ApplyOptions())).Succeeded);
        var saved = await SaveAndReadAsync(m);

        File.AppendAllText(P("xen-iac.yaml"), "# a comment is an edit too\n");
        Assert.Contains("the manifest", Assert.Throws<StalePlanException>(saved.CheckInputs).Message);
        m = Three();
        saved = await SaveAndReadAsync(m);
        File.AppendAllText(P("db.cfg"), "vcpus = 2\n");
        Assert.Contains("db.cfg changed", Assert.Throws<StalePlanException>(saved.CheckInputs).Message);
        File.WriteAllText(P("db.cfg"), ReconcilerTests.Cfg("db"));

        saved = await SaveAndReadAsync(m);
        await Host.RestoreAsync(P("saves/db.xlsave"), new RestoreOptions(), default);
        var started = Assert.Throws<StalePlanException>(() => saved.CheckCurrent(Planner.PlanAsync(m, _hosts).GetAwaiter().GetResult()));
        Assert.Contains("db: the domain was not running when the plan was made and now runs as domid", started.Message);
        await Host.DestroyAsync("db", default);

        // Same size, same header: only the modification time tells a rewritten savefile apart.
        var saves = P("saves/web-2.xlsave");
        File.SetLastWriteTimeUtc(saves, DateTime.UtcNow.AddMinutes(-5));
        saved = await SaveAndReadAsync(m);
        File.SetLastWriteTimeUtc(saves, DateTime.UtcNow);
        var rewritten = Assert.Throws<StalePlanException>(() => saved.CheckCurrent(Planner.PlanAsync(m, _hosts).GetAwaiter().GetResult()));
        Assert.Contains("web-2.xlsave changed since the plan was made", rewritten.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("{\"format\": \"xen-iac-plan\"}")]
    [InlineData("{\"format\": \"xen-iac-plan\", \"version\": 1}")]
    [InlineData("{\"format\": \"xen-iac-plan\", \"version\": 2}")]
    [InlineData("{\"format\": \"something-else\", \"version\": 1}")]
    [InlineData("[1, 2]")]
    [InlineData("null")]
    [InlineData("{\"format\": \"xen-iac-plan\", \"version\": 1, \"manifest\": {\"path\": \"relative.yaml\", \"sha256\": \"00\"}}")]
    [InlineData("{\"format\": \"xen-iac-plan\", \"version\": 1, \"domains\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}")]
    [InlineData("{\"format\": \"xen-iac-plan\", \"version\": 99999999999999999999}")]
    public void A_damaged_saved_plan_is_one_typed_error_naming_the_file(string text)
    {
        File.WriteAllText(P("bad.json"), text);
        var e = Assert.Throws<SavedPlanException>(() => SavedPlan.Read(P("bad.json")));
        Assert.Contains("bad.json", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task A_saved_plan_naming_a_device_or_a_pipe_is_refused_without_reading_it()
    {
        var m = Three();
        await SaveAndReadAsync(m);
        var good = File.ReadAllText(P("plan.json"));
        File.WriteAllText(P("dev.json"), good.Replace(P("db.cfg"), "/dev/zero"));
        SavedPlan.ResealForTests(P("dev.json"));
        var read = SavedPlan.Read(P("dev.json"));
        Assert.Contains("/dev/zero is gone (or is no longer a regular file)", Assert.Throws<StalePlanException>(read.CheckInputs).Message);

        File.WriteAllText(P("dev.json"), good.Replace(P("xen-iac.yaml"), "/dev/zero"));
        SavedPlan.ResealForTests(P("dev.json"));
        Assert.Contains("the manifest /dev/zero is gone", Assert.Throws<StalePlanException>(SavedPlan.Read(P("dev.json")).CheckInputs).Message);

        // A plan edited to leave a config out of its inputs is not trusted to have checked it.
        var inputs = System.Text.Json.Nodes.JsonNode.Parse(good)!;
        inputs["inputs"]!.AsArray().RemoveAt(0);
        File.WriteAllText(P("dev.json"), inputs.ToJsonString());
        SavedPlan.ResealForTests(P("dev.json"));
        var fewer = SavedPlan.Read(P("dev.json"));
        fewer.CheckInputs();
        Assert.Contains("config files it records", Assert.Throws<StalePlanException>(() => fewer.CheckCurrent(Planner.PlanAsync(m, _hosts).GetAwaiter().GetResult())).Message);

        Assert.False(SavedPlan.IsSavedPlan("/dev/zero"));
        Assert.Contains("not a regular file", Assert.Throws<SavedPlanException>(() => SavedPlan.Read("/dev/zero")).Message);
    }

    /// <summary>
    /// The seal is a checksum anyone can recompute: a plan edited to another savefile path or host (and resealed) was
    /// shown as edited by 'show FILE', and 'apply FILE' then wrote the manifest's. What is shown must be what runs.
    /// </summary>
    [Theory]
    [InlineData("savefile")]
    [InlineData("desiredState")]
    [InlineData("host")]
    public async Task A_resealed_plan_whose_domain_says_another_savefile_or_host_is_refused(string field)
    {
        var m = Three();
        await SaveAndReadAsync(m);
        var edited = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(P("plan.json")))!;
        var domain = edited["domains"]!.AsArray().First(d => d!["savefile"] is not null)!;
        domain[field] = field switch
        {
            "savefile" => domain["savefile"]!.GetValue<string>().Replace(".xlsave", "-evil.xlsave", StringComparison.Ordinal),
            "desiredState" => domain["desiredState"]!.GetValue<string>() == "saved" ? "running" : "saved",
            _ => "embedded:" + P("elsewhere"),
        };
        File.WriteAllText(P("edited.json"), edited.ToJsonString());
        SavedPlan.ResealForTests(P("edited.json"));
        var read = SavedPlan.Read(P("edited.json"));
        read.CheckInputs();
        var e = Assert.Throws<StalePlanException>(() => read.CheckCurrent(Planner.PlanAsync(m, _hosts).GetAwaiter().GetResult()));
        Assert.Contains("the plan says", e.Message);
        Assert.Contains("the manifest now says", e.Message);
    }

    /// <summary>
    /// The seal is computed over what the reader kept, so a field it passed over, or the first of a key given twice,
    /// could say anything: a plan with a second "force" beside the first read as sealed.
    /// </summary>
    [Theory]
    [InlineData("unknown")]
    [InlineData("twice")]
    public async Task A_saved_plan_with_a_field_this_version_does_not_know_or_a_key_twice_is_refused(string how)
    {
        await SaveAndReadAsync(Three());
        var text = File.ReadAllText(P("plan.json"));
        var at = text.IndexOf("\"options\": {", StringComparison.Ordinal) + "\"options\": {".Length;
        Assert.True(at > 20, "the plan has an options object");
        File.WriteAllText(P("edited.json"), text.Insert(at, how == "unknown" ? "\"forceAll\": true," : "\"force\": true,"));
        var e = Assert.Throws<SavedPlanException>(() => SavedPlan.Read(P("edited.json")));
        Assert.Contains(how == "unknown" ? "unknown field 'forceAll'" : "'force' is given twice", e.Message);
        Assert.DoesNotContain("XenIac.", e.Message);
    }

    private const string Noise = "\"{}[],:0a\\\u0001 -";

    [Fact]
    public async Task Every_field_of_a_saved_plan_damaged_is_refused_or_read_never_a_crash()
    {
        var m = Three();
        Assert.True((await Applier.ApplyAsync(m, _hosts, new ApplyOptions())).Succeeded);
        await SaveAndReadAsync(m);
        var good = File.ReadAllText(P("plan.json"));
        var random = new Random(15);
        for (var i = 0; i < 300; i++)
        {
            var chars = good.ToCharArray();
            for (var k = 0; k < 1 + i % 4; k++) chars[random.Next(chars.Length)] = Noise[random.Next(Noise.Length)];
            File.WriteAllText(P("bad.json"), new string(chars));
            try
            {
                var read = SavedPlan.Read(P("bad.json"));
                read.ToPlan();
                read.ObservedJson(read.ToPlan().Domains[0].Name);
            }
            catch (SavedPlanException) { }
        }
    }

    [Fact]
    public async Task Drift_names_what_differs_without_planning_fixes()
    {
        var m = Three();
        Assert.True((await Applier.ApplyAsync(m, _hosts, new ApplyOptions())).Succeeded);
        Assert.False(Drift.Of(await Planner.PlanAsync(m, _hosts)).HasDrift);

        await Host.RestoreAsync(P("saves/db.xlsave"), new RestoreOptions(), default);
        await Host.DestroyAsync("web-1", default);
        File.WriteAllText(P("saves/web-2.xlsave"), "not a savefile");

        var report = Drift.Of(await Planner.PlanAsync(m, _hosts));
        Assert.True(report.HasDrift);
        Assert.False(report.HasErrors);
        Assert.Equal([DriftKind.NotRunning], report.Domains.Single(d => d.Name == "web-1").Items.Select(i => i.Kind));
        Assert.Equal([DriftKind.SavefileInvalid], report.Domains.Single(d => d.Name == "web-2").Items.Select(i => i.Kind));
        var db = report.Domains.Single(d => d.Name == "db");
        Assert.Equal([DriftKind.Running], db.Items.Select(i => i.Kind));
        Assert.Contains("desired saved", db.Items[0].Message);

        File.Delete(P("saves/web-2.xlsave"));
        Assert.Equal([DriftKind.SavefileMissing], Drift.Of(await Planner.PlanAsync(m, _hosts)).Domains.Single(d => d.Name == "web-2").Items.Select(i => i.Kind));
    }

    [Fact]
    public async Task Drift_reports_a_savefile_whose_stored_config_is_not_the_override()
    {
        var m = Manifest("  - name: db\n    config: db.cfg\n    state: saved\n");
        Assert.True((await Applier.ApplyAsync(m, _hosts, new ApplyOptions())).Succeeded);
        m = Manifest("  - name: db\n    config: db.cfg\n    state: saved\n    overrides:\n      settings:\n        memory: 8\n");
        var item = Assert.Single(Drift.Of(await Planner.PlanAsync(m, _hosts)).Domains[0].Items);
        Assert.Equal(DriftKind.ConfigChanged, item.Kind);
        Assert.Contains("mem", item.Message);
    }

    /// <summary>
    /// Another domain's savefile copied over a saved domain's: plan and drift said nothing, and the next restore
    /// brought the other domain back under this name.
    /// </summary>
    [Fact]
    public async Task A_savefile_holding_another_domain_is_drift_and_a_plan_warning()
    {
        var m = Three();
        Assert.True((await Applier.ApplyAsync(m, _hosts, new ApplyOptions())).Succeeded);
        File.Copy(P("saves/db.xlsave"), P("saves/web-2.xlsave"), overwrite: true);

        var plan = await Planner.PlanAsync(m, _hosts);
        var web2 = plan.Domains.Single(d => d.Name == "web-2");
        Assert.Equal(PlanAction.None, web2.Action);
        Assert.Contains(web2.Warnings, w => w.Contains("holds the domain 'db'", StringComparison.Ordinal));
        var item = Assert.Single(Drift.Of(plan).Domains.Single(d => d.Name == "web-2").Items);
        Assert.Equal(DriftKind.SavefileOfAnotherDomain, item.Kind);
        Assert.Equal("savefile-of-another-domain", item.KindName);
        Assert.Empty(Drift.Of(plan).Domains.Single(d => d.Name == "db").Items);
    }
}
