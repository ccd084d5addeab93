using XenIac.Tests;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Hosts.Embedded;

namespace XenIac.Hosts.Tests.Embedded;

/// <summary>
/// Restores from a stream that cannot seek, as a snapshot streams out of a store: one pass, nothing written first,
/// and a domain only from a stream that was read to its end and found valid.
/// </summary>
public sealed class StreamedRestoreTests() : EmbeddedHostTestBase("xeniac-streamed-")
{
    private static ConfigText Cfg(string text) => ConfigText.FromText(text);

    private const string Pv = "name = \"pv1\"\ntype = \"pv\"\nmemory = 4\nkernel = \"/boot/vmlinuz\"\n";

    private async Task<byte[]> MemoryOf(string name)
    {
        using var ms = new MemoryStream();
        await _host.ReadMemoryAsync(name, ms);
        return ms.ToArray();
    }

    /// <summary>A saved domain: its savefile's bytes and the memory it had.</summary>
    private async Task<(byte[] Savefile, byte[] Memory)> SavedAsync(string config, string name)
    {
        await _host.CreateAsync(Cfg(config));
        await _host.WriteMemoryAsync(name, 8192 + 17, "written by the guest"u8.ToArray());
        var memory = await MemoryOf(name);
        var path = Path.Combine(_dir, name + ".xlsave");
        await _host.SaveAsync(name, path, SaveOptions.Default);
        var bytes = await File.ReadAllBytesAsync(path);
        File.Delete(path);
        return (bytes, memory);
    }

    [Theory]
    [InlineData("hvm")]
    [InlineData("pv")]
    public async Task A_stream_restores_the_memory_a_file_restore_gives(string type)
    {
        var (config, name) = type == "pv" ? (Pv, "pv1") : (EmbeddedHostTests.HvmConfig("web", 4), "web");
        var (savefile, memory) = await SavedAsync(config, name);
        var reports = new List<long>();

        var restored = await _host.RestoreAsync(new OneWayStream(savefile), "the pipe",
            new RestoreOptions { Progress = new SyncProgress(reports.Add) });

        Assert.Equal(name, restored.Domain.Name);
        Assert.Equal(memory, await MemoryOf(name));
        Assert.Equal(savefile.Length, reports.Max());
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "host", "domains", name), "*.tmp*"));
    }

    [Fact]
    public async Task A_paused_restore_with_an_override_config_from_a_stream()
    {
        var (savefile, memory) = await SavedAsync(EmbeddedHostTests.HvmConfig("web", 4), "web");
        var restored = await _host.RestoreAsync(new OneWayStream(savefile), "the pipe", new RestoreOptions
        {
            Paused = true, OverrideConfig = Cfg(EmbeddedHostTests.HvmConfig("web", 4, "/srv/other.img,raw,xvda,rw")),
        });
        Assert.True(restored.ConfigOverridden);
        Assert.Equal(DomainState.Paused, restored.Domain.State);
        Assert.Contains("/srv/other.img", (await _host.GetConfigAsync("web")).Text);
        Assert.Equal(memory, await MemoryOf("web"));
    }

    public static TheoryData<string> Damage => new() { "page-count", "truncated-in-pages", "truncated-at-end", "trailing-bytes" };

    [Theory]
    [MemberData(nameof(Damage))]
    public async Task A_damaged_stream_registers_nothing_and_leaves_no_memory_file(string damage)
    {
        var (savefile, _) = await SavedAsync(EmbeddedHostTests.HvmConfig("web", 4), "web");
        long imageOffset;
        using (var reader = SaveFileReader.Open(new MemoryStream(savefile))) imageOffset = reader.ImageOffset;
        var bytes = damage switch
        {
            // The first PAGE_DATA record's count, somewhere past the image's headers: the record no longer adds up.
            "page-count" => Flip(savefile, FirstPageDataCount(savefile, imageOffset)),
            "truncated-in-pages" => savefile[..(savefile.Length / 2)],
            "truncated-at-end" => savefile[..^8],
            _ => [.. savefile, 1, 2, 3],
        };

        var e = await Assert.ThrowsAsync<XenHostException>(() => _host.RestoreAsync(new OneWayStream(bytes), "the pipe", RestoreOptions.Default));
        Assert.Contains("cannot restore from the pipe", e.Message);
        Assert.Empty(await _host.ListDomainsAsync());
        Assert.DoesNotContain(Directory.EnumerateFiles(Path.Combine(_dir, "host", "domains"), "*", SearchOption.AllDirectories),
            f => !f.EndsWith(".lock", StringComparison.Ordinal));
        // Not even an empty folder for the domain that never came to be.
        Assert.False(Directory.Exists(Path.Combine(_dir, "host", "domains", "web")), "the failed restore left domains/web behind");
    }

    [Fact]
    public async Task A_source_that_fails_at_its_end_registers_nothing()
    {
        // What a store stream does when the whole-file digest does not match: every byte arrives, then the read fails.
        var (savefile, _) = await SavedAsync(EmbeddedHostTests.HvmConfig("web", 4), "web");
        var e = await Assert.ThrowsAsync<IOException>(() =>
            _host.RestoreAsync(new OneWayStream(savefile) { FailAtEnd = "the whole-file digest does not match" }, "the pipe", RestoreOptions.Default));
        Assert.Contains("digest", e.Message);
        Assert.Empty(await _host.ListDomainsAsync());
    }

    [Fact]
    public async Task Memory_beyond_the_config_is_refused_while_streaming()
    {
        var (savefile, _) = await SavedAsync(EmbeddedHostTests.HvmConfig("web", 8), "web");
        var e = await Assert.ThrowsAsync<XenHostException>(() => _host.RestoreAsync(new OneWayStream(savefile), "the pipe",
            new RestoreOptions { OverrideConfig = Cfg(EmbeddedHostTests.HvmConfig("web", 4)) }));
        Assert.Contains("only 4096 KiB", e.Message);
        Assert.Empty(await _host.ListDomainsAsync());
    }

    [Fact]
    public async Task A_cancelled_streamed_restore_registers_nothing()
    {
        var (savefile, _) = await SavedAsync(EmbeddedHostTests.HvmConfig("web", 8), "web");
        using var cts = new CancellationTokenSource();
        var progress = new SyncProgress(read => { if (read > savefile.Length / 3) cts.Cancel(); });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            _host.RestoreAsync(new OneWayStream(savefile), "the pipe", new RestoreOptions { Progress = progress }, cts.Token));
        Assert.Empty(await _host.ListDomainsAsync());
    }

    private static byte[] Flip(byte[] bytes, long at)
    {
        var copy = (byte[])bytes.Clone();
        copy[at] ^= 0x40;
        return copy;
    }

    /// <summary>The offset of the first PAGE_DATA record's count field (found with the Core's reader).</summary>
    private static long FirstPageDataCount(byte[] savefile, long imageOffset)
    {
        using var reader = SaveFileReader.Open(new MemoryStream(savefile));
        using var image = reader.OpenImage();
        while (image.MoveNext())
            if (image.Current.Is(Core.Streams.LibxcRecordType.PageData))
                return image.Current.Offset + 8;
        throw new InvalidOperationException($"no PAGE_DATA after {imageOffset}");
    }

    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
