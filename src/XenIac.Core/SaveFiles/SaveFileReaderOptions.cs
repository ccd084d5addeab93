namespace XenIac.Core.SaveFiles;

public sealed record SaveFileReaderOptions
{
    public static SaveFileReaderOptions Default { get; } = new();

    /// <summary>
    /// For a look at the header and the records before the first page (plan, placement, import): a small read-ahead,
    /// since plan opens every savefile of a manifest, up to three times each, and each open allocates its buffer.
    /// </summary>
    public static SaveFileReaderOptions Inspection { get; } = new() { ReadBufferSize = 4096 };

    /// <summary>
    /// Lax (false) reads what xl reads. Strict also rejects what xl tolerates: unknown optional flags and a JSON
    /// config that is not NUL-terminated or not valid UTF-8.
    /// </summary>
    public bool Strict { get; init; }

    /// <summary>
    /// The largest optional-data area accepted. A real config is a few KiB; a length in the gigabytes is a
    /// corrupt header, and refusing it keeps a bad file from costing memory.
    /// </summary>
    public int MaxOptionalDataLength { get; init; } = 64 * 1024 * 1024;

    /// <summary>
    /// How far ahead a savefile opened by path (<see cref="SaveFileReader.Open(string, SaveFileReaderOptions?)"/>) is
    /// read. 64 KiB keeps record headers cheap while streaming an image (page payloads bypass it); the buffer is
    /// allocated per open. 0 or 1: no read-ahead.
    /// </summary>
    public int ReadBufferSize
    {
        get;
        init => field = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(ReadBufferSize), value, "a read-ahead cannot be negative");
    } = 64 * 1024;
}
