using XenIac.Core.Config;

namespace XenIac.Core.Tests.Config;

public sealed class DomainConfigToXlTests
{
    [Fact]
    public void Model_to_xl_cfg_and_back_keeps_every_setting()
    {
        const string cfg = """
            name = "web"
            builder = "hvm"
            memory = 1024
            maxmem = 2048
            vcpus = 2
            extra = "quiet"
            disk = [ 'phy:/dev/vg/web,xvda,w', ',,hdc:cdrom,r' ]
            vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0,model=e1000,accel=x' ]
            stdvga = 1
            boot = "dc"
            serial = "pty"
            pci = [ '0000:01:00.0' ]
            cpus = [ "2", "3" ]
            on_reboot = "preserve"
            """;
        var model = DomainConfig.Parse(cfg);
        var xl = model.ToXlConfig(out var notConverted);
        Assert.Empty(notConverted);
        Assert.Equal(model.ToSettings(), DomainConfig.FromXl(XlConfig.Parse(xl.ToString())).ToSettings());
    }

    [Fact]
    public void Json_only_leaves_are_named_as_not_converted()
    {
        var json = """{"c_info":{"type":"pv","name":"a","xsdata":{"k":"v"}},"b_info":{"max_memkb":65536,"target_memkb":65536}}""";
        var model = DomainConfig.FromJson(json);
        var xl = model.ToXlConfig(out var notConverted);
        Assert.Equal(["json:c_info.xsdata.k"], notConverted);
        Assert.Equal(64, xl.GetLong("memory"));
    }
}
