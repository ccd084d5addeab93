namespace XenIac.Reconciler.Manifests;

/// <summary>
/// Labels to match, joined by commas: <c>rack=a</c> (equal), <c>tier!=db</c> (absent or other), <c>backup</c>
/// (present). One reading for <c>--target label:...</c> and a domain's <c>host: {label: ...}</c>.
/// </summary>
public sealed class LabelSelector
{
    private readonly IReadOnlyList<Term> _terms;
    private readonly string _text;

    private LabelSelector(IReadOnlyList<Term> terms, string text) => (_terms, _text) = (terms, text);

    public bool Matches(IReadOnlyDictionary<string, string> labels) => _terms.All(t => t.Matches(labels));

    /// <summary>Reads <paramref name="text"/> (without the <c>label:</c> prefix); null when it is not a selector.</summary>
    public static LabelSelector? TryParse(string text)
    {
        var terms = new List<Term>();
        foreach (var part in text.Split(','))
        {
            var negated = part.Contains("!=", StringComparison.Ordinal);
            var at = negated ? part.IndexOf("!=", StringComparison.Ordinal) : part.IndexOf('=');
            var key = at < 0 ? part : part[..at];
            var value = at < 0 ? null : part[(at + (negated ? 2 : 1))..];
            if (!ManifestLoader.LabelName().IsMatch(key) || (value is not null && !ManifestLoader.LabelValue().IsMatch(value))) return null;
            terms.Add(new Term(key, value, negated));
        }
        return new LabelSelector(terms, text);
    }

    /// <summary>The selector as written (<c>rack=a,tier!=db</c>).</summary>
    public override string ToString() => _text;

    private sealed record Term(string Key, string? Value, bool Negated)
    {
        public bool Matches(IReadOnlyDictionary<string, string> labels) =>
            Value is null ? labels.ContainsKey(Key)
            : Negated ? !labels.TryGetValue(Key, out var v) || v != Value
            : labels.TryGetValue(Key, out var w) && w == Value;
    }
}
