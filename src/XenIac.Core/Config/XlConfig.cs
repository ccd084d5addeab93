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
        _effective = new Dictionary<string, (XlValue, bool)>(StringComparer.Ordinal);
        var keys = new List<string>();
        foreach (var s in Statements)
        {
            var value = s.Value;
            if (_effective.TryGetValue(s.Key, out var previous))
            {
                if (s.IsAddition) value = Concatenate(previous.Value, value, s);
            }
            else
            {
                keys.Add(s.Key);
            }
            _effective[s.Key] = (value, s.IsAddition);
        }
        Keys = keys;
    }

    /// <summary>The name used in error messages (the file's path, or what the caller chose).</summary>
    public string FileName { get; }

    /// <summary>Every statement in file order.</summary>
    public IReadOnlyList<XlStatement> Statements { get; }

    /// <summary>The distinct setting names, in order of first appearance.</summary>
    public IReadOnlyList<string> Keys { get; }

    public static XlConfig Parse(string text, string fileName = "xl.cfg")
    {
        ArgumentNullException.ThrowIfNull(text);
        return new XlConfig(Encoding.UTF8.GetBytes(text), fileName);
    }

    public static XlConfig Parse(ReadOnlySpan<byte> bytes, string fileName = "xl.cfg") => new(bytes.ToArray(), fileName);

    public static XlConfig Load(string path) => new(File.ReadAllBytes(path), path);

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
        var s = Statements.Last(s => s.Key == key);
        return new XlConfigException(FileName, s.Line, s.Column, $"'{key}' {message}");
    }

    public byte[] ToBytes() => (byte[])_source.Clone();

    public override string ToString() => Encoding.UTF8.GetString(_source);

    /// <summary>
    /// Sets <paramref name="key"/>: the value of its last statement is replaced in place (a trailing <c>+=</c>
    /// becomes <c>=</c>); earlier statements of the key stay, overridden as in xl. A new key is appended as a
    /// line of its own.
    /// </summary>
    public XlConfig Set(string key, XlValue value)
    {
        CheckKey(key);
        ArgumentNullException.ThrowIfNull(value);
        var last = Statements.LastOrDefault(s => s.Key == key);
        if (last is null) return AppendLine($"{key} = {value.ToXl()}");
        var span = last.Span;
        var prefix = last.IsAddition
            ? Encoding.UTF8.GetString(_source, span.Start, span.OperatorStart - span.Start) + "= "
            : Encoding.UTF8.GetString(_source, span.Start, span.ValueStart - span.Start);
        return Splice(span.Start, span.ValueEnd, prefix + value.ToXl());
    }

    /// <summary>Removes every statement of <paramref name="key"/>, with its line when it had the line to itself.</summary>
    public XlConfig Remove(string key)
    {
        CheckKey(key);
        var result = this;
        while (result.Statements.LastOrDefault(s => s.Key == key) is { } s)
        {
            var (start, end) = result.RemovalRange(s.Span);
            result = result.Splice(start, end, "");
        }
        return result;
    }

    /// <summary>
    /// Appends <paramref name="item"/> to the list in <paramref name="key"/> (its last statement), keeping the
    /// list's layout: one item per line stays one item per line. A new key gets a one-item list.
    /// </summary>
    public XlConfig Append(string key, XlValue item)
    {
        CheckKey(key);
        ArgumentNullException.ThrowIfNull(item);
        var last = Statements.LastOrDefault(s => s.Key == key);
        if (last is null) return AppendLine($"{key} = [ {item.ToXl()} ]");
        if (last.Value is not XlList list)
            throw new InvalidOperationException($"'{key}' is a single value, not a list; cannot append to it.");
        var span = last.Span;
        var text = item.ToXl();
        if (list.Items.Count == 0)
            return Splice(span.ValueEnd - 1, span.ValueEnd - 1, text);

        var lastItemStart = span.ItemStarts[^1];
        var lastItemEnd = span.ItemEnds[^1];
        var multiLine = LineStartOf(lastItemStart) != LineStartOf(span.ValueStart);
        if (multiLine)
        {
            var indent = Encoding.UTF8.GetString(_source, LineStartOf(lastItemStart), IndentLength(LineStartOf(lastItemStart)));
            return span.TrailingCommaEnd >= 0
                ? Splice(span.TrailingCommaEnd, span.TrailingCommaEnd, $"\n{indent}{text},")
                : Splice(lastItemEnd, lastItemEnd, $",\n{indent}{text}");
        }
        return span.TrailingCommaEnd >= 0
            ? Splice(span.TrailingCommaEnd, span.TrailingCommaEnd, $" {text},")
            : Splice(lastItemEnd, lastItemEnd, $", {text}");
    }

    private (int Start, int End) RemovalRange(XlSpan span)
    {
        var lineStart = LineStartOf(span.Start);
        var onlyBlanksBefore = IndentLength(lineStart) == span.Start - lineStart;
        var end = span.End;
        // "a = 1; b = 2": removing a takes its ';' and the blanks after it; removing a line takes the newline.
        var restOfLine = end;
        while (restOfLine < _source.Length && _source[restOfLine] is (byte)' ' or (byte)'\t') restOfLine++;
        if (onlyBlanksBefore)
        {
            if (span.EndsWithNewline) return (lineStart, end);
            if (restOfLine >= _source.Length) return (lineStart, restOfLine);
            if (_source[restOfLine] == (byte)'\n') return (lineStart, restOfLine + 1);
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
        var insert = Encoding.UTF8.GetBytes(replacement);
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

    private XlValue Concatenate(XlValue previous, XlValue added, XlStatement at) => (previous, added) switch
    {
        (XlString a, XlString b) => new XlString(a.Text + b.Text),
        (XlList a, XlList b) => new XlList([.. a.Items, .. b.Items]),
        _ => throw new XlConfigException(FileName, at.Line, at.Column,
            $"'{at.Key} +=' adds a {(added is XlList ? "list" : "string")} to a {(previous is XlList ? "list" : "string")}; xl can only add a list to a list or a string to a string"),
    };
}
