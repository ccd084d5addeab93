using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace XenIac.Reconciler.Manifests;

/// <summary>
/// Checks a manifest's YAML event stream as the node tree is built from it. YamlDotNet's representation
/// model expands and walks nodes recursively, so a deeply nested document overflows the stack and an alias of a
/// big anchor, referenced many times, multiplies work and memory ("billion laughs"). The parser itself keeps its
/// own state stack, so walking its events is safe and linear in the text; here depth, alias count and the
/// document's size with every alias expanded are counted and bounded, each refusal located where it happens.
/// </summary>
internal sealed class YamlGuard(IParser inner, string path) : IParser
{
    /// <summary>Nesting of mappings and sequences; a manifest needs 5.</summary>
    public const int MaxDepth = 64;
    /// <summary>Alias references in one document.</summary>
    public const int MaxAliases = 1_000;
    /// <summary>Nodes in the document once every alias is expanded; a thousand-domain manifest has about 20,000.</summary>
    public const long MaxExpandedNodes = 1_000_000;

    private readonly Dictionary<string, long> _anchors = new(StringComparer.Ordinal);
    // One frame per open collection: its anchor (if any) and its expanded size so far.
    private readonly Stack<(string? Anchor, long Size)> _frames = new();
    private long _total;
    private int _aliases;

    /// <summary>
    /// A parser for the node builder: each event is checked as it passes, so the limits hold before the recursive
    /// node code goes a level deeper, and the text is parsed once (checking it in a pass of its own first cost as
    /// much again as building the tree, in a thousand-domain plan).
    /// </summary>
    public static IParser Over(TextReader text, string path) => new YamlGuard(new Parser(text), path);

    public ParsingEvent? Current => inner.Current;

    public bool MoveNext()
    {
        if (!inner.MoveNext()) return false;
        Observe(inner.Current!);
        return true;
    }

    // Every node counts once into the running total when it appears (an alias as its anchor's expanded size), and
    // into the size of the collection around it, so an anchor's size is known when an alias names it.
    private void Observe(ParsingEvent current)
    {
        switch (current)
        {
            case AnchorAlias alias:
                if (++_aliases > MaxAliases)
                    throw Error(path, alias.Start, $"more than {MaxAliases:N0} YAML aliases");
                if (!_anchors.TryGetValue(alias.Value.Value, out var size))
                    throw Error(path, alias.Start, $"alias *{alias.Value.Value} refers to no anchor defined before it");
                Count(size, alias.Start);
                AddToParent(size);
                break;
            case Scalar scalar:
                if (!scalar.Anchor.IsEmpty) _anchors[scalar.Anchor.Value] = 1;
                Count(1, scalar.Start);
                AddToParent(1);
                break;
            case NodeEvent { } start when start is SequenceStart or MappingStart:
                if (_frames.Count >= MaxDepth)
                    throw Error(path, start.Start, $"the manifest nests deeper than {MaxDepth} levels");
                Count(1, start.Start);
                _frames.Push((start.Anchor.IsEmpty ? null : start.Anchor.Value, 1));
                break;
            case SequenceEnd or MappingEnd:
                var (anchor, collection) = _frames.Pop();
                if (anchor is not null) _anchors[anchor] = collection;
                AddToParent(collection);
                break;
            case DocumentEnd:
                _anchors.Clear();
                break;
        }
    }

    private void Count(long size, Mark at)
    {
        _total += size;
        if (_total > MaxExpandedNodes)
            throw Error(path, at, $"the manifest has more than {MaxExpandedNodes:N0} YAML nodes, counting what aliases repeat " +
                "(a manifest of some 100,000 domains or more, or aliases of large anchors); split it");
    }

    private void AddToParent(long size)
    {
        if (_frames.Count == 0) return;
        var (a, s) = _frames.Pop();
        _frames.Push((a, s + size));
    }

    private static ManifestException Error(string path, Mark at, string message) =>
        new([new ManifestError(new SourceLocation(path, Math.Max(1, (int)at.Line), Math.Max(1, (int)at.Column)), message)]);
}
