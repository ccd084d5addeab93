using System.Buffers.Binary;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;

namespace XenIac.Core.Tests.Streams;

/// <summary>
/// The reader's promise (see <see cref="ImageStreamReader"/>): allocation stays within
/// AllocationFactor × bytes read + AllocationAllowance, whatever lengths and counts the bytes claim. Measured
/// with the GC's per-thread allocation counter over an unseekable stream, where nothing can be checked up front.
/// </summary>
public sealed class ImageStreamAllocationTests
{
    private static long Bound(long arrived) => ImageStreamReader.AllocationFactor * arrived + ImageStreamReader.AllocationAllowance;

    private static byte[] SmallImage()
    {
        using var ms = new MemoryStream();
        ImageStreamWriter.Write(ms, ImageStreamWriterTests.Hvm(3, 1));
        return ms.ToArray();
    }

    private static List<ImageRecord> Records(byte[] image)
    {
        using var reader = new ImageStreamReader(new MemoryStream(image));
        var records = new List<ImageRecord>();
        while (reader.MoveNext()) records.Add(reader.Current);
        return records;
    }

    /// <summary>Runs <paramref name="consume"/> over an unseekable view of the bytes; returns (allocated, bytes read).</summary>
    private static (long Allocated, long Arrived) Measure(byte[] bytes, Action<Stream> consume)
    {
        var counting = new CountingPipe(bytes);
        consume(counting); // warm up: JIT and static initialisers allocate once per process, not per input
        counting = new CountingPipe(bytes);
        var before = GC.GetAllocatedBytesForCurrentThread();
        consume(counting);
        return (GC.GetAllocatedBytesForCurrentThread() - before, counting.Delivered);
    }

    private static void Verify(Stream s) => ImageStreamVerifier.Verify(s);

    /// <summary>What a restore does: every record, every page, every other body loaded.</summary>
    private static void ReadAll(Stream s)
    {
        try
        {
            using var reader = new ImageStreamReader(s, leaveOpen: true);
            while (reader.MoveNext())
            {
                if (reader.Current.Is(LibxcRecordType.PageData))
                    foreach (var page in reader.ReadPages()) _ = page.Pfn;
                else
                    reader.ReadBody();
            }
        }
        catch (XenFormatException)
        {
        }
    }

    [Fact]
    public void A_page_data_count_near_the_record_limit_costs_what_arrived_not_what_it_claims()
    {
        var image = SmallImage();
        var pageData = Records(image).First(r => r.Is(LibxcRecordType.PageData));
        var at = (int)pageData.Offset;
        const uint count = 16_000_000; // 128 MB of pfns: within libxc's record limit, far beyond this file
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(at + 4), 8 + count * 8);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(at + 8), count);

        var result = ImageStreamVerifier.Verify(new CountingPipe(image));
        Assert.Equal(ImageVerificationStatus.Invalid, result.Status);
        Assert.Equal(FormatError.Truncated, result.Problem!.Error);

        var (allocated, arrived) = Measure(image, Verify);
        Assert.Equal(image.Length, arrived);
        Assert.True(allocated <= Bound(arrived), $"{allocated} bytes allocated for {arrived} bytes read");
        Assert.True(allocated < 2_000_000, $"{allocated} bytes allocated"); // the claim alone was 128 MB
    }

    [Fact]
    public void A_libxl_body_claiming_128_MiB_is_loaded_only_as_far_as_it_arrives()
    {
        var image = SmallImage();
        var emulator = Records(image).First(r => r.Is(LibxlRecordType.EmulatorContext));
        var cut = image.AsSpan(0, (int)emulator.Offset + 16).ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(cut.AsSpan((int)emulator.Offset + 4), 128u << 20);

        var (allocated, arrived) = Measure(cut, ReadAll);
        Assert.True(allocated <= Bound(arrived), $"{allocated} bytes allocated for {arrived} bytes read");
        Assert.True(allocated < 1_000_000, $"{allocated} bytes allocated");
    }

    [Fact]
    public void Random_mutations_of_a_small_image_stay_within_the_documented_bound()
    {
        var image = SmallImage();
        var records = Records(image);
        var random = new Random(20261202);
        var worstRatio = 0.0;
        for (var i = 0; i < 400; i++)
        {
            var bytes = (byte[])image.Clone();
            for (var m = random.Next(1, 4); m > 0; m--)
            {
                switch (random.Next(4))
                {
                    case 0: // a random byte anywhere
                        bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                        break;
                    case 1: // a record's length field
                        var h = (int)records[random.Next(records.Count)].Offset;
                        if (h + 8 <= bytes.Length) BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(h + 4), RandomSize(random));
                        break;
                    case 2: // the first word of a record's body (PAGE_DATA count, emulator id, vcpu id, ...)
                        var r = records[random.Next(records.Count)];
                        if (r.Length >= 4 && r.Offset + 12 <= bytes.Length) BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)r.Offset + 8), RandomSize(random));
                        break;
                    default: // cut short
                        Array.Resize(ref bytes, random.Next(bytes.Length));
                        break;
                }
            }
            foreach (var consume in new Action<Stream>[] { Verify, ReadAll })
            {
                var (allocated, arrived) = Measure(bytes, consume);
                Assert.True(allocated <= Bound(arrived), $"mutation {i}: {allocated} bytes allocated for {arrived} bytes read");
                if (arrived > 0) worstRatio = Math.Max(worstRatio, (double)(allocated - ImageStreamReader.AllocationAllowance) / arrived);
            }
        }
        Assert.True(worstRatio <= ImageStreamReader.AllocationFactor);
    }

    private static uint RandomSize(Random random) => random.Next(3) switch
    {
        0 => (uint)random.Next(1, 64),
        1 => (uint)random.Next(1, 1 << 20),
        _ => (uint)random.NextInt64(1, uint.MaxValue),
    };

    /// <summary>An unseekable stream that counts the bytes it hands out and delivers them in short pieces.</summary>
    private sealed class CountingPipe(byte[] data) : Stream
    {
        private int _position;

        public long Delivered => _position;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = Math.Min(Math.Min(buffer.Length, 5000), data.Length - _position);
            data.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void Flush() { }
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
