using System.Security.Cryptography;
using XenIac.Store.Backends;

namespace XenIac.Store.Tests.Backends;

/// <summary>
/// The IStoreBackend contract, checked the same way for every backend: each subclass only says how to open one.
/// </summary>
public abstract class BackendContractTests : IAsyncLifetime
{
    private readonly List<IStoreBackend> _opened = [];

    /// <summary>A fresh, empty store (skips the test when the backend's medium is not available).</summary>
    protected abstract IStoreBackend CreateBackend();

    protected IStoreBackend Open()
    {
        var backend = CreateBackend();
        _opened.Add(backend);
        return backend;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var backend in _opened) await backend.DisposeAsync();
    }

    private static byte[] Random(int length) => RandomNumberGenerator.GetBytes(length);

    private static async Task<List<string>> KeysAsync(IStoreBackend store, string prefix)
    {
        var keys = new List<string>();
        await foreach (var item in store.ListAsync(prefix)) keys.Add(item.Key);
        keys.Sort(StringComparer.Ordinal);
        return keys;
    }

    [SkippableTheory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4097)]
    [InlineData(1 << 20)]
    public async Task Put_then_get_returns_the_same_bytes(int length)
    {
        var store = Open();
        var data = Random(length);
        await store.PutAsync("chunks/ab/obj", data);
        Assert.Equal(data, await store.GetAsync("chunks/ab/obj", 1 << 20));
        Assert.True(await store.ExistsAsync("chunks/ab/obj"));
    }

    [SkippableFact]
    public async Task Create_writes_only_where_nothing_is_and_of_many_at_once_one_wins()
    {
        var store = Open();
        var first = Random(100);
        Assert.True(await store.CreateAsync("made/first", first));
        var second = await store.CreateAsync("made/first", Random(100));
        // S3's If-None-Match is honoured by AWS, MinIO and radosgw; a server that ignores it makes this a plain put.
        Skip.If(second && store is S3Backend, "this S3 server ignores conditional writes (If-None-Match: *)");
        Assert.False(second);
        Assert.Equal(first, await store.GetAsync("made/first", 1 << 20));

        var contenders = Enumerable.Range(0, 8).Select(_ => Random(64)).ToList();
        var won = await Task.WhenAll(contenders.Select(c => Task.Run(() => store.CreateAsync("race/obj", c))));
        var winner = Assert.Single(won.Select((w, i) => (w, i)), x => x.w);
        Assert.Equal(contenders[winner.i], await store.GetAsync("race/obj", 1 << 20));
        Assert.Equal(["race/obj"], await KeysAsync(store, "race/"));
    }

    [SkippableFact]
    public async Task Range_reads_return_the_bytes_asked_for_and_stop_at_the_end()
    {
        var store = Open();
        var data = Random(100_000);
        await store.PutAsync("packs/ab/p", data);
        var buffer = new byte[5000];
        Assert.Equal(5000, await store.ReadRangeAsync("packs/ab/p", 12_345, buffer));
        Assert.Equal(data[12_345..17_345], buffer);
        Assert.Equal(1000, await store.ReadRangeAsync("packs/ab/p", 99_000, buffer));
        Assert.Equal(data[99_000..], buffer[..1000]);
        Assert.Equal(0, await store.ReadRangeAsync("packs/ab/p", 100_000, buffer) ?? -1);
        Assert.Null(await store.ReadRangeAsync("packs/ab/missing", 0, buffer));
    }

    [SkippableFact]
    public async Task Put_of_a_slice_stores_only_the_slice()
    {
        var store = Open();
        var data = Random(100);
        await store.PutAsync("k", data.AsMemory(10, 50));
        Assert.Equal(data[10..60], await store.GetAsync("k", 1000));
    }

    [SkippableFact]
    public async Task Overwrite_replaces_the_whole_object()
    {
        var store = Open();
        await store.PutAsync("snapshots/x.json", Random(5000));
        var second = Random(30);
        await store.PutAsync("snapshots/x.json", second);
        Assert.Equal(second, await store.GetAsync("snapshots/x.json", 10_000));
        var listed = Assert.Single(await ListAsync(store, "snapshots/"));
        Assert.Equal(30, listed.Size);
    }

    [SkippableFact]
    public async Task Get_and_exists_of_a_missing_key_say_absent()
    {
        var store = Open();
        await store.PutAsync("chunks/aa/present", Random(3));
        Assert.Null(await store.GetAsync("chunks/aa/absent", 100));
        Assert.Null(await store.GetAsync("nothing/here/at/all", 100));
        Assert.False(await store.ExistsAsync("chunks/aa/absent"));
        Assert.False(await store.ExistsAsync("chunks/aa/presen")); // a prefix of a key is not the key
    }

    [SkippableFact]
    public async Task Get_refuses_an_object_larger_than_max_bytes()
    {
        var store = Open();
        await store.PutAsync("big", Random(2049));
        var e = await Assert.ThrowsAsync<StoreException>(() => store.GetAsync("big", 2048));
        Assert.Equal(StoreError.Damaged, e.Error);
        Assert.Contains("big", e.Message, StringComparison.Ordinal);
        Assert.Contains("2049", e.Message, StringComparison.Ordinal);
        Assert.Equal(2049, (await store.GetAsync("big", 2049))!.Length); // the limit is inclusive
    }

    [SkippableFact]
    public async Task List_by_prefix_returns_exactly_the_keys_put_under_it()
    {
        var store = Open();
        // More keys than the S3 subclass's page size, so the listing must follow continuation tokens.
        var inside = Enumerable.Range(0, 23).Select(i => $"chunks/{i % 3:x2}/c{i:d3}").ToList();
        var outside = new[] { "chunksX/00/c000", "snapshots/s1.json", "chunk", "locks/l.json" };
        foreach (var key in inside.Concat(outside)) await store.PutAsync(key, Random(7));

        Assert.Equal(inside.Order(StringComparer.Ordinal), await KeysAsync(store, "chunks/"));
        Assert.Equal(inside.Where(k => k.StartsWith("chunks/01/", StringComparison.Ordinal)).Order(StringComparer.Ordinal),
            await KeysAsync(store, "chunks/01/"));
        Assert.Equal(["chunks/00/c000", "chunks/00/c003", "chunks/00/c006", "chunks/00/c009"], await KeysAsync(store, "chunks/00/c00"));
        // A folder store also holds its store file; the other backends' stores here are bare.
        Assert.Equal(inside.Concat(outside).Order(StringComparer.Ordinal), (await KeysAsync(store, "")).Where(k => k != StoreKeys.StoreFile));
        Assert.Empty(await KeysAsync(store, "missing/"));
        Assert.All(await ListAsync(store, "chunks/"), o => Assert.Equal(7, o.Size));
    }

    [SkippableFact]
    public async Task Delete_removes_and_is_idempotent()
    {
        var store = Open();
        await store.PutAsync("locks/a.json", Random(10));
        await store.DeleteAsync("locks/a.json");
        Assert.Null(await store.GetAsync("locks/a.json", 100));
        Assert.Empty(await KeysAsync(store, "locks/"));
        await store.DeleteAsync("locks/a.json");
        await store.DeleteAsync("never/was/here");
    }

    [SkippableFact]
    public async Task Concurrent_puts_of_different_keys_are_all_visible()
    {
        var store = Open();
        var data = Enumerable.Range(0, 8 * 6).ToDictionary(i => $"chunks/{i % 8:x2}/k{i}", i => Random(100 + i));
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
        {
            foreach (var (key, bytes) in data.Where(p => p.Key.StartsWith($"chunks/{t:x2}/", StringComparison.Ordinal)))
                await store.PutAsync(key, bytes);
        })));
        Assert.Equal(data.Keys.Order(StringComparer.Ordinal), await KeysAsync(store, "chunks/"));
        foreach (var (key, bytes) in data) Assert.Equal(bytes, await store.GetAsync(key, 1000));
    }

    [SkippableTheory]
    [InlineData("../escape")]
    [InlineData("chunks/../../escape")]
    [InlineData("/etc/passwd")]
    [InlineData("a//b")]
    [InlineData("bell\u0007")]
    [InlineData("new\nline")]
    [InlineData("")]
    public async Task Unsafe_keys_are_refused(string key)
    {
        var store = Open();
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.PutAsync(key, Random(1)));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.GetAsync(key, 10));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.ExistsAsync(key));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.DeleteAsync(key));
    }

    [SkippableFact]
    public async Task Flush_succeeds_after_puts()
    {
        var store = Open();
        await store.PutAsync("chunks/00/x", Random(10));
        await store.FlushAsync();
        Assert.True(await store.ExistsAsync("chunks/00/x"));
    }

    private static async Task<List<StoreObject>> ListAsync(IStoreBackend store, string prefix)
    {
        var list = new List<StoreObject>();
        await foreach (var item in store.ListAsync(prefix)) list.Add(item);
        return list;
    }
}

public sealed class FolderBackendContractTests : BackendContractTests
{
    private readonly List<string> _folders = [];

    protected override IStoreBackend CreateBackend()
    {
        var folder = Directory.CreateTempSubdirectory("xeniac-folder-store-").FullName;
        _folders.Add(folder);
        // FlushAsync syncs through the store file, which a real store always has.
        File.WriteAllText(Path.Combine(folder, StoreKeys.StoreFile), "{}");
        return new FolderBackend(folder);
    }

    // The store file is part of every folder store; the contract's listings are about the keys the tests put.
    [Fact]
    public async Task Listing_everything_includes_the_store_file()
    {
        var store = Open();
        var keys = new List<string>();
        await foreach (var o in store.ListAsync("")) keys.Add(o.Key);
        Assert.Equal([StoreKeys.StoreFile], keys);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var folder in _folders)
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
    }
}

public sealed class S3BackendContractTests(S3ServerFixture server) : BackendContractTests, IClassFixture<S3ServerFixture>
{
    protected override IStoreBackend CreateBackend()
    {
        Skip.If(server.SkipReason is not null, server.SkipReason);
        // A small page forces ListObjectsV2 paging with a few dozen objects instead of thousands.
        var backend = server.Open();
        backend.ListPageSize = 5;
        return backend;
    }

    [SkippableFact]
    public async Task A_missing_bucket_is_unavailable_and_named()
    {
        Skip.If(server.SkipReason is not null, server.SkipReason);
        await using var store = server.Open(bucket: "xeniac-no-such-bucket");
        foreach (var action in new Func<Task>[]
                 {
                     () => store.PutAsync("chunks/00/a", new byte[3]),
                     () => store.GetAsync("chunks/00/a", 10),
                     () => store.ExistsAsync("chunks/00/a"),
                     async () => { await foreach (var _ in store.ListAsync("chunks/")) { } },
                 })
        {
            var e = await Assert.ThrowsAsync<StoreException>(action);
            Assert.Equal(StoreError.Unavailable, e.Error);
            Assert.Contains("bucket xeniac-no-such-bucket does not exist at " + server.Endpoint, e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', e.Message);
        }
    }

    [SkippableFact]
    public async Task Listing_pages_past_s3s_1000_key_limit_at_the_default_page_size()
    {
        Skip.If(server.SkipReason is not null, server.SkipReason);
        await using var store = server.Open();
        var keys = Enumerable.Range(0, 1003).Select(i => $"chunks/{i % 16:x2}/k{i:d4}").ToList();
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 8 },
            async (key, ct) => await store.PutAsync(key, new byte[] { 1 }, ct));
        var listed = new List<string>();
        await foreach (var o in store.ListAsync("chunks/")) listed.Add(o.Key);
        Assert.Equal(keys.Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
        Assert.Equal(listed.Count, listed.Distinct().Count());
    }

    [SkippableFact]
    public async Task A_dead_server_is_unavailable_with_the_key_and_location_named()
    {
        Skip.If(server.SkipReason is not null, server.SkipReason);
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        await using var store = new S3Backend($"s3://{server.Bucket}/p", new S3Connection("http://127.0.0.1:1", S3Connection.DefaultRegion, server.Credentials));
        var e = await Assert.ThrowsAsync<StoreException>(() => store.GetAsync("chunks/00/a", 10));
        Assert.Equal(StoreError.Unavailable, e.Error);
        Assert.Contains("chunks/00/a", e.Message, StringComparison.Ordinal);
        Assert.Contains($"s3://{server.Bucket}/p", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [SkippableFact]
    public async Task Keys_live_under_the_prefix_and_stores_with_other_prefixes_do_not_see_them()
    {
        Skip.If(server.SkipReason is not null, server.SkipReason);
        await using var a = server.Open(prefix: "team/a");
        await using var ab = server.Open(prefix: "team/ab");
        await using var root = server.Open(prefix: "");
        await a.PutAsync("chunks/00/x", new byte[] { 1 });
        await ab.PutAsync("chunks/00/y", new byte[] { 2 });
        var keysA = new List<string>();
        await foreach (var o in a.ListAsync("")) keysA.Add(o.Key);
        Assert.Equal(["chunks/00/x"], keysA);
        Assert.Equal(new byte[] { 1 }, await root.GetAsync("team/a/chunks/00/x", 10));
        Assert.Null(await ab.GetAsync("chunks/00/x", 10));
    }
}

public sealed class StoreBackendsTests
{
    [Theory]
    [InlineData("s3://bucket", "bucket", "")]
    [InlineData("s3://my.bucket-1/team/snaps", "my.bucket-1", "team/snaps/")]
    [InlineData("S3://bucket/prefix/", "bucket", "prefix/")]
    public void S3_locations_split_into_bucket_and_prefix(string location, string bucket, string root)
    {
        Assert.Equal((bucket, root), S3Backend.ParseLocation(location));
    }

    [Theory]
    [InlineData("s3://")]
    [InlineData("s3:///prefix")]
    [InlineData("s3://Upper/prefix")]
    [InlineData("s3://ab")]
    [InlineData("s3://bucket/../x")]
    [InlineData("s3://bucket/a//b")]
    public void Bad_s3_locations_are_invalid_arguments(string location)
    {
        var e = Assert.Throws<StoreException>(() => StoreBackends.Open(location));
        Assert.Equal(StoreError.InvalidArgument, e.Error);
    }

    [Fact]
    public async Task S3_location_opens_an_s3_backend()
    {
        await using var backend = StoreBackends.Open("s3://bucket/prefix");
        Assert.IsType<S3Backend>(backend);
        Assert.Equal("s3://bucket/prefix", backend.Location);
    }

    [Theory]
    [InlineData("/var/lib/xeniac/store")]
    [InlineData("relative/store")]
    [InlineData("store:with:colons")]
    public async Task Other_locations_are_folders(string location)
    {
        await using var backend = StoreBackends.Open(location);
        Assert.IsType<FolderBackend>(backend);
        Assert.Equal(location, backend.Location);
    }

    [Theory]
    [InlineData("gs://bucket/prefix", "gs://")]
    [InlineData("https://example.com/store", "https://")]
    [InlineData("file:///tmp/store", "file://")]
    public void Other_schemes_are_refused_naming_the_supported_forms(string location, string scheme)
    {
        var e = Assert.Throws<StoreException>(() => StoreBackends.Open(location));
        Assert.Equal(StoreError.InvalidArgument, e.Error);
        Assert.Contains(scheme, e.Message, StringComparison.Ordinal);
        Assert.Contains("s3://bucket/prefix", e.Message, StringComparison.Ordinal);
        Assert.Contains("folder", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void An_empty_location_is_refused(string location)
    {
        Assert.Equal(StoreError.InvalidArgument, Assert.Throws<StoreException>(() => StoreBackends.Open(location)).Error);
    }
}
