using Microsoft.Build.Framework;
using XenIac.Reconciler.Manifests;

namespace XenIac.MSBuild.Tests;

public sealed class ApplyManifestTests : IDisposable
{
    private readonly TaskFixture _f = new();

    public void Dispose() => _f.Dispose();

    private string WriteManifest()
    {
        File.WriteAllText(_f.PathOf("a.cfg"), "name = \"a\"\n");
        File.WriteAllText(_f.PathOf("b.cfg"), "name = \"b\"\n");
        File.WriteAllText(_f.PathOf("xen-iac.yaml"), """
            version: 1
            defaults:
              host: embedded:host
            domains:
              - name: a
                config: a.cfg
                savefile: a.xlsave
              - name: b
                config: b.cfg
                savefile: b.xlsave
            """);
        return "xen-iac.yaml";
    }

    [Fact]
    public void Passes_the_loaded_manifest_targets_and_parallelism_to_the_reconciler()
    {
        var applier = new RecordingApplier();
        var task = _f.Wire(new XenIacApplyManifest { Manifest = WriteManifest(), Targets = ["b"], Parallelism = 3 });
        task.Applier = applier;

        Assert.True(task.Execute(), _f.Engine.ToString());

        Assert.Equal(["a", "b"], applier.Manifest!.Domains.Select(d => d.Name));
        Assert.Equal(["b"], applier.Targets);
        Assert.Equal(3, applier.Parallelism);
        Assert.Contains(_f.Engine.Messages, m => m.Message == "XenIac: applied b");
    }

    [Fact]
    public void An_invalid_manifest_is_XIAC0011_at_its_line_and_column()
    {
        File.WriteAllText(_f.PathOf("bad.yaml"), "version: 1\ndomains:\n  - name: a\n    colour: blue\n");
        var task = _f.Wire(new XenIacApplyManifest { Manifest = "bad.yaml" });
        task.Applier = new RecordingApplier();

        Assert.False(task.Execute());

        Assert.NotEmpty(_f.Engine.Errors);
        Assert.All(_f.Engine.Errors, e => Assert.Equal("XIAC0011", e.Code));
        var colour = Assert.Single(_f.Engine.Errors, e => e.Message!.Contains("colour"));
        Assert.Equal(_f.PathOf("bad.yaml"), colour.File);
        Assert.Equal(4, colour.LineNumber);
    }

    [Fact]
    public void An_unknown_target_is_XIAC0002_and_nothing_is_applied()
    {
        var applier = new RecordingApplier();
        var task = _f.Wire(new XenIacApplyManifest { Manifest = WriteManifest(), Targets = ["a", "zzz"] });
        task.Applier = applier;

        Assert.False(task.Execute());

        Assert.Equal(["XIAC0002"], _f.Engine.ErrorCodes);
        Assert.Contains("'zzz'", _f.Engine.Errors[0].Message);
        Assert.Null(applier.Manifest);
    }

    [Fact]
    public void The_real_reconciler_applies_the_manifest_on_the_embedded_host_and_a_second_run_changes_nothing()
    {
        WriteRealManifest();
        var task = _f.Wire(new XenIacApplyManifest { Manifest = "xen-iac.yaml" });

        Assert.True(task.Execute(), _f.Engine.ToString());

        Assert.True(File.Exists(_f.PathOf("a.xlsave")));
        Assert.Contains(_f.Engine.Messages, m => m.Message!.Contains("a: save done"));
        var again = _f.Wire(new XenIacApplyManifest { Manifest = "xen-iac.yaml" });
        Assert.True(again.Execute(), _f.Engine.ToString());
        Assert.Contains(_f.Engine.Messages, m => m.Message!.Contains("no changes"));
    }

    [Fact]
    public void A_domain_that_cannot_be_reconciled_is_XIAC0012_and_the_others_are_still_applied()
    {
        WriteRealManifest();
        File.WriteAllText(_f.PathOf("b.xlsave"), "not a savefile");
        var task = _f.Wire(new XenIacApplyManifest { Manifest = "xen-iac.yaml" });

        Assert.False(task.Execute());

        var error = Assert.Single(_f.Engine.Errors);
        Assert.Equal("XIAC0012", error.Code);
        Assert.Matches(@"b: \S*xen-iac\.yaml:\d+:\d+: cannot restore", error.Message);
        Assert.True(File.Exists(_f.PathOf("a.xlsave")));
    }

    private void WriteRealManifest()
    {
        File.WriteAllText(_f.PathOf("a.cfg"), "name = \"a\"\ntype = \"hvm\"\nmemory = 4\n");
        File.WriteAllText(_f.PathOf("b.cfg"), "name = \"b\"\ntype = \"hvm\"\nmemory = 4\n");
        File.WriteAllText(_f.PathOf("xen-iac.yaml"), """
            defaults:
              host: embedded:host
            domains:
              - name: a
                config: a.cfg
                savefile: a.xlsave
                state: saved
              - name: b
                config: b.cfg
                savefile: b.xlsave
            """);
    }

    private sealed class RecordingApplier : IManifestApplier
    {
        public Manifest? Manifest { get; private set; }
        public IReadOnlyList<string>? Targets { get; private set; }
        public int Parallelism { get; private set; }

        public Task ApplyAsync(Manifest manifest, IReadOnlyList<string> targets, int parallelism,
            Action<MessageImportance, string> log, CancellationToken cancellationToken)
        {
            (Manifest, Targets, Parallelism) = (manifest, targets, parallelism);
            log(MessageImportance.High, "applied " + string.Join(",", targets));
            return Task.CompletedTask;
        }
    }
}
