using CsCheck;
using XenIac.Core.SaveFiles;

namespace XenIac.Core.Tests.SaveFiles;

/// <summary>Random headers round-trip; random damage only ever yields the codec's own exception.</summary>
public sealed class SaveFilePropertyTests
{
    private static readonly Gen<SaveFileHeader> GenHeader =
        from order in Gen.Enum<SaveFileByteOrder>()
        from known in Gen.UInt[0, 3]
        from optional in Gen.UInt
        from hasOptional in Gen.Bool
        from config in Gen.Byte.Array[0, 300]
        from extension in Gen.Byte.Array[0, 40]
        select new SaveFileHeader
        {
            ByteOrder = order,
            MandatoryFlags = known,
            OptionalFlags = optional,
            ConfigBytes = hasOptional ? config : null,
            Extension = hasOptional ? extension : [],
        };

    [Fact]
    public void Random_headers_round_trip_byte_for_byte_on_seekable_and_pipe_streams()
    {
        GenHeader.Select(Gen.Byte.Array[0, 64]).Sample((header, image) =>
        {
            var bytes = TestData.Concat(header.ToBytes(), image);
            var fromSeekable = SaveFileHeader.Read(new MemoryStream(bytes));
            var pipe = new PipeLikeStream(bytes, 5);
            var fromPipe = SaveFileHeader.Read(pipe);
            return fromSeekable == header && fromPipe == header
                && fromPipe.ToBytes().AsSpan().SequenceEqual(header.ToBytes())
                && pipe.Consumed == header.ImageOffset;
        }, iter: 2000);
    }

    [Fact]
    public void Damaged_headers_throw_only_XenFormatException()
    {
        var damage =
            from header in GenHeader
            from cut in Gen.Int[0, 400]
            from flips in Gen.Select(Gen.Int[0, 400], Gen.Byte).Array[0, 6]
            select (header, cut, flips);

        damage.Sample(t =>
        {
            var bytes = t.header.ToBytes();
            foreach (var (at, value) in t.flips)
                if (at < bytes.Length) bytes[at] = value;
            bytes = bytes[..Math.Min(bytes.Length, t.cut)];
            foreach (var stream in new Stream[] { new MemoryStream(bytes), new PipeLikeStream(bytes, 3) })
            {
                try { SaveFileHeader.Read(stream, new SaveFileReaderOptions { Strict = true }); }
                catch (XenFormatException) { }
            }
        }, iter: 3000);
    }
}
