using System.Text;

namespace XenIac.Core.Config;

/// <summary>A list value (<c>[a, b, ]</c>); items may be strings or nested lists.</summary>
/// <remarks>
/// Lists may nest thousands deep (<see cref="XlLimits.MaxFirstItemNesting"/>), so equality and printing walk
/// them with an explicit stack rather than by recursion, which could overflow the thread's stack.
/// </remarks>
public sealed record XlList(IReadOnlyList<XlValue> Items) : XlValue
{
    public bool Equals(XlList? other)
    {
        if (other is null) return false;
        var pending = new Stack<(IReadOnlyList<XlValue> A, IReadOnlyList<XlValue> B)>();
        pending.Push((Items, other.Items));
        while (pending.Count > 0)
        {
            var (a, b) = pending.Pop();
            if (ReferenceEquals(a, b)) continue;
            if (a.Count != b.Count) return false;
            for (var i = 0; i < a.Count; i++)
            {
                switch (a[i], b[i])
                {
                    case (XlString x, XlString y) when x.Text == y.Text: break;
                    case (XlList x, XlList y): pending.Push((x.Items, y.Items)); break;
                    default: return false;
                }
            }
        }
        return true;
    }

    // Shallow on purpose (nested lists count by length only): consistent with Equals, and never deep.
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Items.Count);
        foreach (var item in Items) hash.Add(item is XlString s ? s.Text.GetHashCode(StringComparison.Ordinal) : ((XlList)item).Items.Count);
        return hash.ToHashCode();
    }

    /// <summary>Items that are strings, as xl's <c>xlu_cfg_get_listitem</c> sees them (null for nested lists).</summary>
    public IEnumerable<string?> Strings => Items.Select(i => (i as XlString)?.Text);

    public override string ToXl()
    {
        var sb = new StringBuilder();
        var pending = new Stack<(IReadOnlyList<XlValue> Items, int Next)>();
        pending.Push((Items, 0));
        Open(sb, Items);
        while (pending.Count > 0)
        {
            var (items, next) = pending.Pop();
            if (next == items.Count)
            {
                if (items.Count > 0) sb.Append(" ]");
                continue;
            }
            if (next > 0) sb.Append(", ");
            pending.Push((items, next + 1));
            if (items[next] is XlList inner)
            {
                Open(sb, inner.Items);
                pending.Push((inner.Items, 0));
            }
            else
            {
                sb.Append(items[next].ToXl());
            }
        }
        return sb.ToString();

        static void Open(StringBuilder sb, IReadOnlyList<XlValue> items) => sb.Append(items.Count == 0 ? "[]" : "[ ");
    }

    public override string ToString() => ToXl();
}
