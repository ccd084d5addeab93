using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using XenIac.Core.IO;

namespace XenIac.Store.Backends;

/// <summary>
/// A store in a local folder (also an NFS mount shared by several dom0s). An object is a file named by its key;
/// it is written to a temp file beside it and renamed into place, so a reader never sees part of one and a killed
/// writer leaves only a temp file, which listing ignores.
/// </summary>
/// <remarks>
/// Packs are made durable as they are written (their upload threads work beside the chunking); the small objects
/// (recipes) are covered by <see cref="FlushAsync"/>, one syncfs before a snapshot manifest is written, which is what
/// makes the snapshot durable. A crash of the machine before that leaves chunks that no manifest names (gc removes
/// them), never a manifest that names lost chunks.
/// </remarks>
public sealed class FolderBackend : IStoreBackend
{
    private readonly string _root;
    /// <summary>Fan-out folders known to exist: a push creates 256 of them, not one per chunk.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _folders = new();

    public FolderBackend(string location)
    {
        ArgumentException.ThrowIfNullOrEmpty(location);
        Location = location;
        _root = Path.GetFullPath(location);
    }

    public string Location { get; }

    /// <summary>
    /// Creates the folder when it does not exist: a push makes a new store. Only under an existing parent: a typo in
    /// a path (`/srv/stroe/web`) must not quietly grow a tree of folders holding a store nobody will find.
    /// </summary>
    public void EnsureExists()
    {
        if (Directory.Exists(_root)) return;
        if (File.Exists(_root)) throw new StoreException(StoreError.Unavailable, $"'{Location}' is a file, not a store folder");
        var parent = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(_root));
        if (parent is not null && !Directory.Exists(parent))
            throw new StoreException(StoreError.Unavailable,
                $"cannot create the store folder '{Location}': its parent folder '{parent}' does not exist (a new store is made only inside an existing folder)");
        try { CreateFolder(_root); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StoreException(StoreError.Unavailable, $"cannot create the store folder '{Location}': {e.Message}", e);
        }
    }

    /// <summary>
    /// A folder of the store, for its owner only: chunks hold guest memory, and although each object is 0600, the
    /// names and sizes in a world-readable tree still tell what was saved and when. A shared store (NFS between
    /// dom0s) is opened up by its admin, on purpose.
    /// </summary>
    private static void CreateFolder(string path)
    {
        if (OperatingSystem.IsWindows()) { Directory.CreateDirectory(path); return; }
        // .NET gives the mode to the last folder only; the ones between (packs/ of packs/ab) are made here, each 0700.
        var parent = Path.GetDirectoryName(path);
        if (parent is not null && !Directory.Exists(parent)) CreateFolder(parent);
        Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public bool FolderExists => Directory.Exists(_root);

    /// <summary>
    /// Whether the folder of a top-level prefix (<c>snapshots/</c>, <c>packs/</c>) is there; when it is not, the
    /// damage a file or a dangling link (an unmounted share) in its place is, or null for a folder not made yet.
    /// Both listing and gc judge the top folders by this one answer.
    /// </summary>
    public bool HasFolder(string prefix, out string? damage)
    {
        var path = PathOfFolder(prefix);
        damage = null;
        if (Directory.Exists(path)) return true;
        if (File.Exists(path)) damage = "a file is there";
        else if (new FileInfo(path).LinkTarget is { } target) damage = $"a link to {target}, which is not there (an unmounted share?)";
        return false;
    }

    /// <summary>Makes the folder of a top-level prefix (a new store's <c>snapshots/</c>, so that its absence later means damage).</summary>
    public void EnsureFolder(string prefix) => CreateFolder(PathOfFolder(prefix));

    /// <summary>Where the folder of a top-level prefix belongs.</summary>
    public string PathOfFolder(string prefix) => Path.Combine(_root, prefix.TrimEnd('/'));

    /// <summary>Whether this process may write into the store's folder (false on a read-only mount or without permission).</summary>
    public bool CanWrite => !OperatingSystem.IsLinux() || Libc.Access(_root, Libc.WriteAccess) == 0;

    /// <summary>A file is where the store's folder belongs.</summary>
    public bool LocationIsFile => File.Exists(_root);

    /// <summary>Why there is no store here, when the location is something other than a missing folder.</summary>
    public string? NotAStoreProblem() =>
        File.Exists(_root) ? $"'{Location}' is a file, not a store folder" :
        Directory.Exists(_root) ? $"the folder '{Location}' holds no store ({StoreKeys.StoreFile} is missing; a push makes one)" :
        null;

    public Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) =>
        Task.FromResult(File.Exists(PathOf(key)));

    public Task PutAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        WriteAsync(key, data, overwrite: true, cancellationToken);

    public Task<bool> CreateAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        WriteAsync(key, data, overwrite: false, cancellationToken);

    /// <returns>False when <paramref name="overwrite"/> is off and the object was there (the rename without replace, by link, is atomic).</returns>
    private async Task<bool> WriteAsync(string key, ReadOnlyMemory<byte> data, bool overwrite, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        var temp = AtomicFile.TempPathFor(path);
        try
        {
            var folder = Path.GetDirectoryName(path)!;
            if (_folders.TryAdd(folder, true)) CreateFolder(folder);
            // One write of the whole object. A pack (8 MiB, from an aligned buffer) goes around the page cache with
            // O_DIRECT: copying it into fresh cache pages cost a fifth of a push's CPU in a guest VM (each new page
            // a fault on the hypervisor's side), and the syncfs before the manifest then waited 0.9 s of a 3.5 s push
            // of 1 GiB for the disk. Direct, it reaches the disk here, beside the chunking of the next packs.
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, BufferSize = 0 };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var file = new FileStream(temp, options))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (data.Length >= DirectBytes)
                {
                    DirectIo.WriteNewFile(file.SafeFileHandle, data.Span);
                    // And durable now, on the uploading thread, beside the chunking: a direct write may still sit in
                    // the disk's (or a VM host's) write cache, and flushing 1 GiB of it in the syncfs before the
                    // manifest took 0.75 s at the end of a push; flushed pack by pack, that syncfs finds nothing.
                    file.Flush(flushToDisk: true);
                }
                else RandomAccess.Write(file.SafeFileHandle, data.Span, 0);
            }
            await Task.CompletedTask.ConfigureAwait(false);
            if (!overwrite && OperatingSystem.IsLinux())
            {
                // .NET's move without replace checks, then renames: two first pushes both "made" the store. link(2)
                // fails when the name is taken, in one step; where links are not supported the move is the fallback.
                var linked = Libc.Link(temp, path) == 0;
                var taken = !linked && Marshal.GetLastPInvokeError() == Libc.ErrorExists;
                if (linked || taken)
                {
                    TryDelete(temp);
                    return linked;
                }
            }
            try { File.Move(temp, path, overwrite); }
            catch (IOException) when (!overwrite && Path.Exists(path))
            {
                TryDelete(temp);
                return false;
            }
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            // .NET names the temp file in its message ("No space left on device : '/srv/s/packs/ab/.xeniac-tmp-…'"),
            // a name that means nothing to the user; the key and the store say where.
            var why = e is FileNotFoundException or DirectoryNotFoundException
                // Said of the temp file, which the open was to create: the folder takes no new files (/proc, /sys).
                ? $"no file can be created in '{Path.GetDirectoryName(path)}'"
                : e.Message.Replace($" : '{temp}'", "", StringComparison.Ordinal).Replace($"'{temp}'", "a temp file", StringComparison.Ordinal);
            throw new StoreException(StoreError.Unavailable, $"cannot write {key} in the store '{Location}': {why}", e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    public async Task<byte[]?> GetAsync(string key, int maxBytes, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        try
        {
            using var handle = RegularFile.OpenRead(path);
            var length = RandomAccess.GetLength(handle);
            if (length > maxBytes)
                throw new StoreException(StoreError.Damaged, $"{key} in the store '{Location}' is {length} bytes, more than the {maxBytes} such an object can be");
            var data = new byte[length];
            // Synchronous reads: on Linux an "asynchronous" file read is a thread-pool hop around the same pread.
            var filled = 0;
            while (filled < data.Length)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var n = RandomAccess.Read(handle, data.AsSpan(filled), filled);
                if (n == 0) throw new StoreException(StoreError.Damaged, $"{key} in the store '{Location}' shrank while it was read");
                filled += n;
            }
            await Task.CompletedTask.ConfigureAwait(false);
            return data;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (NotRegularFileException e)
        {
            throw NotAnObject(key, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StoreException(StoreError.Unavailable, $"cannot read {key} in the store '{Location}': {e.Message}", e);
        }
    }

    public async Task<int?> ReadRangeAsync(string key, long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var path = PathOf(key);
        try
        {
            // Synchronous reads: on Linux an "asynchronous" file read is a thread-pool hop around the same pread.
            using var handle = RegularFile.OpenRead(path);
            var filled = 0;
            while (filled < buffer.Length)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var n = RandomAccess.Read(handle, buffer.Span[filled..], offset + filled);
                if (n == 0) break;
                filled += n;
            }
            await Task.CompletedTask.ConfigureAwait(false);
            return filled;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (NotRegularFileException e)
        {
            throw NotAnObject(key, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StoreException(StoreError.Unavailable, $"cannot read {key} in the store '{Location}': {e.Message}", e);
        }
    }

    /// <summary>
    /// Every object of a folder store is a regular file: a FIFO, a device or a link to one where one should be is
    /// damage (read, it could hang the command or never end), reported as such and never opened for reading.
    /// </summary>
    private StoreException NotAnObject(string key, NotRegularFileException e) =>
        new(StoreError.Damaged, $"{key} in the store '{Location}' is {e.Kind}, not a file as the store's objects are", e);

    public async IAsyncEnumerable<StoreObject> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Keys are listed from the deepest folder the prefix names; the rest of the prefix filters names.
        var slash = prefix.LastIndexOf('/');
        var folder = slash < 0 ? _root : Path.Combine(_root, prefix[..slash]);
        if (!Directory.Exists(folder))
        {
            // A top folder of the store (snapshots/, packs/, recipes/) that is a dangling link (an unmounted share) or a
            // file is damage: listed as empty, gc took every pack for unused and removed them. One not made yet (no push
            // got that far) is empty.
            if (slash > 0 && prefix.IndexOf('/') == slash && !HasFolder(prefix[..slash], out var damage) && damage is not null)
                throw new StoreException(StoreError.Damaged,
                    $"the store '{Location}' has no folder {prefix[..slash]}/: {damage}; nothing is listed or removed until it is back");
            yield break;
        }
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = false, AttributesToSkip = 0 };
        foreach (var info in new DirectoryInfo(folder).EnumerateFileSystemInfos("*", options))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (info.Name.StartsWith(AtomicFile.TempPrefix, StringComparison.Ordinal)) continue;
            var key = Path.GetRelativePath(_root, info.FullName).Replace(Path.DirectorySeparatorChar, '/');
            if (!key.StartsWith(prefix, StringComparison.Ordinal)) continue;
            // A folder is listed only where a snapshot's manifest belongs (snapshots/ID.json): passed over, the
            // snapshot vanished from ls, verify said ok and forget said no such id; listed, reading it names the damage.
            if (info is DirectoryInfo && !IsManifestKey(key)) continue;
            long size;
            DateTimeOffset modified;
            try { size = info is FileInfo file ? file.Length : 0; modified = info.LastWriteTimeUtc; }
            catch (FileNotFoundException) { continue; } // deleted while listing
            yield return new StoreObject(key, size, modified);
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }

    private static bool IsManifestKey(string key) =>
        key.StartsWith(StoreKeys.Snapshots, StringComparison.Ordinal) && key.EndsWith(".json", StringComparison.Ordinal)
        && key.IndexOf('/', StoreKeys.Snapshots.Length) < 0;

    public Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        // 'store forget' of a snapshot whose manifest became a folder (see ListAsync): an empty one goes, as the
        // object would; one with files in it is not the store's to empty.
        if (IsManifestKey(key) && Directory.Exists(path) && !File.Exists(path))
        {
            try { Directory.Delete(path); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new StoreException(StoreError.Unavailable, $"cannot delete {key} in the store '{Location}': it is a folder, and {e.Message}", e);
            }
            return Task.CompletedTask;
        }
        try { File.Delete(path); }
        catch (DirectoryNotFoundException) { }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StoreException(StoreError.Unavailable, $"cannot delete {key} in the store '{Location}': {e.Message}", e);
        }
        return Task.CompletedTask;
    }

    public Task FlushAsync(CancellationToken cancellationToken = default)
    {
        // One syncfs for every chunk written by this push (and by anyone else): far cheaper than an fsync per file.
        // .NET does not open folders; the store file is always there once the store exists.
        using var handle = RegularFile.OpenRead(PathOf(StoreKeys.StoreFile));
        if (Libc.SyncFs(handle.DangerousGetHandle().ToInt32()) != 0)
            throw new StoreException(StoreError.Unavailable, $"cannot sync the store '{Location}' to disk (errno {Marshal.GetLastPInvokeError()})");
        return Task.CompletedTask;
    }

    /// <summary>
    /// Deletes temp files killed writers left (gc calls it while it holds the store alone, so no writer is live).
    /// </summary>
    public int RemoveTempFiles()
    {
        if (!Directory.Exists(_root)) return 0;
        var removed = 0;
        foreach (var file in Directory.EnumerateFiles(_root, AtomicFile.TempPrefix + "*", SearchOption.AllDirectories))
        {
            TryDelete(file);
            removed++;
        }
        return removed;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private string PathOf(string key)
    {
        StoreKeys.Check(key);
        return Path.Combine(_root, key);
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>Objects this big (packs, not manifests, recipes or locks) are written with O_DIRECT where they can be.</summary>
    private const int DirectBytes = 1 << 20;
}
