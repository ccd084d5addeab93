using System.Buffers.Binary;

namespace XenIac.Store.Chunking;

/// <summary>Where a stored chunk lies: its pack, its offset in the pack and its stored (coded) length.</summary>
public readonly record struct ChunkLocation(string Pack, long Offset, int Stored);

/// <summary>One entry of a recipe: a chunk's name, raw length, kind and location.</summary>
public readonly record struct RecipeEntry(string Chunk, int Bytes, ChunkKind Kind, ChunkLocation Where);

/// <summary>
/// The binary form of a recipe part: "XIACRCP2", u32 pack count, u32 entry count, the 16-byte ids of the packs
/// the part uses, then per chunk its 32-byte name, u32 raw length, u32 stored length, u32 offset in its pack,
/// u32 index into the pack list and u8 kind (little-endian). A part holds at most <see cref="EntriesPerPart"/>
/// entries (about 1 MiB), so a savefile of any size is described by parts read one at a time: memory stays flat.
/// </summary>
public static class Recipe
{
    private static ReadOnlySpan<byte> Magic => "XIACRCP2"u8;
    private const int HeaderLength = 16;
    private const int PackIdLength = 16;
    private const int EntryLength = ChunkCodec.DigestLength + 4 + 4 + 4 + 4 + 1;
    public const int EntriesPerPart = 16384;
    public const int MaxPartBytes = HeaderLength + EntriesPerPart * (PackIdLength + EntryLength);
    /// <summary>Largest raw chunk any writer makes (a meta chunk); a recipe that says more is damaged.</summary>
    public const int MaxChunkBytes = 1 << 20;

    /// <summary>A stored chunk is never much bigger than its raw bytes (a coding byte, zstd's frame, an AES envelope).</summary>
    public static int MaxStored(int rawBytes) => rawBytes + 1024 + rawBytes / 128;

    public static byte[] Encode(IReadOnlyList<RecipeEntry> entries)
    {
        if (entries.Count > EntriesPerPart) throw new ArgumentException("too many entries for one part", nameof(entries));
        var packs = new Dictionary<string, int>();
        foreach (var e in entries) packs.TryAdd(e.Where.Pack, packs.Count);
        var data = new byte[HeaderLength + packs.Count * PackIdLength + entries.Count * EntryLength];
        Magic.CopyTo(data);
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(8), (uint)packs.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(12), (uint)entries.Count);
        var at = HeaderLength;
        foreach (var (pack, _) in packs.OrderBy(p => p.Value))
        {
            Convert.FromHexString(pack, data.AsSpan(at, PackIdLength), out _, out _);
            at += PackIdLength;
        }
        foreach (var e in entries)
        {
            Convert.FromHexString(e.Chunk, data.AsSpan(at, ChunkCodec.DigestLength), out _, out _);
            var p = at + ChunkCodec.DigestLength;
            BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(p), (uint)e.Bytes);
            BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(p + 4), (uint)e.Where.Stored);
            BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(p + 8), checked((uint)e.Where.Offset));
            BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(p + 12), (uint)packs[e.Where.Pack]);
            data[p + 16] = (byte)e.Kind;
            at += EntryLength;
        }
        return data;
    }

    /// <exception cref="StoreException">The part is malformed (named by <paramref name="name"/>).</exception>
    public static List<RecipeEntry> Decode(ReadOnlySpan<byte> data, string name)
    {
        if (data.Length < HeaderLength || !data[..8].SequenceEqual(Magic))
            throw Damaged(name, "does not start with its magic");
        var packCount = BinaryPrimitives.ReadUInt32LittleEndian(data[8..]);
        var count = BinaryPrimitives.ReadUInt32LittleEndian(data[12..]);
        if (count > EntriesPerPart || packCount > count + 1
            || data.Length != HeaderLength + (long)packCount * PackIdLength + (long)count * EntryLength)
            throw Damaged(name, $"says {packCount} packs and {count} entries but holds {data.Length} bytes");
        var packs = new string[packCount];
        var at = HeaderLength;
        for (var i = 0; i < packs.Length; i++, at += PackIdLength) packs[i] = Convert.ToHexStringLower(data.Slice(at, PackIdLength));
        var entries = new List<RecipeEntry>((int)count);
        for (; at < data.Length; at += EntryLength)
        {
            var p = at + ChunkCodec.DigestLength;
            var bytes = BinaryPrimitives.ReadUInt32LittleEndian(data[p..]);
            var stored = BinaryPrimitives.ReadUInt32LittleEndian(data[(p + 4)..]);
            var offset = BinaryPrimitives.ReadUInt32LittleEndian(data[(p + 8)..]);
            var pack = BinaryPrimitives.ReadUInt32LittleEndian(data[(p + 12)..]);
            var kind = data[p + 16];
            if (bytes is 0 or > MaxChunkBytes || stored is 0 || stored > MaxStored((int)bytes) || pack >= packCount
                || offset > PackWriter.MaxPackBytes || kind > (byte)ChunkKind.Pages)
                throw Damaged(name, $"has an impossible entry ({bytes} bytes, {stored} stored at {offset} in pack {pack}, kind {kind})");
            entries.Add(new RecipeEntry(Convert.ToHexStringLower(data.Slice(at, ChunkCodec.DigestLength)), (int)bytes, (ChunkKind)kind,
                new ChunkLocation(packs[pack], offset, (int)stored)));
        }
        return entries;
    }

    private static StoreException Damaged(string name, string why) => new(StoreError.Damaged, $"recipe {name} {why}");
}
