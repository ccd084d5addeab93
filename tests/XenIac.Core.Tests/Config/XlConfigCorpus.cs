using System.Text;

namespace XenIac.Core.Tests.Config;

/// <summary>
/// The differential corpus: hand-written configs for each rule and quirk of Xen's parser, plus generated ones
/// (a fixed seed, so a failure reproduces): grammar-built configs and mutations of them, most of them invalid.
/// </summary>
internal static class XlConfigCorpus
{
    public const int Seed = 20260417;

    public static readonly string[] KeyPool = ["a", "b", "memory", "vif", "disk", "x.y", "k_1", "name", "z9"];

    public static IEnumerable<(string Name, string Text)> HandWritten()
    {
        // Valid.
        yield return ("simple", "name = \"tiny\"\nmemory = 32\n");
        yield return ("no final newline", "memory = 32");
        yield return ("semicolons", "a = 1; b = 2;");
        yield return ("empty", "");
        yield return ("only blank lines", "\n\n\n");
        yield return ("only semicolons", ";;\n;");
        yield return ("tabs", "\ta\t=\t1\t\n");
        yield return ("comment lines", "# hello\n  # indented\na = 1 # trailing\n");
        yield return ("comment with CR inside", "# Windows\r\na = 1\n");
        yield return ("single quotes", "a = 'it''s'\n".Replace("''", "\\'"));
        yield return ("double quotes with single inside", "a = \"it's\"\n");
        yield return ("escapes", "a = 'tab\\there\\nnl \\\\ \\\" \\a\\b\\f\\r\\v'\n");
        yield return ("octal escape swallows digits", "a = 'x\\012y'\n");
        yield return ("octal escape with space then digit", "a = 'x\\0 1y'\n");
        yield return ("octal escape with sign", "a = 'x\\1-5y'\n");
        yield return ("CR inside string", "a = 'x\ry'\n");
        yield return ("UTF-8 in string", "a = 'grüße'\n");
        yield return ("hex number", "a = 0x1f\n");
        yield return ("octal number", "a = 010\n");
        yield return ("leading zero 08 is a string", "a = 08\n");
        yield return ("number-looking words", "a = 1abc\nb = 0xx\n");
        yield return ("huge number", "a = 99999999999999999999\n");
        yield return ("max long", "a = 9223372036854775807\nb = 0x7fffffffffffffff\n");
        yield return ("quoted negative number", "a = '-12'\nb = ' 7'\n");
        yield return ("quoted trailing space", "a = '7 '\n");
        yield return ("quoted upper hex", "a = '0X1F'\n");
        yield return ("empty string", "a = ''\n");
        yield return ("empty list", "a = []\n");
        yield return ("list", "a = [ 'x', 'y' ]\n");
        yield return ("list trailing comma", "a = [ 'x', 'y', ]\n");
        yield return ("list multi-line", "a = [\n  'x',\n  'y',\n]\n");
        yield return ("list newline before comma", "a = [ 'x'\n , 'y'\n ]\n");
        yield return ("list with comments", "a = [ # first\n 'x', # x\n]\n");
        yield return ("nested list", "a = [ 1, [2, [3]], [] ]\n");
        yield return ("duplicate key last wins", "a = 1\na = 2\n");
        yield return ("plus-equals string", "a = 'x'\na += 'y'\n");
        yield return ("plus-equals list", "a = ['x']\na += ['y', 'z']\n");
        yield return ("plus-equals without previous", "a += 5\n");
        yield return ("plus-equals number then assign", "a = 1\na += 2\na = 3\n");
        yield return ("dotted and underscored keys", "x.y = 1\nk_1 = 2\nz9 = 3\n");
        yield return ("stray byte at end of file is ignored", "a = 1\n#");
        yield return ("stray symbol at end is ignored", "a = 1 %");
        yield return ("CR at very end is ignored", "a = 1\r");
        yield return ("upper case letter at very end is ignored", "a = 1\nA");
        yield return ("quote at very end is ignored", "a = 1\n'");
        yield return ("assignment then semicolon then comment", "a = 1; # c\n");
        yield return ("only a NUL", "\0");
        yield return ("NUL in a comment", "# a\0b\na = 1 # \0\n");
        yield return ("NUL ending the file", "a = 1\n\0");
        yield return ("bytes that are not UTF-8 in strings", "a = '\uDCFF\uDCC3('\nb = [ \"\uDCE2\uDC82\", 'ok\uDCED\uDCA0\uDC80' ]\n");
        yield return ("a byte that is not UTF-8 ending the file", "a = 1\n\uDCFF");
        yield return ("deepest first-item nesting", "x = " + new string('[', 4996) + new string(']', 4996) + "\n");
        // Invalid.
        yield return ("CRLF", "a = 1\r\nb = 2\r\n");
        yield return ("comment at end without newline", "a = 1\n# end");
        yield return ("trailing comment without newline", "a = 1 # end");
        yield return ("upper-case key", "Memory = 32\n");
        yield return ("upper-case inside key", "memOry = 32\n");
        yield return ("upper-case hex", "a = 0xFF\n");
        yield return ("upper-case X", "a = 0X1f\n");
        yield return ("negative number", "a = -1\n");
        yield return ("decimal number", "a = 1.5\n");
        yield return ("python call", "a = f(1)\n");
        yield return ("bare word", "a = hello\n");
        yield return ("missing value", "a =\n");
        yield return ("missing equals", "a 1\n");
        yield return ("two statements on a line", "a = 1 b = 2\n");
        yield return ("unterminated string", "a = 'abc\nb = 1\n");
        yield return ("string across lines with backslash", "a = 'abc\\\ndef'\n");
        yield return ("hex escape", "a = '\\x41'\n");
        yield return ("short octal escape", "a = '\\01'\n");
        yield return ("octal escape 8", "a = '\\8'\n");
        yield return ("unknown escape", "a = '\\q'\n");
        yield return ("double comma", "a = [1,,2]\n");
        yield return ("leading comma", "a = [,1]\n");
        yield return ("only comma", "a = [,]\n");
        yield return ("unclosed list", "a = [1, 2\n");
        yield return ("list newline before value", "a =\n[1]\n");
        yield return ("plus-equals list to string", "a = 'x'\na += ['y']\n");
        yield return ("plus-equals string to list", "a = ['x']\na += 'y'\n");
        yield return ("lone plus", "a = 1 + 2\n");
        yield return ("key starting with underscore", "_a = 1\n");
        yield return ("key starting with digit", "1a = 1\n");
        yield return ("value starting statement", "'a' = 1\n");
        yield return ("equals only", "= 1\n");
        yield return ("non-ASCII key", "ä = 1\n");
        yield return ("stray bracket", "a = 1]\n");
        yield return ("colon", "a = 1:2\n");
        yield return ("lone CR line", "a = 1\n\r\nb = 2\n");
        yield return ("two stray bytes at end", "a = 1\n%%");
        yield return ("error then good lines", "a = 'x\nb = 2\nc = 3\n");
        yield return ("two NULs", "\0\0");
        yield return ("NUL then newline", "a = 1\n\0\n");
        yield return ("byte that is not UTF-8 outside a string", "a = \uDCFF1\n");
        yield return ("one level past the nesting limit", "x = " + new string('[', 4997) + new string(']', 4997) + "\n");
        yield return ("nesting limit as later items", "x = " + string.Concat(Enumerable.Repeat("[1, ", 2000)) + new string(']', 2000) + "\n");
    }

    /// <summary>Grammar-built configs; valid unless a generated '+=' mixes a list and a string.</summary>
    public static IEnumerable<string> Generated(int count)
    {
        var rng = new Random(Seed);
        for (var i = 0; i < count; i++) yield return Config(rng);
    }

    /// <summary>Generated configs with 1-3 random edits from the characters that matter to the lexer.</summary>
    public static IEnumerable<string> Mutated(int count)
    {
        var rng = new Random(Seed + 1);
        const string alphabet = " \t\n\r;,=[]'\"#+-.xAFX0189azZ\\_%";
        for (var i = 0; i < count; i++)
        {
            var sb = new StringBuilder(Config(rng));
            var edits = rng.Next(1, 4);
            for (var e = 0; e < edits; e++)
            {
                var at = sb.Length == 0 ? 0 : rng.Next(sb.Length + 1);
                var c = alphabet[rng.Next(alphabet.Length)];
                switch (rng.Next(3))
                {
                    case 0: sb.Insert(at, c); break;
                    case 1 when at < sb.Length: sb.Remove(at, 1); break;
                    default: if (at < sb.Length) sb[at] = c; else sb.Append(c); break;
                }
            }
            yield return sb.ToString();
        }
    }

    /// <summary>Short random texts over all of printable ASCII plus tab, LF and CR, half of them after "a = ".</summary>
    public static IEnumerable<string> RandomText(int count)
    {
        var rng = new Random(Seed + 2);
        for (var i = 0; i < count; i++)
        {
            var sb = new StringBuilder(i % 2 == 0 ? "a = " : "");
            var len = rng.Next(0, 16);
            for (var j = 0; j < len; j++)
            {
                var r = rng.Next(100);
                sb.Append(r < 3 ? '\t' : r < 8 ? '\n' : r < 10 ? '\r' : (char)rng.Next(0x20, 0x7f));
            }
            yield return sb.ToString();
        }
    }

    /// <summary>
    /// Random byte strings: NUL, bytes 0x80-0xFF (alone, in valid and in broken UTF-8 sequences), the lexer's
    /// punctuation and a few words, half of them inside a started string or list.
    /// </summary>
    public static IEnumerable<byte[]> RandomBytes(int count)
    {
        var rng = new Random(Seed + 3);
        string[] starts = ["", "a = '", "a = \"", "a = [ '", "# ", "a = 1 ", "b = [\n"];
        byte[][] pieces =
        [
            [0], [0], [0x80], [0xff], [0xc3], [0xc3, 0xa9], [0xe2, 0x82], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80],
            [0xed, 0xa0, 0x80], [0xc0, 0xaf], "'"u8.ToArray(), "\""u8.ToArray(), "\\"u8.ToArray(), "\n"u8.ToArray(),
            "\n"u8.ToArray(), " "u8.ToArray(), "\t"u8.ToArray(), "#"u8.ToArray(), ","u8.ToArray(), "["u8.ToArray(),
            "]"u8.ToArray(), "="u8.ToArray(), "+="u8.ToArray(), ";"u8.ToArray(), "a"u8.ToArray(), "7"u8.ToArray(),
            "0x1f"u8.ToArray(), "\r"u8.ToArray(), "A"u8.ToArray(), "%"u8.ToArray(), "'x'"u8.ToArray(),
        ];
        for (var i = 0; i < count; i++)
        {
            var bytes = new List<byte>(Encoding.ASCII.GetBytes(starts[rng.Next(starts.Length)]));
            var n = rng.Next(0, 12);
            for (var j = 0; j < n; j++)
                bytes.AddRange(rng.Next(5) == 0 ? [(byte)rng.Next(256)] : pieces[rng.Next(pieces.Length)]);
            if (rng.Next(3) > 0) bytes.AddRange("'\n"u8.ToArray()[rng.Next(2)..]);
            yield return [.. bytes];
        }
    }

    /// <summary>
    /// Lists nested close to the depth at which Xen's parser runs out of stack, in every position: as the first
    /// item or a later one of the list around them, with new lines and comments, empty or not at the bottom.
    /// </summary>
    public static IEnumerable<byte[]> DeepNesting(int count)
    {
        var rng = new Random(Seed + 4);
        // The exact boundary of the plainest shape, both sides of it.
        foreach (var d in new[] { 4994, 4995, 4996, 4997, 4998, 5000 })
            yield return Encoding.ASCII.GetBytes("x = " + new string('[', d) + new string(']', d) + "\n");
        for (var i = 0; i < count; i++)
        {
            var later = rng.NextDouble(); // share of levels that are a later item
            var newlines = rng.Next(4) == 0 ? 0.1 : 0.0;
            // About 2 parser states per first-item level and 5 per later one: aim at the limit of 10000.
            var depth = (int)(9996 / (2 + 3 * later)) + rng.Next(-4, 5);
            var sb = new StringBuilder(rng.Next(3) == 0 ? "a = 1\n" : "").Append("x = ");
            var closers = new Stack<string>();
            for (var d = 0; d < depth; d++)
            {
                sb.Append('[');
                if (rng.NextDouble() < newlines) sb.Append(rng.Next(2) == 0 ? "\n" : " # c\n");
                if (rng.NextDouble() < later) sb.Append(rng.Next(3) == 0 ? "'s',\n" : "1, ");
                closers.Push(rng.Next(8) == 0 ? ", 2]" : rng.Next(8) == 0 ? ",]" : "]");
            }
            sb.Append(rng.Next(2) == 0 ? "" : "'bottom'");
            while (closers.Count > 0) sb.Append(closers.Pop());
            sb.Append(rng.Next(2) == 0 ? "\n" : "");
            yield return Encoding.ASCII.GetBytes(sb.ToString());
        }
    }

    /// <summary>Long one-line configs: big lists, long strings and numbers, many statements on one line.</summary>
    public static IEnumerable<byte[]> LongLines()
    {
        var rng = new Random(Seed + 5);
        yield return Encoding.ASCII.GetBytes("disk = [ " + string.Join(", ", Enumerable.Range(0, 20000).Select(i => $"'phy:/dev/vg/d{i},xvd{i},w'")) + " ]\n");
        yield return Encoding.UTF8.GetBytes("a = '" + string.Concat(Enumerable.Range(0, 50000).Select(_ => "é\\t")) + "'\n");
        yield return Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 5000).Select(i => $"k_{i} = {i}; ")) + "a = 1");
        yield return Encoding.ASCII.GetBytes("a = " + new string('9', 100000) + "\n");
        var bytes = Encoding.ASCII.GetBytes("b = [ " + string.Join(",", Enumerable.Range(0, 30000).Select(i => "'" + (char)('a' + i % 26) + "'")) + " ]   ").ToList();
        bytes.AddRange(new byte[] { (byte)rng.Next(0x80, 0x100) });
        yield return [.. bytes];
        yield return [.. Encoding.ASCII.GetBytes("a = [ " + string.Join(", ", Enumerable.Range(0, 10000).Select(i => "'x'"))), (byte)'%', (byte)'%'];
    }

    /// <summary>
    /// Whether Xen's parser could abort on these bytes, which would kill the test process: its unquoting
    /// asserts there is no NUL inside a string. A string cannot span lines, so only a NUL after a quote on the
    /// same line can be inside one; such inputs are kept out of the in-process comparison.
    /// </summary>
    public static bool CouldAbortXen(byte[] data)
    {
        var quoteOnLine = false;
        foreach (var b in data)
        {
            if (b == (byte)'\n') quoteOnLine = false;
            else if (b is (byte)'\'' or (byte)'"') quoteOnLine = true;
            else if (b == 0 && quoteOnLine) return true;
        }
        return false;
    }

    public static string Config(Random rng)
    {
        var sb = new StringBuilder();
        var n = rng.Next(0, 7);
        for (var i = 0; i < n; i++)
        {
            if (rng.Next(6) == 0) sb.Append(rng.Next(2) == 0 ? "# comment " + rng.Next(100) + "\n" : "\n");
            sb.Append(Blank(rng));
            sb.Append(KeyPool[rng.Next(KeyPool.Length)]);
            sb.Append(Blank(rng)).Append(rng.Next(5) == 0 ? "+=" : "=").Append(Blank(rng));
            sb.Append(Value(rng, 0));
            sb.Append(Blank(rng));
            var last = i == n - 1;
            switch (rng.Next(6))
            {
                case 0: sb.Append(';'); if (!last && rng.Next(2) == 0) sb.Append(' '); else sb.Append('\n'); break;
                case 1: sb.Append("# note\n"); break;
                case 2 when last: break;
                default: sb.Append('\n'); break;
            }
        }
        return sb.ToString();
    }

    private static string Blank(Random rng) => rng.Next(4) switch { 0 => "", 1 => " ", 2 => "\t", _ => "  " };

    private static string Value(Random rng, int depth)
    {
        switch (rng.Next(depth < 2 ? 7 : 5))
        {
            case 0:
                return rng.Next(8) switch
                {
                    0 => "0x" + rng.Next(0, 1 << 20).ToString("x"),
                    1 => "0" + Convert.ToString(rng.Next(0, 512), 8),
                    2 => "08",
                    3 => rng.NextInt64().ToString() + (rng.Next(2) == 0 ? "9" : ""),
                    4 => "1e5",
                    _ => rng.Next(0, 100000).ToString(),
                };
            case 1 or 2 or 3:
                return Quoted(rng);
            case 4:
                return "'" + (rng.Next(2) == 0 ? "-" : " ") + rng.Next(1000) + "'";
            default:
                var items = rng.Next(0, 4);
                var nl = rng.Next(3) == 0;
                var sb = new StringBuilder("[").Append(nl ? "\n" : Blank(rng));
                for (var i = 0; i < items; i++)
                {
                    sb.Append(Value(rng, depth + 1)).Append(nl && rng.Next(2) == 0 ? "\n" : "");
                    if (i < items - 1 || rng.Next(3) == 0) sb.Append(',').Append(nl ? "\n" : Blank(rng));
                }
                return sb.Append(']').ToString();
        }
    }

    private static string Quoted(Random rng)
    {
        var q = rng.Next(2) == 0 ? '\'' : '"';
        var sb = new StringBuilder().Append(q);
        var len = rng.Next(0, 12);
        string[] pieces = ["a", "Z", " ", "\t", "é", "/dev/xvda", "phy:", ",", "=", "#", "\\n", "\\t", "\\\\", "\\'", "\\\"", "\\012", "\\7 1", "\r", q == '\'' ? "\"" : "'", "br0", "00:16:3e:01:02:03"];
        for (var i = 0; i < len; i++) sb.Append(pieces[rng.Next(pieces.Length)]);
        return sb.Append(q).ToString();
    }
}
