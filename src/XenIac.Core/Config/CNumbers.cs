namespace XenIac.Core.Config;

/// <summary>
/// Numbers as the C library reads them where xl and libxlutil read a device spec (glibc's scanf %x, atoi, strtoul):
/// their quirks (white space and a sign before the digits, 0x, a leading 0 octal, anything after ignored, wrapping
/// and saturation) decide what a spec means, so they are reproduced here, in one place.
/// </summary>
internal static class CNumbers
{
    internal static bool IsCSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    /// <summary>
    /// A hexadecimal number as glibc's scanf %x reads one into an unsigned int: white space skipped, one sign, "0x"
    /// taken even with no digit after it (then the number is the 0), a value beyond 64 bits saturated, then cut to
    /// 32 bits, a negative one wrapped. False when no digit was read.
    /// </summary>
    internal static bool ScanHex(string s, int start, out uint value, out int end)
    {
        value = 0;
        end = start;
        var at = start;
        while (at < s.Length && IsCSpace(s[at])) at++;
        var negative = false;
        if (at < s.Length && s[at] is '+' or '-') negative = s[at++] == '-';
        var digits = 0;
        ulong magnitude = 0;
        var saturated = false;
        if (at < s.Length && s[at] == '0')
        {
            at++;
            digits++;
            if (at < s.Length && s[at] is 'x' or 'X') at++;
        }
        for (; at < s.Length && char.IsAsciiHexDigit(s[at]); at++, digits++)
        {
            if (magnitude > ulong.MaxValue >> 4) saturated = true;
            magnitude = (magnitude << 4) | (uint)(char.IsAsciiDigit(s[at]) ? s[at] - '0' : (s[at] | 0x20) - 'a' + 10);
        }
        if (digits == 0) return false;
        var full = saturated ? ulong.MaxValue : negative ? unchecked(0UL - magnitude) : magnitude;
        value = unchecked((uint)full);
        end = at;
        return true;
    }

    /// <summary>C's atoi: white space, a sign, decimal digits, the rest ignored; saturated at 64 bits, then cut to an int as glibc does.</summary>
    internal static int Atoi(string s)
    {
        var at = 0;
        while (at < s.Length && IsCSpace(s[at])) at++;
        var negative = false;
        if (at < s.Length && s[at] is '+' or '-') negative = s[at++] == '-';
        long value = 0;
        var saturated = false;
        for (; at < s.Length && char.IsAsciiDigit(s[at]); at++)
        {
            if (!saturated && value > (long.MaxValue - (s[at] - '0')) / 10) saturated = true;
            if (!saturated) value = value * 10 + (s[at] - '0');
        }
        var result = saturated ? (negative ? long.MinValue : long.MaxValue) : negative ? -value : value;
        return unchecked((int)result);
    }

    /// <summary>C's strtoul with base 0 (white space, a sign, 0x hex, a leading 0 octal, the rest ignored; 0 when no digit).</summary>
    internal static ulong Strtoul(string s) => Strtoul(s, out _);

    /// <summary><see cref="Strtoul(string)"/>, with where the number ended (where the text after it starts).</summary>
    internal static ulong Strtoul(string s, out int end)
    {
        var at = 0;
        while (at < s.Length && s[at] is ' ' or '\t' or '\n' or '\v' or '\f' or '\r') at++;
        var negative = false;
        if (at < s.Length && s[at] is '+' or '-') negative = s[at++] == '-';
        var radix = 10u;
        if (at < s.Length && s[at] == '0')
        {
            radix = 8;
            if (at + 2 < s.Length && s[at + 1] is 'x' or 'X' && char.IsAsciiHexDigit(s[at + 2])) { radix = 16; at += 2; }
        }
        ulong n = 0;
        var overflow = false;
        for (; at < s.Length; at++)
        {
            var d = char.IsAsciiDigit(s[at]) ? (uint)(s[at] - '0') : char.IsAsciiHexDigit(s[at]) ? (uint)((s[at] | 0x20) - 'a' + 10) : 99u;
            if (d >= radix) break;
            if (n > (ulong.MaxValue - d) / radix) overflow = true;
            else n = n * radix + d;
        }
        end = at;
        return overflow ? ulong.MaxValue : negative ? unchecked(0UL - n) : n;
    }
}
