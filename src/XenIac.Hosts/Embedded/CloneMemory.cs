using System.Collections;

namespace XenIac.Hosts.Embedded;

/// <summary>
/// The memory of a clone: a read-only base file shared by every clone of one savefile, and the clone's own sparse
/// overlay file of the same size with a bitmap (<c>overlay.map</c>, one bit per page) telling which pages the clone
/// wrote. A page reads from the overlay once its bit is set, else from the base; a first write to a page copies the
/// base page into the overlay before changing it. The overlay is written first and the bitmap replaced after it,
/// so a killed write leaves at worst an unused overlay page, never a bit pointing at garbage.
/// </summary>
internal sealed class CloneMemory(string baseFile, string overlayFile, string mapFile, long pages)
{
    private const int PageSize = GuestMemory.PageSize;

    public string BaseFile => baseFile;

    /// <summary>A fresh overlay (a hole of the memory's size: it takes no disk) and an empty bitmap.</summary>
    public static void CreateOverlay(string overlayFile, string mapFile, long pages)
    {
        using (var overlay = Core.IO.AtomicFile.CreatePrivateOverwrite(overlayFile))
            overlay.SetLength(pages * PageSize);
        // 0600 like the overlay: which pages a guest wrote is derived from its memory (File.WriteAllBytes made it 0644).
        using (var map = Core.IO.AtomicFile.CreatePrivateOverwrite(mapFile))
            map.Write(new byte[MapBytes(pages)]);
    }

    private static long MapBytes(long pages) => (pages + 7) / 8;

    private BitArray LoadMap()
    {
        var bytes = File.ReadAllBytes(mapFile);
        if (bytes.LongLength != MapBytes(pages))
            throw new XenHostException(XenHostError.OperationFailed, $"clone page map {mapFile} has {bytes.Length} bytes, expected {MapBytes(pages)}");
        return new BitArray(bytes);
    }

    /// <summary>The clone's memory as one seekable read-only stream (what saves and reads see).</summary>
    public Stream OpenRead() => new LayeredStream(
        new FileStream(baseFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16),
        new FileStream(overlayFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16),
        LoadMap(), pages * PageSize);

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/> into the clone's overlay, never the base.</summary>
    public async Task WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (data.IsEmpty) return;
        var map = LoadMap();
        await using (var overlay = new FileStream(overlayFile, FileMode.Open, FileAccess.ReadWrite, FileShare.Read))
        await using (var @base = new FileStream(baseFile, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            var page = new byte[PageSize];
            for (var pfn = offset / PageSize; pfn <= (offset + data.Length - 1) / PageSize; pfn++)
            {
                if (map[(int)pfn]) continue;
                // The first write to a page: the rest of the page keeps the base's contents.
                @base.Position = pfn * PageSize;
                await @base.ReadExactlyAsync(page, cancellationToken).ConfigureAwait(false);
                overlay.Position = pfn * PageSize;
                await overlay.WriteAsync(page, cancellationToken).ConfigureAwait(false);
                map[(int)pfn] = true;
            }
            overlay.Position = offset;
            await overlay.WriteAsync(data, cancellationToken).ConfigureAwait(false);
            overlay.Flush(flushToDisk: true);
        }
        var bytes = new byte[MapBytes(pages)];
        map.CopyTo(bytes, 0);
        await Core.IO.AtomicFile.WriteAsync(mapFile, (s, ct) => s.WriteAsync(bytes, ct).AsTask(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads each run of pages from the layer that holds it.</summary>
    private sealed class LayeredStream(FileStream @base, FileStream overlay, BitArray map, long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => _position; set => _position = value; }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var total = 0;
            while (total < buffer.Length && _position < length)
            {
                var pfn = _position / PageSize;
                var fromOverlay = map[(int)pfn];
                // Extend the run while the pages come from the same layer.
                var end = (pfn + 1) * PageSize;
                while (end < length && end - _position < buffer.Length - total && map[(int)(end / PageSize)] == fromOverlay) end += PageSize;
                var n = (int)Math.Min(Math.Min(end, length) - _position, buffer.Length - total);
                var source = fromOverlay ? overlay : @base;
                source.Position = _position;
                source.ReadExactly(buffer.Slice(total, n));
                total += n;
                _position += n;
            }
            return total;
        }

        public override long Seek(long offset, SeekOrigin origin) => _position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => length + offset,
        };

        public override void Flush() { }
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) { @base.Dispose(); overlay.Dispose(); }
            base.Dispose(disposing);
        }
    }
}
