namespace XenIac.Core.Config;

/// <summary>
/// One <c>key = value</c> or <c>key += value</c> statement as written, with where it sits in the text. The
/// setting's effective value (after <c>+=</c>) is <see cref="XlConfig.Get"/>.
/// </summary>
public sealed class XlStatement
{
    internal XlStatement(string key, bool isAddition, XlValue value, int line, int column, XlSpan span)
    {
        Key = key;
        IsAddition = isAddition;
        Value = value;
        Line = line;
        Column = column;
        Span = span;
    }

    public string Key { get; }

    /// <summary>Written with <c>+=</c>: appends to the previous value of the same key (string or list).</summary>
    public bool IsAddition { get; }

    public XlValue Value { get; }
    public int Line { get; }
    public int Column { get; }

    internal XlSpan Span { get; }
}
