using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace XenIac.Core.Streams;

/// <summary>
/// Forward-only reader of a domain image: the libxl stream v2 with the libxc stream nested after its LIBXC_CONTEXT
/// record (and re-entered after each libxc CHECKPOINT / libxl CHECKPOINT_END pair), or a bare libxc stream. It
/// hands out one record header at a time; bodies are read on request, in pieces, and whatever the caller leaves
/// unread is skipped (seeking when the stream can, else reading through one reusable buffer). Nothing of a body
/// is kept beyond the pfn list of the current PAGE_DATA record.
/// </summary>
/// <remarks>
/// Bad data raises <see cref="XenFormatException"/> (<see cref="FormatError.InvalidImage"/> or
/// <see cref="FormatError.Truncated"/>) carrying the absolute file offset and, inside a record, its index.
/// The reader enforces what it needs to stay in step with the stream (headers, limits, padding, PAGE_DATA
/// layout); the rules about which records belong where are <see cref="ImageStreamVerifier"/>'s.
/// <para>
/// Allocation bound: lengths and counts from the stream never size a buffer ahead of the bytes that fill it. Every
/// buffer starts small and at most doubles once the bytes it holds have arrived, so reading an image allocates at
/// most <see cref="AllocationFactor"/> × (bytes read from the stream) + <see cref="AllocationAllowance"/> bytes,
/// on seekable and unseekable streams alike: a corrupt or hostile header costs what its bytes cost, not what it
/// claims.
/// </para>
/// </remarks>
public sealed class ImageStreamReader : IDisposable
{
    /// <summary>Bytes allocated per byte read, at most (doubling buffers, record bookkeeping).</summary>
    public const int AllocationFactor = 4;

    /// <summary>
    /// Bytes allocated at most regardless of input: the reader's fixed buffers, the first pfn and skip buffers, one
    /// guest page of up to 64 KiB for <see cref="ReadPages"/>, and an error's message.
    /// </summary>
    public const int AllocationAllowance = 256 << 10;

    private const int SkipBufferSize = 1 << 20;
    private const int FirstBufferSize = 4096;

    private enum State { Start, Libxl, LibxcHeaders, Libxc, Finished }

    private readonly Stream _stream;
    private readonly long _origin;
    private readonly bool _leaveOpen;
    private readonly long _available;
    private readonly byte[] _small = new byte[StreamLayout.LibxcImageHeaderLength + StreamLayout.DomainHeaderLength];
    private byte[]? _skip;
    private byte[] _page = [];
    private ulong[] _pfns = [];
    private long _pos;
    private State _state = State.Start;
    private State _next;
    private bool _bareLibxc;
    private bool _libxlBigEndian;
    private bool _libxcBigEndian;
    private bool _hasCurrent;
    private long _bodyRemaining;
    private long _index = -1;
    private PageDataInfo? _pageData;

    /// <param name="image">The image, positioned at its first byte; seekable streams let bodies be skipped by seeking.</param>
    /// <param name="origin">Absolute offset of the image's first byte in its file, for error offsets.</param>
    public ImageStreamReader(Stream image, long origin = 0, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (!image.CanRead) throw new ArgumentException("The image stream must be readable.", nameof(image));
        ArgumentOutOfRangeException.ThrowIfNegative(origin);
        _stream = image;
        _origin = origin;
        _leaveOpen = leaveOpen;
        _available = image.CanSeek ? Math.Max(0, image.Length - image.Position) : -1;
    }

    /// <summary>The libxl header, once read (null for a bare libxc stream).</summary>
    public LibxlStreamHeader? LibxlHeader { get; private set; }

    /// <summary>The latest libxc image and domain header read.</summary>
    public LibxcStreamHeader? LibxcHeader { get; private set; }

    /// <summary>The record <see cref="MoveNext"/> last returned.</summary>
    public ImageRecord Current
    {
        get => _hasCurrent ? field : throw new InvalidOperationException("No current record: call MoveNext first.");
        private set;
    }

    /// <summary>True between a libxc CHECKPOINT and the libxl CHECKPOINT_END that hands the stream back to libxc.</summary>
    public bool InCheckpoint { get; private set; }

    /// <summary>True once the first bytes showed neither stream v2 header (what a pre-v2 legacy image looks like).</summary>
    public bool LooksLikeLegacyImage { get; private set; }

    /// <summary>Absolute offset of the next unread byte.</summary>
    public long Position => _origin + _pos;

    /// <summary>Unread bytes of the current record's body.</summary>
    public long BodyRemaining => _hasCurrent ? _bodyRemaining : 0;

    public int PageSize => LibxcHeader?.PageSize ?? 1 << StreamLayout.X86PageShift;

    /// <summary>
    /// Advances to the next record, reading the stream headers on the way, and returns false after the final END
    /// (libxl END, or libxc END of a bare libxc stream).
    /// </summary>
    public bool MoveNext()
    {
        if (_hasCurrent)
        {
            FinishRecord();
            _hasCurrent = false;
            _state = _next;
        }
        if (_state == State.Finished) return false;
        if (_state == State.Start) ReadFirstHeader();
        if (_state == State.LibxcHeaders) ReadLibxcHeaders(markerRead: false);

        var start = _pos;
        var header = _small.AsSpan(0, StreamLayout.RecordHeaderLength);
        var got = ReadUpTo(header);
        var layer = _state == State.Libxl ? ImageLayer.Libxl : ImageLayer.Libxc;
        if (got < header.Length)
            throw Truncated(start, _index + 1, got == 0
                ? $"the image ends at byte {_origin + start} before the {(layer == ImageLayer.Libxl ? "libxl" : "libxc")} END record"
                : $"the image ends inside a record header at byte {_origin + start}");

        var big = layer == ImageLayer.Libxl ? _libxlBigEndian : _libxcBigEndian;
        var type = U32(header, big);
        var length = U32(header[4..], big);
        _index++;
        var record = new ImageRecord(layer, type, length, _origin + start, _index);
        Current = record;
        _hasCurrent = true;
        _bodyRemaining = length;
        _pageData = null;

        if (layer == ImageLayer.Libxc && length > StreamLayout.LibxcRecordLengthMax)
            throw Invalid(record, $"{record.Name} record length {length} exceeds the libxc limit of {StreamLayout.LibxcRecordLengthMax} bytes");
        if (_available >= 0 && _pos + record.PaddedLength > _available)
            throw Truncated(start, _index,
                $"{record.QualifiedName} record at byte {record.Offset} needs {record.PaddedLength} bytes but the image has {_available - _pos} left");
        _next = NextState(record);
        return true;
    }

    /// <summary>Reads up to <paramref name="buffer"/>.Length bytes of the current body; 0 at its end.</summary>
    public int ReadBody(Span<byte> buffer)
    {
        RequireRecord();
        var n = (int)Math.Min(buffer.Length, _bodyRemaining);
        if (n == 0) return 0;
        ReadBodyExactly(buffer[..n]);
        return n;
    }

    /// <summary>The rest of the current body in a new array (refused above 128 MiB).</summary>
    public byte[] ReadBody()
    {
        RequireRecord();
        if (_bodyRemaining > StreamLayout.MaxBufferedBodyLength)
            throw Invalid(Current, $"{Current.QualifiedName} record of {Current.Length} bytes is too large to load into memory");
        // Grow with what arrives: a record header may claim 128 MiB on a stream that holds a few bytes more.
        var total = (int)_bodyRemaining;
        var body = new byte[Math.Min(total, FirstBufferSize)];
        var filled = 0;
        while (filled < total)
        {
            if (filled == body.Length) Array.Resize(ref body, (int)Math.Min(total, 2L * body.Length));
            ReadBodyExactly(body.AsSpan(filled));
            filled = body.Length;
        }
        return body;
    }

    /// <summary>
    /// Reads and validates the head of the current PAGE_DATA record: count, reserved field, every pfn entry's
    /// reserved bits and type, and that the length is exactly header + pfns + one page per entry with contents.
    /// The page contents stay unread (skipped on <see cref="MoveNext"/>) unless <see cref="ReadPages"/> follows.
    /// </summary>
    public PageDataInfo ReadPageDataHeader()
    {
        var record = Current;
        if (!record.Is(LibxcRecordType.PageData)) throw new InvalidOperationException($"The current record is {record.QualifiedName}, not PAGE_DATA.");
        if (_pageData is { } done) return done;
        if (_bodyRemaining != record.Length) throw new InvalidOperationException("Part of the PAGE_DATA body was already read.");
        if (record.Length < StreamLayout.PageDataHeaderLength + StreamLayout.PageDataPfnLength)
            throw Invalid(record, $"PAGE_DATA record of {record.Length} bytes cannot hold its header and one pfn");

        var head = _small.AsSpan(0, StreamLayout.PageDataHeaderLength);
        ReadBodyExactly(head);
        var count = U32(head, _libxcBigEndian);
        var reserved = U32(head[4..], _libxcBigEndian);
        if (count == 0) throw Invalid(record, "PAGE_DATA record with count 0 (the count must be at least 1)");
        if (reserved != 0) throw Invalid(record, $"PAGE_DATA record has its reserved field set (0x{reserved:x8})");
        var pfnBytes = (long)count * StreamLayout.PageDataPfnLength;
        if (pfnBytes > record.Length - StreamLayout.PageDataHeaderLength)
            throw Invalid(record, $"PAGE_DATA record count {count} needs {pfnBytes} bytes of pfns but the record has {record.Length - StreamLayout.PageDataHeaderLength}");

        var n = (int)count;
        // The count is checked against the record length, not against what the stream holds: on an unseekable
        // stream the pfns are read in pieces and the array grows only as they arrive.
        if (_pfns.Length == 0) _pfns = new ulong[Math.Min(n, StreamLayout.MaxPagesPerRecord)];
        for (var filled = 0; filled < n;)
        {
            if (filled == _pfns.Length) Array.Resize(ref _pfns, (int)Math.Min(n, 2L * _pfns.Length));
            var chunk = Math.Min(n, _pfns.Length) - filled;
            ReadBodyExactly(MemoryMarshal.AsBytes(_pfns.AsSpan(filled, chunk)));
            filled += chunk;
        }
        var entries = _pfns.AsSpan(0, n);
        if (_libxcBigEndian == BitConverter.IsLittleEndian) BinaryPrimitives.ReverseEndianness(entries, entries);

        var withContents = 0;
        for (var i = 0; i < entries.Length; i++)
        {
            var e = entries[i];
            if ((e & StreamLayout.PfnReservedMask) != 0)
                throw Invalid(record, $"PAGE_DATA pfn[{i}] has reserved bits 52-59 set (0x{e:x16})");
            var t = e >> StreamLayout.PageTypeShift;
            if (t is >= 5 and <= 8)
                throw Invalid(record, $"PAGE_DATA pfn[{i}] has the reserved page type 0x{t:x} (0x{e:x16})");
            if (PageDataInfo.CarriesContents(e)) withContents++;
        }
        var expected = StreamLayout.PageDataHeaderLength + pfnBytes + (long)withContents * PageSize;
        if (expected != record.Length)
            throw Invalid(record, $"PAGE_DATA record length {record.Length}, expected {StreamLayout.PageDataHeaderLength} + {pfnBytes} + " +
                                  $"{(long)withContents * PageSize} = {expected} for {count} pfns of which {withContents} carry a page");
        var info = new PageDataInfo(n, withContents, _pfns.AsMemory(0, n));
        _pageData = info;
        return info;
    }

    /// <summary>
    /// The pages of the current PAGE_DATA record, in stream order. Each page's buffer is reused for the next one.
    /// </summary>
    public IEnumerable<GuestPage> ReadPages()
    {
        var info = ReadPageDataHeader();
        if (_bodyRemaining != (long)info.PagesWithContents * PageSize)
            throw new InvalidOperationException("The pages of this PAGE_DATA record were already read.");
        return Pages(info, Current.Index);
    }

    private IEnumerable<GuestPage> Pages(PageDataInfo info, long index)
    {
        if (_page.Length != PageSize) _page = new byte[PageSize];
        for (var i = 0; i < info.Count; i++)
        {
            if (!_hasCurrent || Current.Index != index) throw new InvalidOperationException("The reader has moved past this PAGE_DATA record.");
            var e = info.Entries.Span[i];
            if (PageDataInfo.CarriesContents(e))
            {
                ReadBodyExactly(_page);
                yield return new GuestPage(PageDataInfo.PfnOf(e), PageDataInfo.TypeOf(e), _page);
            }
            else
            {
                yield return new GuestPage(PageDataInfo.PfnOf(e), PageDataInfo.TypeOf(e), ReadOnlyMemory<byte>.Empty);
            }
        }
    }

    /// <summary>After the final END: whether any byte follows it (reads at most one byte from an unseekable stream).</summary>
    public bool HasTrailingData()
    {
        if (_hasCurrent)
        {
            FinishRecord();
            _hasCurrent = false;
            _state = _next;
        }
        if (_state != State.Finished) throw new InvalidOperationException("The final END record has not been read yet.");
        if (_available >= 0) return _pos < _available;
        return ReadUpTo(_small.AsSpan(0, 1)) > 0;
    }

    public void Dispose()
    {
        if (!_leaveOpen) _stream.Dispose();
    }

    private State NextState(ImageRecord record)
    {
        if (record.Layer == ImageLayer.Libxl)
        {
            switch ((LibxlRecordType)record.Type)
            {
                case LibxlRecordType.End:
                    return State.Finished;
                case LibxlRecordType.LibxcContext:
                    return State.LibxcHeaders;
                case LibxlRecordType.CheckpointEnd when InCheckpoint:
                    InCheckpoint = false;
                    return State.Libxc;
                default:
                    return State.Libxl;
            }
        }
        switch ((LibxcRecordType)record.Type)
        {
            case LibxcRecordType.End:
                return _bareLibxc ? State.Finished : State.Libxl;
            case LibxcRecordType.Checkpoint when !_bareLibxc:
                // libxc hands the stream back to libxl, which reads its own records up to CHECKPOINT_END.
                InCheckpoint = true;
                return State.Libxl;
            default:
                return State.Libxc;
        }
    }

    private void ReadFirstHeader()
    {
        var first = _small.AsSpan(0, 8);
        var got = ReadUpTo(first);
        if (got < first.Length)
            throw Truncated(0, null, $"the image is {got} bytes long, shorter than a stream header");
        var ident = BinaryPrimitives.ReadUInt64BigEndian(first);
        if (ident == StreamLayout.LibxcMarker)
        {
            _bareLibxc = true;
            ReadLibxcHeaders(markerRead: true);
            return;
        }
        if (ident != StreamLayout.LibxlIdent)
        {
            LooksLikeLegacyImage = true;
            throw Invalid(0, null, $"the image starts with 0x{ident:x16}, neither the libxl stream ident \"LibxlFmt\" nor the libxc marker " +
                                   "(a pre-v2 legacy libxc image looks like this)");
        }
        var rest = _small.AsSpan(8, StreamLayout.LibxlHeaderLength - 8);
        if (ReadUpTo(rest) < rest.Length) throw Truncated(0, null, "the image ends inside the libxl stream header");
        var version = BinaryPrimitives.ReadUInt32BigEndian(rest);
        var options = BinaryPrimitives.ReadUInt32BigEndian(rest[4..]);
        if (version != StreamLayout.LibxlVersion)
            throw Invalid(8, null, $"libxl stream version {version}, expected {StreamLayout.LibxlVersion}");
        if ((options & StreamLayout.LibxlReservedOptions) != 0)
            throw Invalid(12, null, $"libxl stream header has reserved option bits set (0x{options & StreamLayout.LibxlReservedOptions:x})");
        LibxlHeader = new LibxlStreamHeader(version, options, _origin);
        _libxlBigEndian = LibxlHeader.IsBigEndian;
        _state = State.Libxl;
    }

    private void ReadLibxcHeaders(bool markerRead)
    {
        var start = markerRead ? _pos - 8 : _pos;
        var all = _small.AsSpan(0, StreamLayout.LibxcImageHeaderLength + StreamLayout.DomainHeaderLength);
        var toRead = markerRead ? all[8..] : all;
        if (ReadUpTo(toRead) < toRead.Length)
            throw Truncated(start, _index, $"the image ends inside the libxc image or domain header that starts at byte {_origin + start}");
        if (markerRead) BinaryPrimitives.WriteUInt64BigEndian(all, StreamLayout.LibxcMarker);

        var marker = BinaryPrimitives.ReadUInt64BigEndian(all);
        if (marker != StreamLayout.LibxcMarker)
            throw Invalid(start, _index, $"libxc image header marker is 0x{marker:x16}, expected 0x{StreamLayout.LibxcMarker:x16}");
        var id = BinaryPrimitives.ReadUInt32BigEndian(all[8..]);
        if (id != StreamLayout.LibxcIdent)
            throw Invalid(start + 8, _index, $"libxc image header id is 0x{id:x8}, expected 0x{StreamLayout.LibxcIdent:x8} (\"XENF\")");
        var version = BinaryPrimitives.ReadUInt32BigEndian(all[12..]);
        if (version is < StreamLayout.LibxcVersionMin or > StreamLayout.LibxcVersionMax)
            throw Invalid(start + 12, _index, $"libxc stream version {version}, expected {StreamLayout.LibxcVersionMin} to {StreamLayout.LibxcVersionMax}");
        var options = BinaryPrimitives.ReadUInt16BigEndian(all[16..]);
        if ((options & StreamLayout.LibxcReservedOptions) != 0)
            throw Invalid(start + 16, _index, $"libxc image header has reserved option bits set (0x{options & StreamLayout.LibxcReservedOptions:x4})");
        if (BinaryPrimitives.ReadUInt16BigEndian(all[18..]) != 0 || BinaryPrimitives.ReadUInt32BigEndian(all[20..]) != 0)
            throw Invalid(start + 18, _index, "libxc image header has its reserved fields set");
        _libxcBigEndian = (options & StreamLayout.LibxcOptionBigEndian) != 0;

        var domain = all[StreamLayout.LibxcImageHeaderLength..];
        var dstart = start + StreamLayout.LibxcImageHeaderLength;
        var type = U32(domain, _libxcBigEndian);
        var pageShift = U16(domain[4..], _libxcBigEndian);
        var reserved = U16(domain[6..], _libxcBigEndian);
        var major = U32(domain[8..], _libxcBigEndian);
        var minor = U32(domain[12..], _libxcBigEndian);
        if (type is not ((uint)LibxcDomainType.X86Pv or (uint)LibxcDomainType.X86Hvm))
            throw Invalid(dstart, _index, $"libxc domain header has the unrecognised domain type 0x{type:x}");
        if (pageShift is < StreamLayout.X86PageShift or > StreamLayout.MaxPageShift)
            throw Invalid(dstart + 4, _index, $"libxc domain header page shift {pageShift} is out of range ({StreamLayout.X86PageShift} expected)");
        if (reserved != 0)
            throw Invalid(dstart + 6, _index, $"libxc domain header has its reserved field set (0x{reserved:x4})");
        LibxcHeader = new LibxcStreamHeader(version, options, (LibxcDomainType)type, pageShift, major, minor, _origin + start);
        _state = State.Libxc;
    }

    private void FinishRecord()
    {
        var record = Current;
        Skip(_bodyRemaining, record);
        _bodyRemaining = 0;
        var pad = (int)StreamLayout.Padding(record.Length);
        if (pad == 0) return;
        var padding = _small.AsSpan(0, pad);
        if (ReadUpTo(padding) < pad) throw Truncated(record.Offset - _origin, record.Index, $"the image ends inside the padding of {record.QualifiedName}");
        if (padding.ContainsAnyExcept((byte)0))
            throw Invalid(record, $"{record.QualifiedName} record is followed by non-zero padding");
    }

    private void ReadBodyExactly(Span<byte> buffer)
    {
        if (buffer.Length > _bodyRemaining) throw new ArgumentException("Read past the end of the record body.", nameof(buffer));
        if (ReadUpTo(buffer) < buffer.Length)
            throw Truncated(Current.Offset - _origin, Current.Index, $"{Current.QualifiedName} record at byte {Current.Offset} is cut short: the image ends at byte {Position}");
        _bodyRemaining -= buffer.Length;
    }

    private void Skip(long count, ImageRecord record)
    {
        if (count == 0) return;
        if (_available >= 0)
        {
            // MoveNext checked that the whole record lies inside the stream.
            _stream.Seek(count, SeekOrigin.Current);
            _pos += count;
            return;
        }
        // A pipe drops the bytes in the kernel where it can; what it cannot drop (or the end) is read below.
        while (count > 0 && IO.PipeDiscard.TryDiscard(_stream, count) is > 0 and var dropped)
        {
            _pos += dropped;
            count -= dropped;
        }
        if (count == 0) return;
        // Starts small and doubles only after filling, so skipping a short stream costs what it delivered.
        _skip ??= new byte[FirstBufferSize];
        while (count > 0)
        {
            var n = _stream.Read(_skip, 0, (int)Math.Min(_skip.Length, count));
            if (n == 0)
                throw Truncated(record.Offset - _origin, record.Index, $"{record.QualifiedName} record at byte {record.Offset} is cut short: the image ends at byte {Position}");
            _pos += n;
            count -= n;
            if (n == _skip.Length && count > 0 && _skip.Length < SkipBufferSize) _skip = new byte[_skip.Length * 2];
        }
    }

    private int ReadUpTo(Span<byte> buffer)
    {
        var n = _stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        _pos += n;
        return n;
    }

    private void RequireRecord()
    {
        if (!_hasCurrent) throw new InvalidOperationException("No current record: call MoveNext first.");
    }

    private static uint U32(ReadOnlySpan<byte> b, bool bigEndian) =>
        bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt32LittleEndian(b);

    private static ushort U16(ReadOnlySpan<byte> b, bool bigEndian) =>
        bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(b) : BinaryPrimitives.ReadUInt16LittleEndian(b);

    private XenFormatException Invalid(long relativeOffset, long? index, string message) =>
        new(FormatError.InvalidImage, message, _origin + relativeOffset) { RecordIndex = index };

    private static XenFormatException Invalid(ImageRecord record, string message) =>
        new(FormatError.InvalidImage, message, record.Offset) { RecordIndex = record.Index };

    private XenFormatException Truncated(long relativeOffset, long? index, string message) =>
        new(FormatError.Truncated, message, _origin + relativeOffset) { RecordIndex = index };
}
