namespace XenIac.Core.IO;

/// <summary>
/// Whole reads of the small files a user names: manifests, configs, key files, saved plans. The size a file claims
/// is not trusted: a device (<c>/dev/zero</c>), a FIFO or a file that grows reports a length of 0 or less than it
/// yields, and <c>File.ReadAllBytes</c> would read it until memory runs out. At most <c>limit</c> bytes are read;
/// one more is an error naming the file.
/// </summary>
public static class SmallFile
{
    /// <summary>The bound for configs and manifests: far above any real one (xl's own configs are a few KiB).</summary>
    public const int DefaultLimit = 16 << 20;

    /// <exception cref="IOException">The file holds more than <paramref name="limit"/> bytes, or cannot be read.</exception>
    public static byte[] ReadAllBytes(string path, int limit = DefaultLimit)
    {
        using var stream = Open(path);
        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int n;
        while ((n = stream.Read(chunk, 0, (int)Math.Min(chunk.Length, (long)limit + 1 - buffer.Length))) > 0)
        {
            buffer.Write(chunk, 0, n);
            if (buffer.Length > limit) throw TooLarge(path, limit);
        }
        return buffer.ToArray();
    }

    /// <inheritdoc cref="ReadAllBytes"/>
    public static async Task<byte[]> ReadAllBytesAsync(string path, int limit = DefaultLimit, CancellationToken cancellationToken = default)
    {
        await using var stream = Open(path);
        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int n;
        while ((n = await stream.ReadAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, (long)limit + 1 - buffer.Length)), cancellationToken)
                   .ConfigureAwait(false)) > 0)
        {
            buffer.Write(chunk, 0, n);
            if (buffer.Length > limit) throw TooLarge(path, limit);
        }
        return buffer.ToArray();
    }

    private static FileStream Open(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);

    private static IOException TooLarge(string path, int limit) =>
        new($"{path} holds more than {limit:N0} bytes (the limit for this kind of file), or never ends (a device?)");
}
