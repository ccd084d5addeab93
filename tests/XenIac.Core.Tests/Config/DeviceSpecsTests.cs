using XenIac.Core.Config;

namespace XenIac.Core.Tests.Config;

/// <summary>vtpm, p9, channel, usbctrl and usbdev entries as xl 4.17's parser reads them (tools/xl/xl_parse.c).</summary>
public sealed class DeviceSpecsTests
{
    private static DomainConfig With(string key, string spec) =>
        DomainConfig.Parse($"name = 'web'\ntype = 'hvm'\nmemory = 64\n{key} = [ '{spec}' ]\n");

    /// <summary>Each of these stops xl, so a savefile storing it could not be restored; set-config used to store them.</summary>
    [Theory]
    [InlineData("vtpm", "backend=vtpmmgr,uuid=not-a-uuid", "is not a UUID")]
    [InlineData("vtpm", "uuid=6a5b6a3e-7c1d-4b8e-9f0a-1b2c3d4e5f60", "no backend=")]
    [InlineData("vtpm", "backend=0,model=x", "unknown key 'model'")]
    [InlineData("channel", "name=org.qemu.guest_agent.0,connection=sock", "is not pty or socket")]
    [InlineData("channel", "name=a", "no connection=")]
    [InlineData("channel", "name=a,connection=socket", "needs path=")]
    [InlineData("channel", "name", "is not key=value")]
    [InlineData("p9", "tag=share,path=/srv/share", "security_model=")]
    [InlineData("p9", "tag=share,path=/srv/share,security_model=none,mode=x", "unknown key 'mode'")]
    [InlineData("usbctrl", "type=bogus", "type 'bogus'")]
    [InlineData("usbctrl", "speed=3", "unknown part 'speed=3'")]
    [InlineData("usbdev", "type=bogus", "is not hostdev")]
    [InlineData("usbdev", "hostbus", "unknown part 'hostbus'")]
    public void Specs_xl_stops_at_are_errors(string key, string spec, string said)
    {
        var e = Assert.Throws<XlConfigException>(() => With(key, spec));
        Assert.Contains(said, e.Message);
        Assert.Contains($"'{key}'", e.Message);
    }

    [Theory]
    [InlineData("usbctrl", "type=PV,version=02,ports=4", "version=2,ports=04,type=pv")]
    [InlineData("usbdev", "hostbus=0x10,hostaddr=010", "hostaddr=8,hostbus=16")]
    [InlineData("vtpm", "backend=0,uuid=6A5B6A3E-7C1D-4B8E-9F0A-1B2C3D4E5F60", " uuid=6a5b6a3e-7c1d-4b8e-9f0a-1b2c3d4e5f60,,backend=0")]
    [InlineData("channel", "name = a , connection = pty", "connection=pty,name=a")]
    [InlineData("vtpm", "backend=0,ignored,uuid=zz", "backend=0")]
    public void Spellings_xl_reads_alike_are_no_change(string key, string one, string other) =>
        Assert.Empty(ConfigCompatibility.Check(With(key, one), With(key, other)));

    [Theory]
    [InlineData("vtpm", "backend=0,uuid=6a5b6a3e-7c1d-4b8e-9f0a-1b2c3d4e5f60", "backend=0,uuid=6a5b6a3e-7c1d-4b8e-9f0a-1b2c3d4e5f61", "vtpm[0].uuid", FindingSeverity.Error)]
    [InlineData("vtpm", "backend=0", "backend=vtpmmgr", "vtpm[0].backend", FindingSeverity.Ok)]
    [InlineData("p9", "tag=a,path=/srv/a,security_model=none", "tag=b,path=/srv/a,security_model=none", "p9[0].tag", FindingSeverity.Error)]
    [InlineData("channel", "name=a,connection=pty", "name=b,connection=pty", "channel[0].name", FindingSeverity.Error)]
    [InlineData("usbctrl", "version=2,ports=4", "version=3,ports=4", "usbctrl[0].version", FindingSeverity.Error)]
    [InlineData("usbdev", "hostbus=1,hostaddr=2", "hostbus=1,hostaddr=3", "usbdev[0].hostaddr", FindingSeverity.Error)]
    public void A_change_is_named_by_its_key_with_its_rule(string key, string saved, string proposed, string setting, FindingSeverity severity)
    {
        var f = Assert.Single(ConfigCompatibility.Check(With(key, saved), With(key, proposed)));
        Assert.Equal((setting, severity), (f.Setting, f.Severity));
    }

    /// <summary>
    /// libxl JSON keeps these devices as JSON text: an xl save's savefile with a guest-agent channel and an xl.cfg
    /// override naming the same channel must not be an error by field (their count is still compared).
    /// </summary>
    [Fact]
    public void Across_languages_the_keyed_devices_are_compared_by_count_only()
    {
        var xl = With("channel", "name=org.qemu.guest_agent.0,connection=pty");
        var json = DomainConfig.FromJson("""
            { "c_info": { "type": "hvm", "name": "web" }, "b_info": { "max_memkb": 65536, "target_memkb": 65536, "type.hvm": {} },
              "channels": [ { "name": "org.qemu.guest_agent.0", "connection": "pty" } ] }
            """);
        var findings = ConfigCompatibility.Check(json, xl);
        Assert.True(ConfigCompatibility.IsCompatible(findings), string.Join("; ", findings));
        var none = DomainConfig.Parse("name = 'web'\ntype = 'hvm'\nmemory = 64\n");
        Assert.Contains(ConfigCompatibility.Check(json, none), f => f is { Setting: "channel.count", Severity: FindingSeverity.Error });
    }

    [Fact]
    public void A_host_path_in_a_share_or_socket_is_still_a_host_effect()
    {
        var effects = HostEffects.Find(DomainConfig.Parse(
            "name = 'web'\ntype = 'hvm'\nmemory = 64\np9 = [ 'tag=a,path=/srv/a,security_model=none' ]\nchannel = [ 'name=c,connection=socket,path=/run/c.sock' ]\n"));
        Assert.Contains(effects, e => e is { Setting: "p9[0].path", Value: "/srv/a", Kind: HostEffectKind.OpensHostPath });
        Assert.Contains(effects, e => e is { Setting: "channel[0].path", Value: "/run/c.sock", Kind: HostEffectKind.OpensHostPath });
    }
}
