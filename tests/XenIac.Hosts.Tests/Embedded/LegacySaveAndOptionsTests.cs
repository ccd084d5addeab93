using XenIac.Core.Config;
using XenIac.Core.IO;
using XenIac.Core.SaveFiles;
using XenIac.Hosts.Embedded;

namespace XenIac.Hosts.Tests.Embedded;

public sealed class LegacySaveAndOptionsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-legacysave-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task A_legacy_save_leaves_a_headerless_file_no_staging_file_and_stops_the_domain_only_when_plain()
    {
        var host = EmbeddedHost.Open(Path.Combine(_dir, "host"));
        await host.CreateAsync(ConfigText.FromText(EmbeddedHostTests.HvmConfig("web", 4)));
        var kept = Path.Combine(_dir, "kept.img");
        var checkpoint = await LegacySave.SaveAsync(host, "web", kept, new SaveOptions { Mode = SaveMode.Checkpoint });
        Assert.NotNull(await host.FindDomainAsync("web"));
        Assert.Equal(new FileInfo(kept).Length, checkpoint.Bytes);
        Assert.False(SaveFileHeader.LooksLikeXlSavefile(kept));

        var plain = Path.Combine(_dir, "plain.img");
        await LegacySave.SaveAsync(host, "web", plain, SaveOptions.Default);
        Assert.Null(await host.FindDomainAsync("web"));
        Assert.DoesNotContain(Directory.GetFiles(_dir), f => Path.GetFileName(f).StartsWith(AtomicFile.TempPrefix, StringComparison.Ordinal));

        var restored = await host.RestoreAsync(plain, new RestoreOptions
        {
            Legacy = true, OverrideConfig = ConfigText.FromText(EmbeddedHostTests.HvmConfig("web", 4)),
        });
        Assert.Equal("web", restored.Domain.Name);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("fast", null)]
    [InlineData("0", null)]
    [InlineData("-3", null)]
    [InlineData("2.5", 2.5)]
    public void The_throttle_option_comes_from_the_environment_only_when_it_is_a_positive_number(string? value, double? expected)
    {
        var before = Environment.GetEnvironmentVariable(EmbeddedHostOptions.ThrottleVariable);
        try
        {
            Environment.SetEnvironmentVariable(EmbeddedHostOptions.ThrottleVariable, value);
            Assert.Equal(expected, EmbeddedHostOptions.FromEnvironment().ThrottleMiBs);
        }
        finally
        {
            Environment.SetEnvironmentVariable(EmbeddedHostOptions.ThrottleVariable, before);
        }
    }

    [Fact]
    public async Task A_throttled_host_takes_about_as_long_as_its_limit_says()
    {
        // 4 MiB of memory at 8 MiB/s: the save cannot finish in much under half a second.
        var host = EmbeddedHost.Open(Path.Combine(_dir, "slow"), new EmbeddedHostOptions { ThrottleMiBs = 8 });
        await host.CreateAsync(ConfigText.FromText(EmbeddedHostTests.HvmConfig("web", 4)));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await host.SaveAsync("web", Path.Combine(_dir, "web.xlsave"), SaveOptions.Default);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.4), $"took {clock.Elapsed}");
    }
}
