using System.Security.Cryptography;

namespace XenIac.Core.SaveFiles;

public sealed partial record SaveFileHeader
{
    /// <summary>The prefix of a fingerprint's text form.</summary>
    public const string FingerprintPrefix = "sha256:";

    /// <summary>
    /// What the snapshot was made from, as <c>sha256:&lt;hex&gt;</c>: a digest of its inputs (config, disk images,
    /// scripts) recorded by whoever made it, so a restore can tell a snapshot made from yesterday's inputs. Null when
    /// the optional data holds none, or a block that cannot be read (a later version, cut short).
    /// </summary>
    public string? Fingerprint =>
        Format == SaveFileFormat.Legacy ? null
        : FingerprintLayout.Find(_extension, ByteOrder) is { Digest: { } digest } ? FingerprintPrefix + Convert.ToHexStringLower(digest) : null;

    /// <summary>
    /// This header carrying <paramref name="fingerprint"/> (<c>sha256:</c> and 64 hex digits), or none for null. Like
    /// the integrity record it lives in the optional data after the config, which xl skips; other bytes are kept.
    /// </summary>
    /// <exception cref="ArgumentException">Not <c>sha256:</c> followed by 64 hex digits.</exception>
    public SaveFileHeader WithFingerprint(string? fingerprint)
    {
        if (Format == SaveFileFormat.Legacy)
            throw new InvalidOperationException("A legacy savefile has no header to store a fingerprint in; convert it to the xl format first.");
        if (fingerprint is null && FingerprintLayout.Find(_extension, ByteOrder) is null) return this;
        byte[] block = fingerprint is null ? [] : FingerprintLayout.Encode(ParseFingerprint(fingerprint), ByteOrder);
        var rest = ExtensionBlocks.RemoveAll(_extension, FingerprintLayout.Magic, FingerprintLayout.Extent, ByteOrder, out _);
        // Before any integrity record: the order carries no meaning, but a reader finds each block by its magic.
        byte[] extension = [.. block, .. rest];
        return this with { ConfigBytes = _configBytes ?? [], Extension = extension };
    }

    /// <summary>The digest of a fingerprint's text form.</summary>
    /// <exception cref="ArgumentException">Not <c>sha256:</c> followed by 64 hex digits.</exception>
    public static byte[] ParseFingerprint(string fingerprint)
    {
        ArgumentNullException.ThrowIfNull(fingerprint);
        var hex = fingerprint.StartsWith(FingerprintPrefix, StringComparison.Ordinal) ? fingerprint[FingerprintPrefix.Length..] : "";
        if (hex.Length != SHA256.HashSizeInBytes * 2 || !hex.All(char.IsAsciiHexDigit))
            throw new ArgumentException($"a fingerprint is '{FingerprintPrefix}' and {SHA256.HashSizeInBytes * 2} hex digits, not '{fingerprint}'", nameof(fingerprint));
        return Convert.FromHexString(hex);
    }
}

/// <summary>
/// The on-disk fingerprint block, integers in the header's byte order: magic "XIACFPRT" (8), u32 block length (48,
/// magic included), u32 version (1), 32-byte SHA-256 digest. A block this version cannot read is skipped, not fatal:
/// a fingerprint only ever makes a restore more careful.
/// </summary>
internal static class FingerprintLayout
{
    public static ReadOnlySpan<byte> Magic => "XIACFPRT"u8;
    public const int BlockLength = 48;
    public const uint Version = 1;
    private const int LengthOffset = 8;
    private const int VersionOffset = 12;
    private const int DigestOffset = 16;

    public readonly record struct Found(int Start, int Length, byte[]? Digest);

    public static byte[] Encode(ReadOnlySpan<byte> digest, SaveFileByteOrder order)
    {
        var block = new byte[BlockLength];
        Magic.CopyTo(block);
        IntegrityLayout.U32(block.AsSpan(LengthOffset), BlockLength, order);
        IntegrityLayout.U32(block.AsSpan(VersionOffset), Version, order);
        digest.CopyTo(block.AsSpan(DigestOffset));
        return block;
    }

    /// <summary>What a block starting at <paramref name="fromMagic"/> takes out (see <see cref="Find"/>).</summary>
    public static int Extent(ReadOnlySpan<byte> fromMagic, SaveFileByteOrder order) => Find(fromMagic, order)!.Value.Length;

    /// <summary>The first block in <paramref name="extension"/>: its extent (to its stated length when that fits, else to the end) and digest when readable.</summary>
    public static Found? Find(ReadOnlySpan<byte> extension, SaveFileByteOrder order)
    {
        var start = extension.IndexOf(Magic);
        if (start < 0) return null;
        var rest = extension[start..];
        if (rest.Length < VersionOffset) return new Found(start, rest.Length, null);
        var length = IntegrityLayout.ReadU32(rest[LengthOffset..], order);
        if (length < VersionOffset || length > rest.Length) return new Found(start, rest.Length, null);
        var readable = length == BlockLength && IntegrityLayout.ReadU32(rest[VersionOffset..], order) == Version;
        return new Found(start, (int)length, readable ? rest.Slice(DigestOffset, SHA256.HashSizeInBytes).ToArray() : null);
    }
}
