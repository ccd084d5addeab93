namespace XenIac.Core.SaveFiles;

public sealed record SaveFileReaderOptions
{
    public static SaveFileReaderOptions Default { get; } = new();

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
}
