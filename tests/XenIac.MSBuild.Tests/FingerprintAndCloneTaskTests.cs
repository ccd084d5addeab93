using XenIac.Core.SaveFiles;

namespace XenIac.MSBuild.Tests;

public sealed class FingerprintAndCloneTaskTests : IDisposable
{
    private readonly TaskFixture _f = new();
    private readonly TaskFixture _other = new();

    public void Dispose()
    {
        _f.Dispose();
        _other.Dispose();
    }

    private static string? Fingerprint(TaskFixture f, params string[] inputs)
    {
        var task = f.Wire(new XenIacFingerprint
        {
            Config = "vm.cfg",
            Inputs = [.. inputs.Select(i => (Microsoft.Build.Framework.ITaskItem)new Microsoft.Build.Utilities.TaskItem(i))],
        });
        Assert.True(task.Execute(), f.Engine.ToString());
        return task.Fingerprint;
    }

    [Fact]
    public void The_fingerprint_depends_on_contents_and_project_relative_names_not_on_where_the_project_is()
    {
        foreach (var f in new[] { _f, _other })
        {
            File.WriteAllText(f.PathOf("vm.cfg"), "name = 'vm'\n");
            Directory.CreateDirectory(f.PathOf("img"));
            File.WriteAllText(f.PathOf("img/disk.img"), "disk v1");
        }
        var here = Fingerprint(_f, "img/disk.img");
        Assert.Matches("^sha256:[0-9a-f]{64}$", here);
        Assert.Equal(here, Fingerprint(_other, Path.Combine(_other.Folder, "img", "disk.img")));
        // Listing the config again, or an input twice, changes nothing.
        Assert.Equal(here, Fingerprint(_f, "img/disk.img", "vm.cfg", "img/disk.img"));

        File.WriteAllText(_f.PathOf("img/disk.img"), "disk v2");
        Assert.NotEqual(here, Fingerprint(_f, "img/disk.img"));
        Assert.NotEqual(Fingerprint(_f, "img/disk.img"), Fingerprint(_f));
    }

    [Fact]
    public void A_missing_input_is_XIAC0014_naming_it()
    {
        File.WriteAllText(_f.PathOf("vm.cfg"), "name = 'vm'\n");
        var task = _f.Wire(new XenIacFingerprint { Config = "vm.cfg", Inputs = [new Microsoft.Build.Utilities.TaskItem("kernel")] });
        Assert.False(task.Execute());
        Assert.Equal(["XIAC0014"], _f.Engine.ErrorCodes);
        Assert.Contains("kernel' does not exist", _f.Engine.Errors[0].Message);
    }

    [Fact]
    public void A_restore_expecting_a_fingerprint_refuses_a_savefile_recording_another_or_none_before_the_host_is_touched()
    {
        var fingerprint = "sha256:" + new string('1', 64);
        var header = SaveFileHeader.Create(SavefileMaker.JsonConfig, SaveFileConfigFormat.Json).WithFingerprint("sha256:" + new string('2', 64));
        File.WriteAllBytes(_f.PathOf("other.xlsave"), header.ToBytes());
        SavefileMaker.Write(_f.PathOf("none.xlsave"), SavefileMaker.JsonConfig, SaveFileConfigFormat.Json);

        foreach (var (file, says) in new[] { ("other.xlsave", "it records sha256:2222"), ("none.xlsave", "it records no fingerprint") })
        {
            var engine = new Fakes.FakeBuildEngine(_f.PathOf("Project.csproj"));
            var task = _f.Wire(new XenIacRestoreDomain { Savefile = file, Fingerprint = fingerprint });
            task.BuildEngine = engine;
            Assert.False(task.Execute());
            Assert.Equal(["XIAC0021"], engine.ErrorCodes);
            Assert.Contains(says, engine.Errors[0].Message);
            Assert.Contains(fingerprint, engine.Errors[0].Message);
        }
        Assert.Empty(_f.Host.Calls);

        var bad = _f.Wire(new XenIacRestoreDomain { Savefile = "none.xlsave", Fingerprint = "sha256:nope" });
        Assert.False(bad.Execute());
        Assert.Contains("XIAC0002", _f.Engine.ErrorCodes);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(257)]
    public void A_pool_size_out_of_range_is_XIAC0002(int count)
    {
        SavefileMaker.Write(_f.PathOf("vm.xlsave"), SavefileMaker.JsonConfig, SaveFileConfigFormat.Json);
        var task = _f.Wire(new XenIacCloneDomains { Savefile = "vm.xlsave", Count = count, PoolFile = "pool.json" });
        Assert.False(task.Execute());
        Assert.Equal(["XIAC0002"], _f.Engine.ErrorCodes);
        Assert.Empty(_f.Host.Calls);
    }

    [Fact]
    public void A_pool_that_cannot_be_made_is_XIAC0022_and_leaves_no_clone_and_no_pool_file()
    {
        SavefileMaker.Write(_f.PathOf("vm.xlsave"), SavefileMaker.JsonConfig, SaveFileConfigFormat.Json);
        var task = _f.Wire(new XenIacCloneDomains { Savefile = "vm.xlsave", Count = 2, NamePrefix = "bad prefix", PoolFile = "pool.json" });
        Assert.False(task.Execute());
        Assert.Equal(["XIAC0022"], _f.Engine.ErrorCodes);
        Assert.Contains("'bad prefix' is not a domain name", _f.Engine.Errors[0].Message);
        Assert.False(File.Exists(_f.PathOf("pool.json")));
        Assert.Empty(_f.Host.Domains);
    }

    [Fact]
    public void A_pool_file_that_cannot_be_written_is_XIAC0002_before_any_clone_is_made()
    {
        // It was found only after the clones ran, and they stayed with no pool file naming them.
        SavefileMaker.Write(_f.PathOf("vm.xlsave"), SavefileMaker.JsonConfig, SaveFileConfigFormat.Json);
        Directory.CreateDirectory(_f.PathOf("pool-folder"));
        var task = _f.Wire(new XenIacCloneDomains { Savefile = "vm.xlsave", Count = 2, NamePrefix = "pf", PoolFile = "pool-folder" });
        Assert.False(task.Execute());
        Assert.Equal(["XIAC0002"], _f.Engine.ErrorCodes);
        Assert.Contains("PoolFile", _f.Engine.Errors[0].Message);
        Assert.Contains("is a folder", _f.Engine.Errors[0].Message);
        Assert.Empty(_f.Host.Domains);
    }

    /// <summary>A pool file naming the snapshot (a typo) replaced it with pool JSON, and the next build failed on it.</summary>
    [Fact]
    public void A_pool_file_naming_the_snapshot_or_a_config_is_XIAC0002_and_both_stay()
    {
        SavefileMaker.Write(_f.PathOf("vm.xlsave"), SavefileMaker.JsonConfig, SaveFileConfigFormat.Json);
        var snapshot = File.ReadAllBytes(_f.PathOf("vm.xlsave"));
        File.WriteAllText(_f.PathOf("vm.cfg"), "name = 'vm'\n");
        foreach (var target in new[] { "vm.xlsave", "vm.cfg" })
        {
            var task = _f.Wire(new XenIacCloneDomains { Savefile = "vm.xlsave", Count = 2, NamePrefix = "pf", PoolFile = target });
            Assert.False(task.Execute());
            Assert.Equal(["XIAC0002"], _f.Engine.ErrorCodes);
            Assert.Contains("is not a clone pool file", _f.Engine.Errors[0].Message);
            Assert.Empty(_f.Host.Domains);
            _f.Engine.Errors.Clear();
        }
        Assert.Equal(snapshot, File.ReadAllBytes(_f.PathOf("vm.xlsave")));
        Assert.Equal("name = 'vm'\n", File.ReadAllText(_f.PathOf("vm.cfg")));

        // An earlier pool file is this task's own: it passes the check (the fake host then goes as far as it goes).
        File.WriteAllText(_f.PathOf("pool.json"), "[{\"name\": \"pf-1\", \"number\": 1}]");
        _f.Wire(new XenIacCloneDomains { Savefile = "vm.xlsave", Count = 2, NamePrefix = "pf", PoolFile = "pool.json" }).Execute();
        Assert.DoesNotContain("XIAC0002", _f.Engine.ErrorCodes);
    }
}
