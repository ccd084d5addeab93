using System.Buffers.Binary;
using System.Security.Cryptography;
using XenIac.Core.SaveFiles;
using XenIac.Tests;

namespace XenIac.Core.Tests.SaveFiles;

public sealed class IntegrityTests
{
    private static readonly byte[] Magic = "XIACINTG"u8.ToArray();

    private static string Write(string dir, string name, SaveFileHeader header, byte[] image)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllBytes(path, TestData.Concat(header.ToBytes(), image));
        return path;
    }

    private static byte[] ImageBytes(string path)
    {
        using var reader = SaveFileReader.Open(path);
        using var copy = new MemoryStream();
        reader.Image.CopyTo(copy);
        return copy.ToArray();
    }

    private static async Task<SaveFileIntegrityResult> CheckAsync(string path)
    {
        await using var reader = SaveFileReader.Open(path);
        var check = reader.BeginIntegrityCheck();
        return await check.CompleteAsync();
    }

    private static SaveFileHeader JsonHeader(SaveFileByteOrder order = SaveFileByteOrder.LittleEndian) =>
        SaveFileHeader.Create("{\"c_info\":{\"name\":\"x\"}}", SaveFileConfigFormat.Json, order);

    [Theory]
    [InlineData(SaveFileByteOrder.LittleEndian)]
    [InlineData(SaveFileByteOrder.BigEndian)]
    public void A_record_round_trips_through_the_header_bytes_in_either_byte_order(SaveFileByteOrder order)
    {
        var record = new SaveFileIntegrity(123_456_789_012, SHA256.HashData("x"u8));
        var header = JsonHeader(order).WithIntegrity(record);

        var read = SaveFileHeader.Read(new MemoryStream(header.ToBytes()));

        Assert.Equal(record, read.Integrity);
        Assert.Null(read.IntegrityError);
        Assert.Equal(64, read.Extension.Length);
        Assert.Equal(header, read);
    }

    [Fact]
    public void Integers_follow_the_header_byte_order()
    {
        var record = new SaveFileIntegrity(0x0102030405060708, new byte[32]);
        var big = JsonHeader(SaveFileByteOrder.BigEndian).WithIntegrity(record).Extension.ToArray();
        Assert.Equal(64u, BinaryPrimitives.ReadUInt32BigEndian(big.AsSpan(8)));
        Assert.Equal(0x0102030405060708ul, BinaryPrimitives.ReadUInt64BigEndian(big.AsSpan(24)));
        var little = JsonHeader().WithIntegrity(record).Extension.ToArray();
        Assert.Equal(0x0102030405060708ul, BinaryPrimitives.ReadUInt64LittleEndian(little.AsSpan(24)));
    }

    [Fact]
    public void Unknown_extension_bytes_before_and_after_the_record_are_kept_byte_for_byte()
    {
        byte[] before = [1, 2, 3, 0xEE, 0, 0xFF, 7];
        byte[] after = [9, 8, 7, 6, 5];
        var first = new SaveFileIntegrity(10, SHA256.HashData("a"u8));
        var second = new SaveFileIntegrity(20, SHA256.HashData("b"u8));
        var withBefore = (JsonHeader() with { Extension = before }).WithIntegrity(first);
        var both = withBefore with { Extension = TestData.Concat(withBefore.Extension.ToArray(), after) };

        var refreshed = SaveFileHeader.Read(new MemoryStream(both.WithIntegrity(second).ToBytes()));

        var ext = refreshed.Extension.ToArray();
        Assert.Equal(before, ext[..before.Length]);
        Assert.Equal(after, ext[^after.Length..]);
        Assert.Equal(before.Length + 64 + after.Length, ext.Length);
        Assert.Equal(second, refreshed.Integrity);
        Assert.Equal(TestData.Concat(before, after), refreshed.WithIntegrity(null).Extension.ToArray());
    }

    [Fact]
    public void A_header_without_optional_data_gains_a_config_length_field_for_the_record()
    {
        var bare = new SaveFileHeader { MandatoryFlags = 2 };
        var sealedHeader = SaveFileHeader.Read(new MemoryStream(bare.WithIntegrity(new SaveFileIntegrity(1, new byte[32])).ToBytes()));
        Assert.Equal(0, sealedHeader.ConfigLength);
        Assert.Equal(SaveFileConfigFormat.None, sealedHeader.ConfigFormat);
        Assert.NotNull(sealedHeader.Integrity);
    }

    [Fact]
    public async Task Seal_records_the_sha256_of_every_byte_after_the_image_offset_and_verify_matches()
    {
        var dir = TestData.TempDir();
        var image = TestData.SoundImage(3_000_000);
        var path = Write(dir, "s.xlsave", JsonHeader() with { Extension = new byte[] { 0xAB, 0xCD } }, image);

        var written = await SaveFileRewriter.SealAsync(path);

        Assert.Equal(new SaveFileIntegrity(image.Length, SHA256.HashData(image)), written.Integrity);
        Assert.Equal(image, ImageBytes(path));
        Assert.Equal(new byte[] { 0xAB, 0xCD }, SaveFileReader.Open(path).Header.Extension.ToArray()[..2]);
        var result = await CheckAsync(path);
        Assert.Equal(SaveFileIntegrityStatus.Match, result.Status);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Fact]
    public async Task A_flipped_byte_in_the_image_is_a_mismatch_naming_both_digests()
    {
        var dir = TestData.TempDir();
        var image = TestData.SoundImage(500_000);
        var path = Write(dir, "f.xlsave", JsonHeader(), image);
        var sealedHeader = await SaveFileRewriter.SealAsync(path);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[sealedHeader.ImageOffset + 123_456] ^= 0x01;
        await File.WriteAllBytesAsync(path, bytes);

        var result = await CheckAsync(path);

        Assert.Equal(SaveFileIntegrityStatus.Mismatch, result.Status);
        Assert.Contains(sealedHeader.Integrity!.DigestHex, result.Problem);
        Assert.Contains(result.Actual.DigestHex, result.Problem);
        Assert.NotEqual(sealedHeader.Integrity.DigestHex, result.Actual.DigestHex);
    }

    [Fact]
    public async Task A_flipped_byte_in_the_digest_is_a_mismatch()
    {
        var dir = TestData.TempDir();
        var path = Write(dir, "d.xlsave", JsonHeader(), TestData.SoundImage(100_000));
        var sealedHeader = await SaveFileRewriter.SealAsync(path);
        var bytes = await File.ReadAllBytesAsync(path);
        var blockStart = sealedHeader.ImageOffset - 64;
        Assert.Equal(Magic, bytes[(int)blockStart..(int)(blockStart + 8)]);
        bytes[blockStart + 32 + 5] ^= 0x80;
        await File.WriteAllBytesAsync(path, bytes);

        Assert.Equal(SaveFileIntegrityStatus.Mismatch, (await CheckAsync(path)).Status);
    }

    [Fact]
    public async Task A_truncated_image_is_a_mismatch_on_length()
    {
        var dir = TestData.TempDir();
        var path = Write(dir, "t.xlsave", JsonHeader(), TestData.SoundImage(100_000));
        await SaveFileRewriter.SealAsync(path);
        using (var f = File.OpenWrite(path)) f.SetLength(f.Length - 10);

        var result = await CheckAsync(path);
        Assert.Equal(SaveFileIntegrityStatus.Mismatch, result.Status);
        Assert.Contains("100000 image bytes", result.Problem);
        Assert.Contains("99990 bytes", result.Problem);
    }

    [Fact]
    public async Task A_file_without_a_record_says_so_and_names_seal()
    {
        var dir = TestData.TempDir();
        var path = Write(dir, "n.xlsave", JsonHeader(), TestData.Image(1000));
        var result = await CheckAsync(path);
        Assert.Equal(SaveFileIntegrityStatus.NoRecord, result.Status);
        Assert.Contains("savefile seal", result.Problem);
    }

    public static TheoryData<string> MalformedCases() => ["short", "version", "length-beyond", "length-small", "algorithm", "digest-length", "twice"];

    [Theory]
    [MemberData(nameof(MalformedCases))]
    public async Task A_malformed_record_is_a_typed_problem_never_a_crash(string kind)
    {
        var good = IntegrityBlock();
        byte[] extension = kind switch
        {
            "short" => good[..10],
            "version" => Patch(good, 12, 2),
            "length-beyond" => Patch(good, 8, 65),
            "length-small" => Patch(good, 8, 40),
            "algorithm" => Patch(good, 16, 9),
            "digest-length" => Patch(good, 20, 31),
            "twice" => TestData.Concat(good, good),
            _ => throw new ArgumentException(kind),
        };
        var bytes = (JsonHeader() with { Extension = extension }).ToBytes();

        // Lax reading keeps the file readable (xl restores it), and says what is wrong with the record.
        var header = SaveFileHeader.Read(new MemoryStream(bytes));
        Assert.Null(header.Integrity);
        var error = Assert.IsType<XenFormatException>(header.IntegrityError);
        Assert.Equal(FormatError.InvalidIntegrity, error.Error);
        Assert.Equal(header.ImageOffset - extension.Length, error.Offset);
        Assert.Equal(extension, header.Extension.ToArray());

        var strict = Assert.Throws<XenFormatException>(() =>
            SaveFileHeader.Read(new MemoryStream(bytes), new SaveFileReaderOptions { Strict = true }));
        Assert.Equal(FormatError.InvalidIntegrity, strict.Error);

        // A check reports it; sealing replaces it with a good record.
        var dir = TestData.TempDir();
        var path = Path.Combine(dir, "m.xlsave");
        await File.WriteAllBytesAsync(path, TestData.Concat(bytes, TestData.SoundImage(16_384)));
        Assert.Equal(SaveFileIntegrityStatus.Malformed, (await CheckAsync(path)).Status);
        await SaveFileRewriter.SealAsync(path);
        Assert.Equal(SaveFileIntegrityStatus.Match, (await CheckAsync(path)).Status);
    }

    [Fact]
    public void Random_extension_bytes_around_a_magic_never_throw_while_reading()
    {
        var random = new Random(13);
        for (var i = 0; i < 2000; i++)
        {
            var ext = new byte[random.Next(0, 100)];
            random.NextBytes(ext);
            if (ext.Length >= 8 && random.Next(2) == 0) Magic.CopyTo(ext, random.Next(0, ext.Length - 7));
            var header = SaveFileHeader.Read(new MemoryStream((JsonHeader() with { Extension = ext }).ToBytes()));
            _ = header.Integrity;
            _ = header.IntegrityError;
            _ = header.WithIntegrity(new SaveFileIntegrity(1, new byte[32])).ToBytes();
        }
    }

    [Fact]
    public async Task Set_config_keeps_the_record_and_the_result_still_verifies()
    {
        var dir = TestData.TempDir();
        var path = Write(dir, "c.xlsave", JsonHeader(), TestData.SoundImage(200_000));
        var sealedHeader = await SaveFileRewriter.SealAsync(path);

        await SaveFileRewriter.ReplaceConfigAsync(path, "{\"c_info\":{\"name\":\"a much longer name than before\"}}", SaveFileConfigFormat.Json);

        using (var reader = SaveFileReader.Open(path))
            Assert.Equal(sealedHeader.Integrity, reader.Header.Integrity);
        Assert.Equal(SaveFileIntegrityStatus.Match, (await CheckAsync(path)).Status);
    }

    [Fact]
    public async Task Converting_the_byte_order_rewrites_the_record_in_the_new_order_and_it_still_verifies()
    {
        var dir = TestData.TempDir();
        var path = Write(dir, "o.xlsave", JsonHeader() with { Extension = new byte[] { 1, 2, 3 } }, TestData.SoundImage(50_000));
        var sealedHeader = await SaveFileRewriter.SealAsync(path);
        var big = Path.Combine(dir, "big.xlsave");
        var conversion = SaveFileConversion.Decide(SaveFileFormat.Xl, SaveFileFormat.Xl, false, SaveFileByteOrder.BigEndian);

        await SaveFileRewriter.RewriteAsync(path, big, false, (h, v2) => conversion.HeaderFor(h, v2));

        using (var reader = SaveFileReader.Open(big))
        {
            Assert.Equal(SaveFileByteOrder.BigEndian, reader.Header.ByteOrder);
            Assert.Equal(sealedHeader.Integrity, reader.Header.Integrity);
            Assert.Equal(new byte[] { 1, 2, 3 }, reader.Header.Extension.ToArray()[..3]);
        }
        Assert.Equal(SaveFileIntegrityStatus.Match, (await CheckAsync(big)).Status);
    }

    [Fact]
    public async Task Verify_and_the_integrity_check_share_one_pass_over_a_real_shaped_image()
    {
        // The verifier skips page data by seeking; the hashing view must still hash what it skips.
        var dir = TestData.TempDir();
        var image = TestData.SoundImage(1_000_000);
        var path = Write(dir, "v.xlsave", JsonHeader(), image);
        await SaveFileRewriter.SealAsync(path);
        await using var reader = SaveFileReader.Open(path);
        var check = reader.BeginIntegrityCheck();
        reader.Image.Seek(700_000, SeekOrigin.Current);
        var result = await check.CompleteAsync();
        Assert.Equal(SaveFileIntegrityStatus.Match, result.Status);
        Assert.Equal(SHA256.HashData(image), result.Actual.Digest);
    }

    [Fact]
    public async Task WriteSealed_patches_the_placeholder_after_the_image()
    {
        var image = TestData.Image(77_777);
        using var output = new MemoryStream();
        var header = SaveFileWriter.WriteSealed(output, JsonHeader(), s => s.Write(image));
        Assert.Equal(new SaveFileIntegrity(image.Length, SHA256.HashData(image)), header.Integrity);
        Assert.Equal(TestData.Concat(header.ToBytes(), image), output.ToArray());
        var dir = TestData.TempDir();
        var path = Path.Combine(dir, "w.xlsave");
        await File.WriteAllBytesAsync(path, output.ToArray());
        Assert.Equal(SaveFileIntegrityStatus.Match, (await CheckAsync(path)).Status);
    }

    [SkippableTheory]
    [MemberData(nameof(RealXenSavefileTests.Names), MemberType = typeof(RealXenSavefileTests))]
    public async Task Real_xen_savefiles_sealed_then_verified_keep_their_image_bytes(string name)
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        var dir = TestData.TempDir();
        var path = Path.Combine(dir, name);
        File.Copy(SharedFixtures.RealSavefile(name), path);
        var imageBefore = SHA256.HashData(ImageBytes(path));
        SaveFileHeader before;
        using (var r = SaveFileReader.Open(path)) before = r.Header;

        await SaveFileRewriter.SealAsync(path);

        await using var reader = SaveFileReader.Open(path, new SaveFileReaderOptions { Strict = true });
        Assert.Equal(before.ConfigBytes, reader.Header.ConfigBytes);
        var check = reader.BeginIntegrityCheck();
        var image = Core.Config.SaveFileVerification.Verify(reader);
        Assert.True(image.IsValid, image.Problem?.ToString());
        var result = await check.CompleteAsync();
        Assert.Equal(SaveFileIntegrityStatus.Match, result.Status);
        Assert.Equal(imageBefore, result.Actual.Digest);
        Assert.Equal(imageBefore, SHA256.HashData(ImageBytes(path)));
    }

    private static byte[] IntegrityBlock() =>
        JsonHeader().WithIntegrity(new SaveFileIntegrity(42, SHA256.HashData("img"u8))).Extension.ToArray();

    private static byte[] Patch(byte[] block, int offset, uint value)
    {
        var copy = block.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(offset), value);
        return copy;
    }

    // ---- Taking blocks out: one pass, the same bytes as removing the first block until none is left ----

    /// <summary>The rule as first written (and as slow as it was): the first block out, again, until none is left.</summary>
    private static (byte[] Remaining, int? First) RemoveOneByOne(byte[] extension, ReadOnlySpan<byte> magic, Func<byte[], int, int> extent)
    {
        var rest = extension;
        int? first = null;
        while (rest.AsSpan().IndexOf(magic) is var at and >= 0)
        {
            first ??= at;
            rest = [.. rest.AsSpan(0, at), .. rest.AsSpan(at + extent(rest, at))];
        }
        return (rest, first);
    }

    [Theory]
    [InlineData(SaveFileByteOrder.LittleEndian)]
    [InlineData(SaveFileByteOrder.BigEndian)]
    public void Removing_every_block_in_one_pass_gives_the_bytes_one_by_one_removal_gives(SaveFileByteOrder order)
    {
        var good = JsonHeader(order).WithIntegrity(new SaveFileIntegrity(7, new byte[32])).Extension.ToArray();
        var fingerprint = JsonHeader(order).WithFingerprint("sha256:" + new string('a', 64)).Extension.ToArray();
        var random = new Random(20261207);
        byte[] Piece() => random.Next(9) switch
        {
            0 => good,
            1 => fingerprint,
            2 => Magic,                                       // a magic with nothing readable after it
            3 => [.. Magic, .. new byte[] { 0, 0, 0, 20 }],   // a stated length that may or may not fit
            4 => [.. Magic.AsSpan(0, 4)],                     // half a magic: the other half may come after a block
            5 => [.. Magic.AsSpan(4)],
            6 => [.. "XIACFPRT"u8[..random.Next(1, 8)]],
            _ => [.. Enumerable.Range(0, random.Next(0, 12)).Select(_ => (byte)random.Next(256))],
        };
        for (var i = 0; i < 3000; i++)
        {
            var extension = Enumerable.Range(0, random.Next(0, 14)).SelectMany(_ => Piece()).ToArray();
            var (expected, first) = RemoveOneByOne(extension, Magic, (b, at) => IntegrityLayout.Extent(b.AsSpan(at), order));
            var actual = ExtensionBlocks.RemoveAll(extension, Magic, IntegrityLayout.Extent, order, out var actualFirst);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"case {i}: {Convert.ToHexString(extension)}");
            Assert.Equal(first, actualFirst);
            var fpMagic = "XIACFPRT"u8;
            var (expectedFp, _) = RemoveOneByOne(extension, fpMagic, (b, at) => FingerprintLayout.Extent(b.AsSpan(at), order));
            Assert.True(expectedFp.AsSpan().SequenceEqual(ExtensionBlocks.RemoveAll(extension, fpMagic, FingerprintLayout.Extent, order, out _)),
                $"fingerprint case {i}: {Convert.ToHexString(extension)}");
        }
    }

    [Fact]
    public void Sealing_optional_data_full_of_blocks_allocates_linearly_in_its_size()
    {
        // A fuzzed savefile: 64 KiB of optional data holding hundreds of records made sealing allocate 25 MB.
        var good = JsonHeader().WithIntegrity(new SaveFileIntegrity(7, new byte[32])).Extension.ToArray();
        var fingerprint = JsonHeader().WithFingerprint("sha256:" + new string('b', 64)).Extension.ToArray();
        long Allocated(int blocks)
        {
            var header = JsonHeader() with { Extension = Enumerable.Range(0, blocks).SelectMany(i => i % 2 == 0 ? good : fingerprint).ToArray() };
            var before = GC.GetAllocatedBytesForCurrentThread();
            var sealedHeader = header.WithIntegrity(new SaveFileIntegrity(1, new byte[32])).WithFingerprint(null);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(good.Length, sealedHeader.Extension.Length);
            return allocated;
        }
        Allocated(10);
        var small = Allocated(400);
        var large = Allocated(4000);
        Assert.True(large < 20 * small, $"{small} bytes for 400 blocks, {large} for 4000 ({(double)large / small:F1}x)");
    }
}
