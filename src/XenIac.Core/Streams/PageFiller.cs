namespace XenIac.Core.Streams;

/// <summary>Fills <paramref name="page"/> with the contents of guest page <paramref name="pfn"/>.</summary>
public delegate void PageFiller(ulong pfn, Span<byte> page);
