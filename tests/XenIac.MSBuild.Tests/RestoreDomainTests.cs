using XenIac.Core.SaveFiles;

namespace XenIac.MSBuild.Tests;

public sealed class RestoreDomainTests : IDisposable
{
    private readonly TaskFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void Restores_the_domain_the_savefile_names_and_outputs_it()
    {
        SavefileMaker.Write(_f.PathOf("vm.xlsave"), SavefileMaker.JsonConfig, SaveFileConfigFormat.Json);
        var task = _f.Wire(new XenIacRestoreDomain { Savefile = "vm.xlsave", Paused = true });

        Assert.True(task.Execute(), _f.Engine.ToString());

        Assert.Equal("json-vm", task.DomainName);
        Assert.Equal((int)_f.Host.Domains["json-vm"].Info.DomId, task.DomId);
        Assert.True(_f.Host.LastRestoreOptions!.Paused);
        Assert.Null(_f.Host.LastRestoreOptions.OverrideConfig);
    }

    [Fact]
    public void A_running_domain_of_the_same_name_is_XIAC0004_without_Replace_and_untouched()
    {
        SavefileMaker.Write(_f.PathOf("vm.xlsave"), SavefileMaker.JsonConfig, SaveFileConfigFormat.Json);
        var running = _f.Host.Add("json-vm");
        var task = _f.Wire(new XenIacRestoreDomain { Savefile = "vm.xlsave" });

        Assert.False(task.Execute());

        Assert.Equal(["XIAC0004"], _f.Engine.ErrorCodes);
        Assert.Contains("Replace=\"true\"", _f.Engine.Errors[0].Message);
        Assert.Equal(running, _f.Host.Domains["json-vm"].Info);
        Assert.Empty(_f.Host.Calls);
    }

    [Fact]
    public void Replace_destroys_the_running_domain_then_restores()
    {
        SavefileMaker.Write(_f.PathOf("vm.xlsave"), SavefileMaker.JsonConfig, SaveFileConfigFormat.Json);
        var running = _f.Host.Add("json-vm");
        var task = _f.Wire(new XenIacRestoreDomain { Savefile = "vm.xlsave", Replace = true });

        Assert.True(task.Execute(), _f.Engine.ToString());

        Assert.Equal(["destroy json-vm", "restore " + _f.PathOf("vm.xlsave")], _f.Host.Calls);
        Assert.NotEqual(running.DomId, _f.Host.Domains["json-vm"].Info.DomId);
    }

    [Fact]
    public void The_override_config_decides_the_name_and_is_passed_to_the_host()
    {
        SavefileMaker.Write(_f.PathOf("vm.xlsave"), SavefileMaker.JsonConfig, SaveFileConfigFormat.Json);
        File.WriteAllText(_f.PathOf("other.cfg"), "name = 'renamed'\nmemory = 16\n");
        _f.Host.Add("renamed");
        var task = _f.Wire(new XenIacRestoreDomain { Savefile = "vm.xlsave", Config = "other.cfg", Replace = true });

        Assert.True(task.Execute(), _f.Engine.ToString());

        Assert.Equal("renamed", task.DomainName);
        Assert.Equal("destroy renamed", _f.Host.Calls[0]);
        Assert.Equal(SaveFileConfigFormat.XlCfg, _f.Host.LastRestoreOptions!.OverrideConfig!.Language);
    }

    [Fact]
    public void A_missing_savefile_is_XIAC0005_and_the_host_is_not_opened()
    {
        var task = _f.Wire(new XenIacRestoreDomain { Savefile = "absent.xlsave" });

        Assert.False(task.Execute());

        Assert.Equal(["XIAC0005"], _f.Engine.ErrorCodes);
        Assert.Empty(_f.Opened);
    }

    [Fact]
    public void A_file_that_is_not_a_savefile_is_XIAC0006_naming_the_file()
    {
        File.WriteAllText(_f.PathOf("junk.xlsave"), "this is not a Xen savefile at all, just some text that is long enough");
        var task = _f.Wire(new XenIacRestoreDomain { Savefile = "junk.xlsave" });

        Assert.False(task.Execute());

        var error = Assert.Single(_f.Engine.Errors);
        Assert.Equal("XIAC0006", error.Code);
        Assert.Contains(_f.PathOf("junk.xlsave"), error.Message);
        Assert.Empty(_f.Host.Calls);
    }
}
