using System.Text;
using XenIac.Core.SaveFiles;
using XenIac.Store.Backends;
using XenIac.Tests;

namespace XenIac.Store.Tests;

public sealed class SnapshotStoreTests : IAsyncLifetime
{
    private readonly StoreTestFiles _files = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _files.DisposeAsync();

    private Task<SnapshotStore> OpenAsync(bool create = true, string? key = null, TimeSpan? lockWait = null) =>
        SnapshotStore.OpenAsync(_files.StorePath, new StoreOptions { KeyFile = key, LockWait = lockWait ?? TimeSpan.FromSeconds(10) }, create);

    private async Task<string> RoundTripAsync(SnapshotStore store, string path, string? tag = null)
    {
        var pushed = await store.PushAsync(path, tag);
        Assert.Equal(new FileInfo(path).Length, pushed.Snapshot.Bytes);
        Assert.Equal(StoreTestFiles.Sha256(path), pushed.Snapshot.Sha256);
        var back = _files.PathOf("pulled-" + pushed.Snapshot.Id);
        await store.PullAsync(pushed.Snapshot.Id, back);
        Assert.Equal(StoreTestFiles.Sha256(path), StoreTestFiles.Sha256(back));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(back));
        return pushed.Snapshot.Id;
    }

    [SkippableFact]
    public async Task Every_real_xen_savefile_comes_back_byte_for_byte()
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        await using var store = await OpenAsync();
        var names = SharedFixtures.RealSavefileNames().ToList();
        Assert.NotEmpty(names);
        foreach (var name in names)
            await RoundTripAsync(store, SharedFixtures.RealSavefile(name));
        Assert.True((await store.VerifyAsync()).Ok);
    }

    [Theory]
    [InlineData("pv")]
    [InlineData("hvm")]
    public async Task Embedded_host_savefiles_come_back_byte_for_byte(string type)
    {
        await _files.CreateAsync("g", type, memoryMiB: 16);
        var path = await _files.SaveAsync("g", "g.save");
        await using var store = await OpenAsync();
        await RoundTripAsync(store, path);
    }

    [Fact]
    public async Task Legacy_extension_and_garbage_files_come_back_byte_for_byte()
    {
        await _files.CreateAsync("g", "hvm", memoryMiB: 4);
        var path = await _files.SaveAsync("g", "g.save");
        await using var store = await OpenAsync();

        // Legacy: the image alone, as an old xl wrote it without a header.
        var header = SaveFileHeader.Read(File.OpenRead(path));
        var legacy = _files.PathOf("legacy.save");
        using (var src = File.OpenRead(path))
        using (var dst = File.Create(legacy))
        {
            src.Position = header.ImageOffset;
            src.CopyTo(dst);
        }
        await RoundTripAsync(store, legacy);

        // Optional data with bytes after the config that xl skips.
        var extended = _files.PathOf("extended.save");
        using (var src = File.OpenRead(path))
        using (var dst = File.Create(extended))
        {
            (header with { Extension = Encoding.ASCII.GetBytes("future extension bytes") }).WriteTo(dst);
            src.Position = header.ImageOffset;
            src.CopyTo(dst);
        }
        await RoundTripAsync(store, extended);

        // Anything else: a truncated savefile, random bytes, an empty file.
        var truncated = _files.PathOf("truncated.save");
        using (var src = File.OpenRead(path))
        using (var dst = File.Create(truncated))
        {
            var keep = new byte[src.Length / 2 + 4095];
            src.ReadExactly(keep);
            dst.Write(keep);
        }
        await RoundTripAsync(store, truncated);
        var random = _files.PathOf("random.bin");
        File.WriteAllBytes(random, Enumerable.Range(0, 3_000_001).Select(i => (byte)(i * 7919 >> 3)).ToArray());
        await RoundTripAsync(store, random);
        var empty = _files.PathOf("empty.bin");
        File.WriteAllBytes(empty, []);
        await RoundTripAsync(store, empty);
        Assert.True((await store.VerifyAsync()).Ok);
    }

    [Fact]
    public async Task A_second_save_with_two_percent_of_pages_rewritten_adds_little()
    {
        const int memoryMiB = 64;
        await _files.CreateAsync("g", "pv", memoryMiB);
        var first = await _files.SaveAsync("g", "first.save");
        await using var store = await OpenAsync();
        var one = await store.PushAsync(first, "g@ci");

        // 2% of the pages, written in runs of 16 pages at scattered places, as a guest dirties buffers.
        var rng = new Random(7);
        var pages = memoryMiB * 256;
        var run = new byte[16 * 4096];
        for (var written = 0; written < pages / 50; written += 16)
        {
            rng.NextBytes(run);
            await _files.Host.WriteMemoryAsync("g", (long)rng.Next(pages - 16) * 4096, run);
        }
        var second = await _files.SaveAsync("g", "second.save");
        var two = await store.PushAsync(second, "g@ci");

        Assert.True(two.StoredBytes <= one.StoredBytes * 0.05,
            $"second push stored {two.StoredBytes} bytes, first {one.StoredBytes}");
        Assert.True(two.NewChunks < two.Snapshot.Chunks / 5);
        var back = _files.PathOf("back");
        // What a pull killed outright leaves beside its destination: its temp file, named with its (dead) process.
        var dead = System.Diagnostics.Process.Start("true")!;
        dead.WaitForExit();
        var stale = Path.Combine(Path.GetDirectoryName(back)!, $".xeniac-tmp-back.{dead.Id}.0123456789abcdef");
        File.WriteAllBytes(stale, new byte[4096]);
        await store.PullAsync("g@ci", back);
        Assert.Equal(StoreTestFiles.Sha256(second), StoreTestFiles.Sha256(back));
        Assert.False(File.Exists(stale));
    }

    [Fact]
    public async Task A_flipped_byte_anywhere_in_a_pack_is_named_by_verify_and_pull_refuses()
    {
        await _files.CreateAsync("g", "hvm", 8);
        var path = await _files.SaveAsync("g", "g.save");
        await using var store = await OpenAsync();
        var id = (await store.PushAsync(path, "t")).Snapshot.Id;
        var packs = Directory.GetFiles(Path.Combine(_files.StorePath, "packs"), "*", SearchOption.AllDirectories);
        Assert.NotEmpty(packs);
        foreach (var (pack, at) in packs.SelectMany(p => new[] { 0L, 1, new FileInfo(p).Length / 3, new FileInfo(p).Length / 2, new FileInfo(p).Length - 1 }.Select(at => (p, at))))
        {
            var bytes = File.ReadAllBytes(pack);
            bytes[at] ^= 0x40;
            File.WriteAllBytes(pack, bytes);
            var report = await store.VerifyAsync();
            Assert.False(report.Ok);
            var damaged = Assert.Single(report.Damaged);
            Assert.Contains(Path.GetFileName(pack), damaged.Problem);
            Assert.Equal([id], damaged.Snapshots);
            Assert.Equal([id], report.BrokenSnapshots);
            var dest = _files.PathOf("pulled");
            var e = await Assert.ThrowsAsync<StoreException>(() => store.PullAsync(id, dest));
            Assert.Equal(StoreError.Damaged, e.Error);
            Assert.Contains(damaged.Chunk, e.Message);
            Assert.False(File.Exists(dest));
            bytes[at] ^= 0x40;
            File.WriteAllBytes(pack, bytes);
        }
        Assert.True((await store.VerifyAsync()).Ok);
    }

    [Fact]
    public async Task A_damaged_recipe_is_named_and_gc_deletes_nothing()
    {
        await _files.CreateAsync("g", "pv", 4);
        var path = await _files.SaveAsync("g", "g.save");
        await using var store = await OpenAsync();
        var id = (await store.PushAsync(path)).Snapshot.Id;
        var recipe = Assert.Single(Directory.GetFiles(Path.Combine(_files.StorePath, "recipes")));
        var bytes = File.ReadAllBytes(recipe);
        bytes[^1] ^= 1;
        File.WriteAllBytes(recipe, bytes);
        var report = await store.VerifyAsync();
        Assert.Equal([id], report.BrokenSnapshots);
        var before = StoreObjects();
        await Assert.ThrowsAsync<StoreException>(() => store.GcAsync());
        Assert.Equal(before, StoreObjects());
    }

    [Theory]
    [InlineData("deleted")]
    [InlineData("cut")]
    public async Task A_push_stores_again_the_chunks_whose_pack_is_gone_so_the_snapshot_pulls(string damage)
    {
        await _files.CreateAsync("g", "pv", 4);
        var path = await _files.SaveAsync("g", "g.save");
        await using var store = await OpenAsync();
        await store.PushAsync(path, "t");
        foreach (var pack in Directory.GetFiles(Path.Combine(_files.StorePath, "packs"), "*", SearchOption.AllDirectories))
        {
            if (damage == "deleted") File.Delete(pack);
            else { using var f = File.OpenWrite(pack); f.SetLength(100); }
        }

        // Before: exit 0 with newChunks 0, trusting the first snapshot's chunk list, and a snapshot no pull could read.
        var again = await store.PushAsync(path, "t");
        Assert.True(again.NewChunks > 0);
        Assert.True(again.StoredBytes > 0);
        var back = _files.PathOf("back");
        await store.PullAsync(again.Snapshot.Id, back);
        Assert.Equal(StoreTestFiles.Sha256(path), StoreTestFiles.Sha256(back));
    }

    [Fact]
    public async Task A_manifest_changed_after_the_push_is_named_by_verify_and_does_not_hide_the_others()
    {
        await _files.CreateAsync("g", "pv", 4);
        var path = await _files.SaveAsync("g", "g.save");
        await using var store = await OpenAsync();
        var a = (await store.PushAsync(path, "a")).Snapshot;
        var b = (await store.PushAsync(path, "b")).Snapshot;
        Assert.NotNull(a.Seal);
        Assert.True((await store.VerifyAsync()).Ok);

        // A wrong savefile digest: every chunk is sound, so only the seal tells verify (pull found it at the very end).
        var manifest = Path.Combine(_files.StorePath, "snapshots", a.Id + ".json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace(a.Sha256, new string('0', 64)));
        var report = await store.VerifyAsync();
        Assert.False(report.Ok);
        Assert.Equal([a.Id], report.BrokenSnapshots);
        Assert.Contains("seal", Assert.Single(report.Damaged).Problem);

        foreach (var damaged in new[] { "null", "{", "[]" })
        {
            File.WriteAllText(manifest, damaged);
            var scan = await store.ScanAsync();
            Assert.Equal([b.Id], scan.Snapshots.Select(s => s.Id));
            Assert.Contains(a.Id, Assert.Single(scan.Damaged).Chunk);
            // The other tag still pulls, a push still works, verify names the broken one, gc stops before deleting.
            var back = _files.PathOf("back-" + damaged.Length);
            await store.PullAsync("b", back);
            Assert.Equal(StoreTestFiles.Sha256(path), StoreTestFiles.Sha256(back));
            var c = (await store.PushAsync(path, "c")).Snapshot;
            Assert.Equal([a.Id], (await store.VerifyAsync()).BrokenSnapshots);
            var pullA = await Assert.ThrowsAsync<StoreException>(() => store.PullAsync(a.Id, _files.PathOf("a")));
            Assert.Equal(StoreError.Damaged, pullA.Error);
            var before = StoreObjects();
            await Assert.ThrowsAsync<StoreException>(() => store.GcAsync(keep: 1));
            Assert.Equal(before, StoreObjects());
            File.Delete(Path.Combine(_files.StorePath, "snapshots", c.Id + ".json"));
        }
    }

    [Fact]
    public async Task A_new_folder_store_is_its_owners_alone_folders_0700_objects_0600()
    {
        await _files.CreateAsync("modes", "pv", 4);
        var path = await _files.SaveAsync("modes", "m.save");
        await using (var store = await OpenAsync())
            await RoundTripAsync(store, path);
        var folders = Directory.GetDirectories(_files.StorePath, "*", SearchOption.AllDirectories).Append(_files.StorePath).ToList();
        Assert.True(folders.Count > 2);
        Assert.All(folders, f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(f)));
        Assert.All(Directory.GetFiles(_files.StorePath, "*", SearchOption.AllDirectories),
            f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f)));
    }

    /// <summary>
    /// With its settings file lost, the next push made a new store over the old data: with another key the old
    /// snapshots could never be read again, and without one it wrote an unencrypted marker before failing.
    /// </summary>
    [Fact]
    public async Task A_push_does_not_make_a_new_store_over_one_whose_settings_file_is_lost()
    {
        var key = _files.PathOf("k1");
        var other = _files.PathOf("k2");
        StoreKey.Generate(key);
        StoreKey.Generate(other);
        await _files.CreateAsync("lost", "pv", 4);
        var path = await _files.SaveAsync("lost", "l.save");
        string id;
        await using (var store = await OpenAsync(key: key))
            id = (await store.PushAsync(path, "lost@1")).Snapshot.Id;
        var settings = Path.Combine(_files.StorePath, "xeniac-store.json");
        var kept = File.ReadAllBytes(settings);
        File.Delete(settings);

        foreach (var k in new[] { other, null })
        {
            var e = await Assert.ThrowsAsync<StoreException>(() => OpenAsync(key: k));
            Assert.Equal(StoreError.Damaged, e.Error);
            Assert.Contains("holds snapshots or packs but no xeniac-store.json", e.Message);
            Assert.False(File.Exists(settings));
        }
        File.WriteAllBytes(settings, kept);
        await using (var store = await OpenAsync(key: key))
            await store.PullAsync(id, _files.PathOf("back"));
        Assert.Equal(StoreTestFiles.Sha256(path), StoreTestFiles.Sha256(_files.PathOf("back")));
    }

    [Fact]
    public async Task Encrypted_store_needs_its_key_and_holds_no_plaintext()
    {
        var key = _files.PathOf("store.key");
        StoreKey.Generate(key);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        Assert.Equal(StoreError.Key, Assert.Throws<StoreException>(() => StoreKey.Generate(key)).Error);
        await _files.CreateAsync("secretdomain", "pv", 4);
        var path = await _files.SaveAsync("secretdomain", "g.save");
        await using (var store = await OpenAsync(key: key))
            await RoundTripAsync(store, path, "enc");

        foreach (var file in Directory.GetFiles(_files.StorePath, "*", SearchOption.AllDirectories))
            Assert.DoesNotContain("secretdomain", Encoding.Latin1.GetString(File.ReadAllBytes(file)));

        var e = await Assert.ThrowsAsync<StoreException>(() => OpenAsync(create: false));
        Assert.Equal(StoreError.Key, e.Error);
        var other = _files.PathOf("other.key");
        StoreKey.Generate(other);
        e = await Assert.ThrowsAsync<StoreException>(() => OpenAsync(create: false, key: other));
        Assert.Equal(StoreError.Key, e.Error);
        Assert.Contains("does not belong", e.Message);
    }

    [Theory]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("abababababababababababababababababababababababababababababababab")]
    public async Task A_new_store_refuses_a_key_that_is_not_random(string hex)
    {
        var weak = _files.PathOf("weak.key");
        File.WriteAllText(weak, hex + "\n");
        var e = await Assert.ThrowsAsync<StoreException>(() => OpenAsync(key: weak));
        Assert.Equal(StoreError.Key, e.Error);
        Assert.Contains("is not a random key", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_files.StorePath), "the refused key still made a store");
        // A generated key is never weak.
        var good = _files.PathOf("good.key");
        StoreKey.Generate(good);
        Assert.False(StoreKey.Load(good).IsWeak);
    }

    [Fact]
    public async Task Gc_keeps_the_newest_N_of_each_tag_and_frees_their_chunks()
    {
        await using var store = await OpenAsync();
        var kept = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            await _files.CreateAsync($"g{i}", "pv", 4);
            var path = await _files.SaveAsync($"g{i}", $"g{i}.save");
            var pushed = await store.PushAsync(path, "web@nightly");
            kept.Add(pushed.Snapshot.Id);
            await Task.Delay(5);
        }
        await _files.CreateAsync("other", "pv", 4);
        var untagged = (await store.PushAsync(await _files.SaveAsync("other", "other.save"))).Snapshot.Id;
        Assert.Equal(kept[2], (await store.ResolveAsync("web@nightly")).Id);

        var dry = await store.GcAsync(keep: 1, dryRun: true);
        Assert.Equal(2, dry.RemovedSnapshots.Count);
        Assert.Equal(4, (await store.ListAsync()).Count);

        var before = StoreObjects();
        var shown = await store.ResolveAsync(kept[0]);
        var gc = await store.GcAsync(keep: 1);
        // A snapshot resolved (and shown) before the gc cannot be pulled after it: named, and no file written.
        var gone = await Assert.ThrowsAsync<StoreException>(() => store.PullAsync(shown, _files.PathOf("gone")));
        Assert.Equal(StoreError.NotFound, gone.Error);
        Assert.Contains("no longer", gone.Message);
        Assert.False(File.Exists(_files.PathOf("gone")));
        var stillThere = await store.ResolveAsync(kept[2]);
        await store.PullAsync(stillThere, _files.PathOf("kept"));
        Assert.Equal(stillThere.Sha256, StoreTestFiles.Sha256(_files.PathOf("kept")));
        Assert.Equal(new[] { kept[0], kept[1] }.Order(), gc.RemovedSnapshots.Select(s => s.Id).Order());
        Assert.True(gc.RemovedObjects > 0);
        Assert.Equal(before - gc.RemovedObjects, StoreObjects());
        Assert.Equal(new[] { kept[2], untagged }.Order(), (await store.ListAsync()).Select(s => s.Id).Order());
        Assert.True((await store.VerifyAsync()).Ok);
        await store.PullAsync(untagged, _files.PathOf("u"));
        Assert.Equal(StoreTestFiles.Sha256(_files.PathOf("other.save")), StoreTestFiles.Sha256(_files.PathOf("u")));
    }

    [Fact]
    public async Task Gc_waits_for_a_push_lock_and_gives_up_naming_it()
    {
        await using var store = await OpenAsync();
        await _files.CreateAsync("g", "pv", 4);
        await store.PushAsync(await _files.SaveAsync("g", "g.save"));
        await using (await store.HoldAsync())
        {
            await using var gcStore = await OpenAsync(create: false, lockWait: TimeSpan.FromSeconds(1));
            var e = await Assert.ThrowsAsync<StoreException>(() => gcStore.GcAsync());
            Assert.Equal(StoreError.Busy, e.Error);
            Assert.Contains($"process {Environment.ProcessId}", e.Message);
        }
        await store.GcAsync();
    }

    [Fact]
    public async Task A_cancelled_push_leaves_no_snapshot()
    {
        await _files.CreateAsync("g", "pv", 32);
        var path = await _files.SaveAsync("g", "g.save");
        await using var store = await OpenAsync();
        using var cts = new CancellationTokenSource();
        var progress = new Progress<long>(_ => cts.Cancel());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.PushAsync(path, "t", new SyncProgress(_ => cts.Cancel()), cts.Token));
        Assert.Empty(await store.ListAsync());
        Assert.Empty(Directory.GetFiles(Path.Combine(_files.StorePath, "locks")));
        await Assert.ThrowsAsync<StoreException>(() => store.ResolveAsync("t"));
    }

    [Fact]
    public async Task References_and_locations_are_checked()
    {
        await Assert.ThrowsAsync<StoreException>(() => SnapshotStore.OpenAsync(_files.PathOf("none"), create: false));
        Assert.Equal(StoreError.InvalidArgument, Assert.Throws<StoreException>(() => StoreBackends.Open("ftp://x/y")).Error);
        Assert.Equal(StoreError.InvalidArgument, Assert.Throws<StoreException>(() => StoreBackends.Open("-")).Error);
        await using var store = await OpenAsync();
        // ... and hex digits alone from 4 on ("cafe", 128 a's), which read as the start of a snapshot id.
        foreach (var bad in new[] { "bad tag", "@", "-x", "..", "", new string('w', 129), "cafe", new string('a', 128) })
            Assert.Equal(StoreError.InvalidArgument, Assert.Throws<StoreException>(() => SnapshotStore.CheckTag(bad)).Error);
        foreach (var good in new[] { "web@nightly", "9.x", "a", "abc", "cafe1g", new string('w', 128) }) SnapshotStore.CheckTag(good);
        var e = await Assert.ThrowsAsync<StoreException>(() => store.ResolveAsync("nothing"));
        Assert.Equal(StoreError.NotFound, e.Error);
    }

    private int StoreObjects() =>
        Directory.GetFiles(Path.Combine(_files.StorePath, "packs"), "*", SearchOption.AllDirectories).Length
        + Directory.GetFiles(Path.Combine(_files.StorePath, "recipes"), "*", SearchOption.AllDirectories).Length;

    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
