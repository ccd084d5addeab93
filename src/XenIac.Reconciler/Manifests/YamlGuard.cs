using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace XenIac.Reconciler.Manifests;

/// <summary>
/// Scans a manifest's YAML event stream before anything builds a node tree from it. YamlDotNet's representation
/// model expands and walks nodes recursively, so a deeply nested document overflows the stack and an alias of a
/// big anchor, referenced many times, multiplies work and memory ("billion laughs"). The parser itself keeps its
/// own state stack, so walking its events is safe and linear in the text; here depth, alias count and the
/// document's size with every alias expanded are counted and bounded, each refusal located where it happens.
/// </summary>
internal static class YamlGuard
{
    /// <summary>Nesting of mappings and sequences; a manifest needs 5.</summary>
    public const int MaxDepth = 64;
    /// <summary>Alias references in one document.</summary>
    public const int MaxAliases = 1_000;
    /// <summary>Nodes in the document once every alias is expanded; a thousand-domain manifest has about 20,000.</summary>
    public const long MaxExpandedNodes = 1_000_000;

    /// <summary>Throws a located <see cref="ManifestException"/> when the text exceeds a limit; returns the events scanned.</summary>
    public static long Check(string text, string path)
    {
        var parser = new Parser(new StringReader(text));
        var anchors = new Dictionary<string, long>(StringComparer.Ordinal);
        // One frame per open collection: its anchor (if any) and its expanded size so far.
        var frames = new Stack<(string? Anchor, long Size)>();
        long total = 0, events = 0;
        var aliases = 0;

        // Every node counts once into the running total when it appears (an alias as its anchor's expanded size),
        // and into the size of the collection around it, so an anchor's size is known when an alias names it.
        void Count(long size, Mark at)
        {
            total += size;
            if (total > MaxExpandedNodes)
                throw Error(path, at, $"the manifest expands to more than {MaxExpandedNodes:N0} YAML nodes (aliases of large anchors?)");
        }

        void AddToParent(long size)
        {
            if (frames.Count == 0) return;
            var (a, s) = frames.Pop();
            frames.Push((a, s + size));
        }

        while (parser.MoveNext())
        {
            events++;
            switch (parser.Current)
            {
                case AnchorAlias alias:
                    if (++aliases > MaxAliases)
                        throw Error(path, alias.Start, $"more than {MaxAliases:N0} YAML aliases");
                    if (!anchors.TryGetValue(alias.Value.Value, out var size))
                        throw Error(path, alias.Start, $"alias *{alias.Value.Value} refers to no anchor defined before it");
                    Count(size, alias.Start);
                    AddToParent(size);
                    break;
                case Scalar scalar:
                    if (!scalar.Anchor.IsEmpty) anchors[scalar.Anchor.Value] = 1;
                    Count(1, scalar.Start);
                    AddToParent(1);
                    break;
                case NodeEvent { } start when start is SequenceStart or MappingStart:
                    if (frames.Count >= MaxDepth)
                        throw Error(path, start.Start, $"the manifest nests deeper than {MaxDepth} levels");
                    Count(1, start.Start);
                    frames.Push((start.Anchor.IsEmpty ? null : start.Anchor.Value, 1));
                    break;
                case SequenceEnd or MappingEnd:
                    var (anchor, collection) = frames.Pop();
                    if (anchor is not null) anchors[anchor] = collection;
                    AddToParent(collection);
                    break;
                case DocumentEnd:
                    anchors.Clear();
                    break;
            }
        }
        return events;
    }

    private static ManifestException Error(string path, Mark at, string message) =>
        new([new ManifestError(new SourceLocation(path, Math.Max(1, (int)at.Line), Math.Max(1, (int)at.Column)), message)]);
}
