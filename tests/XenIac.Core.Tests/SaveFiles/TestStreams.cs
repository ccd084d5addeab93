namespace XenIac.Core.Tests.SaveFiles;

/// <summary>A read-only stream that behaves like a pipe: no seeking, no length, and short reads.</summary>
internal sealed class PipeLikeStream(byte[] data, int maxChunk = 7) : Stream
{
    private int _position;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public int Consumed => _position;

    public override int Read(byte[] buffer, int offset, int count)
    {
        var n = Math.Min(Math.Min(count, maxChunk), data.Length - _position);
        Array.Copy(data, _position, buffer, offset, n);
        _position += n;
        return n;
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

internal static class TestData
{
    public static byte[] Image(int length, int seed = 1)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>
    /// A well-formed HVM stream-v2 image of exactly <paramref name="length"/> bytes (a multiple of 8, at least 16 KiB),
    /// its pages filled from <paramref name="seed"/>: for the operations that check an image's records before they copy
    /// it (rewrites, seal), where <see cref="Image"/>'s random bytes would be refused as damaged.
    /// </summary>
    public static byte[] SoundImage(int length, int seed = 1)
    {
        if (length % 8 != 0 || length < 16 * 1024) throw new ArgumentOutOfRangeException(nameof(length), "a multiple of 8, at least 16 KiB");
        var pages = Math.Max(1, (length - 12 * 1024) / 4200);
        byte[] Build(int contextLength)
        {
            var d = XenIac.Core.Tests.Streams.ImageStreamWriterTests.Hvm(pages) with
            {
                FillPage = (pfn, page) => new Random(HashCode.Combine(seed, pfn)).NextBytes(page),
                EmulatorContext = Image(contextLength, seed),
            };
            using var ms = new MemoryStream();
            XenIac.Core.Streams.ImageStreamWriter.Write(ms, d);
            return ms.ToArray();
        }
        // The emulator context's length is free (padded to 8 bytes): it makes up the difference exactly.
        var first = Build(8);
        var image = Build(8 + length - first.Length);
        if (image.Length != length) throw new InvalidOperationException($"built {image.Length} bytes, not {length}");
        return image;
    }

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "xeniac-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}
