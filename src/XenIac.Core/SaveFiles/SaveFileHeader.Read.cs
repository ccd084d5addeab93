using XenIac.Core.IO;
using System.Buffers.Binary;
using System.Text;

namespace XenIac.Core.SaveFiles;

public sealed partial record SaveFileHeader
{
    /// <summary>
    /// Reads the header and optional data from <paramref name="stream"/>, consuming exactly those bytes, so the
    /// stream is left at the first byte of the image. Works on unseekable streams.
    /// </summary>
    /// <exception cref="XenFormatException">The bytes are not a readable xl savefile header.</exception>
    public static SaveFileHeader Read(Stream stream, SaveFileReaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var pending = ReadCoreAsync(new SyncSource(stream), options ?? SaveFileReaderOptions.Default, CancellationToken.None);
        // A synchronous source completes every read before returning, so the whole read has already run.
        return pending.IsCompleted ? pending.Result : throw new InvalidOperationException("synchronous header read did not complete");
    }

    /// <inheritdoc cref="Read(Stream, SaveFileReaderOptions?)"/>
    public static ValueTask<SaveFileHeader> ReadAsync(Stream stream, SaveFileReaderOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return ReadCoreAsync(new AsyncSource(stream), options ?? SaveFileReaderOptions.Default, cancellationToken);
    }

    // One reader for both call styles (the shape of the BCL's TarReader): the rules are written once, generic over
    // how bytes arrive; the synchronous source never yields.
    private interface IByteSource
    {
        Stream Stream { get; }
        ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken);
    }

    private readonly struct SyncSource(Stream stream) : IByteSource
    {
        public Stream Stream => stream;
        public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken) => new(stream.Read(buffer.Span));
    }

    private readonly struct AsyncSource(Stream stream) : IByteSource
    {
        public Stream Stream => stream;
        public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken) => stream.ReadAsync(buffer, cancellationToken);
    }

    private static async ValueTask<SaveFileHeader> ReadCoreAsync<TSource>(TSource source, SaveFileReaderOptions options,
        CancellationToken cancellationToken) where TSource : IByteSource
    {
        var fixedPart = new byte[SaveFileLayout.HeaderLength];
        var got = 0;
        while (got < fixedPart.Length)
        {
            var n = await source.ReadAsync(fixedPart.AsMemory(got), cancellationToken).ConfigureAwait(false);
            if (n == 0) break;
            got += n;
        }
        ValidateFixedPart(fixedPart.AsSpan(0, got), out var byteOrder, out var mandatory, out var optional, out var optLength, options);

        var optionalData = await ReadOptionalDataAsync(source, optLength, cancellationToken).ConfigureAwait(false);
        return FromParts(byteOrder, mandatory, optional, optionalData, options);
    }

    /// <summary>
    /// True when <paramref name="start"/> (the first bytes of a file, at least 8) begins like an xl savefile. Lets
    /// callers tell the xl format from the headerless legacy one without reading a whole header.
    /// </summary>
    public static bool LooksLikeXlSavefile(ReadOnlySpan<byte> start) =>
        start.Length >= 8 && SaveFileLayout.Magic.StartsWith(start[..Math.Min(start.Length, SaveFileLayout.MagicLength)]);

    /// <inheritdoc cref="LooksLikeXlSavefile(ReadOnlySpan{byte})"/>
    public static bool LooksLikeXlSavefile(string path)
    {
        // Unbuffered: 32 bytes are read once (a FileStream's default 4 KiB buffer would be allocated for them).
        using var stream = InputFile.Open(path, bufferSize: 1);
        Span<byte> start = stackalloc byte[SaveFileLayout.MagicLength];
        return LooksLikeXlSavefile(start[..ReadAtMost(stream, start)]);
    }

    /// <summary>
    /// True when the regular file at <paramref name="path"/> begins as a savefile of any format XenIac reads: the xl
    /// header, or a headerless legacy image (the libxl stream's "LibxlFmt", or a bare libxc image). Damage after the
    /// first bytes does not matter: this tells a savefile a command may replace from a file it must not (a manifest, a
    /// config, a disk image named by a typo).
    /// </summary>
    public static bool LooksLikeSavefile(string path)
    {
        try
        {
            using var stream = InputFile.Open(path, bufferSize: 1);
            Span<byte> start = stackalloc byte[SaveFileLayout.MagicLength];
            start = start[..ReadAtMost(stream, start)];
            return LooksLikeXlSavefile(start)
                || start.Length >= 8 && BinaryPrimitives.ReadUInt64BigEndian(start) == Streams.StreamLayout.LibxlIdent
                || start.Length >= 12 && BinaryPrimitives.ReadUInt64BigEndian(start) == Streams.StreamLayout.LibxcMarker
                                      && BinaryPrimitives.ReadUInt32BigEndian(start[8..]) == Streams.StreamLayout.LibxcIdent;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>
    /// Checks that a savefile may be written at <paramref name="path"/> (<see cref="IO.AtomicFile.CheckTargetOfKind"/>):
    /// absent, empty, or a savefile already. Every writer of a savefile the user names asks this first, the CLI, the
    /// snapshot store's pull and the MSBuild tasks alike: a swapped argument replaced a config or a note with guest
    /// memory and said it succeeded.
    /// </summary>
    /// <exception cref="IOException">The message names <paramref name="path"/> and what is wrong with it.</exception>
    public static string CheckTarget(string path) => IO.AtomicFile.CheckTargetOfKind(path, "savefile", LooksLikeSavefile);

    private static int ReadAtMost(Stream stream, Span<byte> buffer) =>
        stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);

    private static void ValidateFixedPart(ReadOnlySpan<byte> data, out SaveFileByteOrder byteOrder,
        out uint mandatory, out uint optional, out uint optLength, SaveFileReaderOptions options)
    {
        if (data.Length < SaveFileLayout.MagicLength || !data[..SaveFileLayout.MagicLength].SequenceEqual(SaveFileLayout.Magic))
        {
            // A short file that is a prefix of the magic is a truncated savefile, not a different format.
            if (data.Length < SaveFileLayout.MagicLength && SaveFileLayout.Magic.StartsWith(data) && data.Length > 0)
                throw Truncated("header", SaveFileLayout.HeaderLength, data.Length, 0);
            throw new XenFormatException(FormatError.WrongMagic, NeighbourFormats.DescribeWrongMagic(data), 0);
        }
        if (data.Length < SaveFileLayout.HeaderLength)
            throw Truncated("header", SaveFileLayout.HeaderLength, data.Length, 0);

        var word = data.Slice(SaveFileLayout.ByteOrderOffset, 4);
        if (BinaryPrimitives.ReadUInt32LittleEndian(word) == SaveFileLayout.ByteOrderValue)
            byteOrder = SaveFileByteOrder.LittleEndian;
        else if (BinaryPrimitives.ReadUInt32BigEndian(word) == SaveFileLayout.ByteOrderValue)
            byteOrder = SaveFileByteOrder.BigEndian;
        else
            throw new XenFormatException(FormatError.WrongByteOrder,
                $"byte-order word at offset {SaveFileLayout.ByteOrderOffset} is {Convert.ToHexString(word)} " +
                "(expected 01020304 or 04030201): the header is corrupt", SaveFileLayout.ByteOrderOffset);

        mandatory = ReadU32(data[SaveFileLayout.MandatoryFlagsOffset..], byteOrder);
        optional = ReadU32(data[SaveFileLayout.OptionalFlagsOffset..], byteOrder);
        optLength = ReadU32(data[SaveFileLayout.OptionalDataLengthOffset..], byteOrder);

        var unknown = mandatory & ~SaveFileLayout.KnownMandatoryFlags;
        if (unknown != 0)
            throw new XenFormatException(FormatError.UnsupportedMandatoryFlags,
                $"savefile has unsupported mandatory flag(s) 0x{unknown:x} ({DescribeBits(unknown)}); " +
                "it was written by a newer xl and cannot be restored safely by this reader",
                SaveFileLayout.MandatoryFlagsOffset);

        if (options.Strict && (optional & ~SaveFileLayout.KnownOptionalFlags) != 0)
            throw new XenFormatException(FormatError.UnknownOptionalFlags,
                $"savefile has unknown optional flag(s) 0x{optional:x} ({DescribeBits(optional)}); strict mode rejects them",
                SaveFileLayout.OptionalFlagsOffset);

        if (optLength > options.MaxOptionalDataLength)
            throw new XenFormatException(FormatError.OptionalDataTooLarge,
                $"optional data length {optLength} exceeds the limit of {options.MaxOptionalDataLength} bytes; " +
                "the header is probably corrupt", SaveFileLayout.OptionalDataLengthOffset);

        if (optLength is > 0 and < SaveFileLayout.ConfigLengthFieldLength)
            throw new XenFormatException(FormatError.Truncated,
                $"optional data is {optLength} bytes, too short for its 4-byte config length field",
                SaveFileLayout.HeaderLength);
    }

    internal static string DescribeBits(uint value)
    {
        var bits = new List<string>();
        for (var bit = 0; bit < 32; bit++)
            if ((value & (1u << bit)) != 0) bits.Add($"bit {bit}");
        return string.Join(", ", bits);
    }

    // The optional-data buffer starts here and doubles only once full, so a lying length on a pipe (or a file
    // cut short) costs at most twice what actually arrived plus this; a seekable stream is checked up front.
    private const int FirstOptionalDataBuffer = 4096;

    private static async ValueTask<byte[]> ReadOptionalDataAsync<TSource>(TSource source, uint length,
        CancellationToken cancellationToken) where TSource : IByteSource
    {
        if (length == 0) return [];
        EnsureRemaining(source.Stream, length);
        var buffer = new byte[Math.Min(length, FirstOptionalDataBuffer)];
        var filled = 0;
        while (filled < length)
        {
            if (filled == buffer.Length)
                Array.Resize(ref buffer, (int)Math.Min(length, (long)buffer.Length * 2));
            var n = await source.ReadAsync(buffer.AsMemory(filled, buffer.Length - filled), cancellationToken).ConfigureAwait(false);
            if (n == 0) throw Truncated("optional data", length, filled, SaveFileLayout.HeaderLength);
            filled += n;
        }
        return buffer;
    }

    private static void EnsureRemaining(Stream stream, uint length)
    {
        if (!stream.CanSeek) return;
        long remaining;
        try { remaining = stream.Length - stream.Position; }
        catch (NotSupportedException) { return; }
        if (remaining < length)
            throw Truncated("optional data", length, Math.Max(0, remaining), SaveFileLayout.HeaderLength);
    }

    private static SaveFileHeader FromParts(SaveFileByteOrder byteOrder, uint mandatory, uint optional, byte[] optionalData,
        SaveFileReaderOptions options)
    {
        byte[]? config = null;
        byte[] extension = [];
        if (optionalData.Length > 0)
        {
            var configLength = ReadU32(optionalData, byteOrder);
            var available = optionalData.Length - SaveFileLayout.ConfigLengthFieldLength;
            if (configLength > available)
                throw new XenFormatException(FormatError.Truncated,
                    $"truncated config: its length field says {configLength} bytes but the optional data holds only " +
                    $"{available} ({configLength - (uint)available} missing)",
                    SaveFileLayout.HeaderLength);
            config = optionalData.AsSpan(SaveFileLayout.ConfigLengthFieldLength, (int)configLength).ToArray();
            extension = optionalData.AsSpan(SaveFileLayout.ConfigLengthFieldLength + (int)configLength).ToArray();
        }

        var header = new SaveFileHeader
        {
            ByteOrder = byteOrder,
            MandatoryFlags = mandatory,
            OptionalFlags = optional,
            ConfigBytes = config,
            Extension = extension,
        };

        if (options.Strict && config is { Length: > 0 })
            ValidateConfigStrictly(header, config);
        // Lax reading keeps a malformed integrity record (xl ignores it, the file restores); strict rejects it.
        if (options.Strict && header.IntegrityError is { } integrityError)
            throw integrityError;
        return header;
    }

    private static void ValidateConfigStrictly(SaveFileHeader header, byte[] config)
    {
        const long configOffset = SaveFileLayout.HeaderLength + SaveFileLayout.ConfigLengthFieldLength;
        if (header.ConfigFormat == SaveFileConfigFormat.Json && config[^1] != 0)
            throw new XenFormatException(FormatError.InvalidConfig,
                "JSON config is not NUL-terminated as xl writes it (strict mode)", configOffset + config.Length - 1);
        var content = header.ConfigContent.Span;
        if (header.ConfigFormat == SaveFileConfigFormat.Json && content.Length != config.Length - 1)
            throw new XenFormatException(FormatError.InvalidConfig,
                "JSON config has a NUL before its end (strict mode)", configOffset + content.Length);
        try
        {
            _ = new UTF8Encoding(false, throwOnInvalidBytes: true).GetCharCount(content);
        }
        catch (DecoderFallbackException)
        {
            throw new XenFormatException(FormatError.InvalidConfig, "stored config is not valid UTF-8 (strict mode)", configOffset);
        }
    }

    private static uint ReadU32(ReadOnlySpan<byte> data, SaveFileByteOrder order) =>
        order == SaveFileByteOrder.LittleEndian
            ? BinaryPrimitives.ReadUInt32LittleEndian(data)
            : BinaryPrimitives.ReadUInt32BigEndian(data);

    private static XenFormatException Truncated(string part, long expected, long present, long offset) =>
        new(FormatError.Truncated,
            $"truncated {part}: expected {expected} bytes, found {present} ({expected - present} missing)",
            offset + present);
}
