using XenIac.Core.SaveFiles;
using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Threading.Channels;
using XenIac.Core.IO;
using XenIac.Store.Backends;
using XenIac.Store.Chunking;

namespace XenIac.Store;

/// <summary>How to open a store.</summary>
public sealed record StoreOptions
{
    /// <summary>Key file of an encrypted store (or of a new store that is to be encrypted).</summary>
    public string? KeyFile { get; init; }

    /// <summary>How long to wait for a conflicting lock (gc against push) before giving up.</summary>
    public TimeSpan LockWait { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Chunks hashed, compressed and moved at once. Defaults to the processor count, at least 2.</summary>
    public int Parallelism { get; init; } = Math.Max(2, Environment.ProcessorCount);
}

public sealed record PushResult(SnapshotManifest Snapshot, long StoredBytes, long NewChunks);

public sealed record DamagedChunk(string Chunk, string Problem, IReadOnlyList<string> Snapshots)
{
    /// <summary>The damaged object is a snapshot's manifest, not a chunk (<see cref="Chunk"/> is then its key).</summary>
    public bool IsManifest => Chunk.StartsWith(StoreKeys.Snapshots, StringComparison.Ordinal);
}

public sealed record VerifyReport(int Snapshots, long Chunks, long Bytes, IReadOnlyList<DamagedChunk> Damaged, IReadOnlyList<string> BrokenSnapshots)
{
    public bool Ok => Damaged.Count == 0 && BrokenSnapshots.Count == 0;
}

/// <summary>What gc removed (or would remove): snapshots, and the packs and recipes nothing needs any more.</summary>
/// <summary>The snapshots of a store, oldest first, and the manifests that could not be read.</summary>
public sealed record StoreScan(IReadOnlyList<SnapshotManifest> Snapshots, IReadOnlyList<DamagedChunk> Damaged);

public sealed record GcReport(IReadOnlyList<SnapshotManifest> RemovedSnapshots, long RemovedObjects, long RemovedBytes, bool DryRun);

/// <summary>A snapshot <see cref="SnapshotStore.ForgetAsync"/> removed: its id, and its manifest when that could be read.</summary>
public sealed record ForgottenSnapshot(string Id, SnapshotManifest? Manifest);

/// <summary>
/// A content-addressed store of savefiles (see README, "Snapshot store"). Every savefile that comes out is byte
/// for byte the one that went in: each chunk is checked against its name and the whole file against its SHA-256.
/// </summary>
public sealed class SnapshotStore : IAsyncDisposable
{
    /// <summary>Chunks of one push remembered by name for in-push dedup (repeated zero pages mostly).</summary>
    private const int MaxPlaced = 32768;

    /// <summary>Snapshot manifests and the settings file are small; anything bigger is not one.</summary>
    private const int MaxSmallObject = 1 << 20;

    private readonly IStoreBackend _backend;
    private readonly StoreKey? _key;
    private readonly StoreOptions _options;

    private SnapshotStore(IStoreBackend backend, StoreSettings settings, StoreKey? key, StoreOptions options)
    {
        _backend = backend;
        Settings = settings;
        _key = key;
        _options = options;
    }

    public string Location => _backend.Location;

    public StoreSettings Settings { get; }

    /// <summary>
    /// Opens the store at <paramref name="location"/>. With <paramref name="create"/> (a push) a store that does not
    /// exist yet is made; otherwise a missing store is an error.
    /// </summary>
    public static async Task<SnapshotStore> OpenAsync(string location, StoreOptions? options = null, bool create = false,
        CancellationToken cancellationToken = default)
    {
        options ??= new StoreOptions();
        return await OpenAsync(StoreBackends.Open(location), options, create, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Whether the location already holds a snapshot or a pack: with no settings file beside them, a push that made a
    /// new store there took the old data under new settings (another key, or none) and could never read it again.
    /// </summary>
    private static async Task<bool> HoldsStoreObjectsAsync(IStoreBackend backend, CancellationToken cancellationToken)
    {
        if (backend is FolderBackend { FolderExists: false }) return false;
        foreach (var prefix in new[] { StoreKeys.Snapshots, StoreKeys.Packs })
            await foreach (var _ in backend.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
                return true;
        return false;
    }

    /// <summary>The store's settings file, checked to be one this xen-iac reads.</summary>
    private static StoreSettings ReadSettings(byte[] data, string location)
    {
        var settings = StoreJson.Parse(data, StoreKeys.StoreFile, StoreJson.Default.StoreSettings);
        if (settings.Format != StoreSettings.CurrentFormat)
            throw new StoreException(StoreError.Unavailable, $"the store '{location}' has format {settings.Format}; this xen-iac reads format {StoreSettings.CurrentFormat}");
        if (settings.Digest != (settings.Encryption is null ? "blake3" : "blake3-keyed") || settings.Compression != "zstd-1"
            || settings.Encryption is not (null or "aes-256-gcm"))
            throw new StoreException(StoreError.Unavailable, $"the store '{location}' names its chunks with {settings.Digest}, compresses with {settings.Compression} " +
                                                             $"and encrypts with {settings.Encryption ?? "nothing"}; this xen-iac reads blake3, zstd-1 and aes-256-gcm");
        if (settings.ChunkPages is < 1 or > 1024 || (settings.ChunkPages & (settings.ChunkPages - 1)) != 0)
            throw new StoreException(StoreError.Damaged, $"{StoreKeys.StoreFile} in '{location}' has chunkPages {settings.ChunkPages} (a power of two up to 1024)");
        return settings;
    }

    /// <summary>Opens a store on a backend already made (tests give an S3 backend its server directly); owns it.</summary>
    internal static async Task<SnapshotStore> OpenAsync(IStoreBackend backend, StoreOptions options, bool create, CancellationToken cancellationToken)
    {
        var location = backend.Location;
        try
        {
            var key = options.KeyFile is null ? null : StoreKey.Load(options.KeyFile);
            var data = await backend.GetAsync(StoreKeys.StoreFile, MaxSmallObject, cancellationToken).ConfigureAwait(false);
            StoreSettings settings;
            if (data is null && create && await HoldsStoreObjectsAsync(backend, cancellationToken).ConfigureAwait(false))
            {
                // Another first push may have written the settings since they were asked for; if not, they were lost.
                data = await backend.GetAsync(StoreKeys.StoreFile, MaxSmallObject, cancellationToken).ConfigureAwait(false)
                    ?? throw new StoreException(StoreError.Damaged,
                        $"the store '{location}' holds snapshots or packs but no {StoreKeys.StoreFile}: its settings (encryption, key check) are lost, " +
                        $"and a push does not make a new store over an old one's data (put {StoreKeys.StoreFile} back from a copy, or use a new location)");
            }
            if (data is null)
            {
                // A file where the store folder belongs can never become a store: unusable, not "no snapshot yet"
                // (callers that take a missing store as "make it" must not push into it, nor advise a push).
                if (!create && backend is FolderBackend { LocationIsFile: true } file)
                    throw new StoreException(StoreError.Unavailable, file.NotAStoreProblem()!);
                if (!create)
                    throw new StoreException(StoreError.NotFound, (backend as FolderBackend)?.NotAStoreProblem() ?? $"there is no store at '{location}' (a push creates one)");
                if (key is { IsWeak: true })
                    throw new StoreException(StoreError.Key, $"the key file '{options.KeyFile}' is not a random key (its 32 bytes take fewer than 8 values, " +
                        "as all zeros do): a new store is not encrypted with it; write one with xen-iac store keygen FILE");
                if (backend is FolderBackend folder)
                {
                    folder.EnsureExists();
                    folder.EnsureFolder(StoreKeys.Snapshots);
                }
                settings = new StoreSettings
                {
                    Digest = key is null ? "blake3" : "blake3-keyed",
                    Encryption = key is null ? null : "aes-256-gcm",
                    KeyCheck = key?.Check,
                };
                // Made only if no other first push made it meanwhile: written over, the other's chunks were encrypted
                // (or not) against settings that were no longer the store's, and its "pushed" snapshot never read back.
                if (!await backend.CreateAsync(StoreKeys.StoreFile, JsonSerializer.SerializeToUtf8Bytes(settings, StoreJson.Default.StoreSettings), cancellationToken).ConfigureAwait(false))
                    settings = ReadSettings(await backend.GetAsync(StoreKeys.StoreFile, MaxSmallObject, cancellationToken).ConfigureAwait(false)
                        ?? throw new StoreException(StoreError.Unavailable, $"the store '{location}' was being made by another push whose settings cannot be read yet; try again"), location);
            }
            else
            {
                settings = ReadSettings(data, location);
            }
            if (settings.Encryption is not null && key is null)
                throw new StoreException(StoreError.Key, $"the store '{location}' is encrypted; give its key file (--key FILE or $XENIAC_STORE_KEY)");
            if (settings.Encryption is null && key is not null)
                throw new StoreException(StoreError.Key, $"the store '{location}' is not encrypted; a store is encrypted or not from its first push (use a new location for an encrypted store)");
            if (key is not null && key.Check != settings.KeyCheck)
                throw new StoreException(StoreError.Key, $"the key file does not belong to the store '{location}' (its check value differs)");
            return new SnapshotStore(backend, settings, key, options);
        }
        catch
        {
            await backend.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    // ---------------------------------------------------------------- push

    /// <summary>Stores the savefile at <paramref name="savefilePath"/> as a new snapshot.</summary>
    public async Task<PushResult> PushAsync(string savefilePath, string? tag = null, IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        if (tag is not null) CheckTag(tag);
        if (!AtomicFile.IsRegularFile(savefilePath))
            throw new StoreException(StoreError.InvalidArgument,
                File.Exists(savefilePath) || Directory.Exists(savefilePath)
                    ? $"'{savefilePath}' is not a regular file (a folder, device, pipe or socket); a push reads a savefile on disk"
                    : $"'{savefilePath}' does not exist");
        await using var gate = await StoreLocks.AcquireAsync(_backend, "push", _options.LockWait, cancellationToken).ConfigureAwait(false);
        FileStream file;
        try
        {
            file = new FileStream(savefilePath, new FileStreamOptions
            {
                Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.Read,
                BufferSize = 1 << 20, Options = FileOptions.SequentialScan,
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StoreException(StoreError.InvalidArgument, $"cannot read '{savefilePath}': {e.Message}", e);
        }
        await using var _ = file;

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = cts.Token;
        var known = await KnownChunksAsync(tag, token).ConfigureAwait(false);
        var channel = Channel.CreateBounded<RawChunk>(new BoundedChannelOptions(2 * _options.Parallelism) { SingleWriter = true });
        var packs = new PackWriter(_backend, token);
        var recipe = new RecipeBuilder(this);
        // Chunks of this push by name: the first worker to meet a name stores it, later ones wait for its location.
        var placed = new ConcurrentDictionary<string, TaskCompletionSource<ChunkLocation>>();
        var placedCount = 0;
        long done = 0;

        var splitter = new SavefileSplitter(Settings.ChunkPages);
        var producer = Task.Factory.StartNew(() =>
        {
            try
            {
                return splitter.Split(file, chunk =>
                {
                    try
                    {
                        while (!channel.Writer.TryWrite(chunk))
                            if (!channel.Writer.WaitToWriteAsync(token).AsTask().GetAwaiter().GetResult())
                                throw new OperationCanceledException(token);
                    }
                    catch
                    {
                        chunk.Dispose();
                        throw;
                    }
                }, token);
            }
            finally
            {
                channel.Writer.TryComplete();
            }
        }, token, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        var workers = Enumerable.Range(0, _options.Parallelism).Select(_ => Task.Run(async () =>
        {
            using var codec = new ChunkCodec(_key);
            await foreach (var chunk in channel.Reader.ReadAllAsync(token).ConfigureAwait(false))
            {
                using (chunk)
                {
                    var name = codec.Name(chunk.Data.Span);
                    ChunkLocation where;
                    if (known.TryGetValue(name, out var old)) where = old;
                    else
                    {
                        var mine = new TaskCompletionSource<ChunkLocation>(TaskCreationOptions.RunContinuationsAsynchronously);
                        var slot = placed.GetOrAdd(name, mine);
                        if (ReferenceEquals(slot, mine))
                        {
                            try { mine.SetResult(await packs.AddAsync(codec.Encode(chunk.Data)).ConfigureAwait(false)); }
                            catch (Exception e) { mine.TrySetException(e); throw; }
                        }
                        where = await slot.Task.WaitAsync(token).ConfigureAwait(false);
                        // Bounded, so memory stays flat at any size: forgetting costs at worst a chunk stored twice.
                        // Counted here, not with placed.Count, which takes every lock of the dictionary (a push of
                        // 1 GiB spent 5% of its samples in those locks).
                        if (ReferenceEquals(slot, mine) && Interlocked.Increment(ref placedCount) > MaxPlaced)
                        {
                            placed.Clear();
                            Interlocked.Exchange(ref placedCount, 0);
                        }
                    }
                    await recipe.SetAsync(chunk.Index, new RecipeEntry(name, chunk.Length, chunk.Kind, where), codec, token).ConfigureAwait(false);
                    var total = Interlocked.Add(ref done, chunk.Length);
                    progress?.Report(total);
                }
            }
        }, token)).ToArray();

        (byte[] Sha256, long Bytes) whole;
        try
        {
            await Task.WhenAll(workers).ConfigureAwait(false);
            whole = await producer.ConfigureAwait(false);
            await packs.FinishAsync().ConfigureAwait(false);
        }
        catch
        {
            await cts.CancelAsync().ConfigureAwait(false);
            try { await Task.WhenAll(workers.Append(producer)).ConfigureAwait(false); } catch { /* the first failure is the one to report */ }
            try { await packs.FinishAsync().ConfigureAwait(false); } catch { /* unreferenced packs are gc's */ }
            while (channel.Reader.TryRead(out var left)) left.Dispose();
            throw;
        }

        using (var codec = new ChunkCodec(_key))
        {
            var parts = await recipe.FinishAsync(codec, token).ConfigureAwait(false);
            // Packs and recipes first, durably; only then the manifest that makes the snapshot exist.
            await _backend.FlushAsync(token).ConfigureAwait(false);
            var manifest = new SnapshotManifest
            {
                Id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)),
                Tag = tag,
                Created = DateTimeOffset.UtcNow,
                Bytes = whole.Bytes,
                Sha256 = Convert.ToHexStringLower(whole.Sha256),
                Chunks = recipe.Count,
                Recipe = parts,
                Source = Path.GetFileName(savefilePath),
            };
            manifest = manifest with { Seal = manifest.ComputeSeal() };
            await _backend.PutAsync(StoreKeys.Snapshot(manifest.Id), JsonSerializer.SerializeToUtf8Bytes(manifest, StoreJson.Default.SnapshotManifest), token).ConfigureAwait(false);
            await _backend.FlushAsync(token).ConfigureAwait(false);
            return new PushResult(manifest, packs.StoredBytes + recipe.StoredBytes, packs.Chunks);
        }
    }

    /// <summary>
    /// Chunks a push can reuse instead of storing again: those of the newest snapshot of the same tag and of the
    /// newest few snapshots overall. Bounded on purpose (memory stays flat however big the store grows); a chunk
    /// only older snapshots hold is stored again, which costs space, never correctness.
    /// </summary>
    private async Task<Dictionary<string, ChunkLocation>> KnownChunksAsync(string? tag, CancellationToken token)
    {
        const int NewestOverall = 4;
        var all = await ListAsync(token).ConfigureAwait(false);
        var chosen = all.TakeLast(NewestOverall).ToList();
        if (tag is not null && all.LastOrDefault(s => s.Tag == tag) is { } sameTag && !chosen.Contains(sameTag)) chosen.Add(sameTag);
        var known = new Dictionary<string, ChunkLocation>();
        using var codec = new ChunkCodec(_key);
        foreach (var snapshot in chosen)
        {
            try
            {
                foreach (var part in snapshot.Recipe)
                    foreach (var e in await ReadRecipePartAsync(part, codec, token).ConfigureAwait(false))
                        known.TryAdd(e.Chunk, e.Where);
            }
            catch (StoreException e) when (e.Error == StoreError.Damaged)
            {
                // A damaged snapshot is verify's to report; this push just does not reuse its chunks.
            }
        }
        // A chunk is only reused where its pack still holds it: a pack deleted or cut by hand (or by a bad disk) made
        // a push trust chunks that were gone, exit 0, and leave a snapshot no pull could read. One listing of the
        // packs checks presence and length; their content is verify's (it reads every byte).
        var ends = new Dictionary<string, long>();
        foreach (var where in known.Values) ends[where.Pack] = Math.Max(ends.GetValueOrDefault(where.Pack), where.Offset + where.Stored);
        var sizes = new Dictionary<string, long>();
        await foreach (var o in _backend.ListAsync(StoreKeys.Packs, token).ConfigureAwait(false))
        {
            var id = o.Key[(o.Key.LastIndexOf('/') + 1)..];
            if (ends.ContainsKey(id)) sizes[id] = o.Size;
        }
        var gone = ends.Where(p => sizes.GetValueOrDefault(p.Key, -1) < p.Value).Select(p => p.Key).ToHashSet();
        if (gone.Count > 0)
            foreach (var (name, where) in known.ToList())
                if (gone.Contains(where.Pack) && where.Offset + where.Stored > sizes.GetValueOrDefault(where.Pack, -1)) known.Remove(name);
        return known;
    }

    /// <summary>
    /// Tags name a series of snapshots: letters, digits and <c>._@:+-</c>, up to 128 characters, starting with a letter
    /// or digit (so "@", "-x" or ".." are typos or options, never names).
    /// </summary>
    public static bool IsValidTag(string tag) =>
        tag.Length is > 0 and <= 128 && char.IsAsciiLetterOrDigit(tag[0]) && tag.All(c => char.IsAsciiLetterOrDigit(c) || "._@:+-".Contains(c));

    /// <exception cref="StoreException">The tag is not one (<see cref="IsValidTag"/>).</exception>
    public static void CheckTag(string tag)
    {
        if (TagProblem(tag) is { } problem)
            throw new StoreException(StoreError.InvalidArgument, $"'{tag}' is not a valid tag ({problem})");
    }

    /// <summary>
    /// Why <paramref name="tag"/> cannot name new snapshots, or null. Beyond <see cref="IsValidTag"/>: a tag of hex
    /// digits alone (<c>2048</c>, <c>cafe</c>) reads as the start of a snapshot id, and a reference that is both was
    /// silently taken as the tag. Stores written before this rule keep their tags (<see cref="ResolveAsync"/> then
    /// asks for the whole id).
    /// </summary>
    public static string? TagProblem(string tag) =>
        !IsValidTag(tag) ? "letters, digits and ._@:+- only, starting with a letter or digit, up to 128 characters, e.g. web@nightly"
        : tag.Length >= MinIdPrefix && tag.All(char.IsAsciiHexDigitLower)
            ? "hex digits alone read as the start of a snapshot id; add a letter past f or a separator, e.g. v2048 or web@2048"
            : null;

    /// <summary>
    /// Collects recipe entries as workers finish chunks out of order, and stores each part as soon as all its
    /// entries are known, so memory holds a part or two whatever the savefile's size.
    /// </summary>
    private sealed class RecipeBuilder(SnapshotStore store)
    {
        private readonly Dictionary<long, (RecipeEntry[] Entries, int Filled)> _open = [];
        private readonly SortedDictionary<long, RecipePart> _done = [];
        private readonly Lock _sync = new();
        private long _count;

        public long Count => _count;
        public long StoredBytes { get; private set; }
        public long NewChunks { get; private set; }

        public async Task SetAsync(long index, RecipeEntry entry, ChunkCodec codec, CancellationToken token)
        {
            RecipeEntry[]? full = null;
            var part = index / Recipe.EntriesPerPart;
            lock (_sync)
            {
                _count = Math.Max(_count, index + 1);
                if (!_open.TryGetValue(part, out var slot)) slot = (new RecipeEntry[Recipe.EntriesPerPart], 0);
                slot.Entries[index % Recipe.EntriesPerPart] = entry;
                slot.Filled++;
                if (slot.Filled == Recipe.EntriesPerPart) { _open.Remove(part); full = slot.Entries; }
                else _open[part] = slot;
            }
            if (full is not null) await StoreAsync(part, full, codec, token).ConfigureAwait(false);
        }

        public async Task<IReadOnlyList<RecipePart>> FinishAsync(ChunkCodec codec, CancellationToken token)
        {
            foreach (var (part, slot) in _open.ToArray())
            {
                var n = (int)(_count - part * Recipe.EntriesPerPart);
                if (slot.Filled != n) throw new InvalidOperationException("a recipe part is incomplete after every chunk was stored");
                await StoreAsync(part, slot.Entries[..n], codec, token).ConfigureAwait(false);
            }
            _open.Clear();
            if (_done.Count != (_count + Recipe.EntriesPerPart - 1) / Recipe.EntriesPerPart)
                throw new InvalidOperationException("the recipe has gaps");
            return [.. _done.Values];
        }

        private async Task StoreAsync(long part, RecipeEntry[] entries, ChunkCodec codec, CancellationToken token)
        {
            var raw = Recipe.Encode(entries);
            var name = codec.Name(raw);
            long stored = 0, added = 0;
            if (!await store._backend.ExistsAsync(StoreKeys.Recipe(name), token).ConfigureAwait(false))
            {
                var encoded = codec.EncodeToArray(raw);
                await store._backend.PutAsync(StoreKeys.Recipe(name), encoded, token).ConfigureAwait(false);
                stored = encoded.Length;
                added = 1;
            }
            lock (_sync)
            {
                _done[part] = new RecipePart(name, raw.Length);
                StoredBytes += stored;
                NewChunks += added;
            }
        }
    }

    // ---------------------------------------------------------------- read

    /// <summary>Every readable snapshot, oldest first (see <see cref="ScanAsync"/> for the damaged ones).</summary>
    public async Task<IReadOnlyList<SnapshotManifest>> ListAsync(CancellationToken cancellationToken = default) =>
        (await ScanAsync(cancellationToken).ConfigureAwait(false)).Snapshots;

    /// <summary>
    /// Every snapshot, oldest first, and every manifest that cannot be read (as a <see cref="DamagedChunk"/> naming
    /// its object): one damaged manifest must not make the other snapshots unlistable or unpullable.
    /// </summary>
    public async Task<StoreScan> ScanAsync(CancellationToken cancellationToken = default)
    {
        var list = new List<SnapshotManifest>();
        var damaged = new List<DamagedChunk>();
        await foreach (var o in _backend.ListAsync(StoreKeys.Snapshots, cancellationToken).ConfigureAwait(false))
        {
            if (!o.Key.EndsWith(".json", StringComparison.Ordinal)) continue;
            try
            {
                var data = await _backend.GetAsync(o.Key, MaxSmallObject, cancellationToken).ConfigureAwait(false);
                if (data is null) continue; // removed by gc while listing
                // No writer of ours puts an empty manifest. An empty object is a put killed on a server that shows a
                // body as it arrives (s3rver does; S3 and the folder store show objects whole), or a manifest emptied
                // by damage. It is named, not passed over: passed over, gc took the packs of a snapshot nobody was told
                // about; 'store forget' removes it once the user has looked.
                if (data.Length == 0)
                    throw new StoreException(StoreError.Damaged, $"{o.Key} is empty: a push that was killed while writing it, or damage");
                list.Add(Checked(StoreJson.Parse(data, o.Key, StoreJson.Default.SnapshotManifest), o.Key));
            }
            catch (StoreException e) when (e.Error is StoreError.Damaged)
            {
                damaged.Add(new DamagedChunk(o.Key, e.Message, [IdOf(o.Key)]));
            }
        }
        list.Sort((a, b) => a.Created != b.Created ? a.Created.CompareTo(b.Created) : string.CompareOrdinal(a.Id, b.Id));
        damaged.Sort((a, b) => string.CompareOrdinal(a.Chunk, b.Chunk));
        return new StoreScan(list, damaged);
    }

    /// <summary>The snapshot id a manifest's key names (snapshots/ID.json).</summary>
    private static string IdOf(string manifestKey) => manifestKey[StoreKeys.Snapshots.Length..^".json".Length];

    /// <summary>
    /// A manifest read from the store is input like any other: names that become keys, sizes that size buffers and
    /// digests are checked before anything uses them.
    /// </summary>
    private static SnapshotManifest Checked(SnapshotManifest m, string key)
    {
        string? problem = null;
        if (m.Format != StoreSettings.CurrentFormat) problem = $"format {m.Format}";
        else if (key != StoreKeys.Snapshot(m.Id ?? "")) problem = $"its id '{m.Id}' does not match its name";
        else if (m.Tag is not null && !IsValidTag(m.Tag)) problem = "its tag is not valid";
        else if (m.Bytes < 0 || m.Chunks < 0 || m.Recipe is null) problem = "negative sizes or no recipe";
        else if (!IsHex(m.Sha256, 64)) problem = "its sha256 is not 64 hex digits";
        else if (m.Recipe.Count != (m.Chunks + Recipe.EntriesPerPart - 1) / Recipe.EntriesPerPart) problem = $"{m.Recipe.Count} recipe parts for {m.Chunks} chunks";
        else if (m.Recipe.Any(p => p is null || !IsHex(p.Chunk, 64) || p.Bytes is < 16 or > Recipe.MaxPartBytes)) problem = "a recipe part is not valid";
        else if (m.Seal is not null && m.Seal != m.ComputeSeal()) problem = "its contents do not match its seal (it changed after the push)";
        if (problem is not null) throw new StoreException(StoreError.Damaged, $"{key} is not a valid snapshot manifest: {problem}");
        return m;
    }

    private static bool IsHex(string? s, int length) => s is not null && s.Length == length && s.All(char.IsAsciiHexDigitLower);

    /// <summary>
    /// The snapshot a reference names: an id, a tag (its newest snapshot), or an id prefix of at least 4
    /// characters that only one snapshot has.
    /// </summary>
    public async Task<SnapshotManifest> ResolveAsync(string reference, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (string.IsNullOrWhiteSpace(reference))
            throw new StoreException(StoreError.InvalidArgument, "the snapshot reference is empty: give a snapshot id (or a unique start of it) or a tag");
        var (all, damaged) = await ScanAsync(cancellationToken).ConfigureAwait(false);
        if (all.FirstOrDefault(s => s.Id == reference) is { } exact) return exact;
        if (damaged.FirstOrDefault(d => d.Snapshots[0] == reference) is { } hurt) throw new StoreException(StoreError.Damaged, hurt.Problem);
        // Ids whose start the reference is, readable or not (store ls shows the ids of damaged manifests too).
        var prefixed = reference.Length >= MinIdPrefix ? all.Where(s => s.Id.StartsWith(reference, StringComparison.Ordinal)).ToList() : [];
        var hurtPrefixed = reference.Length >= MinIdPrefix ? damaged.Where(d => d.Snapshots[0].StartsWith(reference, StringComparison.Ordinal)).ToList() : [];
        if (all.LastOrDefault(s => s.Tag == reference) is { } tagged)
        {
            // A tag of hex digits made before push refused them: taken as the tag, the id it also starts went unnamed.
            if (prefixed.Count + hurtPrefixed.Count > 0)
                throw new StoreException(StoreError.InvalidArgument,
                    $"'{reference}' is a tag and also the start of a snapshot id; give the whole id (xen-iac store ls shows both)");
            return tagged;
        }
        if (prefixed.Count + hurtPrefixed.Count > 1)
            throw new StoreException(StoreError.InvalidArgument, $"'{reference}' is the start of {prefixed.Count + hurtPrefixed.Count} snapshot ids; give more of it");
        if (prefixed is [var one]) return one;
        // The start of an id whose manifest does not read: its damage, not "no snapshot".
        if (hurtPrefixed is [var only]) throw new StoreException(StoreError.Damaged, only.Problem);
        if (damaged.Count > 0)
            throw new StoreException(StoreError.NotFound, NotFound(reference).Message +
                $"; {damaged.Count} snapshot manifest{(damaged.Count == 1 ? "" : "s")} in the store cannot be read, and a tag on one of them cannot be seen (xen-iac store verify names them)");
        throw NotFound(reference);
    }

    /// <summary>
    /// Writes the snapshot's savefile to <paramref name="output"/>, checking every chunk and, at the end, the
    /// whole file's SHA-256. A pipe works (a restore can read it as it arrives); on damage it throws after
    /// having written part of the file, so callers writing a file write it atomically.
    /// </summary>
    public async Task MaterializeAsync(SnapshotManifest snapshot, Stream output, IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long written = 0;
        using var codec = new ChunkCodec(_key);
        var window = new Queue<Task<List<(byte[] Buffer, int Length)>>>();
        var depth = 2 * _options.Parallelism;
        try
        {
            await foreach (var batch in BatchesAsync(EntriesAsync(snapshot, codec, cancellationToken)).ConfigureAwait(false))
            {
                window.Enqueue(Task.Run(() => FetchAsync(batch, cancellationToken), cancellationToken));
                if (window.Count >= depth) await WriteNextAsync().ConfigureAwait(false);
            }
            while (window.Count > 0) await WriteNextAsync().ConfigureAwait(false);
        }
        finally
        {
            foreach (var t in window)
            {
                try { foreach (var (b, _) in await t.ConfigureAwait(false)) ArrayPool<byte>.Shared.Return(b); }
                catch { /* already failing */ }
            }
        }
        if (written != snapshot.Bytes)
            throw new StoreException(StoreError.Damaged, $"snapshot {snapshot.Id} produced {written} bytes, its manifest says {snapshot.Bytes}");
        var digest = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (digest != snapshot.Sha256)
            throw new StoreException(StoreError.Damaged, $"snapshot {snapshot.Id} produced a savefile with SHA-256 {digest}, its manifest says {snapshot.Sha256}");

        async Task WriteNextAsync()
        {
            var pieces = await window.Dequeue().ConfigureAwait(false);
            try
            {
                foreach (var (buffer, length) in pieces)
                {
                    hash.AppendData(buffer, 0, length);
                    await output.WriteAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                    written += length;
                }
            }
            finally { foreach (var (b, _) in pieces) ArrayPool<byte>.Shared.Return(b); }
            progress?.Report(written);
        }
    }

    /// <summary>
    /// Groups entries whose stored bytes follow each other in one pack (as a first push writes them), so that a
    /// pull reads packs in large ranges instead of one request per 64 KiB chunk.
    /// </summary>
    private static async IAsyncEnumerable<List<RecipeEntry>> BatchesAsync(IAsyncEnumerable<RecipeEntry> entries)
    {
        const int MaxBatchBytes = 2 << 20;
        var batch = new List<RecipeEntry>();
        long end = -1, size = 0;
        await foreach (var e in entries.ConfigureAwait(false))
        {
            var follows = batch.Count > 0 && e.Where.Pack == batch[^1].Where.Pack && e.Where.Offset == end && size + e.Where.Stored <= MaxBatchBytes;
            if (batch.Count > 0 && !follows)
            {
                yield return batch;
                batch = [];
                size = 0;
            }
            batch.Add(e);
            end = e.Where.Offset + e.Where.Stored;
            size += e.Where.Stored;
        }
        if (batch.Count > 0) yield return batch;
    }

    /// <summary>Writes the snapshot to <paramref name="destination"/> atomically (mode 0600), checked on the way.</summary>
    public async Task<SnapshotManifest> PullAsync(string reference, string destination, IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        CheckDestination(destination);
        await using var gate = await StoreLocks.AcquireAsync(_backend, "pull", _options.LockWait, cancellationToken).ConfigureAwait(false);
        var snapshot = await ResolveAsync(reference, cancellationToken).ConfigureAwait(false);
        await AtomicFile.WriteLargeAsync(destination, (s, ct) => MaterializeAsync(snapshot, s, progress, ct), cancellationToken).ConfigureAwait(false);
        return snapshot;
    }

    /// <summary>
    /// Writes a snapshot the caller already resolved (and showed) to <paramref name="destination"/>, without
    /// listing the store again: under the pull lock, only that its manifest is still there (a gc may have run).
    /// </summary>
    public async Task<SnapshotManifest> PullAsync(SnapshotManifest snapshot, string destination, IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        CheckDestination(destination);
        await using var gate = await StoreLocks.AcquireAsync(_backend, "pull", _options.LockWait, cancellationToken).ConfigureAwait(false);
        if (!await _backend.ExistsAsync(StoreKeys.Snapshot(snapshot.Id), cancellationToken).ConfigureAwait(false))
            throw new StoreException(StoreError.NotFound, $"snapshot {snapshot.Id} is no longer in '{Location}' (removed by a gc?)");
        await AtomicFile.WriteLargeAsync(destination, (s, ct) => MaterializeAsync(snapshot, s, progress, ct), cancellationToken).ConfigureAwait(false);
        return snapshot;
    }

    private static void CheckDestination(string destination)
    {
        try { SaveFileHeader.CheckTarget(destination); }
        catch (IOException e) { throw new StoreException(StoreError.InvalidArgument, e.Message, e); }
        // A pull killed outright left its temp file (a whole savefile's size) beside the destination for good; as a
        // save does, the next one removes those of writers that no longer run.
        if (Path.GetDirectoryName(Path.GetFullPath(destination)) is { } folder) AtomicFile.CleanStaleTempFiles(folder);
    }

    /// <summary>
    /// The snapshot's savefile as a stream read as it is fetched and checked (a restore reads it without a temp
    /// file). Damage surfaces as a <see cref="StoreException"/> from Read; disposing stops the fetching.
    /// </summary>
    public Stream OpenRead(SnapshotManifest snapshot, CancellationToken cancellationToken = default)
    {
        var pipe = new System.IO.Pipelines.Pipe(new System.IO.Pipelines.PipeOptions(pauseWriterThreshold: 8 << 20, resumeWriterThreshold: 4 << 20));
        var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producer = Task.Run(async () =>
        {
            try
            {
                await using var sink = pipe.Writer.AsStream(leaveOpen: true);
                await MaterializeAsync(snapshot, sink, null, cts.Token).ConfigureAwait(false);
                await pipe.Writer.CompleteAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                await pipe.Writer.CompleteAsync(e).ConfigureAwait(false);
            }
        }, CancellationToken.None);
        return new PipedSnapshotStream(pipe.Reader.AsStream(), cts, producer);
    }

    /// <summary>The stored header and config of a snapshot (reads the first chunks only).</summary>
    public async Task<Core.SaveFiles.SaveFileHeader> ReadHeaderAsync(SnapshotManifest snapshot, CancellationToken cancellationToken = default)
    {
        await using var stream = OpenRead(snapshot, cancellationToken);
        return await Core.SaveFiles.SaveFileHeader.ReadAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private sealed class PipedSnapshotStream(Stream inner, CancellationTokenSource cts, Task producer) : ForwardReadStream
    {
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override int Read(Span<byte> buffer) => inner.Read(buffer);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

        private bool _disposed;

        public override async ValueTask DisposeAsync()
        {
            if (_disposed) return;
            _disposed = true;
            await cts.CancelAsync().ConfigureAwait(false);
            await inner.DisposeAsync().ConfigureAwait(false);
            try { await producer.ConfigureAwait(false); } catch { /* the reader stopped; nothing to report */ }
            cts.Dispose();
            GC.SuppressFinalize(this);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_disposed)
            {
                _disposed = true;
                cts.Cancel();
                inner.Dispose();
                try { producer.GetAwaiter().GetResult(); } catch { /* as above */ }
                cts.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>
    /// Removes one snapshot, readable or damaged, named by its id or a unique start of it (at least 4 characters;
    /// never by tag, which names another snapshot after each push). Only its manifest goes: its chunks stay until a
    /// gc finds that no other snapshot needs them, so a pull already under way still completes. A damaged manifest
    /// stops gc (it could need any pack); this is how the user gives that snapshot up.
    /// </summary>
    public async Task<ForgottenSnapshot> ForgetAsync(string reference, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (string.IsNullOrWhiteSpace(reference))
            throw new StoreException(StoreError.InvalidArgument, "the snapshot id is empty: give a snapshot id (or a unique start of it, see: xen-iac store ls)");
        await using var gate = await StoreLocks.AcquireAsync(_backend, "forget", _options.LockWait, cancellationToken).ConfigureAwait(false);
        var (all, damaged) = await ScanAsync(cancellationToken).ConfigureAwait(false);
        var ids = all.Select(s => s.Id).Concat(damaged.Select(d => d.Snapshots[0])).ToList();
        var id = ids.Contains(reference) ? reference : null;
        if (id is null)
        {
            var matches = reference.Length >= MinIdPrefix ? ids.Where(i => i.StartsWith(reference, StringComparison.Ordinal)).ToList() : [];
            if (matches.Count > 1)
                throw new StoreException(StoreError.InvalidArgument, $"'{reference}' is the start of {matches.Count} snapshot ids; give more of it");
            if (matches.Count == 1) id = matches[0];
            else if (all.Count(s => s.Tag == reference) is var tagged and > 0)
                throw new StoreException(StoreError.InvalidArgument,
                    $"forget takes a snapshot id, not a tag: '{reference}' names {tagged} snapshot{(tagged == 1 ? "" : "s")} (see: xen-iac store ls)");
            else throw NotFound(reference);
        }
        await _backend.DeleteAsync(StoreKeys.Snapshot(id), cancellationToken).ConfigureAwait(false);
        return new ForgottenSnapshot(id, all.FirstOrDefault(s => s.Id == id));
    }

    /// <summary>The fewest characters of an id that may stand for it (ids are hex; fewer would match by accident).</summary>
    private const int MinIdPrefix = 4;

    private StoreException NotFound(string reference) => reference.Length < MinIdPrefix && reference.All(char.IsAsciiHexDigitLower)
        ? new StoreException(StoreError.NotFound, $"no snapshot in '{Location}' has the id or tag '{reference}'; the start of an id names a snapshot from {MinIdPrefix} characters on (see: xen-iac store ls)")
        : new StoreException(StoreError.NotFound, $"no snapshot in '{Location}' has the id or tag '{reference}' (see: xen-iac store ls)");

    /// <summary>Holds a shared lock while a caller streams a snapshot (so gc cannot remove it meanwhile).</summary>
    public async Task<IAsyncDisposable> HoldAsync(CancellationToken cancellationToken = default) =>
        await StoreLocks.AcquireAsync(_backend, "pull", _options.LockWait, cancellationToken).ConfigureAwait(false);

    /// <summary>Reads a batch of neighbouring chunks with one range read and decodes each (checking its name).</summary>
    private async Task<List<(byte[] Buffer, int Length)>> FetchAsync(List<RecipeEntry> batch, CancellationToken cancellationToken)
    {
        var first = batch[0].Where;
        var last = batch[^1].Where;
        var length = checked((int)(last.Offset + last.Stored - first.Offset));
        var range = ArrayPool<byte>.Shared.Rent(length);
        var pieces = new List<(byte[], int)>(batch.Count);
        var codec = RentCodec();
        try
        {
            var got = await _backend.ReadRangeAsync(StoreKeys.Pack(first.Pack), first.Offset, range.AsMemory(0, length), cancellationToken).ConfigureAwait(false)
                ?? throw new StoreException(StoreError.Damaged, $"pack {first.Pack} is missing from '{Location}' (it holds chunk {batch[0].Chunk})");
            foreach (var e in batch)
            {
                var at = (int)(e.Where.Offset - first.Offset);
                if (at + e.Where.Stored > got)
                    throw new StoreException(StoreError.Damaged, $"chunk {e.Chunk} is damaged: pack {e.Where.Pack} ends before it");
                var buffer = ArrayPool<byte>.Shared.Rent(e.Bytes);
                pieces.Add((buffer, e.Bytes));
                codec.Decode(e.Chunk, range.AsSpan(at, e.Where.Stored), buffer.AsSpan(0, e.Bytes));
            }
            return pieces;
        }
        catch
        {
            foreach (var (b, _) in pieces) ArrayPool<byte>.Shared.Return(b);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(range);
            ReturnCodec(codec);
        }
    }

    private readonly ConcurrentBag<ChunkCodec> _codecs = [];

    /// <summary>zstd and AES contexts are costly to make and not thread-safe: each task borrows one.</summary>
    private ChunkCodec RentCodec() => _codecs.TryTake(out var c) ? c : new ChunkCodec(_key);

    private void ReturnCodec(ChunkCodec codec) => _codecs.Add(codec);

    private async IAsyncEnumerable<RecipeEntry> EntriesAsync(SnapshotManifest snapshot, ChunkCodec codec,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var part in snapshot.Recipe)
            foreach (var entry in await ReadRecipePartAsync(part, codec, cancellationToken).ConfigureAwait(false))
                yield return entry;
    }

    private async Task<List<RecipeEntry>> ReadRecipePartAsync(RecipePart part, ChunkCodec codec, CancellationToken cancellationToken)
    {
        if (part.Bytes is < 12 or > Recipe.MaxPartBytes)
            throw new StoreException(StoreError.Damaged, $"a snapshot names recipe chunk {part.Chunk} of {part.Bytes} bytes");
        var stored = await _backend.GetAsync(StoreKeys.Recipe(part.Chunk), Recipe.MaxStored(part.Bytes), cancellationToken).ConfigureAwait(false)
            ?? throw new StoreException(StoreError.Damaged, $"recipe chunk {part.Chunk} is missing from '{Location}'");
        var raw = new byte[part.Bytes];
        codec.Decode(part.Chunk, stored, raw);
        return Recipe.Decode(raw, part.Chunk);
    }

    // ---------------------------------------------------------------- verify

    /// <summary>
    /// Re-hashes every stored chunk the snapshots (all, or the one named) need, reading each pack once, and names
    /// the damaged chunks and the snapshots they break.
    /// </summary>
    public async Task<VerifyReport> VerifyAsync(string? reference = null, IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        await using var gate = await StoreLocks.AcquireAsync(_backend, "verify", _options.LockWait, cancellationToken).ConfigureAwait(false);
        var damaged = new ConcurrentBag<DamagedChunk>();
        IReadOnlyList<SnapshotManifest> snapshots;
        if (reference is null)
        {
            var scan = await ScanAsync(cancellationToken).ConfigureAwait(false);
            snapshots = scan.Snapshots;
            foreach (var d in scan.Damaged) damaged.Add(d);
        }
        else snapshots = [await ResolveAsync(reference, cancellationToken).ConfigureAwait(false)];
        // Per pack, per offset: the chunk stored there and the snapshots that need it.
        var packs = new Dictionary<string, Dictionary<long, (RecipeEntry Entry, List<int> Snapshots)>>();
        using (var codec = new ChunkCodec(_key))
        {
            for (var s = 0; s < snapshots.Count; s++)
            {
                foreach (var part in snapshots[s].Recipe)
                {
                    List<RecipeEntry> entries;
                    try { entries = await ReadRecipePartAsync(part, codec, cancellationToken).ConfigureAwait(false); }
                    catch (StoreException e) when (e.Error is StoreError.Damaged)
                    {
                        damaged.Add(new DamagedChunk(part.Chunk, e.Message, [snapshots[s].Id]));
                        continue;
                    }
                    foreach (var e in entries)
                    {
                        if (!packs.TryGetValue(e.Where.Pack, out var inPack)) packs[e.Where.Pack] = inPack = [];
                        if (!inPack.TryGetValue(e.Where.Offset, out var u)) inPack[e.Where.Offset] = u = (e, []);
                        else if (u.Entry != e)
                        {
                            damaged.Add(new DamagedChunk(e.Chunk, $"recipe {part.Chunk} places chunk {e.Chunk} where another recipe has chunk {u.Entry.Chunk} (pack {e.Where.Pack}, offset {e.Where.Offset})", [snapshots[s].Id]));
                            continue;
                        }
                        if (u.Snapshots.Count == 0 || u.Snapshots[^1] != s) u.Snapshots.Add(s);
                    }
                }
            }
        }
        long bytes = 0, chunks = packs.Sum(p => (long)p.Value.Count);
        await Parallel.ForEachAsync(packs, new ParallelOptions { MaxDegreeOfParallelism = _options.Parallelism, CancellationToken = cancellationToken },
            async (pack, ct) =>
            {
                // Only as far as the last chunk anyone needs; into a pooled buffer, one read per pack.
                var end = (int)pack.Value.Max(p => p.Key + p.Value.Entry.Where.Stored);
                var buffer = ArrayPool<byte>.Shared.Rent(end);
                var got = await _backend.ReadRangeAsync(StoreKeys.Pack(pack.Key), 0, buffer.AsMemory(0, end), ct).ConfigureAwait(false);
                ArraySegment<byte>? data = got is null ? (ArraySegment<byte>?)null : new ArraySegment<byte>(buffer, 0, got.Value);
                var codec = RentCodec();
                var raw = ArrayPool<byte>.Shared.Rent(Recipe.MaxChunkBytes);
                try
                {
                    foreach (var (offset, (entry, users)) in pack.Value)
                    {
                        string? problem = null;
                        if (data is null) problem = $"chunk {entry.Chunk} is missing: its pack {pack.Key} is not in '{Location}'";
                        else if (offset + entry.Where.Stored > data.Value.Count) problem = $"chunk {entry.Chunk} is damaged: pack {pack.Key} ends before it";
                        else
                        {
                            try { codec.Decode(entry.Chunk, data.Value.AsSpan((int)offset, entry.Where.Stored), raw.AsSpan(0, entry.Bytes)); }
                            catch (StoreException e) when (e.Error is StoreError.Damaged) { problem = $"{e.Message} (in pack {pack.Key} at {offset})"; }
                        }
                        if (problem is not null)
                            damaged.Add(new DamagedChunk(entry.Chunk, problem, [.. users.Select(i => snapshots[i].Id)]));
                        var total = Interlocked.Add(ref bytes, entry.Bytes);
                        progress?.Report(total);
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(raw);
                    ArrayPool<byte>.Shared.Return(buffer);
                    ReturnCodec(codec);
                }
            }).ConfigureAwait(false);
        var broken = new SortedSet<string>(damaged.SelectMany(d => d.Snapshots), StringComparer.Ordinal);
        return new VerifyReport(snapshots.Count + damaged.Count(d => d.Chunk.StartsWith(StoreKeys.Snapshots, StringComparison.Ordinal)), chunks, bytes, [.. damaged.OrderBy(d => d.Chunk, StringComparer.Ordinal)], [.. broken]);
    }

    // ---------------------------------------------------------------- gc

    /// <summary>
    /// Removes snapshots beyond the newest <paramref name="keep"/> of each tag (untagged snapshots stay), then every
    /// pack and recipe no remaining snapshot needs. Holds the store alone: waits for pushes to finish, and pushes
    /// wait for it. A pack some remaining snapshot still uses stays whole (it is not rewritten).
    /// </summary>
    public Task<GcReport> GcAsync(int? keep = null, bool dryRun = false, CancellationToken cancellationToken = default) =>
        GcAsync(keep, dryRun, onlyTag: null, cancellationToken);

    /// <summary>
    /// As <see cref="GcAsync(int?, bool, CancellationToken)"/> for one tag: its snapshots beyond the newest
    /// <paramref name="keep"/> go (other tags keep all theirs), then whatever no remaining snapshot needs. A manifest
    /// domain's <c>keep: N</c> uses it, since domains sharing a store may keep different numbers.
    /// </summary>
    public Task<GcReport> GcTagAsync(string tag, int keep, CancellationToken cancellationToken = default)
    {
        CheckTag(tag);
        return GcAsync(keep, dryRun: false, onlyTag: tag, cancellationToken);
    }

    private async Task<GcReport> GcAsync(int? keep, bool dryRun, string? onlyTag, CancellationToken cancellationToken)
    {
        if (keep is < 1) throw new StoreException(StoreError.InvalidArgument, "--keep must be at least 1 (a tag keeps its newest snapshot)");
        var kind = dryRun && _backend is FolderBackend { CanWrite: false } ? StoreLocks.DryRunOfReadOnly : StoreLocks.Exclusive;
        await using var gate = await StoreLocks.AcquireAsync(_backend, kind, _options.LockWait, cancellationToken).ConfigureAwait(false);
        var (all, hurt) = await ScanAsync(cancellationToken).ConfigureAwait(false);
        // A manifest gc cannot read may need any pack: deleting on without it could lose that snapshot for good.
        if (hurt.Count > 0)
            throw new StoreException(StoreError.Damaged, $"gc stopped before deleting anything: {hurt[0].Problem}; run xen-iac store verify, " +
                $"and xen-iac store forget {hurt[0].Snapshots[0]} once that snapshot is given up");
        // A folder store whose snapshots/ is gone (deleted, or a share not mounted there) lists no snapshot, so every
        // pack looked unused and gc removed them all. Packs without any snapshot are also what a cancelled first push
        // leaves; the way on is said.
        if (all.Count == 0 && _backend is FolderBackend store && !store.HasFolder(StoreKeys.Snapshots, out _)
            && await HoldsStoreObjectsAsync(_backend, cancellationToken).ConfigureAwait(false))
            throw new StoreException(StoreError.Damaged,
                $"gc stopped before deleting anything: the store '{Location}' holds packs but has no folder snapshots/ (deleted, or a share not mounted there?); " +
                $"if it really holds no snapshot, create the empty folder {store.PathOfFolder(StoreKeys.Snapshots)} and run gc again");
        var removed = keep is { } k
            ? all.Where(s => s.Tag is not null && (onlyTag is null || s.Tag == onlyTag)).GroupBy(s => s.Tag).SelectMany(g => g.OrderByDescending(s => s.Created).ThenByDescending(s => s.Id, StringComparer.Ordinal).Skip(k)).ToList()
            : [];
        var removedIds = removed.Select(s => s.Id).ToHashSet();
        var livePacks = new HashSet<string>();
        var liveRecipes = new HashSet<string>();
        using (var codec = new ChunkCodec(_key))
        {
            foreach (var snapshot in all.Where(s => !removedIds.Contains(s.Id)))
            {
                foreach (var part in snapshot.Recipe)
                {
                    liveRecipes.Add(part.Chunk);
                    List<RecipeEntry> entries;
                    try { entries = await ReadRecipePartAsync(part, codec, cancellationToken).ConfigureAwait(false); }
                    catch (StoreException e) when (e.Error is StoreError.Damaged)
                    {
                        throw new StoreException(StoreError.Damaged,
                            $"gc stopped before deleting anything: snapshot {snapshot.Id} cannot be read ({e.Message}); run xen-iac store verify", e);
                    }
                    foreach (var e in entries) livePacks.Add(e.Where.Pack);
                }
            }
        }
        if (!dryRun)
        {
            await StoreLocks.RemoveStaleAsync(_backend, cancellationToken).ConfigureAwait(false);
            if (_backend is FolderBackend folder) folder.RemoveTempFiles();
            // Manifests first: a gc killed after this point leaves unreferenced objects, never a snapshot without its packs.
            foreach (var s in removed) await _backend.DeleteAsync(StoreKeys.Snapshot(s.Id), cancellationToken).ConfigureAwait(false);
        }
        long objects = 0, bytes = 0;
        await foreach (var o in _backend.ListAsync(StoreKeys.Packs, cancellationToken).ConfigureAwait(false))
        {
            if (livePacks.Contains(o.Key[(o.Key.LastIndexOf('/') + 1)..])) continue;
            if (!dryRun) await _backend.DeleteAsync(o.Key, cancellationToken).ConfigureAwait(false);
            objects++;
            bytes += o.Size;
        }
        await foreach (var o in _backend.ListAsync(StoreKeys.Recipes, cancellationToken).ConfigureAwait(false))
        {
            if (liveRecipes.Contains(o.Key[(o.Key.LastIndexOf('/') + 1)..])) continue;
            if (!dryRun) await _backend.DeleteAsync(o.Key, cancellationToken).ConfigureAwait(false);
            objects++;
            bytes += o.Size;
        }
        return new GcReport(removed, objects, bytes, dryRun);
    }

    public ValueTask DisposeAsync()
    {
        while (_codecs.TryTake(out var c)) c.Dispose();
        return _backend.DisposeAsync();
    }
}
