using System.Security.Cryptography;
using XenIac.Core.IO;
using XenIac.Store.Backends;

namespace XenIac.Store.Chunking;

/// <summary>
/// Collects coded chunks into packs of about <see cref="TargetPackBytes"/> (8 MiB: big enough that a 4 GiB push makes ~512 objects, small enough that the three a push holds keep its memory flat) and uploads each pack whole. One object
/// per pack instead of one per chunk: creating a file (or an S3 object) costs far more than writing 64 KiB into
/// one, and a 4 GiB push then makes about 512 objects, not 65,536.
/// </summary>
/// <remarks>
/// A pack is the plain concatenation of coded chunks; the recipes say where each chunk lies. A pack is named by
/// random bits, never reused, and written before the manifest that makes its chunks reachable, so a killed push
/// leaves only packs no snapshot names (gc removes them). Thread-safe; at most two uploads run at once, so
/// memory holds at most three packs.
/// </remarks>
internal sealed class PackWriter(IStoreBackend backend, CancellationToken cancellationToken)
{
    public const int TargetPackBytes = 8 << 20;
    /// <summary>A pack never exceeds this: the target plus one largest coded chunk.</summary>
    public static readonly int MaxPackBytes = TargetPackBytes + Recipe.MaxStored(Recipe.MaxChunkBytes);

    private readonly Lock _sync = new();
    private readonly SemaphoreSlim _uploads = new(2, 2);
    private readonly List<Task> _pending = [];
    private readonly System.Collections.Concurrent.ConcurrentBag<Memory<byte>> _spare = [];
    // Aligned, so the folder store can write a pack around the page cache (O_DIRECT).
    private Memory<byte> _buffer = DirectIo.AllocateAligned(MaxPackBytes);
    private int _length;
    private string _id = NewId();

    public long StoredBytes { get; private set; }

    public long Chunks { get; private set; }

    public static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>Appends a coded chunk and says where it will be once its pack is uploaded.</summary>
    public async Task<ChunkLocation> AddAsync(EncodedChunk coded)
    {
        (Memory<byte> Data, int Length, string Id)? full = null;
        ChunkLocation where;
        lock (_sync)
        {
            if (_length + coded.Length > TargetPackBytes && _length > 0)
            {
                full = (_buffer, _length, _id);
                _buffer = _spare.TryTake(out var spare) ? spare : DirectIo.AllocateAligned(MaxPackBytes);
                _length = 0;
                _id = NewId();
            }
            coded.CopyTo(_buffer.Span[_length..]);
            where = new ChunkLocation(_id, _length, coded.Length);
            _length += coded.Length;
            StoredBytes += coded.Length;
            Chunks++;
        }
        if (full is { } f) await UploadAsync(f.Data, f.Length, f.Id).ConfigureAwait(false);
        return where;
    }

    /// <summary>Uploads the last pack and waits for every upload.</summary>
    public async Task FinishAsync()
    {
        if (_length > 0) await UploadAsync(_buffer, _length, _id).ConfigureAwait(false);
        _length = 0;
        Task[] pending;
        lock (_sync) pending = [.. _pending];
        await Task.WhenAll(pending).ConfigureAwait(false);
    }

    private async Task UploadAsync(Memory<byte> data, int length, string id)
    {
        await _uploads.WaitAsync(cancellationToken).ConfigureAwait(false);
        // A thread of its own, not the pool's: the folder store writes a pack synchronously (O_DIRECT, ~10 ms), and
        // two such writes held both pool threads of a 2-core machine while the chunking workers, pool work too,
        // waited for the pool to grow. Measured on a 1 GiB push, this gained about 0.25 s (2026-12-06); the rest of
        // the gap between a push to disk (2.9 s then) and to tmpfs (1.7 s) was the disk itself.
        var upload = Task.Factory.StartNew(() =>
        {
            try
            {
                backend.PutAsync(StoreKeys.Pack(id), data[..length], cancellationToken).GetAwaiter().GetResult();
                _spare.Add(data);
            }
            finally { _uploads.Release(); }
        }, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        lock (_sync) _pending.Add(upload);
    }
}
