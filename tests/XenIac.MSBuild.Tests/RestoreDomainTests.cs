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

    private const string EvilJson =
        """{"c_info":{"type":"hvm","name":"json-vm"},"b_info":{"max_memkb":16384,"device_model":"/tmp/not-qemu"}}""";

    [Fact]
    public void A_stored_config_that_runs_a_program_is_XIAC0015_and_the_host_is_not_touched()
    {
        SavefileMaker.Write(_f.PathOf("vm.xlsave"), EvilJson, SaveFileConfigFormat.Json);
        var task = _f.Wire(new XenIacRestoreDomain { Savefile = "vm.xlsave" });

        Assert.False(task.Execute());

        Assert.Equal(["XIAC0015"], _f.Engine.ErrorCodes);
        Assert.Contains("device_model_override = /tmp/not-qemu (executes on dom0)", _f.Engine.Errors[0].Message);
        Assert.Empty(_f.Host.Calls);
    }

    [Theory]
    [InlineData("bogus:x")]
    [InlineData("embedded:")]
    public void A_host_spec_that_does_not_parse_is_XIAC0001_before_the_trust_check(string host)
    {
        // The trust error (XIAC0015) came first, and the user fixed the wrong thing.
        SavefileMaker.Write(_f.PathOf("vm.xlsave"), EvilJson, SaveFileConfigFormat.Json);
        var task = _f.Wire(new XenIacRestoreDomain { Savefile = "vm.xlsave", Host = host });
        Assert.False(task.Execute());
        Assert.Equal(["XIAC0001"], _f.Engine.ErrorCodes);
        Assert.Contains($"'{host}'", _f.Engine.Errors[0].Message);
        Assert.Empty(_f.Host.Calls);
    }

    [Fact]
    public void TrustConfig_or_a_consent_config_naming_the_same_value_lets_it_restore()
    {
        SavefileMaker.Write(_f.PathOf("vm.xlsave"), EvilJson, SaveFileConfigFormat.Json);
        Assert.True(_f.Wire(new XenIacRestoreDomain { Savefile = "vm.xlsave", TrustConfig = true }).Execute(), _f.Engine.ToString());

        File.WriteAllText(_f.PathOf("mine.cfg"), "name = 'json-vm'\ntype = 'hvm'\nmemory = 16\ndevice_model_override = '/tmp/not-qemu'\n");
        Assert.True(_f.Wire(new XenIacRestoreDomain { Savefile = "vm.xlsave", ConsentConfig = "mine.cfg", Replace = true }).Execute(),
            _f.Engine.ToString());

        File.WriteAllText(_f.PathOf("other.cfg"), "name = 'json-vm'\ntype = 'hvm'\nmemory = 16\ndevice_model_override = '/usr/bin/qemu'\n");
        Assert.False(_f.Wire(new XenIacRestoreDomain { Savefile = "vm.xlsave", ConsentConfig = "other.cfg", Replace = true }).Execute());
        Assert.Contains("XIAC0015", _f.Engine.ErrorCodes);
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

    /// <summary>
    /// Replace destroyed the running domain first, and then the restore failed on a damaged image or a config that
    /// does not fit: the VM a failed test run had kept for a look was gone. Both are found before the destroy.
    /// </summary>
    [Fact]
    public void Replace_keeps_the_running_domain_when_the_image_is_damaged_or_the_config_does_not_fit()
    {
        SavefileMaker.Write(_f.PathOf("vm.xlsave"), SavefileMaker.JsonConfig, SaveFileConfigFormat.Json);
        var whole = File.ReadAllBytes(_f.PathOf("vm.xlsave"));
        File.WriteAllBytes(_f.PathOf("cut.xlsave"), whole[..^40]);
        var running = _f.Host.Add("json-vm");

        Assert.False(_f.Wire(new XenIacRestoreDomain { Savefile = "cut.xlsave", Replace = true }).Execute());
        Assert.Equal(["XIAC0006"], _f.Engine.ErrorCodes);
        Assert.Contains("the running domain was kept", _f.Engine.Errors[0].Message);
        _f.Engine.Errors.Clear();

        File.WriteAllText(_f.PathOf("hvm.cfg"), "name = 'json-vm'\ntype = 'pv'\nmaxmem = 16\n");
        Assert.False(_f.Wire(new XenIacRestoreDomain { Savefile = "vm.xlsave", Config = "hvm.cfg", Replace = true }).Execute());
        Assert.Equal(["XIAC0007"], _f.Engine.ErrorCodes);
        Assert.Contains("type pvh -> pv", _f.Engine.Errors[0].Message);
        Assert.DoesNotContain("Force", _f.Engine.Errors[0].Message);

        Assert.DoesNotContain(_f.Host.Calls, c => c.StartsWith("destroy", StringComparison.Ordinal));
        Assert.Equal(running.DomId, _f.Host.Domains["json-vm"].Info.DomId);
    }

    /// <summary>
    /// Two builds on one host with one VM name: the other restored the name between this one's destroy and restore,
    /// and the error advised Replace="true", which was set. It is the host being busy (XIAC0008).
    /// </summary>
    [Fact]
    public void A_name_restored_by_another_process_during_Replace_is_XIAC0008_not_advice_to_Replace()
    {
        SavefileMaker.Write(_f.PathOf("vm.xlsave"), SavefileMaker.JsonConfig, SaveFileConfigFormat.Json);
        _f.Host.Add("json-vm");
        _f.Host.AfterDestroy = name => _f.Host.Add(name);
        Assert.False(_f.Wire(new XenIacRestoreDomain { Savefile = "vm.xlsave", Replace = true }).Execute());
        Assert.Equal(["XIAC0008"], _f.Engine.ErrorCodes);
        Assert.Contains("another process restored 'json-vm'", _f.Engine.Errors[0].Message);
        Assert.DoesNotContain("Replace=", _f.Engine.Errors[0].Message);
    }

    [Fact]
    public void The_override_config_decides_the_name_and_is_passed_to_the_host()
    {
        SavefileMaker.Write(_f.PathOf("vm.xlsave"), SavefileMaker.JsonConfig, SaveFileConfigFormat.Json);
        File.WriteAllText(_f.PathOf("other.cfg"), "name = 'renamed'\ntype = 'pvh'\nmaxmem = 16\n");
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
