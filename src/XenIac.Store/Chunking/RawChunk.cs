using System.Buffers;

namespace XenIac.Store.Chunking;

/// <summary>What a run of savefile bytes is, which decides how it is cut and how well it dedups.</summary>
public enum ChunkKind : byte
{
    /// <summary>Header, config, record framing, pfn lists and every non-page record.</summary>
    Meta = 0,
    /// <summary>Guest page contents of one PAGE_DATA record within one pfn window.</summary>
    Pages = 1,
    /// <summary>A snapshot's recipe (the ordered chunk list).</summary>
    Recipe = 2,
}

/// <summary>
/// One piece of a savefile in file order: a pooled buffer the consumer returns with <see cref="Dispose"/>.
/// </summary>
public sealed class RawChunk : IDisposable
{
    private byte[]? _buffer;

    internal RawChunk(long index, ChunkKind kind, byte[] buffer, int length)
    {
        Index = index;
        Kind = kind;
        _buffer = buffer;
        Length = length;
    }

    /// <summary>Position of this chunk in the savefile's chunk list.</summary>
    public long Index { get; }

    public ChunkKind Kind { get; }

    public int Length { get; }

    public ReadOnlyMemory<byte> Data => (_buffer ?? throw new ObjectDisposedException(nameof(RawChunk))).AsMemory(0, Length);

    public void Dispose()
    {
        var b = Interlocked.Exchange(ref _buffer, null);
        if (b is not null) ArrayPool<byte>.Shared.Return(b);
    }
}
