using XenIac.Core.Config;
using XenIac.Hosts.Embedded;
using XenIac.Core.SaveFiles;

namespace XenIac.Hosts.Tests.Embedded;

/// <summary>
/// The embedded host reads configs through the validated model and refuses sizes beyond its documented limits or
/// at odds with the image, before it creates any memory file.
/// </summary>
public sealed class EmbeddedHostLimitsTests() : EmbeddedHostTestBase("xeniac-embedded-limits-")
{
    private static ConfigText Json(string text) => new(text, SaveFileConfigFormat.Json);

    [Theory]
    [InlineData("""{"c_info":[]}""", "$.c_info: must be an object")]
    [InlineData("""{"c_info":{"name":"a","name":"b"},"b_info":{"max_memkb":4096}}""", "$.c_info: duplicate key")]
    [InlineData("""{"c_info":{"name":"web"},"b_info":{"max_memkb":"x"}}""", "$.b_info.max_memkb: ")]
    [InlineData("""{"c_info":{"name":"web"},"b_info":{"max_memkb":99999999999999999999}}""", "$.b_info.max_memkb: ")]
    [InlineData("""{"c_info":{"name":"w\u0000eb"},"b_info":{"max_memkb":4096}}""", "$.c_info.name: ")]
    [InlineData("""{"c_info":{"name":"web","type":"hvm"},"b_info":{"max_memkb":4096,"type.hvm":{"acpi":[]}}}""", "$.b_info['type.hvm'].acpi: ")]
    [InlineData("""{"c_info":{"name":"web"},"b_info":{"max_memkb":4096},"disks":[7]}""", "$.disks[0]: ")]
    public async Task Hostile_json_configs_fail_with_the_models_located_error(string json, string expected)
    {
        var e = await Assert.ThrowsAsync<XenHostException>(() => _host.CreateAsync(Json(json)));
        Assert.Equal(XenHostError.InvalidConfig, e.Error);
        Assert.Contains(expected, e.Message);
        Assert.Empty(await _host.ListDomainsAsync());
    }

    /// <summary>"-x" was made, then read as an option by each command naming it, and no manifest could name it.</summary>
    [Theory]
    [InlineData("-x")]
    [InlineData("_x")]
    [InlineData("-")]
    public async Task A_new_domain_name_starts_with_a_letter_or_digit(string name)
    {
        var e = await Assert.ThrowsAsync<XenHostException>(() =>
            _host.CreateAsync(ConfigText.FromText($"name = \"{name}\"\ntype = \"pv\"\nmemory = 8\nkernel = \"/k\"\n")));
        Assert.Equal(XenHostError.InvalidConfig, e.Error);
        Assert.Contains("starting with a letter or digit", e.Message);
        Assert.Empty(await _host.ListDomainsAsync());
        await _host.CreateAsync(ConfigText.FromText("name = \"x-1_a.b\"\ntype = \"pv\"\nmemory = 8\nkernel = \"/k\"\n"));
    }

    [Theory]
    [InlineData(EmbeddedConfig.MaxMemoryMiB + 1, 1, "MiB of memory")]
    [InlineData(8L << 20, 1, "MiB of memory")] // 8 TiB
    [InlineData(64, EmbeddedConfig.MaxVcpus + 1, "vCPUs")]
    public async Task Sizes_beyond_the_embedded_limits_are_refused(long memoryMiB, int vcpus, string message)
    {
        var e = await Assert.ThrowsAsync<XenHostException>(() =>
            _host.CreateAsync(ConfigText.FromText($"name = \"big\"\ntype = \"pv\"\nmemory = {memoryMiB}\nvcpus = {vcpus}\nkernel = \"/k\"\n")));
        Assert.Equal(XenHostError.InvalidConfig, e.Error);
        Assert.Contains(message, e.Message);
    }

    /// <summary>A savefile made by the host, its stored config replaced (the image stays the host's own).</summary>
    private async Task<string> SavefileClaiming(string storedJson)
    {
        await _host.CreateAsync(ConfigText.FromText("name = \"web\"\ntype = \"hvm\"\nmemory = 4\nvcpus = 1\n"));
        var original = Path.Combine(_dir, "web.xlsave");
        await _host.SaveAsync("web", original, SaveOptions.Default);
        var bytes = await File.ReadAllBytesAsync(original);
        long imageOffset;
        using (var reader = SaveFileReader.Open(new MemoryStream(bytes))) imageOffset = reader.ImageOffset;
        var path = Path.Combine(_dir, "forged.xlsave");
        using (var output = File.Create(path))
        {
            SaveFileWriter.WriteHeader(output, SaveFileHeader.Create(storedJson, SaveFileConfigFormat.Json));
            output.Write(bytes, (int)imageOffset, bytes.Length - (int)imageOffset);
        }
        return path;
    }

    private long BytesUnderHost() =>
        new DirectoryInfo(Path.Combine(_dir, "host")).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);

    [Theory]
    [InlineData(8L << 30, "MiB of memory")]   // 8 TiB in KiB: beyond the host's limit
    [InlineData(1L << 20, "carries only")]    // 1 GiB: within the limit, but the image holds 4 MiB
    public async Task A_stored_config_claiming_more_memory_than_sane_or_than_the_image_carries_is_refused(long memKiB, string message)
    {
        var path = await SavefileClaiming(
            "{\"c_info\":{\"name\":\"web\",\"type\":\"hvm\"},\"b_info\":{\"max_memkb\":" + memKiB + ",\"target_memkb\":" + memKiB + ",\"max_vcpus\":1}}");
        var before = BytesUnderHost();
        var e = await Assert.ThrowsAsync<XenHostException>(() => _host.RestoreAsync(path, new RestoreOptions { OverrideConfig = null }));
        Assert.Equal(XenHostError.InvalidConfig, e.Error);
        Assert.Contains(message, e.Message);
        Assert.Equal(before, BytesUnderHost()); // no memory file, sparse or not
        Assert.Empty(await _host.ListDomainsAsync()); // the plain save removed the original
    }

    [Fact]
    public async Task A_stored_config_with_fewer_vcpus_than_the_image_is_refused()
    {
        await _host.CreateAsync(ConfigText.FromText("name = \"cpu\"\ntype = \"hvm\"\nmemory = 4\nvcpus = 3\n"));
        var original = Path.Combine(_dir, "cpu.xlsave");
        await _host.SaveAsync("cpu", original, SaveOptions.Default);
        var e = await Assert.ThrowsAsync<XenHostException>(() => _host.RestoreAsync(original, new RestoreOptions
        {
            OverrideConfig = ConfigText.FromText("name = \"cpu\"\ntype = \"hvm\"\nmemory = 4\nvcpus = 1\n"),
        }));
        Assert.Contains("3 vCPUs", e.Message);
    }

    [Fact]
    public async Task A_stored_config_that_fits_the_image_restores()
    {
        var path = await SavefileClaiming("""{"c_info":{"name":"web2","type":"hvm"},"b_info":{"max_memkb":8192,"target_memkb":8192,"max_vcpus":1}}""");
        var restored = await _host.RestoreAsync(path, RestoreOptions.Default);
        Assert.Equal("web2", restored.Domain.Name);
    }

    [Fact]
    public async Task An_xl_list_wrapped_json_config_creates_saves_and_restores()
    {
        await _host.CreateAsync(Json("""[{"domid":7,"config":{"c_info":{"name":"wrapped","type":"hvm"},"b_info":{"max_memkb":4096,"max_vcpus":1}}}]"""));
        var path = Path.Combine(_dir, "wrapped.xlsave");
        await _host.SaveAsync("wrapped", path, SaveOptions.Default);
        var restored = await _host.RestoreAsync(path, RestoreOptions.Default);
        Assert.Equal(("wrapped", 4096L), (restored.Domain.Name, restored.Domain.MemoryKiB));
    }
}

/// <summary>Tens of MB of config text through the whole host: run alone, so the allocations do not starve tests that measure theirs.</summary>
[CollectionDefinition(nameof(BigRecordTests), DisableParallelization = true)]
public sealed class BigRecordCollection;

[Collection(nameof(BigRecordTests))]
public sealed class BigRecordTests() : EmbeddedHostTestBase("xeniac-embedded-records-")
{
    private static ConfigText WithExtra(string name, char fill, int length) =>
        ConfigText.FromText($"name = \"{name}\"\ntype = \"pv\"\nmemory = 4\nvcpus = 1\nkernel = \"/k\"\nextra = '{new string(fill, length)}'\n");

    [Fact]
    public async Task A_config_whose_record_would_pass_the_hosts_read_limit_is_refused_and_registers_nothing()
    {
        // '<' is escaped twice on its way into the record (libxl JSON, then the record's JSON): ~7 bytes each, so 10 MB
        // of it (a config under the 16 MiB config limit) is a record of ~70 MB, which the host could never read back.
        var e = await Assert.ThrowsAsync<XenHostException>(() => _host.CreateAsync(WithExtra("huge", '<', 10_000_000)));
        Assert.Equal(XenHostError.InvalidConfig, e.Error);
        Assert.Contains("too big for the embedded host", e.Message);
        Assert.Empty(await _host.ListDomainsAsync());
        Assert.False(Directory.Exists(Path.Combine(_dir, "host", "domains", "huge")));

        // A big config the record holds works through the whole life of the domain, destroy included.
        await _host.CreateAsync(WithExtra("big", 'x', 10_000_000));
        Assert.Equal(["big"], (await _host.ListDomainsAsync()).Select(d => d.Name));
        var path = Path.Combine(_dir, "big.xlsave");
        await _host.SaveAsync("big", path, SaveOptions.Default);
        await _host.RestoreAsync(path, RestoreOptions.Default);
        await _host.DestroyAsync("big");
        Assert.Empty(await _host.ListDomainsAsync());
    }

    [Theory]
    [InlineData("{\"name\": trunc")]
    [InlineData("null")] // deserializes to no record: it read as "no such domain" and create then deleted its memory
    public async Task A_domain_whose_record_cannot_be_read_can_still_be_destroyed(string damaged)
    {
        var config = ConfigText.FromText("name = \"hurt\"\ntype = \"pv\"\nmemory = 4\nvcpus = 1\nkernel = \"/k\"\n");
        await _host.CreateAsync(config);
        // A restored domain has its memory in a file of its own, which the damaged record must not cost.
        var saved = Path.Combine(_dir, "hurt.xlsave");
        await _host.SaveAsync("hurt", saved, SaveOptions.Default);
        await _host.RestoreAsync(saved, RestoreOptions.Default);
        var record = Path.Combine(_dir, "host", "domains", "hurt", "domain.json");
        var memory = Directory.GetFiles(Path.GetDirectoryName(record)!).Where(f => f != record).ToArray();
        Assert.NotEmpty(memory);
        await File.WriteAllTextAsync(record, damaged);

        var listed = await Assert.ThrowsAsync<XenHostException>(() => _host.ListDomainsAsync());
        Assert.Contains(record, listed.Message);
        Assert.Contains("corrupt", listed.Message);
        // Nothing takes the damaged domain for absent: a create of its name fails and its memory stays.
        await Assert.ThrowsAsync<XenHostException>(() => _host.CreateAsync(config));
        Assert.All(memory, f => Assert.True(File.Exists(f), f));
        await _host.DestroyAsync("hurt");
        Assert.Empty(await _host.ListDomainsAsync());
        Assert.False(Directory.Exists(Path.GetDirectoryName(record)));
    }

    /// <summary>
    /// A record edited past the host's sizes made a save throw OverflowException (10^15 KiB) or generate terabytes
    /// (4 TiB); a folder in its place said "Access to the path … is denied".
    /// </summary>
    [Theory]
    [InlineData("memoryKiB", 1_000_000_000_000_000L, "memoryKiB 1000000000000000 is not whole pages")]
    [InlineData("memoryKiB", 4L << 30, "is not whole pages from 1 MiB")]
    [InlineData("vCpus", 0L, "vCPUs 0")]
    [InlineData("folder", 0L, "is a folder, not a file")]
    public async Task A_record_edited_past_the_hosts_sizes_is_corrupt_and_the_domain_can_still_be_destroyed(string field, long value, string said)
    {
        await _host.CreateAsync(ConfigText.FromText("name = \"edited\"\ntype = \"pv\"\nmemory = 4\nvcpus = 1\nkernel = \"/k\"\n"));
        var record = Path.Combine(_dir, "host", "domains", "edited", "domain.json");
        if (field == "folder")
        {
            File.Delete(record);
            Directory.CreateDirectory(record);
        }
        else
        {
            var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(record))!.AsObject();
            var key = json.Select(p => p.Key).Single(k => string.Equals(k, field, StringComparison.OrdinalIgnoreCase));
            json[key] = value;
            File.WriteAllText(record, json.ToJsonString());
        }
        var saved = Path.Combine(_dir, "edited.xlsave");
        var e = await Assert.ThrowsAsync<XenHostException>(() => _host.SaveAsync("edited", saved, SaveOptions.Default).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(said, e.Message);
        Assert.False(File.Exists(saved));
        await _host.DestroyAsync("edited");
        Assert.Empty(await _host.ListDomainsAsync());
    }

    /// <summary>
    /// Two first opens of one new folder (CI jobs sharing a host folder): the one that came second saw the folders
    /// the first had made before its marker, and refused the folder as "not empty and not an embedded host folder".
    /// </summary>
    [Fact]
    public async Task First_opens_of_one_new_folder_at_once_all_succeed()
    {
        for (var round = 0; round < 300; round++)
        {
            var folder = Path.Combine(_dir, $"race-{round}");
            using var start = new ManualResetEventSlim();
            var opens = Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
            {
                start.Wait();
                return EmbeddedHost.Open(folder);
            })).ToList();
            start.Set();
            foreach (var host in await Task.WhenAll(opens)) await host.DisposeAsync();
        }
    }

    /// <summary>A memory file cut outside XenIac: the save said "The memory stream ended … (Parameter 'd')".</summary>
    [Fact]
    public async Task A_memory_file_cut_short_is_named_and_the_old_savefile_stays()
    {
        await _host.CreateAsync(ConfigText.FromText("name = \"cut\"\ntype = \"pv\"\nmemory = 4\nvcpus = 1\nkernel = \"/k\"\n"));
        var saved = Path.Combine(_dir, "cut.xlsave");
        await _host.SaveAsync("cut", saved, SaveOptions.Default);
        await _host.RestoreAsync(saved, RestoreOptions.Default);
        var before = await File.ReadAllBytesAsync(saved);
        var memory = Path.Combine(_dir, "host", "domains", "cut", "memory.img");
        using (var f = new FileStream(memory, FileMode.Open)) f.SetLength(1000);
        var e = await Assert.ThrowsAsync<XenHostException>(() => _host.SaveAsync("cut", saved, new SaveOptions { Mode = SaveMode.Checkpoint }));
        Assert.Contains($"the memory file {memory} holds 1,000 bytes", e.Message);
        Assert.Equal(before, await File.ReadAllBytesAsync(saved));
        Assert.Equal(DomainState.Running, (await _host.FindDomainAsync("cut"))!.State);
    }

    /// <summary>
    /// A restored domain's memory file removed outside XenIac: the host gave it generated memory again, and the next
    /// save wrote that as the guest's. Its memory written in place is the same. Destroy still works.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_memory_file_removed_under_a_restored_or_written_domain_is_an_error_not_new_memory(bool written)
    {
        await _host.CreateAsync(ConfigText.FromText("name = \"gone\"\ntype = \"pv\"\nmemory = 4\nvcpus = 1\nkernel = \"/k\"\n"));
        var saved = Path.Combine(_dir, "gone.xlsave");
        if (written) await _host.WriteMemoryAsync("gone", 4096, new byte[] { 1, 2, 3 });
        else
        {
            await _host.SaveAsync("gone", saved, SaveOptions.Default);
            await _host.RestoreAsync(saved, RestoreOptions.Default);
        }
        var before = File.Exists(saved) ? await File.ReadAllBytesAsync(saved) : null;
        File.Delete(Path.Combine(_dir, "host", "domains", "gone", "memory.img"));

        var e = await Assert.ThrowsAsync<XenHostException>(() => _host.SaveAsync("gone", saved, new SaveOptions { Mode = SaveMode.Checkpoint }));
        Assert.Contains("memory.img is missing", e.Message);
        Assert.Equal(before, File.Exists(saved) ? await File.ReadAllBytesAsync(saved) : null);
        await Assert.ThrowsAsync<XenHostException>(() => _host.WriteMemoryAsync("gone", 0, new byte[] { 9 }));
        Assert.False(File.Exists(Path.Combine(_dir, "host", "domains", "gone", "memory.img")), "the write made new memory");
        Assert.Equal(DomainState.Running, (await _host.FindDomainAsync("gone"))!.State);
        await _host.DestroyAsync("gone");
        Assert.Empty(await _host.ListDomainsAsync());
    }
}
