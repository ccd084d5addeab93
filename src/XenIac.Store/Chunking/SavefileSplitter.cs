using XenIac.Core.IO;
using System.Buffers;
using System.Security.Cryptography;
using XenIac.Core;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;

namespace XenIac.Store.Chunking;

/// <summary>
/// Cuts a savefile into chunks whose concatenation, in order, is the file byte for byte. Guest pages are cut by
/// pfn window (<see cref="ChunkPages"/> pages, aligned on the pfn): a page's chunk depends on which window its
/// pfn falls in and on the pages around it, not on its byte offset, so a second save of the same domain in
/// which some pages changed, or in which a page was populated and the records after it moved, still yields the
/// same chunks for every window it did not touch. Everything else (header, config, record framing, pfn lists,
/// vCPU and device state) goes into meta chunks cut at every run of page contents and at <see cref="MaxMetaBytes"/>.
/// </summary>
/// <remarks>
/// The image is read with the Core's <see cref="ImageStreamReader"/> (the one place that knows the record rules)
/// over a tee that sees every byte. What the reader cannot parse (a pre-v2 image, a damaged tail) is not refused:
/// the remaining bytes become meta chunks, so any file round-trips, and only dedup suffers. Work is linear in the
/// file; memory is one chunk buffer plus the reader's bounded buffers.
/// </remarks>
public sealed class SavefileSplitter
{
    /// <summary>Meta runs longer than this are cut (big records, unparsable tails).</summary>
    public const int MaxMetaBytes = 1 << 20;
    private const int FirstMetaBytes = 64 << 10;

    private readonly int _chunkPages;

    public SavefileSplitter(int chunkPages)
    {
        if (chunkPages is < 1 or > 1024 || (chunkPages & (chunkPages - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(chunkPages), "a power of two from 1 to 1024");
        _chunkPages = chunkPages;
    }

    public int ChunkPages => _chunkPages;

    /// <summary>
    /// Reads <paramref name="source"/> from its current position to its end and hands every chunk to
    /// <paramref name="emit"/> in order (which disposes it). Returns the SHA-256 of all bytes and their count.
    /// </summary>
    public (byte[] Sha256, long Bytes) Split(Stream source, Action<RawChunk> emit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(emit);
        using var tee = new TeeStream(source, emit, cancellationToken);
        try
        {
            SplitImage(tee);
        }
        catch (XenFormatException)
        {
            // Not a savefile XenIac can read record by record: keep the bytes anyway, as meta.
        }
        tee.CopyRestAsMeta();
        tee.FlushMeta();
        return (tee.Hash.GetHashAndReset(), tee.Total);
    }

    private void SplitImage(TeeStream tee)
    {
        var start = tee.PeekStart();
        SaveFileReader reader;
        if (SaveFileHeader.LooksLikeXlSavefile(start))
            reader = SaveFileReader.Open(tee, leaveOpen: true);
        else
            reader = SaveFileReader.OpenLegacy(tee, leaveOpen: true);
        using (reader)
        {
            using var image = reader.OpenImage();
            while (image.MoveNext())
            {
                if (!image.Current.Is(LibxcRecordType.PageData)) continue;
                var info = image.ReadPageDataHeader();
                if (info.PagesWithContents == 0) continue;
                ReadPages(image, info, tee);
            }
        }
    }

    private void ReadPages(ImageStreamReader image, PageDataInfo info, TeeStream tee)
    {
        tee.FlushMeta();
        var pageSize = image.PageSize;
        var entries = info.Entries.Span;
        // Large pages (the reader allows up to 64 KiB) must not make a chunk bigger than a recipe accepts.
        var maxPages = Math.Max(1, Math.Min(_chunkPages, Recipe.MaxChunkBytes / pageSize));
        var i = 0;
        while (i < entries.Length)
        {
            if (!PageDataInfo.CarriesContents(entries[i])) { i++; continue; }
            // A run: consecutive entries with contents whose pfns share one window.
            var window = PageDataInfo.PfnOf(entries[i]) / (ulong)_chunkPages;
            var pages = 0;
            var j = i;
            for (; j < entries.Length && pages < maxPages; j++)
            {
                if (!PageDataInfo.CarriesContents(entries[j])) continue;
                if (PageDataInfo.PfnOf(entries[j]) / (ulong)_chunkPages != window) break;
                pages++;
            }
            tee.ReadPayload(image, pages * pageSize);
            entries = info.Entries.Span; // the span is re-read: the reader keeps the array for this record
            i = j;
        }
    }

    /// <summary>
    /// The stream the Core's readers see: forward-only (so nothing is skipped by seeking), hashing every byte, and
    /// collecting bytes into the current meta chunk unless the splitter is reading page contents itself.
    /// </summary>
    private sealed class TeeStream(Stream source, Action<RawChunk> emit, CancellationToken cancellationToken) : ForwardReadStream
    {
        // Enough to tell an xl savefile (its magic) from a headerless legacy image.
        private readonly byte[] _peek = new byte[32];
        private int _peekLength = -1;
        private int _peekPos;
        // Starts small: most meta runs are one record's pfn list (8 KiB); grows up to MaxMetaBytes when a run is long.
        private byte[] _meta = ArrayPool<byte>.Shared.Rent(FirstMetaBytes);
        private int _metaLength;
        private long _index;
        private bool _payload;

        public IncrementalHash Hash { get; } = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public long Total { get; private set; }

        /// <summary>The first bytes, still to be read again by whoever reads the stream.</summary>
        public ReadOnlySpan<byte> PeekStart()
        {
            if (_peekLength < 0) _peekLength = source.ReadAtLeast(_peek, _peek.Length, throwOnEndOfStream: false);
            return _peek.AsSpan(0, _peekLength);
        }

        /// <summary>Reads <paramref name="length"/> bytes of page contents through the image reader into one chunk.</summary>
        public void ReadPayload(ImageStreamReader image, int length)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(length);
            var filled = 0;
            _payload = true;
            try
            {
                while (filled < length)
                {
                    var before = Total;
                    try
                    {
                        var n = image.ReadBody(buffer.AsSpan(filled, length - filled));
                        if (n == 0) break;
                        filled += n;
                    }
                    catch
                    {
                        // The reader copied what arrived before it gave up; those bytes belong to the file too.
                        filled += (int)(Total - before);
                        throw;
                    }
                }
            }
            catch
            {
                _payload = false;
                if (filled > 0) emit(new RawChunk(_index++, ChunkKind.Pages, buffer, filled));
                else ArrayPool<byte>.Shared.Return(buffer);
                throw;
            }
            _payload = false;
            emit(new RawChunk(_index++, ChunkKind.Pages, buffer, filled));
        }

        private void Grow()
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(MaxMetaBytes, 2 * _meta.Length));
            _meta.AsSpan(0, _metaLength).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_meta);
            _meta = bigger;
        }

        public void FlushMeta()
        {
            if (_metaLength == 0) return;
            emit(new RawChunk(_index++, ChunkKind.Meta, _meta, _metaLength));
            _meta = ArrayPool<byte>.Shared.Rent(FirstMetaBytes);
            _metaLength = 0;
        }

        public void CopyRestAsMeta()
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (_metaLength == _meta.Length) Grow();
                var n = Read(_meta, _metaLength, Math.Min(_meta.Length, MaxMetaBytes) - _metaLength);
                if (n == 0) return;
            }
        }

        public override int Read(Span<byte> buffer)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int n;
            if (_peekLength > _peekPos)
            {
                n = Math.Min(buffer.Length, _peekLength - _peekPos);
                _peek.AsSpan(_peekPos, n).CopyTo(buffer);
                _peekPos += n;
            }
            else
            {
                if (_peekLength < 0) _peekLength = 0;
                n = source.Read(buffer);
            }
            if (n == 0) return 0;
            var got = buffer[..n];
            Hash.AppendData(got);
            Total += n;
            if (!_payload)
            {
                while (got.Length > 0)
                {
                    if (_metaLength == _meta.Length && _meta.Length < MaxMetaBytes) Grow();
                    var room = Math.Min(_meta.Length, MaxMetaBytes) - _metaLength;
                    var take = Math.Min(room, got.Length);
                    got[..take].CopyTo(_meta.AsSpan(_metaLength));
                    _metaLength += take;
                    got = got[take..];
                    if (_metaLength == MaxMetaBytes) FlushMeta();
                }
            }
            return n;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override long Position { get => Total; set => throw new NotSupportedException(); }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Hash.Dispose();
                var m = Interlocked.Exchange(ref _meta, []);
                if (m.Length > 0) ArrayPool<byte>.Shared.Return(m);
            }
            base.Dispose(disposing);
        }
    }
}
