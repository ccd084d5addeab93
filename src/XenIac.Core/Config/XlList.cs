namespace XenIac.Core.Config;

/// <summary>A list value (<c>[a, b, ]</c>); items may be strings or nested lists.</summary>
public sealed record XlList(IReadOnlyList<XlValue> Items) : XlValue
{
    public bool Equals(XlList? other) => other is not null && Items.SequenceEqual(other.Items);

    public override int GetHashCode() => Items.Aggregate(Items.Count, (h, i) => HashCode.Combine(h, i));

    /// <summary>Items that are strings, as xl's <c>xlu_cfg_get_listitem</c> sees them (null for nested lists).</summary>
    public IEnumerable<string?> Strings => Items.Select(i => (i as XlString)?.Text);

    public override string ToXl() => Items.Count == 0 ? "[]" : "[ " + string.Join(", ", Items.Select(i => i.ToXl())) + " ]";

    public override string ToString() => ToXl();
}
