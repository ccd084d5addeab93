using System.Buffers.Binary;
using System.Security.Cryptography;

namespace XenIac.Core.SaveFiles;

/// <summary>How an integrity record's digest is computed.</summary>
public enum SaveFileIntegrityAlgorithm : uint
{
    Sha256 = 1,
}

/// <summary>
/// XenIac's integrity record: the length and SHA-256 digest of a savefile's image (every byte from the image
/// offset to the end of the file). It lives in the optional data after the stored config, which xl reads past
/// and ignores, so a sealed file still restores with real <c>xl restore</c>.
/// </summary>
public sealed record SaveFileIntegrity
{
    public SaveFileIntegrity(long imageLength, ReadOnlySpan<byte> digest,
        SaveFileIntegrityAlgorithm algorithm = SaveFileIntegrityAlgorithm.Sha256)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(imageLength);
        if (algorithm != SaveFileIntegrityAlgorithm.Sha256) throw new ArgumentOutOfRangeException(nameof(algorithm));
        if (digest.Length != SHA256.HashSizeInBytes)
            throw new ArgumentException($"a SHA-256 digest has {SHA256.HashSizeInBytes} bytes, not {digest.Length}", nameof(digest));
        Algorithm = algorithm;
        ImageLength = imageLength;
        _digest = digest.ToArray();
    }

    private readonly byte[] _digest;

    public SaveFileIntegrityAlgorithm Algorithm { get; }

    public long ImageLength { get; }

    /// <summary>The digest (a copy).</summary>
    public byte[] Digest => _digest.ToArray();

    /// <summary>The digest as lower-case hex, as <c>sha256sum</c> prints it.</summary>
    public string DigestHex => Convert.ToHexStringLower(_digest);

    public override string ToString() => $"sha256:{DigestHex} over {ImageLength} image bytes";

    public bool Equals(SaveFileIntegrity? other) =>
        other is not null && Algorithm == other.Algorithm && ImageLength == other.ImageLength && _digest.AsSpan().SequenceEqual(other._digest);

    public override int GetHashCode() => HashCode.Combine(Algorithm, ImageLength, BinaryPrimitives.ReadInt32LittleEndian(_digest));

    /// <summary>The digest of a whole image stream read to its end (one pass, nothing kept in memory).</summary>
    public static async Task<SaveFileIntegrity> ComputeAsync(Stream image, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var hashing = IntegrityHashingStream.ForReading(image);
        await hashing.CopyToAsync(Stream.Null, SaveFileWriter.CopyBufferSize, cancellationToken).ConfigureAwait(false);
        return hashing.Result();
    }

    /// <summary>Written first and patched once the image has been hashed; its digest is all zeros.</summary>
    internal static SaveFileIntegrity Placeholder { get; } = new(0, new byte[SHA256.HashSizeInBytes]);
}

/// <summary>
/// The on-disk block of a <see cref="SaveFileIntegrity"/>, integers in the header's byte order:
/// magic "XIACINTG" (8), u32 block length (64, magic included), u32 version (1), u32 algorithm (1 = SHA-256),
/// u32 digest length (32), u64 image length, digest. The length field lets a reader step over a later version.
/// </summary>
internal static class IntegrityLayout
{
    public static ReadOnlySpan<byte> Magic => "XIACINTG"u8;
    public const int BlockLengthOffset = 8;
    public const int VersionOffset = 12;
    public const int AlgorithmOffset = 16;
    public const int DigestLengthOffset = 20;
    public const int ImageLengthOffset = 24;
    public const int DigestOffset = 32;
    public const int BlockLength = 64;
    public const uint Version = 1;
    /// <summary>Magic and length field: what must be present to know how long a block is.</summary>
    public const int MinimumPrefix = 12;

    public static byte[] Encode(SaveFileIntegrity integrity, SaveFileByteOrder order)
    {
        var block = new byte[BlockLength];
        var span = block.AsSpan();
        Magic.CopyTo(span);
        U32(span[BlockLengthOffset..], BlockLength, order);
        U32(span[VersionOffset..], Version, order);
        U32(span[AlgorithmOffset..], (uint)integrity.Algorithm, order);
        U32(span[DigestLengthOffset..], (uint)SHA256.HashSizeInBytes, order);
        if (order == SaveFileByteOrder.LittleEndian) BinaryPrimitives.WriteUInt64LittleEndian(span[ImageLengthOffset..], (ulong)integrity.ImageLength);
        else BinaryPrimitives.WriteUInt64BigEndian(span[ImageLengthOffset..], (ulong)integrity.ImageLength);
        integrity.Digest.CopyTo(span[DigestOffset..]);
        return block;
    }

    /// <summary>
    /// What a block starting at <paramref name="fromMagic"/> takes out: its stated length when that fits, else the
    /// rest (the extents <see cref="Find"/> gives, without its search for a second record after a good one).
    /// </summary>
    public static int Extent(ReadOnlySpan<byte> fromMagic, SaveFileByteOrder order)
    {
        if (fromMagic.Length < MinimumPrefix) return fromMagic.Length;
        var length = ReadU32(fromMagic[BlockLengthOffset..], order);
        return length < MinimumPrefix || length > fromMagic.Length ? fromMagic.Length : (int)length;
    }

    /// <summary>Where a block sits in the extension bytes, and what it holds or why it cannot be read.</summary>
    public readonly record struct Found(int Start, int Length, SaveFileIntegrity? Integrity, string? Problem);

    /// <summary>
    /// Finds the block in <paramref name="extension"/>. Every length is checked against what is there, so any
    /// bytes give either a record, nothing, or a problem. A malformed block's extent runs to its stated length
    /// when that fits, otherwise to the end of the extension (what a rewrite replaces).
    /// </summary>
    public static Found? Find(ReadOnlySpan<byte> extension, SaveFileByteOrder order)
    {
        var start = extension.IndexOf(Magic);
        if (start < 0) return null;
        var rest = extension[start..];
        // The extent is Extent's (what a rewrite takes out); a block whose stated length it did not take is malformed.
        var extent = Extent(rest, order);
        if (rest.Length < MinimumPrefix)
            return new Found(start, extent, null, $"integrity record is cut short: {rest.Length} bytes after its magic, at least {BlockLength} needed");
        var length = ReadU32(rest[BlockLengthOffset..], order);
        if (length != extent)
            return new Found(start, extent, null,
                $"integrity record states a length of {length} bytes but {rest.Length} remain in the optional data");
        var block = rest[..(int)length];
        var imageLength = length < BlockLength ? 0
            : order == SaveFileByteOrder.LittleEndian
                ? BinaryPrimitives.ReadUInt64LittleEndian(block[ImageLengthOffset..])
                : BinaryPrimitives.ReadUInt64BigEndian(block[ImageLengthOffset..]);
        string? problem = null;
        if (length < BlockLength)
            problem = $"integrity record is cut short: it states {length} bytes, {BlockLength} needed";
        else if (ReadU32(block[VersionOffset..], order) is var version && version != Version)
            problem = $"integrity record has version {version}, which this XenIac does not read (it reads version {Version})";
        else if (length != BlockLength)
            problem = $"integrity record version {Version} is {BlockLength} bytes, but it states {length}";
        else if (ReadU32(block[AlgorithmOffset..], order) is var algorithm && algorithm != (uint)SaveFileIntegrityAlgorithm.Sha256)
            problem = $"integrity record names unknown digest algorithm {algorithm} (1 = SHA-256)";
        else if (ReadU32(block[DigestLengthOffset..], order) is var digestLength && digestLength != SHA256.HashSizeInBytes)
            problem = $"integrity record's digest length is {digestLength}, SHA-256 has {SHA256.HashSizeInBytes}";
        else if (imageLength > long.MaxValue)
            problem = $"integrity record states an image length of {imageLength} bytes, more than any file holds";
        else if (extension[(start + (int)length)..].IndexOf(Magic) >= 0)
            problem = "optional data holds two integrity records";
        if (problem is not null) return new Found(start, (int)length, null, problem);
        return new Found(start, (int)length, new SaveFileIntegrity((long)imageLength, block.Slice(DigestOffset, SHA256.HashSizeInBytes)), null);
    }

    internal static void U32(Span<byte> destination, uint value, SaveFileByteOrder order)
    {
        if (order == SaveFileByteOrder.LittleEndian) BinaryPrimitives.WriteUInt32LittleEndian(destination, value);
        else BinaryPrimitives.WriteUInt32BigEndian(destination, value);
    }

    internal static uint ReadU32(ReadOnlySpan<byte> data, SaveFileByteOrder order) =>
        order == SaveFileByteOrder.LittleEndian ? BinaryPrimitives.ReadUInt32LittleEndian(data) : BinaryPrimitives.ReadUInt32BigEndian(data);
}
