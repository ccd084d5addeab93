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
        return ReadAll(stream, path, limit);
    }

    /// <summary>The rest of <paramref name="stream"/>, at most <paramref name="limit"/> bytes; <paramref name="path"/> names it in errors.</summary>
    internal static byte[] ReadAll(Stream stream, string path, int limit = DefaultLimit)
    {
        var buffer = new byte[FirstGuess(stream, limit)];
        var filled = 0;
        Span<byte> probe = stackalloc byte[1];
        while (true)
        {
            if (filled == buffer.Length)
            {
                // Full: one byte more tells "done" from "more" (a file that grows, a device that never ends).
                if (stream.Read(probe) == 0) return buffer;
                Grow(ref buffer, filled, probe[0], path, limit);
                filled++;
                continue;
            }
            var n = stream.Read(buffer, filled, buffer.Length - filled);
            if (n == 0) return buffer[..filled];
            filled += n;
        }
    }

    /// <inheritdoc cref="ReadAllBytes"/>
    /// <remarks>
    /// The reads are synchronous: the handle is not opened for asynchronous I/O, so each asynchronous read would be
    /// a hop to the thread pool and back, for a file read in one or two calls (plan reads a thousand of them).
    /// </remarks>
    public static Task<byte[]> ReadAllBytesAsync(string path, int limit = DefaultLimit, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<byte[]>(cancellationToken);
        try { return Task.FromResult(ReadAllBytes(path, limit)); }
        catch (Exception e) { return Task.FromException<byte[]>(e); }
    }

    /// <summary>
    /// A regular file's size is the first guess, so a config is read into one array of its size with no copy (plan
    /// reads a thousand of them; a 64 KiB scratch chunk per file was most of what its process allocated). The guess
    /// is only a guess: the reads above stop at <paramref name="limit"/> whatever the file claims.
    /// </summary>
    private static int FirstGuess(Stream stream, int limit)
    {
        long claimed;
        try { claimed = stream.CanSeek ? stream.Length - stream.Position : -1; }
        catch (IOException) { claimed = -1; }
        return claimed >= 0 && claimed <= limit ? (int)claimed : Math.Min(16 * 1024, limit);
    }

    /// <summary>Room for one more byte (the probe that found the buffer too small), at most the limit.</summary>
    private static void Grow(ref byte[] buffer, int filled, byte probe, string path, int limit)
    {
        if (filled >= limit) throw TooLarge(path, limit);
        Array.Resize(ref buffer, (int)Math.Min(Math.Max(2L * buffer.Length, 4096), limit));
        buffer[filled] = probe;
    }

    // No SequentialScan: its fadvise is one more system call per file, for files read in one or two reads.
    internal static FileStream Open(string path) => InputFile.Open(path, bufferSize: 1);

    private static IOException TooLarge(string path, int limit) =>
        new($"{path} holds more than {limit:N0} bytes (the limit for this kind of file), or never ends (a device?)");
}
