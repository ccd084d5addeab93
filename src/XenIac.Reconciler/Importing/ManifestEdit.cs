using XenIac.Core.IO;
using System.Text;
using XenIac.Hosts;
using XenIac.Reconciler.Manifests;
using YamlDotNet.RepresentationModel;

namespace XenIac.Reconciler.Importing;

/// <summary>
/// Adds one domain to an existing manifest as a text edit: the entry is inserted after the last line of the
/// <c>domains:</c> list, indented as the list's first entry is, and every other byte of the file stays as it was
/// (comments, blank lines, quoting, line endings). YamlDotNet's representation model would lose the comments on
/// a round trip, so it is used only to find where the list ends and what the file's defaults are.
/// </summary>
public sealed class ManifestEdit
{
    private readonly string _text;
    private readonly bool _bom;
    private readonly string _directory;
    private readonly YamlMappingNode _root;
    private readonly ManifestWriter.Inherited _inherited;

    private ManifestEdit(string path, string text, bool bom, Manifest manifest, YamlMappingNode root)
    {
        Path = path;
        _text = text;
        _bom = bom;
        Manifest = manifest;
        _root = root;
        _directory = System.IO.Path.GetDirectoryName(path)!;
        var defaults = Get(root, "defaults") as YamlMappingNode;
        string? Default(string key) => defaults is not null && Get(defaults, key) is YamlScalarNode { Value: { Length: > 0 } v } ? v : null;
        DefaultHost = HostSpec.TryParse(Default("host"), _directory, out var host, out _) ? host : HostSpec.Default;
        SavefileDir = System.IO.Path.GetFullPath(Default("savefileDir") ?? "saves", _directory);
        _inherited = new ManifestWriter.Inherited(DefaultHost, SavefileDir,
            Default("format") == "legacy" ? SavefileFormat.Legacy : SavefileFormat.Xl,
            Checkpoint: Default("checkpoint") == "true", Paused: Default("paused") == "true");
    }

    public string Path { get; }

    /// <summary>The manifest as it loads today (it must load: import does not edit a manifest with errors).</summary>
    public Manifest Manifest { get; }

    /// <summary>The file's <c>defaults.host</c>, or <see cref="HostSpec.Default"/> when it names none.</summary>
    public HostSpec DefaultHost { get; }

    /// <summary>Where the file's domains keep their savefiles by default (absolute).</summary>
    public string SavefileDir { get; }

    /// <summary>Reads and loads the manifest at <paramref name="path"/>.</summary>
    /// <exception cref="ManifestException">The manifest is missing or invalid.</exception>
    public static ManifestEdit Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = System.IO.Path.GetFullPath(path);
        var manifest = ManifestLoader.Load(full);
        var bytes = SmallFile.ReadAllBytes(full, (int)ManifestLoader.MaxManifestBytes);
        var bom = bytes.AsSpan().StartsWith(Encoding.UTF8.Preamble);
        var text = Encoding.UTF8.GetString(bom ? bytes[Encoding.UTF8.Preamble.Length..] : bytes);
        var yaml = new YamlStream();
        yaml.Load(new StringReader(text));
        return new ManifestEdit(full, text, bom, manifest, (YamlMappingNode)yaml.Documents[0].RootNode);
    }

    /// <summary>Refuses a domain the manifest has already: importing it again would make a duplicate entry.</summary>
    /// <exception cref="ImportException">The manifest names <paramref name="name"/>.</exception>
    public void CheckAbsent(string name)
    {
        if (Manifest.Domains.FirstOrDefault(d => d.Name == name) is { } existing)
            throw new ImportException($"'{name}' is already in {Path} (line {existing.Location.Line}); remove that entry first to import it again");
    }

    /// <summary>The manifest with <paramref name="domain"/>, found on <paramref name="host"/>, added as the last entry of <c>domains:</c>.</summary>
    /// <exception cref="ImportException">The manifest has the domain already, or its list cannot be edited as text.</exception>
    public ManifestDraft Add(ImportedDomain domain, HostSpec host)
    {
        ArgumentNullException.ThrowIfNull(domain);
        CheckAbsent(domain.Name);
        if (host.IsDefault) host = HostSpec.Libxl;
        var (lines, entry, config) = ManifestWriter.Entry(domain, host, _inherited, _directory);
        var newLine = _text.Contains("\r\n", StringComparison.Ordinal) ? "\r\n" : "\n";

        var keyNode = _root.Children.Keys.OfType<YamlScalarNode>().First(k => k.Value == "domains");
        var list = _root.Children[keyNode];
        string edited;
        if (list is YamlSequenceNode { Children.Count: > 0 } sequence)
        {
            if (sequence.Style == YamlDotNet.Core.Events.SequenceStyle.Flow)
                throw new ImportException($"'domains' in {Path} is a flow list ([...]); write it as a block list (one '- name: ...' entry per line) to import into it");
            var (dash, content) = Columns(sequence, keyNode);
            var end = sequence.Children[^1].AllNodes.Max(n => n.End.Index);
            edited = Insert(_text, (int)end, lines, dash, content, newLine);
        }
        else
        {
            // An empty list ('domains:' or 'domains: []'): the first entry goes on the lines after the key, two
            // columns in, and an empty '[]' is taken out (a block entry cannot follow it).
            var text = _text;
            if (list is YamlSequenceNode empty)
            {
                var start = (int)empty.Start.Index;
                // YamlDotNet gives a sequence node the marks of its '[' only; its ']' is the next one (the list is empty).
                var stop = text.IndexOf(']', start) + 1;
                var lineEnd = text.IndexOf('\n', stop);
                var rest = lineEnd < 0 ? text[stop..] : text[stop..lineEnd];
                // Spaces before '[]' go too, unless a comment follows, which needs one before its '#'.
                if (rest.Trim().Length == 0)
                    while (start > 0 && text[start - 1] is ' ' or '\t') start--;
                text = text[..start] + text[stop..];
            }
            var dash = Column(text, (int)keyNode.Start.Index) + 2;
            edited = Insert(text, (int)keyNode.End.Index, lines, dash, dash + 2, newLine);
        }
        return new ManifestDraft
        {
            ManifestPath = Path,
            Text = edited,
            ByteOrderMark = _bom,
            IsNew = false,
            Configs = config is null ? [] : [config],
            Entries = [entry],
            KeptNames = Manifest.Domains.Select(d => d.Name).ToList(),
        };
    }

    /// <summary>
    /// The column of the first entry's '-' and of its keys, as the file writes them (<c>- name</c>, <c>-   name</c>,
    /// or the dash under the key); an entry that starts on the line after its dash gets the usual two columns.
    /// </summary>
    private (int Dash, int Content) Columns(YamlSequenceNode sequence, YamlScalarNode key)
    {
        var first = sequence.Children[0];
        var start = (int)first.Start.Index;
        var lineStart = _text.LastIndexOf('\n', Math.Max(0, start - 1)) + 1;
        var prefix = _text[lineStart..start];
        var dash = prefix.IndexOf('-', StringComparison.Ordinal);
        if (first is YamlMappingNode { Style: not YamlDotNet.Core.Events.MappingStyle.Flow } && dash >= 0
            && prefix.Trim() == "-" && prefix[..dash].All(c => c == ' '))
            return (dash, prefix.Length);
        var column = dash >= 0 && prefix[..dash].All(c => c == ' ') ? dash : Column(_text, (int)key.Start.Index) + 2;
        return (column, column + 2);
    }

    private static int Column(string text, int index) => index - (text.LastIndexOf('\n', Math.Max(0, index - 1)) + 1);

    /// <summary>
    /// Inserts the entry after the line on which <paramref name="end"/> lies (keeping a comment at its end on that
    /// line), or at <paramref name="end"/> when that is already the start of a line (a block scalar ends there).
    /// </summary>
    private static string Insert(string text, int end, List<string> lines, int dash, int content, string newLine)
    {
        var entry = new StringBuilder();
        ManifestWriter.AppendEntry(entry, lines, dash, content, newLine);
        if (end > 0 && end <= text.Length && text[end - 1] == '\n') return text.Insert(end, entry.ToString());
        var lineEnd = text.IndexOf('\n', end);
        if (lineEnd < 0)
            // The file's last line has no line break: the entry gets one before it, and none after, as the file had.
            return text + newLine + entry.ToString()[..^newLine.Length];
        var at = AfterOwnComments(text, lineEnd + 1, dash);
        if (at == text.Length && text[^1] != '\n') return text + newLine + entry.ToString()[..^newLine.Length];
        return text.Insert(at, entry.ToString());
    }

    /// <summary>
    /// Past the comment lines right below the last entry that are indented deeper than its dash: they are that
    /// entry's (<c>  # end of db</c>) and stay with it. A blank line or a comment further left ends them.
    /// </summary>
    private static int AfterOwnComments(string text, int at, int dash)
    {
        while (at < text.Length)
        {
            var next = text.IndexOf('\n', at);
            var line = next < 0 ? text[at..] : text[at..next];
            var indent = line.Length - line.TrimStart(' ').Length;
            if (!line.TrimStart(' ').StartsWith('#') || indent <= dash) break;
            at = next < 0 ? text.Length : next + 1;
        }
        return at;
    }

    private static YamlNode? Get(YamlMappingNode mapping, string key) =>
        mapping.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;
}
