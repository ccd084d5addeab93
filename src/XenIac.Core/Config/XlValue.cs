namespace XenIac.Core.Config;

/// <summary>
/// A value in xl.cfg: a string (quoted strings and bare numbers alike, as xl keeps numbers as their text) or a
/// list, which may nest.
/// </summary>
public abstract record XlValue
{
    public static XlString String(string text) => new(text);

    public static XlString Number(long value) => new(value.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static XlList List(params IEnumerable<XlValue> items) => new([.. items]);

    public static XlList List(params IEnumerable<string> items) => new([.. items.Select(i => (XlValue)new XlString(i))]);

    /// <summary>The value as xl.cfg source text.</summary>
    public abstract string ToXl();
}
