using XenIac.Core.SaveFiles;
using System.Security.Cryptography;
using XenIac.Hosts;
using XenIac.Store;

namespace XenIac.MSBuild.Tests;

/// <summary>The save and restore tasks with a snapshot store: CI agents sharing one warm snapshot.</summary>
public sealed class StoreTests : IDisposable
{
    private const string HvmConfig = "name = \"web\"\ntype = \"hvm\"\nmemory = 8\nvcpus = 1\n";

    private readonly TaskFixture _f = new();

    public void Dispose() => _f.Dispose();

    /// <summary>A task on the real host its spec names (an embedded host in a folder of the project), as a CI agent runs it.</summary>
    private T OnRealHost<T>(T task) where T : XenIacTask
    {
        task.BuildEngine = _f.Engine;
        return task;
    }

    private static string Sha256(string path)
    {
        using var file = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(file));
    }

    /// <summary>A store at "store" holding the fake host's save of "web" under <paramref name="tag"/>; returns the task.</summary>
    private XenIacSaveDomain PushWeb(string tag = "web@ci", string? keyFile = null)
    {
        _f.Host.Add("web");
        var save = _f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = "agent1/web.xlsave", Store = "store", StoreTag = tag, StoreKeyFile = keyFile });
        Assert.True(save.Execute(), _f.Engine.ToString());
        _f.Opened.Clear();
        _f.Host.Calls.Clear();
        return save;
    }

    [Fact]
    public async Task Save_with_Store_pushes_the_savefile_under_its_tag_and_the_store_gives_back_the_same_bytes()
    {
        var save = PushWeb();

        Assert.False(string.IsNullOrEmpty(save.SnapshotId));
        var savefile = _f.PathOf("agent1/web.xlsave");
        await using var store = await SnapshotStore.OpenAsync(_f.PathOf("store"));
        var snapshot = await store.ResolveAsync("web@ci");
        Assert.Equal(save.SnapshotId, snapshot.Id);
        Assert.Equal(new FileInfo(savefile).Length, snapshot.Bytes);
        Assert.Equal(Sha256(savefile), snapshot.Sha256);
        await store.PullAsync("web@ci", _f.PathOf("pulled.xlsave"));
        Assert.Equal(File.ReadAllBytes(savefile), File.ReadAllBytes(_f.PathOf("pulled.xlsave")));
        Assert.Contains(_f.Engine.Messages, m => m.Message!.Contains($"as snapshot {save.SnapshotId} (web@ci)"));
    }

    [Fact]
    public async Task A_second_agent_restores_from_the_store_into_an_empty_folder_on_a_fresh_embedded_host()
    {
        File.WriteAllText(_f.PathOf("web.cfg"), HvmConfig);
        // Agent 1 makes the warm VM, saves it and pushes it.
        Assert.True(OnRealHost(new XenIacCreateDomain { Host = "embedded:agent1/host", Config = "web.cfg" }).Execute(), _f.Engine.ToString());
        var save = OnRealHost(new XenIacSaveDomain { Host = "embedded:agent1/host", Domain = "web", Savefile = "agent1/vm/web.xlsave", Store = "store", StoreTag = "web@ci" });
        Assert.True(save.Execute(), _f.Engine.ToString());

        // Agent 2 has only the store: no savefile folder, a host that has never seen the domain.
        var restore = OnRealHost(new XenIacRestoreDomain { Host = "embedded:agent2/host", Savefile = "agent2/vm/web.xlsave", Store = "store", StoreTag = "web@ci" });
        Assert.True(restore.Execute(), _f.Engine.ToString());

        Assert.Equal("web", restore.DomainName);
        Assert.Equal(save.SnapshotId, restore.SnapshotId);
        var pulled = _f.PathOf("agent2/vm/web.xlsave");
        Assert.Equal(Sha256(_f.PathOf("agent1/vm/web.xlsave")), Sha256(pulled));
        Assert.True(new FileInfo(pulled).Length > 4 * 1024 * 1024, "the embedded host's savefile carries the guest's pages");
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(pulled));
        await using var host = HostSpec.Parse("embedded:agent2/host", _f.Folder).Open();
        var domain = await host.FindDomainAsync("web");
        Assert.NotNull(domain);
        Assert.Equal(restore.DomId, (int)domain.DomId);
    }

    [Fact]
    public void A_savefile_that_already_holds_the_snapshot_is_not_pulled_again_but_a_changed_one_is()
    {
        PushWeb();
        var savefile = _f.PathOf("agent2/web.xlsave");
        Assert.True(_f.Wire(new XenIacRestoreDomain { Savefile = "agent2/web.xlsave", Store = "store", StoreTag = "web@ci" }).Execute(), _f.Engine.ToString());
        var old = DateTime.UtcNow.AddHours(-1);
        File.SetLastWriteTimeUtc(savefile, old);

        Assert.True(_f.Wire(new XenIacRestoreDomain { Savefile = "agent2/web.xlsave", Store = "store", StoreTag = "web@ci", Replace = true }).Execute(), _f.Engine.ToString());
        Assert.Contains(_f.Engine.Messages, m => m.Message!.Contains("not pulled again"));
        Assert.Equal(old, File.GetLastWriteTimeUtc(savefile));

        // Same length, one byte different: pulled again, and the store's bytes win.
        var bytes = File.ReadAllBytes(savefile);
        bytes[^1] ^= 1;
        File.WriteAllBytes(savefile, bytes);
        Assert.True(_f.Wire(new XenIacRestoreDomain { Savefile = "agent2/web.xlsave", Store = "store", StoreTag = "web@ci", Replace = true }).Execute(), _f.Engine.ToString());
        Assert.Equal(File.ReadAllBytes(_f.PathOf("agent1/web.xlsave")), File.ReadAllBytes(savefile));
    }

    [Fact]
    public void A_tag_the_store_does_not_have_is_XIAC0017_and_leaves_no_savefile_and_no_domain()
    {
        PushWeb("web@ci");
        var task = _f.Wire(new XenIacRestoreDomain { Savefile = "agent2/web.xlsave", Store = "store", StoreTag = "web@nightly", Replace = true });

        Assert.False(task.Execute());

        var error = Assert.Single(_f.Engine.Errors);
        Assert.Equal("XIAC0017", error.Code);
        Assert.Equal("XenIac.XIAC0017", error.HelpKeyword);
        Assert.Contains("'web@nightly'", error.Message);
        Assert.Contains(_f.PathOf("store"), error.Message);
        Assert.False(File.Exists(_f.PathOf("agent2/web.xlsave")));
        Assert.Empty(_f.Opened);
        Assert.Empty(_f.Host.Domains);
    }

    [Fact]
    public void A_store_that_was_never_pushed_to_is_XIAC0017_too()
    {
        var task = _f.Wire(new XenIacRestoreDomain { Savefile = "web.xlsave", Store = "nothing-here", StoreTag = "web@ci" });

        Assert.False(task.Execute());

        Assert.Equal(["XIAC0017"], _f.Engine.ErrorCodes);
        Assert.False(Directory.Exists(_f.PathOf("nothing-here")), "a pull must not create a store");
    }

    [Fact]
    public void An_encrypted_store_without_its_key_is_XIAC0019_and_nothing_is_restored_and_with_it_the_restore_works()
    {
        StoreKey.Generate(_f.PathOf("store.key"));
        PushWeb(keyFile: "store.key");

        var task = _f.Wire(new XenIacRestoreDomain { Savefile = "agent2/web.xlsave", Store = "store", StoreTag = "web@ci" });
        Assert.False(task.Execute());

        var error = Assert.Single(_f.Engine.Errors);
        Assert.Equal("XIAC0019", error.Code);
        Assert.Contains("encrypted", error.Message);
        Assert.Contains("XenIacStoreKeyFile", error.Message);
        Assert.False(File.Exists(_f.PathOf("agent2/web.xlsave")));
        Assert.Empty(_f.Opened);
        Assert.Empty(_f.Host.Domains);

        var withKey = _f.Wire(new XenIacRestoreDomain { Savefile = "agent2/web.xlsave", Store = "store", StoreTag = "web@ci", StoreKeyFile = "store.key" });
        Assert.True(withKey.Execute(), _f.Engine.ToString());
        Assert.Equal("web", withKey.DomainName);
        Assert.Equal(File.ReadAllBytes(_f.PathOf("agent1/web.xlsave")), File.ReadAllBytes(_f.PathOf("agent2/web.xlsave")));
    }

    [Fact]
    public void Another_stores_key_is_XIAC0019()
    {
        StoreKey.Generate(_f.PathOf("store.key"));
        StoreKey.Generate(_f.PathOf("other.key"));
        PushWeb(keyFile: "store.key");

        var task = _f.Wire(new XenIacRestoreDomain { Savefile = "agent2/web.xlsave", Store = "store", StoreTag = "web@ci", StoreKeyFile = "other.key" });

        Assert.False(task.Execute());
        Assert.Equal(["XIAC0019"], _f.Engine.ErrorCodes);
        Assert.Contains("does not belong", _f.Engine.Errors[0].Message);
    }

    [Fact]
    public void A_damaged_pack_is_XIAC0018_and_the_previous_savefile_is_left_as_it_was()
    {
        PushWeb();
        // Flip a byte in the middle of every stored object bigger than the settings (the packs holding the chunks).
        foreach (var file in Directory.EnumerateFiles(_f.PathOf("store"), "*", SearchOption.AllDirectories)
                     .Where(f => f.Contains("pack", StringComparison.OrdinalIgnoreCase)))
        {
            var bytes = File.ReadAllBytes(file);
            bytes[bytes.Length / 2] ^= 0x5a;
            File.WriteAllBytes(file, bytes);
        }
        Directory.CreateDirectory(_f.PathOf("agent2"));
        var previous = File.ReadAllBytes(SavefileMaker.Write(_f.PathOf("agent2/web.xlsave"), "name = 'previous'", SaveFileConfigFormat.XlCfg));

        var task = _f.Wire(new XenIacRestoreDomain { Savefile = "agent2/web.xlsave", Store = "store", StoreTag = "web@ci" });

        Assert.False(task.Execute());
        Assert.Equal(["XIAC0018"], _f.Engine.ErrorCodes);
        Assert.Contains("xen-iac store verify --store " + _f.PathOf("store"), _f.Engine.Errors[0].Message);
        Assert.Equal(previous, File.ReadAllBytes(_f.PathOf("agent2/web.xlsave")));
        Assert.Empty(_f.Opened);
    }

    [Fact]
    public void A_store_location_that_cannot_be_used_is_XIAC0016_before_the_save_so_the_domain_keeps_running()
    {
        _f.Host.Add("web");
        File.WriteAllText(_f.PathOf("not-a-folder"), "a file where the store folder should be");
        var task = _f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = "web.xlsave", Store = "not-a-folder/store", StoreTag = "web@ci" });

        Assert.False(task.Execute());

        var error = Assert.Single(_f.Engine.Errors);
        Assert.Equal("XIAC0016", error.Code);
        Assert.Contains(_f.PathOf("not-a-folder/store"), error.Message);
        Assert.True(_f.Host.Domains.ContainsKey("web"));
        Assert.DoesNotContain(_f.Host.Calls, c => c.StartsWith("save", StringComparison.Ordinal));
        Assert.False(File.Exists(_f.PathOf("web.xlsave")));
    }

    [Fact]
    public void An_invalid_tag_is_XIAC0002_before_the_save_so_the_domain_keeps_running()
    {
        _f.Host.Add("web");
        var task = _f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = "web.xlsave", Store = "store", StoreTag = "web nightly" });

        Assert.False(task.Execute());

        Assert.Equal(["XIAC0002"], _f.Engine.ErrorCodes);
        Assert.Contains("StoreTag", _f.Engine.Errors[0].Message);
        Assert.True(_f.Host.Domains.ContainsKey("web"));
        Assert.Empty(_f.Host.Calls);
        Assert.False(File.Exists(_f.PathOf("web.xlsave")));
    }

    [Fact]
    public void A_tag_without_a_store_is_XIAC0002_for_save_and_restore()
    {
        _f.Host.Add("web");
        Assert.False(_f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = "web.xlsave", StoreTag = "web@ci" }).Execute());
        Assert.False(_f.Wire(new XenIacRestoreDomain { Savefile = "web.xlsave", Snapshot = "web@ci" }).Execute());
        Assert.False(_f.Wire(new XenIacRestoreDomain { Savefile = "web.xlsave", Store = "store" }).Execute());

        Assert.Equal(["XIAC0002", "XIAC0002", "XIAC0002"], _f.Engine.ErrorCodes);
        Assert.Empty(_f.Host.Calls);
    }

    [Fact]
    public void Restore_by_Snapshot_id_pulls_that_snapshot_not_the_newest_of_its_tag()
    {
        var first = PushWeb("web@ci");
        File.Copy(_f.PathOf("agent1/web.xlsave"), _f.PathOf("first.xlsave"));
        _f.Host.Add("web", "name = \"web\"\nmemory = 32\n");
        var second = _f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = "agent1/web.xlsave", Store = "store", StoreTag = "web@ci" });
        Assert.True(second.Execute(), _f.Engine.ToString());
        Assert.NotEqual(first.SnapshotId, second.SnapshotId);

        var task = _f.Wire(new XenIacRestoreDomain { Savefile = "agent2/web.xlsave", Store = "store", Snapshot = first.SnapshotId });

        Assert.True(task.Execute(), _f.Engine.ToString());
        Assert.Equal(first.SnapshotId, task.SnapshotId);
        Assert.Equal(File.ReadAllBytes(_f.PathOf("first.xlsave")), File.ReadAllBytes(_f.PathOf("agent2/web.xlsave")));
    }

    [Fact]
    public void PullSnapshot_with_AllowMissing_reports_a_missing_snapshot_without_an_error()
    {
        var task = _f.Wire(new XenIacPullSnapshot { Savefile = "vm/web.xlsave", Store = "store", StoreTag = "web@ci", AllowMissing = true });

        Assert.True(task.Execute(), _f.Engine.ToString());
        Assert.Null(task.SnapshotId);
        Assert.False(File.Exists(_f.PathOf("vm/web.xlsave")));

        Assert.False(_f.Wire(new XenIacPullSnapshot { Savefile = "vm/web.xlsave", Store = "store", StoreTag = "web@ci" }).Execute());
        Assert.Equal(["XIAC0017"], _f.Engine.ErrorCodes);
    }
}
