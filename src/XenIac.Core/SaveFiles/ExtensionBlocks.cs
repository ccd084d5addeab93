namespace XenIac.Core.SaveFiles;

/// <summary>
/// Takes every block of one kind (integrity record, fingerprint) out of the optional data's extension bytes, as
/// taking out the first one again and again until none is left would, but in one pass: that way cost a copy of the
/// whole extension and a search from its start per block, so 64 KiB holding a few hundred blocks allocated 25 MB, and
/// the 64 MiB an extension may hold would never have finished.
/// </summary>
internal static class ExtensionBlocks
{
    /// <summary>How many bytes, from its magic, a block takes out (its stated length when that fits, else the rest).</summary>
    public delegate int Extent(ReadOnlySpan<byte> fromMagic, SaveFileByteOrder order);

    /// <param name="firstStart">Where the first block was, in the bytes returned; null when there was none.</param>
    public static byte[] RemoveAll(byte[] extension, ReadOnlySpan<byte> magic, Extent extent, SaveFileByteOrder order, out int? firstStart)
    {
        firstStart = null;
        if (extension.AsSpan().IndexOf(magic) < 0) return extension;
        // Compacted in place: buf[..kept] is the result so far, buf[next..] what is still to be read.
        var buf = (byte[])extension.Clone();
        int kept = 0, next = 0;
        while (buf.AsSpan(next).IndexOf(magic) is var at and >= 0)
        {
            Array.Copy(buf, next, buf, kept, at);
            kept += at;
            next += at;
            firstStart ??= kept;
            next += extent(buf.AsSpan(next), order);
            // The bytes on either side of a removed block are now neighbours and may spell a magic across the seam,
            // which the repeated search would have found: the kept tail that could start one moves next to the rest.
            var back = Math.Min(magic.Length - 1, kept);
            Array.Copy(buf, kept - back, buf, next - back, back);
            kept -= back;
            next -= back;
        }
        Array.Copy(buf, next, buf, kept, buf.Length - next);
        return buf[..(kept + buf.Length - next)];
    }
}
