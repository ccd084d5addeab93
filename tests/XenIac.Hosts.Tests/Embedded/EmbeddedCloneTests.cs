using System.Diagnostics;
using System.Globalization;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Hosts.Embedded;

namespace XenIac.Hosts.Tests.Embedded;

/// <summary>Clones of one savefile on the embedded host: fixups applied, pages shared until written, the base removed with the last clone.</summary>
public sealed class EmbeddedCloneTests : IAsyncLifetime
{
    private const int MemoryMiB = 32;
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-embedded-clones-").FullName;
    private EmbeddedHost _host = null!;
    private string _savefile = null!;
    private byte[] _sourceMemory = null!;

    private string HostDir => Path.Combine(_dir, "host");

    public async Task InitializeAsync()
    {
        _host = EmbeddedHost.Open(HostDir);
        await _host.CreateAsync(ConfigText.FromText($"""
            name = "tmpl"
            type = "hvm"
            memory = {MemoryMiB}
            vcpus = 1
            disk = [ 'format=raw,vdev=xvda,access=rw,target={_dir}/tmpl.img' ]
            vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]
            """));
        await _host.WriteMemoryAsync("tmpl", 4096 * 3 + 10, "written by the source"u8.ToArray());
        _sourceMemory = await MemoryOf("tmpl");
        _savefile = Path.Combine(_dir, "tmpl.xlsave");
        await _host.SaveAsync("tmpl", _savefile, SaveOptions.Default);
    }

    public Task DisposeAsync()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        return Task.CompletedTask;
    }

    private async Task<byte[]> MemoryOf(string name)
    {
        using var copy = new MemoryStream();
        await _host.ReadMemoryAsync(name, copy);
        return copy.ToArray();
    }

    private static RestoreOptions Clone(string name, MacPool pool) =>
        new() { Fixups = new CloneFixups { Name = name, DiskPattern = CloneFixups.DefaultDiskPattern }, Macs = pool };

    /// <summary>Disk blocks the folder really holds (du counts allocated blocks, so sparse holes are free).</summary>
    private static long AllocatedKiB(string path)
    {
        var du = Process.Start(new ProcessStartInfo("du", ["-sk", path]) { RedirectStandardOutput = true })!;
        var output = du.StandardOutput.ReadToEnd();
        du.WaitForExit();
        return long.Parse(output.Split('\t')[0], CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Clones_get_distinct_names_and_macs_the_sources_memory_and_share_its_pages()
    {
        var before = AllocatedKiB(HostDir);
        var pool = new MacPool(["00:16:3e:00:00:01"]);
        var results = await Task.WhenAll(Enumerable.Range(1, 4).Select(i => _host.RestoreAsync(_savefile, Clone($"tmpl-{i}", pool))));

        Assert.Equal(["tmpl-1", "tmpl-2", "tmpl-3", "tmpl-4"], results.Select(r => r.Domain.Name).Order());
        var macs = results.Select(r => Assert.Single(r.Cloned!.Macs)).ToList();
        Assert.Equal(4, macs.Distinct().Count());
        Assert.DoesNotContain("00:16:3e:00:00:01", macs);
        Assert.Contains(results[0].Findings, f => f.Setting == "vif[0].mac" && f.Severity == FindingSeverity.Warning);
        foreach (var r in results)
        {
            var config = (await _host.GetConfigAsync(r.Domain.Name)).ToModel();
            Assert.Equal(r.Domain.Name, config.Name);
            Assert.Equal(r.Cloned!.Macs[0], config.Nics[0].Mac);
            Assert.Equal($"{_dir}/{r.Domain.Name}-xvda.img", config.Disks[0].Target);
            Assert.Equal(_sourceMemory, await MemoryOf(r.Domain.Name));
        }

        // One base of the memory's size for all four, not four copies.
        var grown = AllocatedKiB(HostDir) - before;
        Assert.InRange(grown, MemoryMiB * 1024 / 2, MemoryMiB * 1024 * 3 / 2);
        Assert.Single(Directory.GetDirectories(Path.Combine(HostDir, "bases")));
    }

    [Fact]
    public async Task Writing_one_clone_leaves_the_others_and_its_save_is_a_correct_savefile()
    {
        var pool = new MacPool();
        await _host.RestoreAsync(_savefile, Clone("a", pool));
        await _host.RestoreAsync(_savefile, Clone("b", pool));
        // Across a page boundary, so two pages get copied up from the base.
        await _host.WriteMemoryAsync("a", 4096 * 5 - 4, "changed in a"u8.ToArray());

        var a = await MemoryOf("a");
        Assert.NotEqual(_sourceMemory, a);
        Assert.Equal("changed in a"u8.ToArray(), a.AsSpan(4096 * 5 - 4, 12).ToArray());
        Assert.Equal(_sourceMemory.AsSpan(0, 4096 * 5 - 4).ToArray(), a.AsSpan(0, 4096 * 5 - 4).ToArray());
        Assert.Equal(_sourceMemory.AsSpan(4096 * 5 + 8).ToArray(), a.AsSpan(4096 * 5 + 8).ToArray());
        Assert.Equal(_sourceMemory, await MemoryOf("b"));

        var saved = Path.Combine(_dir, "a.xlsave");
        await _host.SaveAsync("a", saved, SaveOptions.Default);
        using (var reader = SaveFileReader.Open(saved))
        {
            Assert.True(SaveFileVerification.Verify(reader).IsValid);
            Assert.Equal("a", ConfigText.FromSavefile(reader.Header, saved).ToModel().Name);
        }
        await _host.RestoreAsync(saved, RestoreOptions.Default);
        Assert.Equal(a, await MemoryOf("a"));
        Assert.Equal(_sourceMemory, await MemoryOf("b"));
    }

    /// <summary>
    /// Cancelled while its base loads (before its own folder exists), a clone's cleanup deleted files in that missing
    /// folder: the DirectoryNotFoundException replaced the cancellation (`domain clone` said "a clone failed ...
    /// Could not find a part of the path") and the base's removal after it never ran, leaving an empty bases/ID.
    /// </summary>
    [Fact]
    public async Task A_clone_cancelled_while_its_base_loads_reports_cancelled_and_leaves_nothing()
    {
        // 32 MiB at 8 MiB/s: the base takes 4 s to load, and the cancel comes half a second in.
        var slow = EmbeddedHost.Open(HostDir, new EmbeddedHostOptions { ThrottleMiBs = 8 });
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => slow.RestoreAsync(_savefile, Clone("x", new MacPool()), cancel.Token));

        var bases = Path.Combine(HostDir, "bases");
        Assert.True(!Directory.Exists(bases) || Directory.GetFileSystemEntries(bases).Length == 0, "a base was left");
        Assert.False(Directory.Exists(Path.Combine(HostDir, "domains", "x")));
        Assert.Empty(await _host.ListDomainsAsync());
        // And the folder still clones.
        await _host.RestoreAsync(_savefile, Clone("x", new MacPool()));
        Assert.Equal(_sourceMemory, await MemoryOf("x"));
    }

    /// <summary>Every file of the host folder holds guest memory or what is derived from it, or names who works on it: 0600 all.</summary>
    [Fact]
    public async Task Every_file_in_the_host_folder_is_private_after_create_save_and_clone()
    {
        var pool = new MacPool();
        await _host.RestoreAsync(_savefile, Clone("x", pool));
        // y's page map is the one its restore made (a write to x replaces x's through AtomicFile).
        await _host.RestoreAsync(_savefile, Clone("y", pool));
        await _host.WriteMemoryAsync("x", 4096, "changed"u8.ToArray());
        await _host.SaveAsync("x", Path.Combine(_dir, "x.xlsave"), SaveOptions.Default with { Mode = SaveMode.Checkpoint });
        await _host.CreateAsync(ConfigText.FromText("name = \"plain\"\ntype = \"hvm\"\nmemory = 8\nvcpus = 1\n"));
        await _host.WriteMemoryAsync("plain", 0, "plain"u8.ToArray());

        var files = Directory.GetFiles(HostDir, "*", SearchOption.AllDirectories);
        Assert.Contains(Path.Combine(HostDir, "domains", "y", "overlay.map"), files);
        Assert.Contains(files, f => f.EndsWith("xeniac-embedded-host.json", StringComparison.Ordinal));
        Assert.All(files, f => Assert.True(File.GetUnixFileMode(f) == (UnixFileMode.UserRead | UnixFileMode.UserWrite),
            $"{Path.GetRelativePath(HostDir, f)} is {File.GetUnixFileMode(f)}"));
        // And every folder the host made is 0700: names of domains and bases, and who locks them, are the owner's too.
        var folders = Directory.GetDirectories(HostDir, "*", SearchOption.AllDirectories);
        Assert.Contains(Path.Combine(HostDir, "bases"), folders);
        Assert.All(folders, d => Assert.True(File.GetUnixFileMode(d) == (UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute),
            $"{Path.GetRelativePath(HostDir, d)} is {File.GetUnixFileMode(d)}"));
    }

    [Fact]
    public async Task Destroying_the_last_clone_removes_the_base()
    {
        var pool = new MacPool();
        await _host.RestoreAsync(_savefile, Clone("x", pool));
        await _host.RestoreAsync(_savefile, Clone("y", pool));
        var bases = Path.Combine(HostDir, "bases");
        await _host.DestroyAsync("x");
        Assert.Single(Directory.GetDirectories(bases));
        Assert.Equal(_sourceMemory, await MemoryOf("y"));
        await _host.DestroyAsync("y");
        Assert.Empty(Directory.GetDirectories(bases));
        Assert.Empty(await _host.ListDomainsAsync());
    }

    [Fact]
    public async Task A_plain_restore_is_unchanged_and_a_clone_of_an_incompatible_override_is_refused()
    {
        await _host.RestoreAsync(_savefile, RestoreOptions.Default);
        Assert.True(File.Exists(Path.Combine(HostDir, "domains", "tmpl", "memory.img")));
        Assert.False(Directory.Exists(Path.Combine(HostDir, "bases")));

        var stored = (await _host.GetConfigAsync("tmpl")).Text.Replace($"\"max_memkb\": {MemoryMiB * 1024}", $"\"max_memkb\": {MemoryMiB * 2048}", StringComparison.Ordinal);
        var e = await Assert.ThrowsAsync<XenHostException>(() => _host.RestoreAsync(_savefile,
            Clone("big", new MacPool()) with { OverrideConfig = new ConfigText(stored, SaveFileConfigFormat.Json) }));
        Assert.Equal(XenHostError.InvalidConfig, e.Error);
        Assert.Contains("maxmem", e.Message, StringComparison.Ordinal);
        Assert.Null(await _host.FindDomainAsync("big"));
    }
    [Fact]
    public async Task A_clone_from_a_stream_gets_the_fixups_and_its_own_memory()
    {
        await using var stream = File.OpenRead(_savefile);
        var result = await _host.RestoreAsync(stream, "store", Clone("s", new MacPool()));
        Assert.Equal("s", result.Domain.Name);
        Assert.Equal(result.Cloned!.Macs[0], (await _host.GetConfigAsync("s")).ToModel().Nics[0].Mac);
        Assert.Equal(_sourceMemory, await MemoryOf("s"));
        Assert.True(File.Exists(Path.Combine(HostDir, "domains", "s", "memory.img")));
    }
}
