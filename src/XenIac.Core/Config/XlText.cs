using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace XenIac.Core.Config;

/// <summary>
/// xl.cfg text is bytes: xl copies string values byte for byte, valid UTF-8 or not. XenIac keeps them in .NET
/// strings losslessly the way Python's "surrogateescape" does: valid UTF-8 decodes as usual, and each byte
/// that is not part of a valid sequence becomes the lone surrogate U+DC80..U+DCFF, which valid UTF-8 can never
/// produce. <see cref="Encode"/> turns those back into the same bytes, so decode then encode is the identity.
/// </summary>
public static class XlText
{
    private const char EscapeBase = '\uDC00';

    /// <summary>Bytes to a string, escaping each byte of an invalid UTF-8 sequence as U+DC80..U+DCFF.</summary>
    public static string Decode(ReadOnlySpan<byte> bytes)
    {
        if (Utf8.IsValid(bytes)) return Encoding.UTF8.GetString(bytes);
        var chars = new char[bytes.Length];
        var written = 0;
        while (bytes.Length > 0)
        {
            var status = Utf8.ToUtf16(bytes, chars.AsSpan(written), out var read, out var wrote, replaceInvalidSequences: false);
            written += wrote;
            bytes = bytes[read..];
            if (status == OperationStatus.Done) break;
            // InvalidData or NeedMoreData (a truncated sequence at the end): escape one byte and go on.
            chars[written++] = (char)(EscapeBase + bytes[0]);
            bytes = bytes[1..];
        }
        return new string(chars, 0, written);
    }

    /// <summary>
    /// A string to bytes: UTF-8, except that U+DC80..U+DCFF standing alone become the byte they escape. Other
    /// lone surrogates (which no decoded text contains) become U+FFFD, as with <see cref="Encoding.UTF8"/>.
    /// </summary>
    public static byte[] Encode(ReadOnlySpan<char> text)
    {
        var bytes = new byte[Encoding.UTF8.GetMaxByteCount(text.Length)];
        var written = 0;
        while (text.Length > 0)
        {
            var status = Utf8.FromUtf16(text, bytes.AsSpan(written), out var read, out var wrote, replaceInvalidSequences: false);
            written += wrote;
            text = text[read..];
            if (status == OperationStatus.Done) break;
            var c = text[0];
            if (c is >= '\uDC80' and <= '\uDCFF')
            {
                bytes[written++] = (byte)(c - EscapeBase);
            }
            else
            {
                "\uFFFD"u8.CopyTo(bytes.AsSpan(written));
                written += 3;
            }
            text = text[1..];
        }
        return bytes.AsSpan(0, written).ToArray();
    }
}
