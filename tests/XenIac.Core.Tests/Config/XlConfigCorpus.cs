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
