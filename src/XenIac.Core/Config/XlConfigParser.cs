using System.Text;

namespace XenIac.Core.Config;

/// <summary>
/// Reads xl.cfg bytes exactly as Xen's libxlutil does (its flex lexer and bison grammar, as of Xen 4.17), but
/// stops at the first problem with a located, readable message instead of xl's "config parsing error near".
/// Xen rejects a file on any error, so stopping at the first one accepts and rejects the same files.
/// </summary>
internal sealed class XlConfigParser
{
    private enum Kind { Ident, Number, String, Equals, PlusEquals, Semicolon, Comma, Open, Close, Newline, End }

    private readonly record struct Token(Kind Kind, int Start, int End, int Line, int Column, string Text);

    private readonly byte[] _src;
    private readonly string _file;
    private int _pos;
    private int _line = 1;
    private int _lineStart;

    /// <summary>Bytes visited counting columns on this thread: what the linear-time tests count.</summary>
    [ThreadStatic] internal static long ColumnSteps;
    private int _columnOffset;
    private int _column = 1;
    private Token _peeked;
    private bool _hasPeeked;
    private Token? _previous;

    private XlConfigParser(byte[] source, string file)
    {
        _src = source;
        _file = file;
    }

    public static List<XlStatement> Parse(byte[] source, string file) => new XlConfigParser(source, file).ParseFile();

    /// <summary>Values read so far, against <see cref="ConfigLimits.MaxValues"/>.</summary>
    private int _values;

    private List<XlStatement> ParseFile()
    {
        var statements = new List<XlStatement>();
        while (true)
        {
            var t = Next();
            switch (t.Kind)
            {
                case Kind.End:
                    return statements;
                case Kind.Newline or Kind.Semicolon:
                    continue;
                case Kind.Ident:
                    statements.Add(ParseAssignment(t));
                    break;
                default:
                    throw Error(t, t.Kind == Kind.Number || t.Kind == Kind.String
                        ? $"expected a setting name, found the value {Describe(t)} (a setting is name = value)"
                        : $"expected a setting name, found {Describe(t)}");
            }
        }
    }

    private XlStatement ParseAssignment(Token key)
    {
        var op = Next();
        if (op.Kind is not (Kind.Equals or Kind.PlusEquals))
            throw Error(op, $"expected '=' or '+=' after '{key.Text}', found {Describe(op)}");
        var valueStart = Peek();
        // Allocated only for a list: most statements are scalars, and each is re-read on every edit.
        List<int>? itemStarts = null, itemEnds = null;
        var trailingComma = -1;
        var value = ParseValue(key.Text, ref itemStarts, ref itemEnds, ref trailingComma);
        var valueEnd = _previous!.Value.End;

        var end = Next();
        if (end.Kind is not (Kind.Newline or Kind.Semicolon or Kind.End))
            throw Error(end, $"expected a new line or ';' after the value of '{key.Text}', found {Describe(end)}");
        var span = new XlSpan(key.Start, op.Start, valueStart.Start, valueEnd,
            end.Kind == Kind.End ? valueEnd : end.End, end.Kind == Kind.Newline,
            (IReadOnlyList<int>?)itemStarts ?? [], (IReadOnlyList<int>?)itemEnds ?? [], trailingComma);
        return new XlStatement(key.Text, op.Kind == Kind.PlusEquals, value, key.Line, key.Column, span);
    }

    /// <summary>
    /// One value, iteratively: an explicit stack of open lists instead of recursion, so no nesting can overflow
    /// the thread's stack. <paramref name="states"/> follows how many states Xen's bison parser holds on its
    /// stack at each step (its grammar: <c>value: atom | '[' nlok valuelist ']'</c>, <c>values: value nlok |
    /// values ',' nlok value nlok</c>, <c>nlok: | nlok NEWLINE</c>), because that stack's limit is xl's only
    /// limit on nesting (<see cref="XlLimits.MaxParserStates"/>).
    /// </summary>
    private XlValue ParseValue(string key, ref List<int>? itemStarts, ref List<int>? itemEnds, ref int trailingComma)
    {
        const int statesBeforeValue = 4; // the initial state, stmts, IDENT and the operator
        List<OpenList>? open = null; // made on the first '[' (a scalar needs none)
        var states = statesBeforeValue;
        while (true)
        {
            // A value starts here, on top of `states` parser states.
            XlValue done;
            var t = Next();
            if (t.Kind is Kind.String or Kind.Number or Kind.Open && (++_values > ConfigLimits.MaxValues))
                throw Error(t, ConfigLimits.TooMany("config"));
            if (t.Kind is Kind.String or Kind.Number)
            {
                Grow(states + 1, t);
                done = new XlString(t.Text);
            }
            else if (t.Kind == Kind.Open)
            {
                Grow(states + 2, t); // '[' and the empty nlok after it
                SkipNewlines(states + 3);
                if (Peek().Kind == Kind.Close)
                {
                    Grow(states + 4, Next()); // the empty valuelist, then ']'
                    done = new XlList([]);
                }
                else
                {
                    open ??= [];
                    if (open.Count == 0) (itemStarts ??= []).Add(Peek().Start);
                    open.Add(new OpenList(states, []));
                    states += 2;
                    continue;
                }
            }
            else
            {
                throw Error(t, t.Kind == Kind.Ident
                    ? $"expected a value for '{key}', found the bare word '{t.Text}' (quote strings: '{t.Text}')"
                    : $"expected a value for '{key}' (a quoted string, a number or a [list]), found {Describe(t)}");
            }

            // `done` is complete; add it to the innermost open list and read what follows it.
            while (true)
            {
                if (open is null || open.Count == 0) return done;
                var list = open[^1];
                if (list.Items.Count == XlLimits.MaxListItems)
                    throw Error(_previous!.Value, $"a list in '{key}' has more than {XlLimits.MaxListItems} items, more than xl can hold");
                list.Items.Add(done);
                if (open.Count == 1) (itemEnds ??= []).Add(_previous!.Value.End);
                var b = list.StatesBelow;
                // The item occupies b+3 states when it is the first (after '[' nlok) and b+6 when it is a later one
                // (after values ',' nlok); an empty nlok follows it.
                var afterItem = (list.Items.Count == 1 ? b + 3 : b + 6) + 1;
                Grow(afterItem, _previous!.Value);
                SkipNewlines(afterItem + 1);
                var sep = Next();
                if (sep.Kind == Kind.Close)
                {
                    Grow(b + 4, sep);
                    open.RemoveAt(open.Count - 1);
                    done = new XlList(list.Items);
                    continue;
                }
                if (sep.Kind != Kind.Comma)
                    throw Error(sep, $"expected ',' or ']' in the list of '{key}', found {Describe(sep)}");
                Grow(b + 5, sep); // ',' and the empty nlok after it
                SkipNewlines(b + 6);
                if (Peek().Kind == Kind.Close)
                {
                    if (open.Count == 1) trailingComma = sep.End;
                    Grow(b + 4, Next());
                    open.RemoveAt(open.Count - 1);
                    done = new XlList(list.Items);
                    continue;
                }
                if (open.Count == 1) (itemStarts ??= []).Add(Peek().Start);
                states = b + 5;
                break;
            }
        }
    }

    private sealed record OpenList(int StatesBelow, List<XlValue> Items);

    /// <summary>Xen's parser fails once its stack reaches <see cref="XlLimits.MaxParserStates"/> states.</summary>
    private void Grow(int states, Token at)
    {
        if (states >= XlLimits.MaxParserStates)
            throw Error(at, $"lists nested too deeply: xl's parser runs out of stack here (\"memory exhausted\"; it holds at most {XlLimits.MaxParserStates} states, about {XlLimits.MaxFirstItemNesting} levels of [[...]])");
    }

    /// <summary>Skips new lines (and comments); each one is a NEWLINE token Xen's parser shifts on top of <paramref name="states"/> - 1.</summary>
    private void SkipNewlines(int states)
    {
        while (Peek().Kind == Kind.Newline)
        {
            Grow(states, Peek());
            Next();
        }
    }

    private Token Peek()
    {
        if (!_hasPeeked)
        {
            _peeked = Lex();
            _hasPeeked = true;
        }
        return _peeked;
    }

    private Token Next()
    {
        var t = Peek();
        _hasPeeked = false;
        if (t.Kind != Kind.Newline) _previous = t;
        return t;
    }

    private Token Lex()
    {
        while (_pos < _src.Length && _src[_pos] is (byte)' ' or (byte)'\t') _pos++;
        var start = _pos;
        var line = _line;
        var column = ColumnAt(start);
        if (_pos >= _src.Length) return new Token(Kind.End, start, start, line, column, "");
        var b = _src[_pos];
        // Xen's flex lexer reports a bad character only when it sees what follows it; a single bad byte that
        // ends the file is dropped without a word ("a = 1\n#" and "a = 1 %" are accepted).
        var lastByte = _pos == _src.Length - 1;
        var endOfFile = new Token(Kind.End, _src.Length, _src.Length, line, column, "");

        Token Simple(Kind kind, int length)
        {
            _pos += length;
            return new Token(kind, start, _pos, line, column, "");
        }

        switch (b)
        {
            case >= (byte)'a' and <= (byte)'z':
                while (_pos < _src.Length && _src[_pos] is >= (byte)'a' and <= (byte)'z' or >= (byte)'0' and <= (byte)'9' or (byte)'.' or (byte)'_') _pos++;
                return new Token(Kind.Ident, start, _pos, line, column, Encoding.ASCII.GetString(_src, start, _pos - start));
            case >= (byte)'0' and <= (byte)'9':
                while (_pos < _src.Length && _src[_pos] is >= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or (byte)'x') _pos++;
                return new Token(Kind.Number, start, _pos, line, column, Encoding.ASCII.GetString(_src, start, _pos - start));
            case (byte)',': return Simple(Kind.Comma, 1);
            case (byte)'[': return Simple(Kind.Open, 1);
            case (byte)']': return Simple(Kind.Close, 1);
            case (byte)';': return Simple(Kind.Semicolon, 1);
            case (byte)'=': return Simple(Kind.Equals, 1);
            case (byte)'+' when _pos + 1 < _src.Length && _src[_pos + 1] == (byte)'=': return Simple(Kind.PlusEquals, 2);
            case (byte)'\n':
                _pos++;
                NewLine();
                return new Token(Kind.Newline, start, _pos, line, column, "");
            case (byte)'#' when lastByte:
                _pos++;
                return endOfFile;
            case (byte)'#':
                // A comment may hold any byte but LF, NUL included (flex's '.' matches it).
                var nl = Array.IndexOf(_src, (byte)'\n', _pos);
                if (nl < 0)
                    throw Error(line, column, "the comment on the last line has no newline after it; xl rejects a comment at the end of the file, add a newline");
                _pos = nl + 1;
                NewLine();
                return new Token(Kind.Newline, start, _pos, line, column, "");
            case (byte)'\'' or (byte)'"' when !lastByte:
                return LexString(start, line, column);
            case var _ when lastByte:
                _pos++;
                return endOfFile;
            default:
                throw Error(line, column, DescribeBadCharacter(start));
        }
    }

    private Token LexString(int start, int line, int column)
    {
        var quote = _src[start];
        var p = start + 1;
        while (true)
        {
            if (p >= _src.Length || _src[p] == (byte)'\n')
                throw Error(line, column, $"unterminated string: no closing {(char)quote} on this line (strings cannot span lines; write \\n for a newline)");
            var c = _src[p];
            if (c == quote) break;
            if (c == (byte)'\\')
            {
                if (p + 1 >= _src.Length || _src[p + 1] == (byte)'\n')
                    throw Error(line, ColumnAt(p), "a backslash at the end of a line: strings cannot continue on the next line");
                p += 2;
                continue;
            }
            p++;
        }
        var nul = Array.IndexOf(_src, (byte)0, start + 1, p - start - 1);
        if (nul >= 0)
            throw Error(line, ColumnAt(nul), "NUL byte in a string (xl itself aborts on it: its unquoting fails an assertion)");
        _pos = p + 1;
        return new Token(Kind.String, start, _pos, line, column, Dequote(start + 1, p, line));
    }

    /// <summary>
    /// xl's unquoting: the usual single-letter escapes work. Its numeric escapes are broken in every released
    /// Xen: <c>\x</c> is always an error, and an octal escape <c>\N</c> must be followed by characters that C's
    /// <c>strtoul</c> reads as more than one character of a decimal number, which are then dropped along
    /// with the escape, producing nothing.
    /// </summary>
    private string Dequote(int from, int to, int line)
    {
        var bytes = new List<byte>(to - from);
        var p = from;
        while (p < to)
        {
            var c = _src[p++];
            if (c != (byte)'\\')
            {
                bytes.Add(c);
                continue;
            }
            var escapeColumn = ColumnAt(p - 1);
            var nc = _src[p++];
            switch (nc)
            {
                case (byte)'"' or (byte)'\'' or (byte)'\\': bytes.Add(nc); break;
                case (byte)'a': bytes.Add(7); break;
                case (byte)'b': bytes.Add(8); break;
                case (byte)'f': bytes.Add(12); break;
                case (byte)'n': bytes.Add(10); break;
                case (byte)'r': bytes.Add(13); break;
                case (byte)'t': bytes.Add(9); break;
                case (byte)'v': bytes.Add(11); break;
                case (byte)'x':
                    throw Error(line, escapeColumn, "xl rejects every \\x escape in strings (its hex escapes never worked); write the character itself");
                case >= (byte)'0' and <= (byte)'7':
                    var used = StrtoulDecimalLength(p, Math.Min(p + 3, to));
                    if (used <= 1)
                        throw Error(line, escapeColumn, "xl rejects this octal escape (xl's numeric escapes are broken: they produce nothing); write the character itself");
                    p += used;
                    break;
                default:
                    throw Error(line, escapeColumn, $"unknown escape '\\{(char)nc}' in a string (xl knows \\n \\t \\r \\a \\b \\f \\v \\\\ \\' \\\")");
            }
        }
        // Not necessarily UTF-8: xl keeps the bytes, and so does XlText's lossless decoding.
        return XlText.Decode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    /// <summary>How many of the bytes in [from, to) C's strtoul(…, 10) consumes: spaces, a sign, digits.</summary>
    private int StrtoulDecimalLength(int from, int to)
    {
        var p = from;
        while (p < to && _src[p] is (byte)' ' or (byte)'\t' or (byte)'\v' or (byte)'\f' or (byte)'\r') p++;
        if (p < to && _src[p] is (byte)'+' or (byte)'-') p++;
        var digits = p;
        while (p < to && _src[p] is >= (byte)'0' and <= (byte)'9') p++;
        return p == digits ? 0 : p - from;
    }

    private string DescribeBadCharacter(int at)
    {
        var b = _src[at];
        if (b == (byte)'\r')
            return "carriage return: xl reads only LF line endings (convert CRLF with dos2unix)";
        if (b == 0) return "NUL byte in the config";
        if (b is >= (byte)'A' and <= (byte)'Z' or (byte)'X')
        {
            if (_previous is { Kind: Kind.Number } n && n.End == at && b is >= (byte)'A' and <= (byte)'F' or (byte)'X')
                return $"upper-case '{(char)b}' in a number: xl reads hex digits only in lower case (write {Encoding.ASCII.GetString(_src, n.Start, n.End - n.Start)}{char.ToLowerInvariant((char)b)}…) or quote the value";
            return $"unexpected '{(char)b}': setting names are lower case in xl.cfg, and string values must be quoted";
        }
        if (b is (byte)'-' or (byte)'+' or (byte)'.')
            return $"unexpected '{(char)b}': negative and decimal numbers must be quoted (xl reads only unsigned integers bare)";
        if (b is (byte)'(' or (byte)')' or (byte)':')
            return $"unexpected '{(char)b}': this looks like Python, which xl no longer reads";
        if (b >= 0x80) return "non-ASCII character outside a quoted string";
        if (b == (byte)'_') return "unexpected '_': setting names start with a lower-case letter";
        if (b < 0x20 || b == 0x7f) return $"unexpected control character 0x{b:x2}";
        return $"unexpected character '{(char)b}'";
    }

    private void NewLine()
    {
        _line++;
        _lineStart = _pos;
        _columnOffset = _pos;
        _column = 1;
    }

    /// <summary>
    /// The column (in UTF-8 characters) of <paramref name="offset"/> on the current line. Tokens come in order,
    /// so the count goes on from the last one instead of rescanning the line (which made a long line quadratic).
    /// </summary>
    private int ColumnAt(int offset)
    {
        if (offset < _columnOffset)
        {
            _columnOffset = _lineStart;
            _column = 1;
        }
        for (; _columnOffset < offset && _columnOffset < _src.Length; _columnOffset++)
        {
            ColumnSteps++;
            if ((_src[_columnOffset] & 0xC0) != 0x80) _column++;
        }
        return _column;
    }

    private static string Describe(Token t) => t.Kind switch
    {
        Kind.Ident => $"'{t.Text}'",
        Kind.Number => $"'{t.Text}'",
        Kind.String => "a string",
        Kind.Equals => "'='",
        Kind.PlusEquals => "'+='",
        Kind.Semicolon => "';'",
        Kind.Comma => "','",
        Kind.Open => "'['",
        Kind.Close => "']'",
        Kind.Newline => "the end of the line",
        _ => "the end of the file",
    };

    private XlConfigException Error(Token t, string message) => Error(t.Line, t.Column, message);

    private XlConfigException Error(int line, int column, string message) => new(_file, line, column, message);
}
