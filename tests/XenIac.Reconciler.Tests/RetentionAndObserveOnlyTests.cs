using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;
using XenIac.Reconciler.Applying;
using XenIac.Reconciler.Manifests;
using XenIac.Reconciler.Planning;
using XenIac.Reconciler.Reconciling;
using XenIac.Store;

namespace XenIac.Reconciler.Tests;

/// <summary><c>keep: N</c>, <c>paused: reconcile</c> and the reconcile loop, against a real embedded host in a temp folder.</summary>
public sealed class RetentionAndObserveOnlyTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-retention-").FullName;
    private readonly HostProvider _hosts = new();

    private string P(string name) => Path.Combine(_dir, name);
    private string HostSpec => "embedded:" + P("host");
    private IXenHost Host => _hosts.Get(XenIac.Hosts.HostSpec.Parse(HostSpec));

    public Task InitializeAsync()
    {
        foreach (var n in new[] { "a", "b" }) File.WriteAllText(P(n + ".cfg"), ReconcilerTests.Cfg(n));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _hosts.DisposeAsync();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private Manifest Manifest(string domains, string defaults = "") =>
        ManifestLoader.Parse($"defaults:\n  host: {HostSpec}\n{defaults}domains:\n{domains}", P("xen-iac.yaml"));

    private Task<ApplyResult> ApplyAsync(Manifest m) => Applier.ApplyAsync(m, _hosts, new ApplyOptions());

    [Fact]
    public void Paused_reconcile_is_observe_only_and_true_false_keep_their_meaning()
    {
        var m = Manifest("  - name: a\n    paused: reconcile\n  - name: b\n    paused: true\n  - name: c\n", "  paused: false\n  keep: 4\n");
        Assert.True(m.Domains[0].ObserveOnly);
        Assert.False(m.Domains[0].Paused);
        Assert.True(m.Domains[1].Paused);
        Assert.False(m.Domains[1].ObserveOnly);
        Assert.False(m.Domains[2].Paused || m.Domains[2].ObserveOnly);
        Assert.All(m.Domains, d => Assert.Equal(4, d.Keep));
        Assert.Null(Manifest("  - name: a\n").Domains[0].Keep);
    }

    [Theory]
    [InlineData("    paused: sleepy\n", "'paused' must be true or false")]
    [InlineData("    keep: 0\n", "'keep' must be a whole number from 1 to 1000")]
    [InlineData("    keep: two\n", "'keep' must be a whole number")]
    [InlineData("    keep: 1001\n", "'keep' must be a whole number")]
    public void Bad_paused_and_keep_values_are_located_errors(string line, string message)
    {
        var e = Assert.Throws<ManifestException>(() => Manifest("  - name: a\n" + line));
        var error = Assert.Single(e.Errors);
        Assert.Contains(message, error.Message);
        Assert.Equal(5, error.Location.Line);
    }

    [Fact]
    public async Task An_observe_only_domain_is_planned_as_drift_but_apply_never_touches_it()
    {
        var running = await Host.CreateAsync(ConfigText.FromText(ReconcilerTests.Cfg("a")));
        var m = Manifest("  - name: a\n    config: a.cfg\n    state: saved\n    paused: reconcile\n");

        var plan = await Planner.PlanAsync(m, _hosts);
        var d = Assert.Single(plan.Domains);
        Assert.Equal(PlanAction.Save, d.Action);
        Assert.False(d.IsChange);
        Assert.True(d.IsObservedDrift);
        Assert.Contains("observe only", d.Reason);

        var result = await ApplyAsync(m);
        Assert.Empty(result.Results);
        Assert.True(result.Succeeded);
        Assert.Equal(running.DomId, (await Host.FindDomainAsync("a"))!.DomId);
        Assert.False(File.Exists(P("saves/a.xlsave")));
    }

    [Fact]
    public async Task Keep_n_keeps_exactly_the_newest_n_verified_savefiles_beside_the_current_one()
    {
        var m = Manifest("  - name: a\n    config: a.cfg\n    state: saved\n    keep: 2\n");
        var newest = new List<string>();
        for (var round = 1; round <= 4; round++)
        {
            if (round > 1) await Host.RestoreAsync(P("saves/a.xlsave"), new RestoreOptions());
            var result = await ApplyAsync(m);
            Assert.True(result.Succeeded, string.Join("; ", ApplyEventText.Failures(result)));
            var history = Retention.History(P("saves/a.xlsave"));
            Assert.Equal(Math.Min(round, 2), history.Count);
            newest.Add(history[^1]);
            Assert.Equal(await File.ReadAllBytesAsync(P("saves/a.xlsave")), await File.ReadAllBytesAsync(history[^1]));
        }
        // The two kept are the last two made, oldest first; the first two were pruned.
        Assert.Equal(newest.TakeLast(2), Retention.History(P("saves/a.xlsave")));
        foreach (var kept in Retention.History(P("saves/a.xlsave")))
        {
            using var reader = SaveFileReader.Open(kept);
            Assert.True(reader.VerifyImage().IsValid);
        }
        Assert.Equal(2, Directory.GetFiles(P("saves/a.xlsave.history")).Length);
        // Every deletion is on record: the journal names the two pruned copies, on the saves that pruned them.
        Assert.Equal(newest.Take(2), Journal.Read(P(".xen-iac/journal.jsonl")).SelectMany(e => e.Pruned ?? []));
    }

    [Fact]
    public async Task A_checkpoint_older_than_checkpoint_every_is_taken_again_and_a_fresh_one_is_not()
    {
        var m = Manifest("  - name: a\n    config: a.cfg\n    checkpoint: true\n");
        Assert.True((await ApplyAsync(m)).Succeeded);
        var fresh = await Planner.PlanAsync(m, _hosts, null, new PlanOptions { CheckpointEvery = TimeSpan.FromHours(1) });
        Assert.Equal(PlanAction.None, Assert.Single(fresh.Domains).Action);

        File.SetLastWriteTimeUtc(P("saves/a.xlsave"), DateTime.UtcNow.AddHours(-2));
        var old = Assert.Single((await Planner.PlanAsync(m, _hosts, null, new PlanOptions { CheckpointEvery = TimeSpan.FromHours(1) })).Domains);
        Assert.Equal(PlanAction.Checkpoint, old.Action);
        Assert.Contains("older than 3600 s", old.Reason);
        // Without the option a valid checkpoint is kept however old, as before.
        Assert.Equal(PlanAction.None, Assert.Single((await Planner.PlanAsync(m, _hosts)).Domains).Action);
    }

    [Fact]
    public async Task A_new_savefile_that_does_not_verify_prunes_nothing()
    {
        var m = Manifest("  - name: a\n    config: a.cfg\n    state: saved\n    keep: 1\n");
        Assert.True((await ApplyAsync(m)).Succeeded);
        var before = Retention.History(P("saves/a.xlsave"));
        Assert.Single(before);

        // The savefile is cut short after it was written: its image no longer ends where a stream must.
        var bytes = await File.ReadAllBytesAsync(P("saves/a.xlsave"));
        await File.WriteAllBytesAsync(P("saves/a.xlsave"), bytes[..^4096]);
        var e = await Assert.ThrowsAsync<RetentionException>(() => Retention.KeepAsync(m.Domains[0], null, null, new List<string>(), CancellationToken.None));
        Assert.Contains("did not verify", e.Message);
        Assert.Equal(before, Retention.History(P("saves/a.xlsave")));
    }

    [Fact]
    public async Task Keep_n_on_a_snapshot_domain_keeps_the_newest_n_of_its_tag_and_leaves_other_tags()
    {
        var store = P("store");
        var m = Manifest("  - name: a\n    config: a.cfg\n    state: saved\n    snapshot: a@nightly\n    keep: 2\n" +
                         "  - name: b\n    config: b.cfg\n    state: saved\n    snapshot: b@nightly\n", $"  store: {store}\n");
        for (var round = 1; round <= 3; round++)
        {
            if (round > 1)
            {
                await Host.RestoreAsync(P("saves/a.xlsave"), new RestoreOptions());
                await Host.RestoreAsync(P("saves/b.xlsave"), new RestoreOptions());
            }
            var result = await ApplyAsync(m);
            Assert.True(result.Succeeded, string.Join("; ", ApplyEventText.Failures(result)));
        }
        await using var s = await SnapshotStore.OpenAsync(store, new StoreOptions(), create: false);
        var all = await s.ListAsync();
        Assert.Equal(2, all.Count(x => x.Tag == "a@nightly"));
        Assert.Equal(3, all.Count(x => x.Tag == "b@nightly"));
        Assert.True((await s.VerifyAsync()).Ok);
        Assert.False(Directory.Exists(P("saves/a.xlsave.history")));
        var pruned = Journal.Read(P(".xen-iac/journal.jsonl")).SelectMany(e => e.Pruned ?? []).ToList();
        Assert.Equal(["a@nightly"], pruned.Select(p => p[(p.IndexOf('(') + 1)..^1]));
        Assert.DoesNotContain(all, x => pruned[0].Contains(x.Id));
    }

    /// <summary>
    /// An apply stopped after its save (which ended the domain) and before its push: the store has nothing, the local
    /// savefile is the only copy. The plan was "create + save", which booted a fresh guest and saved it over that copy.
    /// </summary>
    [Fact]
    public async Task A_saved_domain_whose_push_did_not_finish_is_an_error_naming_the_push_not_a_create_over_it()
    {
        var store = P("store");
        var m = Manifest("  - name: a\n    config: a.cfg\n    state: saved\n    snapshot: a@nightly\n", $"  store: {store}\n");
        Assert.True((await ApplyAsync(m)).Succeeded);
        // What the cancelled push leaves: the savefile here, no snapshot there.
        await using (var s = await SnapshotStore.OpenAsync(store, new StoreOptions(), create: false))
            foreach (var snapshot in await s.ListAsync()) await s.ForgetAsync(snapshot.Id);
        var before = File.ReadAllBytes(P("saves/a.xlsave"));

        var plan = Assert.Single((await Planner.PlanAsync(m, _hosts)).Domains);
        Assert.NotNull(plan.Error);
        Assert.Contains("holds a savefile of a", plan.Error);
        Assert.Contains($"xen-iac store push {P("saves/a.xlsave")} --store {store} --tag a@nightly", plan.Error);
        Assert.False((await ApplyAsync(m)).Succeeded);
        Assert.Null(await Host.FindDomainAsync("a"));
        Assert.Equal(before, File.ReadAllBytes(P("saves/a.xlsave")));
    }

    [Fact]
    public async Task One_loop_run_fixes_drift_and_writes_every_domains_condition_to_the_status_file()
    {
        File.WriteAllText(P("xen-iac.yaml"), $"defaults:\n  host: {HostSpec}\ndomains:\n  - name: a\n    config: a.cfg\n  - name: b\n    config: b.cfg\n    paused: reconcile\n");
        using var loop = new ReconcileLoop(new ReconcileOptions { ManifestPath = P("xen-iac.yaml"), Interval = TimeSpan.FromSeconds(1) }, _hosts);

        var run = await loop.RunOnceAsync("test", CancellationToken.None);
        Assert.Equal(RunResult.Succeeded, run.Status.Result);
        Assert.NotNull(await Host.FindDomainAsync("a"));
        Assert.Null(await Host.FindDomainAsync("b"));

        var status = StatusFile.TryRead(P(".xen-iac/status.json"))!;
        Assert.Equal(DomainCondition.Ready, status.Domains["a"].Condition);
        Assert.Equal(status.ManifestDigest, status.Domains["a"].LastAppliedDigest);
        Assert.Equal(ConditionReasons.Applied, status.Domains["a"].Reason);
        Assert.StartsWith("sha256:", status.ManifestDigest);
        Assert.Equal(DomainCondition.Degraded, status.Domains["b"].Condition);
        Assert.Equal(ConditionReasons.ObservedDrift, status.Domains["b"].Reason);
        Assert.True(status.Domains["b"].ObserveOnly);

        // Nothing to do on the next run: still Ready, now because it is up to date; the transition time stays.
        await loop.RunOnceAsync("test", CancellationToken.None);
        var again = StatusFile.TryRead(P(".xen-iac/status.json"))!.Domains["a"];
        Assert.Equal(ConditionReasons.UpToDate, again.Reason);
        Assert.Equal(status.Domains["a"].LastTransitionTime, again.LastTransitionTime);

        // A config the manifest names is part of its digest.
        var digest = status.ManifestDigest;
        File.AppendAllText(P("b.cfg"), "# edited\n");
        await loop.RunOnceAsync("test", CancellationToken.None);
        Assert.NotEqual(digest, StatusFile.TryRead(P(".xen-iac/status.json"))!.ManifestDigest);
    }

    [Fact]
    public async Task A_second_loop_on_the_same_status_file_is_refused_naming_the_first()
    {
        File.WriteAllText(P("xen-iac.yaml"), $"defaults:\n  host: {HostSpec}\ndomains:\n  - name: a\n    config: a.cfg\n");
        using var first = new ReconcileLoop(new ReconcileOptions { ManifestPath = P("xen-iac.yaml") }, _hosts);
        await first.RunOnceAsync("test", CancellationToken.None);
        using (var second = new ReconcileLoop(new ReconcileOptions { ManifestPath = P("xen-iac.yaml") }, _hosts))
        {
            var e = await Assert.ThrowsAsync<LockBusyException>(() => second.RunOnceAsync("test", CancellationToken.None));
            Assert.Contains($"process {Environment.ProcessId}", e.Message);
        }
        first.Dispose();
        using var third = new ReconcileLoop(new ReconcileOptions { ManifestPath = P("xen-iac.yaml") }, _hosts);
        Assert.Equal(RunResult.Succeeded, (await third.RunOnceAsync("test", CancellationToken.None)).Status.Result);
    }

    [Fact]
    public async Task A_failing_domain_is_degraded_with_its_error_which_stays_on_record_when_it_becomes_ready()
    {
        File.WriteAllText(P("xen-iac.yaml"), $"defaults:\n  host: {HostSpec}\ndomains:\n  - name: a\n    config: a.cfg\n");
        Directory.CreateDirectory(P("saves"));
        File.WriteAllText(P("saves/a.xlsave"), "not a savefile");
        using var loop = new ReconcileLoop(new ReconcileOptions { ManifestPath = P("xen-iac.yaml") }, _hosts);

        var failed = await loop.RunOnceAsync("test", CancellationToken.None);
        Assert.Equal(RunResult.Failed, failed.Status.Result);
        var degraded = StatusFile.TryRead(loop.StatusPath)!.Domains["a"];
        Assert.Equal(DomainCondition.Degraded, degraded.Condition);
        Assert.Equal(ConditionReasons.PlanFailed, degraded.Reason);
        Assert.Contains("not a valid savefile", degraded.LastError);
        Assert.Null(degraded.LastAppliedDigest);

        await Task.Delay(20);
        File.Delete(P("saves/a.xlsave"));
        Assert.Equal(RunResult.Succeeded, (await loop.RunOnceAsync("test", CancellationToken.None)).Status.Result);
        var ready = StatusFile.TryRead(loop.StatusPath)!.Domains["a"];
        Assert.Equal(DomainCondition.Ready, ready.Condition);
        Assert.True(ready.LastTransitionTime > degraded.LastTransitionTime);
        Assert.Equal(degraded.LastError, ready.LastError);
        Assert.Equal(degraded.LastErrorTime, ready.LastErrorTime);

        // Unchanged condition: the transition time stays.
        await loop.RunOnceAsync("test", CancellationToken.None);
        Assert.Equal(ready.LastTransitionTime, StatusFile.TryRead(loop.StatusPath)!.Domains["a"].LastTransitionTime);
    }

    [Fact]
    public async Task Warn_mode_reports_drift_and_changes_nothing()
    {
        File.WriteAllText(P("xen-iac.yaml"), $"defaults:\n  host: {HostSpec}\ndomains:\n  - name: a\n    config: a.cfg\n");
        using var loop = new ReconcileLoop(new ReconcileOptions { ManifestPath = P("xen-iac.yaml"), Drift = DriftMode.Warn }, _hosts);
        var run = await loop.RunOnceAsync("test", CancellationToken.None);
        Assert.Equal(RunResult.Drift, run.Status.Result);
        Assert.Null(await Host.FindDomainAsync("a"));
        Assert.Equal(ConditionReasons.DriftDetected, run.Domains["a"].Reason);
    }

    [Fact]
    public async Task A_manifest_broken_between_runs_fails_the_run_and_keeps_the_domains_status()
    {
        File.WriteAllText(P("xen-iac.yaml"), $"defaults:\n  host: {HostSpec}\ndomains:\n  - name: a\n    config: a.cfg\n");
        using var loop = new ReconcileLoop(new ReconcileOptions { ManifestPath = P("xen-iac.yaml") }, _hosts);
        Assert.Equal(RunResult.Succeeded, (await loop.RunOnceAsync("test", CancellationToken.None)).Status.Result);
        File.WriteAllText(P("xen-iac.yaml"), "domains:\n  - name: a\n    state: sleeping\n");
        var run = await loop.RunOnceAsync("test", CancellationToken.None);
        Assert.Equal(RunResult.Failed, run.Status.Result);
        Assert.Contains("'state' must be one of", run.Status.Error);
        Assert.Equal(DomainCondition.Ready, StatusFile.TryRead(loop.StatusPath)!.Domains["a"].Condition);
    }
}
