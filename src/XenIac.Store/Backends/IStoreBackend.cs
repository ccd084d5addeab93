namespace XenIac.Store.Backends;

/// <summary>An object in a backend: its key, size in bytes and when it was last written.</summary>
public readonly record struct StoreObject(string Key, long Size, DateTimeOffset LastModified);

/// <summary>
/// Where a store keeps its objects: a flat key space with "/" in keys (<c>chunks/ab/ab12…</c>,
/// <c>snapshots/…</c>, <c>locks/…</c>). Objects are small (a compressed chunk, a manifest) and written whole.
/// </summary>
/// <remarks>
/// The contract every backend keeps, checked by the same test suite for each: a reader sees either no object or
/// the whole object, never part of one (a killed writer leaves nothing that looks complete); a put over an
/// existing key replaces it whole; a delete of a missing key is not an error; a list sees every object whose put
/// returned before the list began. Failures of the medium raise <see cref="StoreException"/> with
/// <see cref="StoreError.Unavailable"/> and the key in the message.
/// </remarks>
public interface IStoreBackend : IAsyncDisposable
{
    /// <summary>The location as the user wrote it (a folder path or <c>s3://bucket/prefix</c>).</summary>
    string Location { get; }

    /// <summary>Whether an object exists under <paramref name="key"/>.</summary>
    Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Writes the object whole (atomically for readers).</summary>
    Task PutAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes the object only when no object has <paramref name="key"/>: of two writers at once, one makes it and the
    /// other gets false (the store's settings, which two first pushes used to write over each other). An S3 server
    /// that ignores conditional writes (If-None-Match) makes this a plain put.
    /// </summary>
    Task<bool> CreateAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default);

    /// <summary>The object's bytes, or null when there is no such object. Objects larger than <paramref name="maxBytes"/> are refused.</summary>
    Task<byte[]?> GetAsync(string key, int maxBytes, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads the object's bytes from <paramref name="offset"/> into <paramref name="buffer"/> (the caller's, so a
    /// pull reuses its buffers) and returns how many arrived: fewer when the object ends first, null when there is
    /// no such object.
    /// </summary>
    Task<int?> ReadRangeAsync(string key, long offset, Memory<byte> buffer, CancellationToken cancellationToken = default);

    /// <summary>Every object whose key starts with <paramref name="prefix"/>, in no particular order.</summary>
    IAsyncEnumerable<StoreObject> ListAsync(string prefix, CancellationToken cancellationToken = default);

    Task DeleteAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Makes everything put so far durable before a snapshot manifest is written (one sync for the whole push
    /// instead of one per chunk). A no-op where a put is durable when it returns (S3).
    /// </summary>
    Task FlushAsync(CancellationToken cancellationToken = default);
}
