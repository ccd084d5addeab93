using XenIac.Core.Config;
using XenIac.Hosts.Embedded;

namespace XenIac.Hosts.Tests.Embedded;

public sealed class EmbeddedHostInfoTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-hostinfo-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string Marker => Path.Combine(_dir, "host", "xeniac-embedded-host.json");

    [Fact]
    public async Task By_default_it_plays_xen_4_17_on_no_cpu_vendor_and_its_live_domains_take_from_free_memory()
    {
        await using var host = EmbeddedHost.Open(Path.Combine(_dir, "host"));
        var empty = await host.GetHostInfoAsync();
        Assert.Equal("4.17.0", empty.XenVersion);
        Assert.Equal(new Version(4, 17), empty.XenRelease);
        Assert.Equal(HostCpu.Unknown, empty.CpuVendor);
        Assert.True(empty.FreeMemoryKiB > 0);

        await host.CreateAsync(ConfigText.FromText(EmbeddedHostTests.HvmConfig("web", memoryMiB: 64)));
        Assert.Equal(empty.FreeMemoryKiB - 64 * 1024, (await host.GetHostInfoAsync()).FreeMemoryKiB);
    }

    [Fact]
    public async Task The_marker_file_can_make_the_folder_another_machine()
    {
        await using (EmbeddedHost.Open(Path.Combine(_dir, "host"))) { }
        File.WriteAllText(Marker, """{"kind":"xeniac-embedded-host","version":1,"xenVersion":"4.21.0-rc1","cpuVendor":"GenuineIntel","memoryMiB":1024}""");
        await using var host = EmbeddedHost.Open(Path.Combine(_dir, "host"));
        await host.CreateAsync(ConfigText.FromText(EmbeddedHostTests.HvmConfig("web", memoryMiB: 256)));

        var info = await host.GetHostInfoAsync();
        Assert.Equal("4.21.0-rc1", info.XenVersion);
        Assert.Equal(new Version(4, 21), info.XenRelease);
        Assert.Equal("GenuineIntel", info.CpuVendor);
        Assert.Equal(768L * 1024, info.FreeMemoryKiB);
    }

    [Fact]
    public async Task A_marker_that_is_not_json_is_a_clear_unavailable_error()
    {
        await using (EmbeddedHost.Open(Path.Combine(_dir, "host"))) { }
        File.WriteAllText(Marker, "{ not json");
        await using var host = EmbeddedHost.Open(Path.Combine(_dir, "host"));
        var e = await Assert.ThrowsAsync<XenHostException>(() => host.GetHostInfoAsync());
        Assert.Equal(XenHostError.Unavailable, e.Error);
        Assert.Contains("xeniac-embedded-host.json", e.Message);
    }

    [Theory]
    [InlineData("\"xenVersion\":\"\"", "xenVersion")]
    [InlineData("\"xenVersion\":\"4.17 \\n evil\"", "xenVersion")]
    [InlineData("\"cpuVendor\":\"\\u0000\"", "cpuVendor")]
    [InlineData("\"cpuVendor\":\"AuthenticAMDAuthenticAMD\"", "cpuVendor")]
    [InlineData("\"memoryMiB\":-5", "memoryMiB")]
    [InlineData("\"memoryMiB\":0", "memoryMiB")]
    public async Task A_marker_saying_something_no_machine_is_is_refused_naming_the_field(string field, string named)
    {
        await using (EmbeddedHost.Open(Path.Combine(_dir, "host"))) { }
        File.WriteAllText(Marker, "{\"kind\":\"xeniac-embedded-host\",\"version\":1," + field + "}");
        await using var host = EmbeddedHost.Open(Path.Combine(_dir, "host"));
        var e = await Assert.ThrowsAsync<XenHostException>(() => host.GetHostInfoAsync());
        Assert.Contains(named, e.Message);
    }

    [Theory]
    [InlineData("4.17.5", 4, 17)]
    [InlineData("4.20-rc", 4, 20)]
    [InlineData("4.20.1-pre", 4, 20)]
    public void The_release_is_major_and_minor(string version, int major, int minor) =>
        Assert.Equal(new Version(major, minor), new HostInfo(version, "x", 0).XenRelease);

    [Theory]
    [InlineData("")]
    [InlineData("unstable")]
    [InlineData("4")]
    public void A_version_without_major_and_minor_has_no_release(string version) =>
        Assert.Null(new HostInfo(version, "x", 0).XenRelease);

    [Fact]
    public async Task A_save_records_the_fingerprint_it_is_given_in_the_optional_data_and_the_savefile_still_restores()
    {
        await using var host = EmbeddedHost.Open(Path.Combine(_dir, "host"));
        await host.CreateAsync(ConfigText.FromText(EmbeddedHostTests.HvmConfig("web", memoryMiB: 8)));
        var fingerprint = "sha256:" + new string('a', 64);
        var path = Path.Combine(_dir, "web.xlsave");
        await host.SaveAsync("web", path, new SaveOptions { Fingerprint = fingerprint });

        using (var reader = XenIac.Core.SaveFiles.SaveFileReader.Open(path))
        {
            Assert.Equal(fingerprint, reader.Header.Fingerprint);
            Assert.NotNull(reader.Header.Integrity);
        }
        Assert.Equal("web", (await host.RestoreAsync(path, RestoreOptions.Default)).Domain.Name);
    }
}
