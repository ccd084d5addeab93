using System.Text;

namespace XenIac.Core.Config;

/// <summary>
/// An xl.cfg file, parsed as Xen's libxlutil parses it and kept byte for byte: <see cref="ToBytes"/> gives back
/// exactly the text it was parsed from, and the edits (<see cref="Set"/>, <see cref="Remove"/>,
/// <see cref="Append"/>) return a new config in which only the touched statements changed. Immutable.
/// </summary>
public sealed class XlConfig
{
    private readonly byte[] _source;
    private readonly Dictionary<string, (XlValue Value, bool IsAddition)> _effective;

    private XlConfig(byte[] source, string file)
    {
        _source = source;
        FileName = file;
        Statements = XlConfigParser.Parse(source, file);
        // Each key's '+=' chain is gathered in a builder and made a value once, so a thousand '+=' to one list
        // cost a thousand appends, not a thousand copies of the growing list.
        var builders = new Dictionary<string, ValueBuilder>(StringComparer.Ordinal);
        var keys = new List<string>();
        for (var i = 0; i < Statements.Count; i++)
        {
            var s = Statements[i];
            _lastStatement[s.Key] = i;
            if (!builders.TryGetValue(s.Key, out var builder))
            {
                keys.Add(s.Key);
                builders[s.Key] = new ValueBuilder(s);
            }
            else if (s.IsAddition)
            {
                builder.Add(s, this);
            }
            else
            {
                builders[s.Key] = new ValueBuilder(s);
            }
        }
        _effective = new Dictionary<string, (XlValue, bool)>(builders.Count, StringComparer.Ordinal);
        foreach (var (key, builder) in builders) _effective[key] = (builder.Build(), builder.IsAddition);
        Keys = keys;
    }

    private readonly Dictionary<string, int> _lastStatement = new(StringComparer.Ordinal);

    /// <summary>A key's value so far: its last '=' (or first '+=') and the '+=' after it.</summary>
    private sealed class ValueBuilder(XlStatement first)
    {
        private readonly XlValue _first = first.Value;
        private System.Text.StringBuilder? _text;
        private List<XlValue>? _items;

        public bool IsAddition { get; private set; } = first.IsAddition;

        public void Add(XlStatement s, XlConfig config)
        {
            IsAddition = true;
            switch (_first, s.Value)
            {
                case (XlString a, XlString b):
                    (_text ??= new System.Text.StringBuilder(a.Text)).Append(b.Text);
                    break;
                case (XlList a, XlList b):
                    (_items ??= [.. a.Items]).AddRange(b.Items);
                    break;
                default:
                    throw new XlConfigException(config.FileName, s.Line, s.Column,
                        $"'{s.Key} +=' adds a {(s.Value is XlList ? "list" : "string")} to a {(_first is XlList ? "list" : "string")}; xl can only add a list to a list or a string to a string");
            }
        }

        public XlValue Build() => _text is not null ? new XlString(_text.ToString()) : _items is not null ? new XlList(_items) : _first;
    }

    /// <summary>The name used in error messages (the file's path, or what the caller chose).</summary>
    public string FileName { get; }

    /// <summary>Every statement in file order.</summary>
    public IReadOnlyList<XlStatement> Statements { get; }

    /// <summary>The distinct setting names, in order of first appearance.</summary>
    public IReadOnlyList<string> Keys { get; }

    /// <summary>Parses text; lone surrogates U+DC80..U+DCFF stand for raw bytes (see <see cref="XlText"/>).</summary>
    public static XlConfig Parse(string text, string fileName = "xl.cfg")
    {
        ArgumentNullException.ThrowIfNull(text);
        return new XlConfig(XlText.Encode(text), fileName);
    }

    public static XlConfig Parse(ReadOnlySpan<byte> bytes, string fileName = "xl.cfg") => new(bytes.ToArray(), fileName);

    public static XlConfig Load(string path) => new(IO.SmallFile.ReadAllBytes(path), path);

    public bool Contains(string key) => _effective.ContainsKey(key);

    /// <summary>
    /// The value xl uses for <paramref name="key"/>: the last assignment, with any <c>+=</c> after it applied
    /// (strings concatenate, lists extend). Null when absent.
    /// </summary>
    public XlValue? Get(string key) => _effective.TryGetValue(key, out var v) ? v.Value : null;

    /// <summary>The string value of <paramref name="key"/>; null when absent. A list here is an error, as in xl.</summary>
    public string? GetString(string key) => Get(key) switch
    {
        null => null,
        XlString s => s.Text,
        _ => throw SettingError(key, "is a list but should be a single value"),
    };

    /// <summary>
    /// The number in <paramref name="key"/> as <c>xlu_cfg_get_long</c> reads it, or false with the reason xl
    /// would give (absent, a list, written with <c>+=</c>, or not a number).
    /// </summary>
    public bool TryGetLong(string key, out long value, out string? error)
    {
        value = 0;
        if (!_effective.TryGetValue(key, out var v))
        {
            error = "is not set";
            return false;
        }
        if (v.Value is not XlString s)
        {
            error = "is a list but should be a single value";
            return false;
        }
        if (v.IsAddition)
        {
            error = "uses += but numbers cannot be added to";
            return false;
        }
        return s.TryGetLong(out value, out error);
    }

    /// <summary>The number in <paramref name="key"/>; null when absent; an error when xl could not read it.</summary>
    public long? GetLong(string key)
    {
        if (!Contains(key)) return null;
        return TryGetLong(key, out var value, out var error) ? value : throw SettingError(key, $"'{Get(key)}' {error}");
    }

    /// <summary>The list in <paramref name="key"/>; null when absent. A single value here is an error, as in xl.</summary>
    public XlList? GetList(string key) => Get(key) switch
    {
        null => null,
        XlList l => l,
        _ => throw SettingError(key, "is a single value but should be a list"),
    };

    internal XlConfigException SettingError(string key, string message)
    {
        var (line, column) = Where(key);
        return new XlConfigException(FileName, line, column, $"'{key}' {message}");
    }

    /// <summary>Where the assignment xl uses for <paramref name="key"/> is (1:1 when the key is not set).</summary>
    internal (int Line, int Column) Where(string key) =>
        _lastStatement.TryGetValue(key, out var i) ? (Statements[i].Line, Statements[i].Column) : (1, 1);

    public byte[] ToBytes() => (byte[])_source.Clone();

    /// <summary>The text, bytes that are not UTF-8 kept as <see cref="XlText"/> escapes.</summary>
    public override string ToString() => XlText.Decode(_source);

    /// <summary>
    /// Sets <paramref name="key"/>: the value of its last statement is replaced in place (a trailing <c>+=</c>
    /// becomes <c>=</c>); earlier statements of the key stay, overridden as in xl. A new key is appended as a
    /// line of its own.
    /// </summary>
    public XlConfig Set(string key, XlValue value) => Set([KeyValuePair.Create(key, value)]);

    /// <summary>
    /// Sets several keys at once, with the same result as calling <see cref="Set(string, XlValue)"/> for each in
    /// order (a key given twice gets its last value), but reading and writing the text once: n settings cost
    /// time linear in the text, not n times it.
    /// </summary>
    public XlConfig Set(IEnumerable<KeyValuePair<string, XlValue>> settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var final = new Dictionary<string, XlValue>(StringComparer.Ordinal);
        var added = new List<string>();
        foreach (var (key, value) in settings)
        {
            CheckKey(key);
            ArgumentNullException.ThrowIfNull(value);
            if (!final.ContainsKey(key) && !_lastStatement.ContainsKey(key)) added.Add(key);
            final[key] = value;
        }
        if (final.Count == 0) return this;

        var edits = new List<(int Start, int End, string Text)>();
        foreach (var (key, value) in final)
        {
            if (!_lastStatement.TryGetValue(key, out var index)) continue;
            var last = Statements[index];
            var span = last.Span;
            // A trailing '+=' becomes '=': the new value replaces what the key had, not what it added.
            var prefixEnd = last.IsAddition ? span.OperatorStart : span.ValueStart;
            edits.Add((prefixEnd, span.ValueEnd, (last.IsAddition ? "= " : "") + value.ToXl()));
        }
        if (added.Count > 0)
        {
            var text = new StringBuilder();
            if (_source.Length > 0 && _source[^1] != (byte)'\n') text.Append('\n');
            foreach (var key in added) text.Append(key).Append(" = ").Append(final[key].ToXl()).Append('\n');
            edits.Add((_source.Length, _source.Length, text.ToString()));
        }
        edits.Sort((a, b) => a.Start.CompareTo(b.Start));
        var result = new MemoryStream(_source.Length + 64);
        var at = 0;
        foreach (var (start, end, replacement) in edits)
        {
            result.Write(_source, at, start - at);
            result.Write(XlText.Encode(replacement));
            at = end;
        }
        result.Write(_source, at, _source.Length - at);
        return new XlConfig(result.ToArray(), FileName);
    }

    /// <summary>Removes every statement of <paramref name="key"/>, with its line when it had the line to itself.</summary>
    public XlConfig Remove(string key)
    {
        CheckKey(key);
        if (!_lastStatement.ContainsKey(key)) return this;
        // Statements go last to first, each cut from the text left by the cuts after it, as if removed one at a
        // time, but without rewriting and re-reading the text per statement. The text is _source[..kept] then
        // the segments in `after` (in reverse order, so the first one is after[^1]).
        var lineStarts = LineStarts();
        var kept = _source.Length;
        var after = new List<(int From, int To)>();
        int At(int i)
        {
            if (i < kept) return _source[i];
            var k = i - kept;
            for (var n = after.Count - 1; n >= 0; n--)
            {
                var length = after[n].To - after[n].From;
                if (k < length) return _source[after[n].From + k];
                k -= length;
            }
            return -1;
        }
        for (var i = Statements.Count - 1; i >= 0; i--)
        {
            var s = Statements[i];
            if (s.Key != key) continue;
            var (start, end) = RemovalRange(s.Span, lineStarts[s.Line - 1], At);
            if (end <= kept)
            {
                if (end < kept) after.Add((end, kept));
            }
            else
            {
                // The cut reaches past a later one (the newline after "a = 1;" once "a = 2" went): drop that much.
                var drop = end - kept;
                while (drop > 0)
                {
                    var (from, to) = after[^1];
                    if (to - from <= drop) { drop -= to - from; after.RemoveAt(after.Count - 1); }
                    else { after[^1] = (from + drop, to); drop = 0; }
                }
            }
            kept = start;
        }
        var result = new MemoryStream(_source.Length);
        result.Write(_source, 0, kept);
        for (var n = after.Count - 1; n >= 0; n--) result.Write(_source, after[n].From, after[n].To - after[n].From);
        return new XlConfig(result.ToArray(), FileName);
    }

    /// <summary>The offset at which each line starts (index 0 is line 1).</summary>
    private List<int> LineStarts()
    {
        var starts = new List<int> { 0 };
        for (var i = 0; i < _source.Length; i++)
            if (_source[i] == (byte)'\n') starts.Add(i + 1);
        return starts;
    }

    /// <summary>
    /// Appends <paramref name="item"/> to the list in <paramref name="key"/> (its last statement), keeping the
    /// list's layout: one item per line stays one item per line. A new key gets a one-item list.
    /// </summary>
    public XlConfig Append(string key, XlValue item)
    {
        CheckKey(key);
        ArgumentNullException.ThrowIfNull(item);
        if (!_lastStatement.TryGetValue(key, out var index)) return AppendLine($"{key} = [ {item.ToXl()} ]");
        var last = Statements[index];
        if (last.Value is not XlList list)
            throw SettingError(key, "is a single value, not a list; cannot append to it");
        var span = last.Span;
        var text = item.ToXl();
        if (list.Items.Count == 0)
            return Splice(span.ValueEnd - 1, span.ValueEnd - 1, text);

        var lastItemStart = span.ItemStarts[^1];
        var lastItemEnd = span.ItemEnds[^1];
        var multiLine = LineStartOf(lastItemStart) != LineStartOf(span.ValueStart);
        if (multiLine)
        {
            var indent = XlText.Decode(_source.AsSpan(LineStartOf(lastItemStart), IndentLength(LineStartOf(lastItemStart))));
            return span.TrailingCommaEnd >= 0
                ? Splice(span.TrailingCommaEnd, span.TrailingCommaEnd, $"\n{indent}{text},")
                : Splice(lastItemEnd, lastItemEnd, $",\n{indent}{text}");
        }
        return span.TrailingCommaEnd >= 0
            ? Splice(span.TrailingCommaEnd, span.TrailingCommaEnd, $" {text},")
            : Splice(lastItemEnd, lastItemEnd, $", {text}");
    }

    /// <param name="at">The byte at an offset of the text being cut (-1 past its end); before the statement's
    /// end it is the source's own.</param>
    private (int Start, int End) RemovalRange(XlSpan span, int lineStart, Func<int, int> at)
    {
        var onlyBlanksBefore = IndentLength(lineStart) == span.Start - lineStart;
        var end = span.End;
        // "a = 1; b = 2": removing a takes its ';' and the blanks after it; removing a line takes the newline.
        var restOfLine = end;
        while (at(restOfLine) is ' ' or '\t') restOfLine++;
        if (onlyBlanksBefore)
        {
            if (span.EndsWithNewline) return (lineStart, end);
            if (at(restOfLine) < 0) return (lineStart, restOfLine);
            if (at(restOfLine) == '\n') return (lineStart, restOfLine + 1);
            return (span.Start, restOfLine);
        }
        if (span.EndsWithNewline)
        {
            // Another statement ends on this line ("a = 1; b = 2"): keep the newline (and the comment) it needs.
            var cut = span.ValueEnd;
            while (cut < _source.Length && _source[cut] is (byte)' ' or (byte)'\t') cut++;
            var start = span.Start;
            while (start > lineStart && _source[start - 1] is (byte)' ' or (byte)'\t') start--;
            return (start, cut);
        }
        return (span.Start, restOfLine);
    }

    private XlConfig AppendLine(string line)
    {
        var needsNewline = _source.Length > 0 && _source[^1] != (byte)'\n';
        return Splice(_source.Length, _source.Length, (needsNewline ? "\n" : "") + line + "\n");
    }

    private XlConfig Splice(int start, int end, string replacement)
    {
        var insert = XlText.Encode(replacement);
        var bytes = new byte[_source.Length - (end - start) + insert.Length];
        _source.AsSpan(0, start).CopyTo(bytes);
        insert.CopyTo(bytes, start);
        _source.AsSpan(end).CopyTo(bytes.AsSpan(start + insert.Length));
        return new XlConfig(bytes, FileName);
    }

    private int LineStartOf(int offset)
    {
        var nl = offset == 0 ? -1 : Array.LastIndexOf(_source, (byte)'\n', offset - 1);
        return nl + 1;
    }

    private int IndentLength(int lineStart)
    {
        var i = lineStart;
        while (i < _source.Length && _source[i] is (byte)' ' or (byte)'\t') i++;
        return i - lineStart;
    }

    private static void CheckKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length == 0 || key[0] is < 'a' or > 'z' || key.Any(c => c is not (>= 'a' and <= 'z' or >= '0' and <= '9' or '.' or '_')))
            throw new ArgumentException($"'{key}' is not an xl.cfg setting name (lower-case letter, then letters, digits, '.' or '_').", nameof(key));
    }
}
