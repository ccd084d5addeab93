namespace XenIac.Hosts.Tests;

public sealed class XenHostsTests
{
    [Fact]
    public void Unknown_host_spec_is_refused_with_the_valid_choices()
    {
        var e = Assert.Throws<XenHostException>(() => XenHosts.Open("qemu:/tmp"));
        Assert.Equal(XenHostError.Unavailable, e.Error);
        Assert.Contains("embedded:<folder>", e.Message);
        Assert.Contains("libxl", e.Message);
    }

    [Fact]
    public void Embedded_spec_without_folder_is_refused()
    {
        var e = Assert.Throws<XenHostException>(() => XenHosts.Open("embedded:"));
        Assert.Contains("embedded:<folder>", e.Message);
    }

    [SkippableFact]
    public void No_spec_off_dom0_says_how_to_pick_the_embedded_host()
    {
        Skip.If(XenHosts.IsDom0, "this machine is a Xen dom0, where no spec means libxl");
        var e = Assert.Throws<XenHostException>(() => XenHosts.Open(null));
        Assert.Contains("not a Xen dom0", e.Message);
        Assert.Contains("--host embedded:", e.Message);
    }
}
