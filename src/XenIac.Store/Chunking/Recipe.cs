using System.Buffers.Binary;

namespace XenIac.Store.Chunking;

/// <summary>One entry of a recipe: a chunk's digest, raw length and kind.</summary>
public readonly record struct RecipeEntry(string Chunk, int Bytes, ChunkKind Kind);

/// <summary>
/// The binary form of a recipe part: "XIACRCP1", u32 count, then per chunk its 32-byte digest, u32 raw length
/// and u8 kind (little-endian). A part holds at most <see cref="EntriesPerPart"/> entries (just under 1 MiB), so a
/// savefile of any size is described by parts that are read one at a time: memory stays flat.
/// </summary>
public static class Recipe
{
    private static ReadOnlySpan<byte> Magic => "XIACRCP1"u8;
    private const int HeaderLength = 12;
    public const int EntryLength = ChunkCodec.DigestLength + 4 + 1;
    public const int EntriesPerPart = ((1 << 20) - HeaderLength) / EntryLength;
    public const int MaxPartBytes = HeaderLength + EntriesPerPart * EntryLength;
    /// <summary>Largest raw chunk any writer makes (a meta chunk); a recipe that says more is damaged.</summary>
    public const int MaxChunkBytes = 1 << 20;

    public static byte[] Encode(IReadOnlyList<RecipeEntry> entries)
    {
        if (entries.Count > EntriesPerPart) throw new ArgumentException("too many entries for one part", nameof(entries));
        var data = new byte[HeaderLength + entries.Count * EntryLength];
        Magic.CopyTo(data);
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(8), (uint)entries.Count);
        var at = HeaderLength;
        foreach (var e in entries)
        {
            Convert.FromHexString(e.Chunk, data.AsSpan(at, ChunkCodec.DigestLength), out _, out _);
            BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(at + ChunkCodec.DigestLength), (uint)e.Bytes);
            data[at + ChunkCodec.DigestLength + 4] = (byte)e.Kind;
            at += EntryLength;
        }
        return data;
    }

    /// <exception cref="StoreException">The part is malformed (named by <paramref name="name"/>).</exception>
    public static List<RecipeEntry> Decode(ReadOnlySpan<byte> data, string name)
    {
        if (data.Length < HeaderLength || !data[..8].SequenceEqual(Magic))
            throw new StoreException(StoreError.Damaged, $"recipe chunk {name} does not start with its magic");
        var count = BinaryPrimitives.ReadUInt32LittleEndian(data[8..]);
        if (count > EntriesPerPart || data.Length != HeaderLength + (long)count * EntryLength)
            throw new StoreException(StoreError.Damaged, $"recipe chunk {name} says {count} entries but holds {data.Length} bytes");
        var entries = new List<RecipeEntry>((int)count);
        for (var at = HeaderLength; at < data.Length; at += EntryLength)
        {
            var bytes = BinaryPrimitives.ReadUInt32LittleEndian(data[(at + ChunkCodec.DigestLength)..]);
            var kind = data[at + ChunkCodec.DigestLength + 4];
            if (bytes is 0 or > MaxChunkBytes || kind > (byte)ChunkKind.Pages)
                throw new StoreException(StoreError.Damaged, $"recipe chunk {name} has an entry of {bytes} bytes, kind {kind}");
            entries.Add(new RecipeEntry(Convert.ToHexStringLower(data.Slice(at, ChunkCodec.DigestLength)), (int)bytes, (ChunkKind)kind));
        }
        return entries;
    }
}
