namespace XenIac.MSBuild.Tests;

public sealed class CreateDestroyTests : IDisposable
{
    private readonly TaskFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void Creates_a_domain_from_an_xl_cfg_file()
    {
        File.WriteAllText(_f.PathOf("vm.cfg"), "name = \"made\"\nmemory = 16\n");
        var task = _f.Wire(new XenIacCreateDomain { Config = "vm.cfg", Paused = true });

        Assert.True(task.Execute(), _f.Engine.ToString());

        Assert.Equal("made", task.DomainName);
        Assert.Equal(Hosts.DomainState.Paused, _f.Host.Domains["made"].Info.State);
    }

    [Fact]
    public void Create_of_an_existing_name_is_XIAC0004_unless_Replace()
    {
        File.WriteAllText(_f.PathOf("vm.cfg"), "name = \"made\"\n");
        _f.Host.Add("made");

        var plain = _f.Wire(new XenIacCreateDomain { Config = "vm.cfg" });
        Assert.False(plain.Execute());
        Assert.Equal(["XIAC0004"], _f.Engine.ErrorCodes);

        var replacing = _f.Wire(new XenIacCreateDomain { Config = "vm.cfg", Replace = true });
        replacing.BuildEngine = new Fakes.FakeBuildEngine(_f.Engine.ProjectFileOfTaskNode);
        Assert.True(replacing.Execute());
        Assert.Equal(["destroy made", "create made"], _f.Host.Calls);
    }

    [Fact]
    public void A_missing_config_file_is_XIAC0007()
    {
        var task = _f.Wire(new XenIacCreateDomain { Config = "absent.cfg" });

        Assert.False(task.Execute());

        Assert.Equal(["XIAC0007"], _f.Engine.ErrorCodes);
        Assert.Contains(_f.PathOf("absent.cfg"), _f.Engine.Errors[0].Message);
    }

    [Fact]
    public void Destroys_a_domain()
    {
        _f.Host.Add("gone");
        var task = _f.Wire(new XenIacDestroyDomain { Domain = "gone" });

        Assert.True(task.Execute(), _f.Engine.ToString());

        Assert.Empty(_f.Host.Domains);
    }

    [Fact]
    public void Destroying_a_missing_domain_is_XIAC0003_unless_IgnoreMissing()
    {
        Assert.False(_f.Wire(new XenIacDestroyDomain { Domain = "nope" }).Execute());
        Assert.Equal(["XIAC0003"], _f.Engine.ErrorCodes);

        var engine = new Fakes.FakeBuildEngine(_f.Engine.ProjectFileOfTaskNode);
        var lenient = _f.Wire(new XenIacDestroyDomain { Domain = "nope", IgnoreMissing = true });
        lenient.BuildEngine = engine;
        Assert.True(lenient.Execute());
        Assert.Empty(engine.Errors);
        Assert.Empty(engine.Warnings);
    }
}
