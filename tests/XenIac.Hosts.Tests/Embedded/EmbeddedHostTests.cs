using XenIac.Core.Config;
using XenIac.Hosts.Embedded;
using XenIac.Core;
using System.Text.Json.Nodes;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;

namespace XenIac.Hosts.Tests.Embedded;

public sealed class EmbeddedHostTests() : EmbeddedHostTestBase("xeniac-embedded-")
{
    public static string HvmConfig(string name = "web", int memoryMiB = 8, string disk = "/srv/web.img,raw,xvda,rw") => $"""
        name = "{name}"
        type = "hvm"
        memory = {memoryMiB}
        vcpus = 2
        disk = [ '{disk}' ]
        vif = [ 'mac=00:16:3e:01:02:03,bridge=xenbr0' ]
        """;

    private static ConfigText Cfg(string text) => ConfigText.FromText(text);

    private async Task<byte[]> MemoryOf(string name)
    {
        using var ms = new MemoryStream();
        await _host.ReadMemoryAsync(name, ms);
        return ms.ToArray();
    }

    [Fact]
    public async Task Created_domains_are_listed_with_their_shape_and_unique_domids()
    {
        var web = await _host.CreateAsync(Cfg(HvmConfig("web", 8)));
        var db = await _host.CreateAsync(Cfg(HvmConfig("db", 16)), paused: true);

        var list = await _host.ListDomainsAsync();
        Assert.Equal(["web", "db"], list.Select(d => d.Name));
        Assert.Equal(8 * 1024, web.MemoryKiB);
        Assert.Equal(2, web.VCpus);
        Assert.Equal(DomainState.Running, web.State);
        Assert.Equal(DomainState.Paused, db.State);
        Assert.NotEqual(web.DomId, db.DomId);
        var e = await Assert.ThrowsAsync<XenHostException>(() => _host.CreateAsync(Cfg(HvmConfig("web"))));
        Assert.Equal(XenHostError.DomainExists, e.Error);
    }

    [Fact]
    public async Task Memory_is_deterministic_per_name_and_differs_between_domains()
    {
        await _host.CreateAsync(Cfg(HvmConfig("a", 4)));
        await _host.CreateAsync(Cfg(HvmConfig("b", 4)));
        var a = await MemoryOf("a");
        Assert.Equal(4 << 20, a.Length);
        Assert.NotEqual(a, await MemoryOf("b"));
        var other = EmbeddedHost.Open(Path.Combine(_dir, "other"));
        await other.CreateAsync(Cfg(HvmConfig("a", 4)));
        using var ms = new MemoryStream();
        await other.ReadMemoryAsync("a", ms);
        Assert.Equal(a, ms.ToArray());
    }

    [Fact]
    public async Task Save_writes_a_valid_private_savefile_with_libxl_json_and_destroys_the_domain()
    {
        await _host.CreateAsync(Cfg(HvmConfig("web", 8)));
        var path = Path.Combine(_dir, "saves", "web.xlsave");

        var result = await _host.SaveAsync("web", path, SaveOptions.Default);

        Assert.Null(await _host.FindDomainAsync("web"));
        Assert.Equal(new FileInfo(path).Length, result.Bytes);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        using var reader = SaveFileReader.Open(path, new SaveFileReaderOptions { Strict = true });
        Assert.Equal(3u, reader.Header.MandatoryFlags);
        var json = JsonNode.Parse(reader.Header.ConfigText!)!;
        Assert.Equal("web", (string?)json["c_info"]!["name"]);
        Assert.Equal("hvm", (string?)json["c_info"]!["type"]);
        Assert.Equal(8192, (long?)json["b_info"]!["max_memkb"]);
        Assert.Null(json["c_info"]!["domid"]);
        var verification = SaveFileVerification.Verify(reader);
        Assert.True(verification.IsValid, verification.Problem?.ToString());
        Assert.Equal(GuestType.HVM, verification.Summary.GuestType);
        Assert.Equal(2048, verification.Summary.Pages);
        Assert.Equal(2, verification.Summary.VCpus);
    }

    [Fact]
    public async Task Save_seals_the_savefile_with_the_digest_of_its_image()
    {
        await _host.CreateAsync(Cfg(HvmConfig("web", 8)));
        var path = Path.Combine(_dir, "saves", "web.xlsave");

        var result = await _host.SaveAsync("web", path, SaveOptions.Default);

        var bytes = await File.ReadAllBytesAsync(path);
        var record = Assert.IsType<SaveFileIntegrity>(result.Header.Integrity);
        var image = bytes.AsSpan((int)result.Header.ImageOffset);
        Assert.Equal(image.Length, record.ImageLength);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(image), record.Digest);
        await using var reader = SaveFileReader.Open(path, new SaveFileReaderOptions { Strict = true });
        Assert.Equal(record, reader.Header.Integrity);
        var check = reader.BeginIntegrityCheck();
        Assert.True(SaveFileVerification.Verify(reader).IsValid);
        Assert.Equal(SaveFileIntegrityStatus.Match, (await check.CompleteAsync()).Status);
    }

    [Fact]
    public async Task Memory_written_by_the_guest_survives_save_and_restore_exactly()
    {
        await _host.CreateAsync(Cfg(HvmConfig("web", 4)));
        await _host.WriteMemoryAsync("web", 12345, "changed by the guest"u8.ToArray());
        await _host.WriteMemoryAsync("web", (4 << 20) - 3, new byte[] { 1, 2, 3 });
        var before = await MemoryOf("web");
        var path = Path.Combine(_dir, "web.xlsave");

        await _host.SaveAsync("web", path, SaveOptions.Default);
        var restored = await _host.RestoreAsync(path, RestoreOptions.Default);

        Assert.False(restored.ConfigOverridden);
        Assert.Equal("web", restored.Domain.Name);
        Assert.Equal(DomainState.Running, restored.Domain.State);
        Assert.Equal(before, await MemoryOf("web"));
    }

    [Fact]
    public async Task Restore_with_an_override_that_retargets_a_disk_keeps_memory_and_uses_the_new_config()
    {
        await _host.CreateAsync(Cfg(HvmConfig("web", 4, "/srv/web.img,raw,xvda,rw")));
        var before = await MemoryOf("web");
        var path = Path.Combine(_dir, "web.xlsave");
        await _host.SaveAsync("web", path, SaveOptions.Default);

        var restored = await _host.RestoreAsync(path, new RestoreOptions
        {
            OverrideConfig = Cfg(HvmConfig("web", 4, "/srv/web-clone.qcow2,qcow2,xvda,rw")),
            Paused = true,
        });

        Assert.True(restored.ConfigOverridden);
        Assert.Equal(DomainState.Paused, restored.Domain.State);
        Assert.Equal(before, await MemoryOf("web"));
        var config = await _host.GetConfigAsync("web");
        Assert.Contains("/srv/web-clone.qcow2", config.Text);
        Assert.DoesNotContain("/srv/web.img", config.Text);
    }

    [Fact]
    public async Task Checkpoint_keeps_the_domain_running_and_leave_paused_pauses_it()
    {
        await _host.CreateAsync(Cfg(HvmConfig("web", 4)));
        await _host.SaveAsync("web", Path.Combine(_dir, "c.xlsave"), new SaveOptions { Mode = SaveMode.Checkpoint });
        Assert.Equal(DomainState.Running, (await _host.FindDomainAsync("web"))!.State);

        await _host.SaveAsync("web", Path.Combine(_dir, "p.xlsave"), new SaveOptions { LeavePaused = true });
        Assert.Equal(DomainState.Paused, (await _host.FindDomainAsync("web"))!.State);
    }

    [Fact]
    public async Task Save_with_D_keeps_the_domid_and_an_alternative_config_is_stored_instead()
    {
        var info = await _host.CreateAsync(Cfg(HvmConfig("web", 4)));
        var path = Path.Combine(_dir, "web.xlsave");
        await _host.SaveAsync("web", path, new SaveOptions
        {
            Mode = SaveMode.Checkpoint,
            PreserveDomId = true,
            AlternativeConfig = Cfg(HvmConfig("web-alt", 4)),
        });
        using var reader = SaveFileReader.Open(path);
        var json = JsonNode.Parse(reader.Header.ConfigText!)!;
        Assert.Equal("web-alt", (string?)json["c_info"]!["name"]);
        Assert.Equal(info.DomId, (uint?)json["c_info"]!["domid"]);
    }

    [Fact]
    public async Task A_cancelled_save_leaves_the_old_savefile_the_domain_and_no_temp_file()
    {
        await _host.CreateAsync(Cfg(HvmConfig("web", 64)));
        var saves = Directory.CreateDirectory(Path.Combine(_dir, "saves")).FullName;
        var path = Path.Combine(saves, "web.xlsave");
        await File.WriteAllTextAsync(path, "the previous good savefile");
        using var cts = new CancellationTokenSource();
        var progress = new CancelAt(cts, 8 << 20);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            _host.SaveAsync("web", path, new SaveOptions { Progress = progress }, cts.Token));

        Assert.Equal("the previous good savefile", await File.ReadAllTextAsync(path));
        Assert.Equal([path], Directory.GetFiles(saves));
        Assert.Equal(DomainState.Running, (await _host.FindDomainAsync("web"))!.State);
    }

    [Fact]
    public async Task Restoring_over_a_running_domain_of_the_same_name_is_refused()
    {
        await _host.CreateAsync(Cfg(HvmConfig("web", 4)));
        var path = Path.Combine(_dir, "web.xlsave");
        await _host.SaveAsync("web", path, new SaveOptions { Mode = SaveMode.Checkpoint });
        var e = await Assert.ThrowsAsync<XenHostException>(() => _host.RestoreAsync(path, RestoreOptions.Default));
        Assert.Equal(XenHostError.DomainExists, e.Error);
    }

    [Fact]
    public async Task A_corrupt_image_is_refused_and_registers_nothing()
    {
        await _host.CreateAsync(Cfg(HvmConfig("web", 4)));
        var path = Path.Combine(_dir, "web.xlsave");
        await _host.SaveAsync("web", path, SaveOptions.Default);
        var bytes = await File.ReadAllBytesAsync(path);
        using (var reader = SaveFileReader.Open(new MemoryStream(bytes))) bytes[reader.ImageOffset + 3] ^= 0xFF; // the libxl ident
        await File.WriteAllBytesAsync(path, bytes);

        var e = await Assert.ThrowsAsync<XenHostException>(() => _host.RestoreAsync(path, RestoreOptions.Default));
        Assert.Contains("cannot restore", e.Message);
        Assert.Empty(await _host.ListDomainsAsync());
    }

    [Fact]
    public async Task Restore_into_too_little_memory_is_refused()
    {
        await _host.CreateAsync(Cfg(HvmConfig("web", 8)));
        var path = Path.Combine(_dir, "web.xlsave");
        await _host.SaveAsync("web", path, SaveOptions.Default);
        var e = await Assert.ThrowsAsync<XenHostException>(() =>
            _host.RestoreAsync(path, new RestoreOptions { OverrideConfig = Cfg(HvmConfig("web", 4)) }));
        Assert.Contains("only 4096 KiB", e.Message);
        Assert.Empty(await _host.ListDomainsAsync());
    }

    [Fact]
    public async Task Legacy_savefiles_restore_with_a_supplied_config()
    {
        await _host.CreateAsync(Cfg(HvmConfig("web", 4)));
        var before = await MemoryOf("web");
        var xl = Path.Combine(_dir, "web.xlsave");
        var legacy = Path.Combine(_dir, "web.img");
        await _host.SaveAsync("web", xl, SaveOptions.Default);
        await SaveFileRewriter.ConvertToLegacyAsync(xl, legacy);

        // The same refusal as the libxl host's: a host error about the config, whose message asks for one.
        var e = await Assert.ThrowsAsync<XenHostException>(() => _host.RestoreAsync(legacy, new RestoreOptions { Legacy = true }));
        Assert.Equal(XenHostError.InvalidConfig, e.Error);
        Assert.Contains("--config", e.Message);
        var restored = await _host.RestoreAsync(legacy, new RestoreOptions { Legacy = true, OverrideConfig = Cfg(HvmConfig("web", 4)) });
        Assert.Equal("web", restored.Domain.Name);
        Assert.Equal(before, await MemoryOf("web"));
    }

    [Fact]
    public async Task Pv_domains_round_trip_too()
    {
        await _host.CreateAsync(Cfg("name = \"pv1\"\ntype = \"pv\"\nmemory = 4\nkernel = \"/boot/vmlinuz\"\n"));
        var before = await MemoryOf("pv1");
        var path = Path.Combine(_dir, "pv1.xlsave");
        await _host.SaveAsync("pv1", path, SaveOptions.Default);
        using (var reader = SaveFileReader.Open(path))
            Assert.Equal(GuestType.PV, SaveFileVerification.Verify(reader).Summary.GuestType);
        await _host.RestoreAsync(path, RestoreOptions.Default);
        Assert.Equal(before, await MemoryOf("pv1"));
    }

    [Fact]
    public async Task Two_host_objects_on_one_folder_never_create_the_same_name_twice()
    {
        var second = EmbeddedHost.Open(_host.Folder);
        var attempts = Enumerable.Range(0, 8).Select(i => (i % 2 == 0 ? _host : second).CreateAsync(Cfg(HvmConfig("same", 4)))).ToList();
        var outcomes = await Task.WhenAll(attempts.Select(async t =>
        {
            try { await t; return "ok"; }
            catch (XenHostException e) when (e.Error == XenHostError.DomainExists) { return "exists"; }
        }));
        Assert.Single(outcomes, o => o == "ok");
        Assert.Single(await second.ListDomainsAsync());
    }

    [Fact]
    public void A_non_empty_foreign_folder_is_not_taken_over()
    {
        var foreign = Directory.CreateDirectory(Path.Combine(_dir, "foreign")).FullName;
        File.WriteAllText(Path.Combine(foreign, "important.txt"), "x");
        var e = Assert.Throws<XenHostException>(() => EmbeddedHost.Open(foreign));
        Assert.Equal(XenHostError.Unavailable, e.Error);
    }

    private sealed class CancelAt(CancellationTokenSource cts, long bytes) : IProgress<long>
    {
        public void Report(long value)
        {
            if (value >= bytes) cts.Cancel();
        }
    }
}

/// <summary>What the embedded host writes is what Xen's own checker accepts.</summary>
public sealed class EmbeddedSavefileReferenceTests
{
    [SkippableTheory]
    [InlineData("name = \"h\"\ntype = \"hvm\"\nmemory = 4\nvcpus = 2\n")]
    [InlineData("name = \"p\"\ntype = \"pv\"\nmemory = 4\nkernel = \"/boot/vmlinuz\"\n")]
    public async Task Embedded_savefiles_pass_xens_verify_stream_v2(string config)
    {
        Skip.IfNot(XenIac.Tests.ReferenceChecker.Available, XenIac.Tests.ReferenceChecker.MissingReason);
        var dir = Directory.CreateTempSubdirectory("xeniac-embedded-ref-").FullName;
        var host = EmbeddedHost.Open(Path.Combine(dir, "host"));
        var info = await host.CreateAsync(ConfigText.FromText(config));
        var path = Path.Combine(dir, "d.xlsave");
        await host.SaveAsync(info.Name, path, new SaveOptions { Mode = SaveMode.Checkpoint });

        var (exitCode, output) = XenIac.Tests.ReferenceChecker.Run(path);

        Assert.True(exitCode == 0, output);
        Assert.Contains("Processed xl header", output);
        Assert.Contains("Libxl Record: End", output);
        Directory.Delete(dir, true);
    }
}

public sealed class EmbeddedHostNameTests
{
    [Theory]
    [InlineData("../../escaped")]
    [InlineData("a/b")]
    [InlineData(".hidden")]
    [InlineData("nope")] // a name that could exist: its lock file stayed behind
    public async Task Names_that_cannot_exist_are_not_found_and_touch_nothing_outside_the_folder(string name)
    {
        var dir = Directory.CreateTempSubdirectory("xeniac-names-").FullName;
        var host = EmbeddedHost.Open(Path.Combine(dir, "a", "host"));
        var before = Directory.GetFileSystemEntries(dir, "*", SearchOption.AllDirectories).Order().ToList();

        foreach (var op in new Func<Task>[]
        {
            () => host.PauseAsync(name), () => host.UnpauseAsync(name), () => host.DestroyAsync(name),
            () => host.SaveAsync(name, Path.Combine(dir, "x.xlsave"), SaveOptions.Default),
            () => host.WriteMemoryAsync(name, 0, new byte[1]),
        })
        {
            var e = await Assert.ThrowsAsync<XenHostException>(op);
            Assert.Equal(XenHostError.DomainNotFound, e.Error);
        }
        Assert.Equal(before, Directory.GetFileSystemEntries(dir, "*", SearchOption.AllDirectories).Order().ToList());
    }
}
