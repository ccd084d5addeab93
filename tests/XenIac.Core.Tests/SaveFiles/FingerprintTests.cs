using System.Buffers.Binary;
using System.Security.Cryptography;
using XenIac.Core.SaveFiles;

namespace XenIac.Core.Tests.SaveFiles;

public sealed class FingerprintTests
{
    private static readonly string Fp = "sha256:" + Convert.ToHexStringLower(SHA256.HashData("inputs"u8));
    private static readonly string Other = "sha256:" + Convert.ToHexStringLower(SHA256.HashData("other"u8));

    private static SaveFileHeader JsonHeader(SaveFileByteOrder order = SaveFileByteOrder.LittleEndian) =>
        SaveFileHeader.Create("{\"c_info\":{\"name\":\"x\"}}", SaveFileConfigFormat.Json, order);

    [Theory]
    [InlineData(SaveFileByteOrder.LittleEndian)]
    [InlineData(SaveFileByteOrder.BigEndian)]
    public void A_fingerprint_round_trips_through_the_header_bytes_beside_an_integrity_record(SaveFileByteOrder order)
    {
        var integrity = new SaveFileIntegrity(42, SHA256.HashData("image"u8));
        var header = JsonHeader(order).WithIntegrity(integrity).WithFingerprint(Fp);

        var read = SaveFileHeader.Read(new MemoryStream(header.ToBytes()));

        Assert.Equal(Fp, read.Fingerprint);
        Assert.Equal(integrity, read.Integrity);
        Assert.Null(read.IntegrityError);
        Assert.Equal(48 + 64, read.Extension.Length);
        Assert.Equal("{\"c_info\":{\"name\":\"x\"}}", read.ConfigText);
    }

    [Fact]
    public void Setting_it_again_replaces_it_and_null_removes_it_keeping_other_bytes()
    {
        var integrity = new SaveFileIntegrity(7, new byte[32]);
        var header = JsonHeader().WithIntegrity(integrity).WithFingerprint(Fp).WithFingerprint(Other);
        Assert.Equal(Other, header.Fingerprint);
        Assert.Equal(48 + 64, header.Extension.Length);

        var removed = header.WithFingerprint(null);
        Assert.Null(removed.Fingerprint);
        Assert.Equal(integrity, removed.Integrity);
        Assert.Equal(64, removed.Extension.Length);
        Assert.Same(removed, removed.WithFingerprint(null));
    }

    [Fact]
    public void A_byte_order_change_rewrites_its_length_and_version_in_the_new_order()
    {
        var big = JsonHeader().WithIntegrity(new SaveFileIntegrity(9, new byte[32])).WithFingerprint(Fp).WithByteOrder(SaveFileByteOrder.BigEndian);
        Assert.Equal(Fp, big.Fingerprint);
        Assert.Equal(9, big.Integrity!.ImageLength);
        var block = big.Extension.ToArray();
        var at = block.AsSpan().IndexOf("XIACFPRT"u8);
        Assert.Equal(48u, BinaryPrimitives.ReadUInt32BigEndian(block.AsSpan(at + 8)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(block.AsSpan(at + 12)));
        Assert.Equal(Fp, big.WithByteOrder(SaveFileByteOrder.LittleEndian).Fingerprint);
    }

    [Theory]
    [InlineData("")]
    [InlineData("sha256:")]
    [InlineData("sha1:0123")]
    [InlineData("sha256:zz5f3c5b1f5c0f9a4b2c0c4d1ee9b1a3e0d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4")]
    [InlineData("e45f3c5b1f5c0f9a4b2c0c4d1ee9b1a3e0d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4")]
    public void Anything_but_sha256_and_64_hex_digits_is_refused(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => JsonHeader().WithFingerprint(text));
        Assert.Contains("64 hex digits", e.Message);
    }

    [Fact]
    public void A_block_of_a_later_version_or_cut_short_reads_as_no_fingerprint_and_never_throws()
    {
        var bytes = JsonHeader().WithFingerprint(Fp).ToBytes();
        var at = bytes.AsSpan().IndexOf("XIACFPRT"u8);
        var later = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(later.AsSpan(at + 12), 2);
        Assert.Null(SaveFileHeader.Read(new MemoryStream(later)).Fingerprint);

        var huge = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(huge.AsSpan(at + 8), uint.MaxValue);
        var read = SaveFileHeader.Read(new MemoryStream(huge));
        Assert.Null(read.Fingerprint);
        // Replacing it takes out the unreadable block and writes a good one.
        Assert.Equal(Other, read.WithFingerprint(Other).Fingerprint);
    }
}
