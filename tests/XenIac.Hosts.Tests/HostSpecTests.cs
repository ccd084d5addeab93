namespace XenIac.Hosts.Tests;

public sealed class HostSpecTests
{
    [Fact]
    public void Unknown_host_spec_is_refused_with_the_valid_choices()
    {
        var e = Assert.Throws<XenHostException>(() => HostSpec.Parse("qemu:/tmp"));
        Assert.Equal(XenHostError.Unavailable, e.Error);
        Assert.Contains("embedded:<folder>", e.Message);
        Assert.Contains("libxl", e.Message);
    }

    [Fact]
    public void Embedded_spec_without_folder_is_refused()
    {
        var e = Assert.Throws<XenHostException>(() => HostSpec.Parse("embedded:"));
        Assert.Contains("embedded:<folder>", e.Message);
    }

    [SkippableFact]
    public void No_spec_off_dom0_says_how_to_pick_the_embedded_host()
    {
        Skip.If(XenHosts.IsDom0, "this machine is a Xen dom0, where no spec means libxl");
        var e = Assert.Throws<XenHostException>(() => HostSpec.Parse(null).Open());
        Assert.Contains("not a Xen dom0", e.Message);
        Assert.Contains("embedded:<folder> (--host in xen-iac, `host:` in a manifest, XenIacHost in MSBuild)", e.Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  \t")]
    public void Blank_is_the_default_host(string? text) => Assert.True(HostSpec.Parse(text).IsDefault);

    [Fact]
    public void Surrounding_white_space_is_ignored()
    {
        Assert.Equal(HostSpec.Libxl, HostSpec.Parse("  libxl\n"));
        Assert.Equal(HostSpec.Parse("embedded:/srv/h"), HostSpec.Parse(" embedded:/srv/h "));
    }

    [Fact]
    public void Relative_folders_resolve_against_the_base_directory_without_a_trailing_separator()
    {
        var spec = HostSpec.Parse("embedded:hosts/a/", "/srv/project");
        Assert.Equal(HostKind.Embedded, spec.Kind);
        Assert.Equal("/srv/project/hosts/a", spec.Folder);
        Assert.Equal("embedded:/srv/project/hosts/a", spec.ToString());
        Assert.Equal(spec, HostSpec.Parse(spec.ToString()));
    }

    [Fact]
    public void Apply_lock_lives_in_the_embedded_folder_or_once_per_machine()
    {
        Assert.Equal("/srv/h/locks/apply.lock", HostSpec.Parse("embedded:/srv/h").ApplyLockPath);
        Assert.EndsWith("xen-iac-apply.lock", HostSpec.Libxl.ApplyLockPath);
    }

    [Fact]
    public void A_typed_folder_is_created_only_under_an_existing_parent()
    {
        var dir = Path.Combine(Path.GetTempPath(), "xeniac-hostspec-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string? created = null;
            var spec = HostSpec.Parse("embedded:new", dir).PrepareTyped(f => created = f);
            Assert.Equal(Path.Combine(dir, "new"), created);
            Assert.True(Directory.Exists(spec.Folder));

            var e = Assert.Throws<XenHostException>(() => HostSpec.Parse("embedded:no/such", dir).PrepareTyped());
            Assert.Contains("parent folder", e.Message);
            Assert.False(Directory.Exists(Path.Combine(dir, "no")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
