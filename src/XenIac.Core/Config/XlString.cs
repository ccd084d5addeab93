using System.Text;

namespace XenIac.Core.Config;

/// <summary>A string value. Bare numbers in xl.cfg are strings too: xl keeps their text and converts on use.</summary>
public sealed record XlString(string Text) : XlValue
{
    /// <summary>
    /// Reads <see cref="Text"/> as xl's <c>xlu_cfg_get_long</c> does (C <c>strtol</c>, base 0): leading white
    /// space and a sign are allowed, <c>0x</c> means hex, a leading <c>0</c> means octal (so <c>010</c> is 8 and
    /// <c>08</c> is not a number), nothing may follow, and the value must fit a 64-bit long.
    /// </summary>
    public bool TryGetLong(out long value, out string? error)
    {
        value = 0;
        var s = Text;
        var i = 0;
        while (i < s.Length && s[i] is ' ' or '\t' or '\n' or '\v' or '\f' or '\r') i++;
        var negative = false;
        if (i < s.Length && s[i] is '+' or '-') negative = s[i++] == '-';
        var radix = 10;
        if (i < s.Length && s[i] == '0')
        {
            if (i + 2 < s.Length && s[i + 1] is 'x' or 'X' && HexValue(s[i + 2]) >= 0)
            {
                radix = 16;
                i += 2;
            }
            else
            {
                radix = 8;
            }
        }
        var magnitude = 0UL;
        var overflow = false;
        var any = false;
        for (; i < s.Length; i++)
        {
            var d = HexValue(s[i]);
            if (d < 0 || d >= radix) break;
            any = true;
            var next = magnitude * (ulong)radix + (ulong)d;
            if (magnitude > (ulong.MaxValue - (ulong)d) / (ulong)radix) overflow = true;
            else magnitude = next;
        }
        if (!any)
        {
            error = "is not a valid number";
            return false;
        }
        if (overflow || magnitude > (negative ? 1UL << 63 : long.MaxValue))
        {
            error = "is out of range for a number";
            return false;
        }
        if (i != s.Length)
        {
            error = radix == 8 && i < s.Length && s[i] is '8' or '9'
                ? "is not a valid number (a leading 0 means octal)"
                : "is not a valid number";
            return false;
        }
        value = negative ? (long)(0UL - magnitude) : (long)magnitude;
        error = null;
        return true;
    }

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    /// <summary>
    /// Bare when xl would read it back as the same text (a number token); otherwise quoted. Only the quote,
    /// backslash and newline need escapes; xl's numeric escapes never worked, so other bytes are written as is
    /// (raw bytes held as <see cref="XlText"/> escapes go back to the same bytes when the text is encoded).
    /// </summary>
    public override string ToXl()
    {
        if (IsBareNumber(Text)) return Text;
        if (Text.Contains('\0')) throw new ArgumentException("xl.cfg strings cannot hold NUL characters (xl aborts on them).");
        var quote = Text.Contains('\'') && !Text.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder(Text.Length + 2).Append(quote);
        foreach (var c in Text)
        {
            if (c == quote || c == '\\') sb.Append('\\').Append(c);
            else if (c == '\n') sb.Append("\\n");
            else sb.Append(c);
        }
        return sb.Append(quote).ToString();
    }

    internal static bool IsBareNumber(string text) =>
        text.Length > 0 && char.IsAsciiDigit(text[0]) && text.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f' or 'x');

    public override string ToString() => Text;
}
