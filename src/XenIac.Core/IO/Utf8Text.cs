namespace XenIac.Core.IO;

/// <summary>
/// Text files that must be UTF-8 (a manifest, a libxl JSON config) decoded strictly: a byte that is not UTF-8 is found
/// with its place, where decoding leniently would put U+FFFD into names and paths nobody wrote.
/// </summary>
internal static class Utf8Text
{
    /// <summary>Where a byte that is not UTF-8 stands, lines and columns from 1 (columns in characters).</summary>
    public readonly record struct InvalidByte(byte Value, int Line, int Column);

    /// <summary>The text of <paramref name="bytes"/>, or where its first byte that is not UTF-8 is.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> bytes, out string text, out InvalidByte invalid)
    {
        var chars = new char[bytes.Length];
        var status = System.Text.Unicode.Utf8.ToUtf16(bytes, chars, out var read, out var written, replaceInvalidSequences: false);
        if (status == System.Buffers.OperationStatus.Done)
        {
            text = new string(chars, 0, written);
            invalid = default;
            return true;
        }
        var before = chars.AsSpan(0, written);
        text = "";
        invalid = new InvalidByte(bytes[read], 1 + before.Count('\n'), written - before.LastIndexOf('\n'));
        return false;
    }
}
