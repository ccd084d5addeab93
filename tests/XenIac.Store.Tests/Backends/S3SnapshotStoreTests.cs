using XenIac.Store.Backends;
using XenIac.Tests;

namespace XenIac.Store.Tests.Backends;

/// <summary>The snapshot store's suite against a real S3-protocol server (npm's s3rver on loopback).</summary>
public sealed class S3SnapshotStoreTests(S3ServerFixture server) : IClassFixture<S3ServerFixture>, IAsyncLifetime
{
    private readonly StoreTestFiles _files = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _files.DisposeAsync();

    private readonly string _prefix = "t" + Guid.NewGuid().ToString("N")[..8];

    private async Task<SnapshotStore> OpenAsync(string? key = null)
    {
        Skip.If(server.SkipReason is not null, server.SkipReason);
        return await SnapshotStore.OpenAsync(server.Open(prefix: _prefix), new StoreOptions { KeyFile = key }, create: true, CancellationToken.None);
    }

    private async Task RoundTripAsync(SnapshotStore store, string path)
    {
        var pushed = await store.PushAsync(path);
        var back = _files.PathOf("back-" + pushed.Snapshot.Id);
        await store.PullAsync(pushed.Snapshot.Id, back);
        Assert.Equal(StoreTestFiles.Sha256(path), StoreTestFiles.Sha256(back));
    }

    [SkippableFact]
    public async Task Savefiles_round_trip_byte_for_byte_through_s3()
    {
        await using var store = await OpenAsync();
        foreach (var type in new[] { "pv", "hvm" })
        {
            await _files.CreateAsync(type, type, 24);
            await RoundTripAsync(store, await _files.SaveAsync(type, type + ".save"));
        }
        if (SharedFixtures.RealXenDir is not null)
            foreach (var name in SharedFixtures.RealSavefileNames().Take(2))
                await RoundTripAsync(store, SharedFixtures.RealSavefile(name));
        Assert.True((await store.VerifyAsync()).Ok);
    }

    [SkippableFact]
    public async Task Two_related_pushes_in_parallel_dedup_and_both_land_whole()
    {
        await _files.CreateAsync("g", "pv", 32);
        var first = await _files.SaveAsync("g", "a.save");
        await _files.Host.WriteMemoryAsync("g", 4096 * 100, new byte[64 << 10]);
        var second = await _files.SaveAsync("g", "b.save");
        await using var one = await OpenAsync();
        await using var two = await OpenAsync();
        var pushes = await Task.WhenAll(one.PushAsync(first, "g@ci"), two.PushAsync(second, "g@ci"));
        Assert.True((await one.VerifyAsync()).Ok);
        foreach (var (pushed, path) in pushes.Zip([first, second]))
        {
            var back = _files.PathOf("p-" + pushed.Snapshot.Id);
            await one.PullAsync(pushed.Snapshot.Id, back);
            Assert.Equal(StoreTestFiles.Sha256(path), StoreTestFiles.Sha256(back));
        }
        // A third push of the second file after both: nothing new but its recipe.
        var again = await one.PushAsync(second, "g@ci");
        Assert.Equal(0, again.NewChunks);
    }

    [SkippableFact]
    public async Task A_flipped_byte_in_a_pack_object_is_named_and_gc_keeps_the_rest()
    {
        await using var store = await OpenAsync();
        await _files.CreateAsync("g", "hvm", 8);
        var path = await _files.SaveAsync("g", "g.save");
        var id = (await store.PushAsync(path, "t")).Snapshot.Id;
        await using var raw = server.Open(prefix: _prefix);
        var packs = new List<string>();
        await foreach (var o in raw.ListAsync("packs/")) packs.Add(o.Key);
        var pack = packs.Order().First();
        var bytes = (await raw.GetAsync(pack, 32 << 20))!;
        bytes[bytes.Length / 2] ^= 1;
        await raw.PutAsync(pack, bytes);
        var report = await store.VerifyAsync();
        Assert.Equal([id], report.BrokenSnapshots);
        Assert.Contains(pack[(pack.LastIndexOf('/') + 1)..], Assert.Single(report.Damaged).Problem);
        bytes[bytes.Length / 2] ^= 1;
        await raw.PutAsync(pack, bytes);

        await _files.CreateAsync("h", "pv", 4);
        await store.PushAsync(await _files.SaveAsync("h", "h.save"), "t");
        var gc = await store.GcAsync(keep: 1);
        Assert.Equal(id, Assert.Single(gc.RemovedSnapshots).Id);
        Assert.True(gc.RemovedObjects > 0);
        Assert.True((await store.VerifyAsync()).Ok);
    }

    [SkippableFact]
    public async Task An_encrypted_store_on_s3_round_trips_with_its_key()
    {
        var key = _files.PathOf("k");
        StoreKey.Generate(key);
        await using var store = await OpenAsync(key);
        await _files.CreateAsync("g", "pv", 4);
        await RoundTripAsync(store, await _files.SaveAsync("g", "g.save"));
        var e = await Assert.ThrowsAsync<StoreException>(() => OpenAsync());
        Assert.Equal(StoreError.Key, e.Error);
    }
}
