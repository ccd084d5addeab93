using XenIac.Core.Config;

namespace XenIac.Core.Tests.Config;

/// <summary>The one list of settings that make dom0 run a program or open a host path, and the compatibility rule built on it.</summary>
public sealed class HostEffectsTests
{
    private const string Base = """
        name = "web"
        type = "hvm"
        memory = 1024
        vcpus = 1
        disk = [ 'format=raw,vdev=xvda,access=rw,target=/dev/vg/web' ]
        vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]
        """;

    private static DomainConfig Model(string extra = "") => DomainConfig.Parse(Base + "\n" + extra);

    [Theory]
    [InlineData("device_model_override", HostEffectKind.ExecutesProgram)]
    [InlineData("device_model_args", HostEffectKind.ExecutesProgram)]
    [InlineData("device_model_args_hvm", HostEffectKind.ExecutesProgram)]
    [InlineData("bootloader", HostEffectKind.ExecutesProgram)]
    [InlineData("disk[0].script", HostEffectKind.ExecutesProgram)]
    [InlineData("vif[3].script", HostEffectKind.ExecutesProgram)]
    [InlineData("json:b_info.device_model_args_hvm[2]", HostEffectKind.ExecutesProgram)]
    [InlineData("json:b_info.type.pv.bootloader_args[0]", HostEffectKind.ExecutesProgram)]
    [InlineData("kernel", HostEffectKind.OpensHostPath)]
    [InlineData("ramdisk", HostEffectKind.OpensHostPath)]
    [InlineData("disk[1].target", HostEffectKind.OpensHostPath)]
    [InlineData("pci[0]", HostEffectKind.OpensHostPath)]
    [InlineData("json:disks[0].pdev_path", HostEffectKind.OpensHostPath)]
    public void Settings_that_act_on_dom0_are_classified(string setting, HostEffectKind kind) =>
        Assert.Equal(kind, HostEffects.Classify(setting));

    [Theory]
    [InlineData("memory")]
    [InlineData("disk[0].vdev")]
    [InlineData("vif[0].bridge")]
    [InlineData("on_crash")]
    [InlineData("json:b_info.max_memkb")]
    public void Guest_side_settings_are_not(string setting) => Assert.Null(HostEffects.Classify(setting));

    /// <summary>
    /// libxl stores serial "none" for an HVM guest without a serial port, so every real savefile of one carried it and
    /// its restore was refused as "opens a host path". Ports that open nothing are not effects; files, pipes, devices
    /// and sockets are, as a single string, a list or a JSON leaf.
    /// </summary>
    [Theory]
    [InlineData("serial = \"none\"", null)]
    [InlineData("serial = \"pty\"", null)]
    [InlineData("serial = \"null\"", null)]
    [InlineData("serial = \"vc:80Cx24C\"", null)]
    [InlineData("serial = \"file:/etc/shadow\"", "serial")]
    [InlineData("serial = \"/dev/ttyS0\"", "serial")]
    [InlineData("serial = \"unix:/run/x.sock,server\"", "serial")]
    [InlineData("serial = [ \"pty\", \"pipe:/tmp/p\" ]", "serial")] // a list is one setting: flagged unless it is one harmless port
    public void A_serial_port_is_an_effect_only_when_it_opens_something_on_dom0(string line, string? setting)
    {
        var found = HostEffects.Find(Model(line)).Where(e => e.Setting.StartsWith("serial", StringComparison.Ordinal)).ToList();
        if (setting is null) Assert.Empty(found);
        else Assert.Equal(setting, Assert.Single(found).Setting);
    }

    [Fact]
    public void The_serial_none_of_a_real_libxl_json_config_is_not_an_effect()
    {
        var json = """{"c_info":{"type":"hvm","name":"h"},"b_info":{"type":{"hvm":{"serial":"none"}}}}""";
        Assert.DoesNotContain(HostEffects.Find(DomainConfig.FromJson(json, "t")), e => e.Setting.Contains("serial", StringComparison.Ordinal));
        var file = """{"c_info":{"type":"hvm","name":"h"},"b_info":{"type":{"hvm":{"serial":"file:/etc/shadow"}}}}""";
        Assert.Contains(HostEffects.Find(DomainConfig.FromJson(file, "t")), e => e.Setting.Contains("serial", StringComparison.Ordinal));
    }

    [Fact]
    public void Find_names_programs_and_paths_but_not_xens_installed_scripts()
    {
        var effects = HostEffects.Find(Model("""
            device_model_override = "/tmp/qemu"
            kernel = "/boot/vmlinuz"
            vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0,script=vif-route', 'mac=00:16:3e:00:00:02,script=/etc/xen/scripts/vif-nat', 'mac=00:16:3e:00:00:03,script=/etc/xen/scripts/../../../tmp/x' ]
            """));
        var settings = effects.Select(e => e.Setting).ToList();
        Assert.Contains("device_model_override", settings);
        Assert.Contains("kernel", settings);
        Assert.Contains("disk[0].target", settings);
        Assert.Contains("vif[2].script", settings);
        Assert.DoesNotContain("vif[0].script", settings);
        Assert.DoesNotContain("vif[1].script", settings);
    }

    [Fact]
    public void NotIn_leaves_out_what_the_operators_config_names_with_the_same_value()
    {
        var stored = Model("kernel = \"/boot/vmlinuz\"\nbootloader = \"/tmp/evil\"");
        var operators = Model("kernel = \"/boot/vmlinuz\"\nbootloader = \"pygrub\"");
        var left = HostEffects.NotIn(stored, operators);
        Assert.Equal(["bootloader"], left.Select(e => e.Setting));
        Assert.Equal(HostEffects.Find(stored).Count, HostEffects.NotIn(stored, null).Count);
    }

    [Theory]
    [InlineData("device_model_override = \"/usr/local/bin/qemu\"", "device_model_override")]
    [InlineData("device_model_args = [ '-evil' ]", "device_model_args")]
    [InlineData("disk = [ 'format=raw,vdev=xvda,access=rw,script=/tmp/block-evil,target=/dev/vg/web' ]", "disk[0].script")]
    [InlineData("vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0,script=/opt/x/vif' ]", "vif[0].script")]
    public void A_compatibility_check_rates_a_new_program_as_an_error_that_executes_on_dom0(string change, string setting)
    {
        var finding = Assert.Single(ConfigCompatibility.Check(Model(), Model(change)), f => f.Setting == setting);
        Assert.Equal(FindingSeverity.Error, finding.Severity);
        Assert.StartsWith(HostEffects.ExecutesReason, finding.Reason);
    }

    [Fact]
    public void Switching_between_installed_scripts_stays_compatible()
    {
        var finding = Assert.Single(ConfigCompatibility.Check(Model(), Model("vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0,script=vif-openvswitch' ]")),
            f => f.Setting == "vif[0].script");
        Assert.Equal(FindingSeverity.Ok, finding.Severity);
    }
}
