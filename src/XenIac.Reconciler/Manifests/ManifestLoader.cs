using XenIac.Core.IO;
using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace XenIac.Reconciler.Manifests;

/// <summary>
/// Loads a YAML manifest into <see cref="Manifest"/>. Walks YamlDotNet's node tree rather than deserializing into
/// classes so that every error — unknown key, wrong type, duplicate name, missing file — names its line and column,
/// and all errors are reported at once.
/// </summary>
public static partial class ManifestLoader
{
    /// <summary>The file name plan/apply look for when none is given.</summary>
    public const string DefaultFileName = "xen-iac.yaml";

    internal static readonly string[] TopLevelKeys = ["version", "hosts", "defaults", "domains"];
    internal static readonly string[] HostKeys = ["spec", "labels"];
    internal static readonly string[] HostSelectorKeys = ["label"];
    internal static readonly string[] DefaultsKeys = ["host", "state", "format", "checkpoint", "paused", "force", "savefileDir", "trustConfig", "store", "storeKey", "keep"];
    internal static readonly string[] DomainKeys = ["name", "config", "savefile", "state", "overrides", "checkpoint", "paused", "format", "host", "force", "trustConfig", "snapshot", "store", "labels", "keep", "clones", "cloneDiskCopy"];
    internal static readonly string[] OverrideKeys = ["config", "settings"];

    /// <summary>The most savefiles <c>keep:</c> may ask for: a bound on what a typo can make a host keep on disk.</summary>
    public const int MaxKeep = 1000;

    /// <summary>Far beyond a thousand-domain manifest; keeps a wrong file (an image, a log) from being read whole.</summary>
    public const long MaxManifestBytes = 16L << 20;

    public static Manifest Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Contains('\0')) throw Single(Printable(path), "the manifest path contains a NUL character");
        string text;
        try
        {
            var info = new FileInfo(path);
            if (Directory.Exists(path)) throw Single(path, $"the manifest path is a folder, not a file: {path}");
            if (info.Exists && info.Length > MaxManifestBytes)
                throw Single(path, $"the manifest is {info.Length:N0} bytes; the limit is {MaxManifestBytes:N0}");
            // Bounded: a device or FIFO claims no size, and must not be read forever.
            text = Decode(SmallFile.ReadAllBytes(path, (int)MaxManifestBytes), path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { throw Single(path, $"manifest not found: {path}", missing: true); }
        // A path with a NUL or other character the OS cannot name, no permission, an I/O fault: all are about this file.
        catch (Exception e) when (e is ArgumentException or NotSupportedException or IOException or UnauthorizedAccessException)
        {
            throw Single(Printable(path), $"cannot read the manifest: {e.Message}");
        }
        return Parse(text, path);
    }

    /// <summary>
    /// The file's text: UTF-8 (a BOM allowed), or UTF-16/32 with their BOM, as YAML allows. A byte that is not UTF-8 is
    /// an error at its line and column: decoded leniently it would become U+FFFD inside a name or a path, which then
    /// names a file or a domain nobody wrote.
    /// </summary>
    private static string Decode(byte[] bytes, string path)
    {
        ReadOnlySpan<byte> data = bytes;
        if (data.Length >= 2 && (data[0], data[1]) is (0xFF, 0xFE) or (0xFE, 0xFF) || data.Length >= 4 && data[..4].SequenceEqual((ReadOnlySpan<byte>)[0, 0, 0xFE, 0xFF]))
        {
            using var reader = new StreamReader(new MemoryStream(bytes), detectEncodingFromByteOrderMarks: true);
            return reader.ReadToEnd();
        }
        if (data.Length >= 3 && data[..3].SequenceEqual((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) data = data[3..];
        // Where the bad byte is, counted as the YAML parser counts (lines from 1, columns in characters from 1).
        if (Utf8Text.TryDecode(data, out var text, out var invalid)) return text;
        throw new ManifestException([new ManifestError(new SourceLocation(path, invalid.Line, invalid.Column),
            $"the manifest is not UTF-8 text: byte 0x{invalid.Value:X2} here is not valid UTF-8 (save the file as UTF-8)")]);
    }

    /// <summary>Parses manifest text; relative paths resolve against the folder of <paramref name="path"/>.</summary>
    public static Manifest Parse(string text, string path)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(path);
        if (path.Contains('\0')) throw Single(Printable(path), "the manifest path contains a NUL character");
        var context = new Context(path);
        var yaml = new YamlStream();
        try
        {
            // Bounded: depth and alias expansion are checked on each event before YamlDotNet's recursive node code
            // sees it.
            yaml.Load(YamlGuard.Over(new StringReader(text), path));
        }
        catch (YamlException e)
        {
            var at = YamlMark(e);
            var (line, column) = YamlMessage(e).Contains(" tab", StringComparison.Ordinal) && IndentingTab(text, (int)at.Line) is { } tab
                ? tab : ((int)at.Line, (int)at.Column);
            throw new ManifestException([new ManifestError(new SourceLocation(path, Math.Max(1, line), Math.Max(1, column)), YamlMessage(e))]);
        }
        // Whatever else the YAML library throws is still a problem of this file; it gets the file's name and place.
        catch (Exception e) when (e is not (ManifestException or OutOfMemoryException or InsufficientExecutionStackException))
        {
            throw Single(path, $"invalid YAML: {e.Message}");
        }

        if (yaml.Documents.Count == 0 || yaml.Documents[0].RootNode is not YamlMappingNode root)
        {
            var at = yaml.Documents.Count == 0 ? new SourceLocation(path, 1, 1) : context.At(yaml.Documents[0].RootNode);
            throw new ManifestException([new ManifestError(at, "a manifest is a mapping with a 'domains' list")]);
        }
        if (yaml.Documents.Count > 1)
            context.Error(yaml.Documents[1].RootNode, "a manifest is one YAML document; found more than one");

        var hosts = Get(root, "hosts") is { } hostsNode ? LoadHosts(hostsNode, context) : [];
        context.KnownHosts = hosts;
        var domains = LoadRoot(root, context);
        if (context.Errors.Count > 0) throw new ManifestException(context.Errors);
        return new Manifest(path, domains) { Hosts = hosts };
    }

    /// <summary>
    /// <c>hosts:</c>: each name to a spec, written alone (<c>a: embedded:hosts/a</c>) or with labels
    /// (<c>b: {spec: embedded:hosts/b, labels: {rack: a}}</c>). Names follow domain names, so none can be a spec.
    /// </summary>
    private static List<ManifestHost> LoadHosts(YamlNode node, Context context)
    {
        var hosts = new List<ManifestHost>();
        if (node is YamlScalarNode { Value: null or "" }) return hosts;
        if (context.Mapping(node, "hosts") is not { } map) return hosts;
        var specs = new Dictionary<Hosts.HostSpec, string>();
        foreach (var (key, value) in map.Children)
        {
            if (context.String(key, "host name") is not { } name) continue;
            if (!DomainName().IsMatch(name) || name == Hosts.HostSpec.LibxlText)
            {
                context.Error(key, $"invalid host name '{name}': letters, digits, '.', '_' and '-', starting with a letter or digit, and not 'libxl' (that is a spec)");
                continue;
            }
            YamlNode specNode = value;
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            if (value is YamlMappingNode m)
            {
                context.CheckKeys(m, HostKeys, $"host '{name}'");
                if (Get(m, "spec") is not { } sn)
                {
                    context.Error(m, $"host '{name}' has no 'spec' (libxl, embedded:<folder>, ...)");
                    context.BrokenHosts.Add(name);
                    continue;
                }
                specNode = sn;
                labels = LoadLabels(m, context);
            }
            if (context.HostSpecOf(specNode) is not { } spec)
            {
                context.BrokenHosts.Add(name);
                continue;
            }
            if (specs.TryGetValue(spec, out var other))
            {
                context.Error(specNode, $"host '{name}' is the same host as '{other}' ({spec})");
                context.BrokenHosts.Add(name);
                continue;
            }
            specs[spec] = name;
            hosts.Add(new ManifestHost(name, spec, labels, context.At(key)));
        }
        return hosts;
    }

    private static List<DomainSpec> LoadRoot(YamlMappingNode root, Context context)
    {
        context.CheckKeys(root, TopLevelKeys, "top level");
        // A quoted "1" is the version too: Compose files quote theirs, and "'version' must be a whole number" for the
        // very number asked for read as a riddle.
        if (Get(root, "version") is { } version && (version is YamlScalarNode { Style: ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted, Value: "1" } ? 1 : context.Int(version, "version")) is { } v && v != 1)
            context.Error(version, $"unsupported manifest version {v}; this xen-iac reads version 1");

        var defaults = new Defaults();
        if (Get(root, "defaults") is { } defaultsNode && context.Mapping(defaultsNode, "defaults") is { } d)
        {
            context.CheckKeys(d, DefaultsKeys, "defaults");
            defaults = new Defaults
            {
                Host = Get(d, "host") is { } h ? context.HostRef(h) : null,
                State = Get(d, "state") is { } s ? context.Enum<DesiredState>(s, "state") : null,
                Format = Get(d, "format") is { } f ? context.Enum<SavefileFormat>(f, "format") : null,
                Checkpoint = Get(d, "checkpoint") is { } c ? context.Bool(c, "checkpoint") : null,
                Paused = Get(d, "paused") is { } p ? context.PausedSetting(p) : null,
                Keep = Get(d, "keep") is { } k ? context.Keep(k) : null,
                Force = Get(d, "force") is { } fo ? context.Bool(fo, "force") : null,
                TrustConfig = Get(d, "trustConfig") is { } tc ? context.Bool(tc, "trustConfig") : null,
                SavefileDir = Get(d, "savefileDir") is { } sd ? context.Path(sd, "savefileDir", mustExist: false) : null,
                Store = Get(d, "store") is { } st ? context.StoreLocation(st) : null,
                StoreKey = Get(d, "storeKey") is { } sk ? context.Path(sk, "storeKey", mustExist: true) : null,
            };
        }

        var domains = new List<DomainSpec>();
        var domainsNode = Get(root, "domains");
        if (domainsNode is null)
        {
            context.Error(root, "missing 'domains': list the domains this manifest manages");
            return domains;
        }
        if (domainsNode is YamlScalarNode { Value: null or "" }) return domains;
        if (domainsNode is not YamlSequenceNode list)
        {
            context.Error(domainsNode, "'domains' must be a list");
            return domains;
        }

        // Names are checked apart from the rest, so a duplicate is reported even when either entry has other errors.
        var seen = new Dictionary<string, SourceLocation>(StringComparer.Ordinal);
        var duplicates = new HashSet<YamlNode>();
        foreach (var item in list.Children)
        {
            if (item is not YamlMappingNode m || Get(m, "name") is not YamlScalarNode { Value: { Length: > 0 } name } nameNode) continue;
            if (seen.TryGetValue(name, out var first))
            {
                context.Error(nameNode, $"duplicate domain name '{name}' (first defined at line {first.Line})");
                duplicates.Add(item);
            }
            else
            {
                seen[name] = context.At(nameNode);
            }
        }
        foreach (var item in list.Children)
        {
            var domain = LoadDomain(item, defaults, context);
            if (domain is not null && !duplicates.Contains(item)) domains.Add(domain);
        }
        // One savefile per domain: two sharing a path saved one over the other, and the first domain's state was lost
        // while plan then said nothing was left to do. A config named as a savefile would be overwritten by a save.
        var savefiles = new Dictionary<string, DomainSpec>(StringComparer.Ordinal);
        var configs = domains.Where(x => x.ConfigPath is not null).GroupBy(x => x.ConfigPath!, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        foreach (var domain in domains)
        {
            if (savefiles.TryGetValue(domain.SavefilePath, out var owner))
                context.Error(domain.SavefileLocation ?? domain.Location, $"domain '{domain.Name}' has the savefile of domain '{owner.Name}' (line {(owner.SavefileLocation ?? owner.Location).Line}): '{domain.SavefilePath}'; each domain needs its own, or one save replaces the other");
            else savefiles[domain.SavefilePath] = domain;
            if (configs.TryGetValue(domain.SavefilePath, out var configOwner))
                context.Error(domain.SavefileLocation ?? domain.Location, $"domain '{domain.Name}''s savefile '{domain.SavefilePath}' is the config of domain '{configOwner.Name}'; a save would replace that config");
        }
        // clones: N claims the names NAME-1..NAME-N; a manifest domain under one of them would be destroyed or clashed with.
        // Each name is split once at each of its dashes and the part before looked up (pooled domains against every
        // domain was quadratic in domains).
        var pools = domains.Where(x => x.Clones > 0).GroupBy(x => x.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        if (pools.Count > 0)
            foreach (var other in domains)
                for (var dash = other.Name.IndexOf('-'); dash > 0; dash = other.Name.IndexOf('-', dash + 1))
                    if (pools.TryGetValue(other.Name[..dash], out var pooled) && Cloning.CloneBatch.NumberOf(pooled.Name, other.Name) is { } k && k <= pooled.Clones)
                        context.Error(other.Location, $"domain '{other.Name}' has the name of a clone of '{pooled.Name}' (clones: {pooled.Clones}); rename it or lower clones");
        return domains;
    }

    private static DomainSpec? LoadDomain(YamlNode node, Defaults defaults, Context context)
    {
        if (context.Mapping(node, "domain") is not { } m) return null;
        var errorsBefore = context.Errors.Count;
        context.CheckKeys(m, DomainKeys, "domain");

        var nameNode = Get(m, "name");
        if (nameNode is null)
        {
            context.Error(m, "domain has no 'name'");
            return null;
        }
        var name = context.String(nameNode, "name");
        if (name is null) return null;
        if (!DomainName().IsMatch(name))
            context.Error(nameNode, $"invalid domain name '{name}': use letters, digits, '.', '_' and '-', starting with a letter or digit");

        var state = (Get(m, "state") is { } s ? context.Enum<DesiredState>(s, "state") : null) ?? defaults.State ?? DesiredState.Running;
        var format = (Get(m, "format") is { } f ? context.Enum<SavefileFormat>(f, "format") : null) ?? defaults.Format ?? SavefileFormat.Xl;
        var checkpointNode = Get(m, "checkpoint");
        var checkpoint = (checkpointNode is not null ? context.Bool(checkpointNode, "checkpoint") : null) ?? defaults.Checkpoint ?? false;
        var pausedValue = (Get(m, "paused") is { } p ? context.PausedSetting(p) : null) ?? defaults.Paused ?? PausedValue.No;
        var paused = pausedValue == PausedValue.Yes;
        var keep = (Get(m, "keep") is { } kn ? context.Keep(kn) : null) ?? defaults.Keep;
        var force = (Get(m, "force") is { } fo ? context.Bool(fo, "force") : null) ?? defaults.Force ?? false;
        var trustConfig = (Get(m, "trustConfig") is { } tc ? context.Bool(tc, "trustConfig") : null) ?? defaults.TrustConfig ?? false;
        var hostNode = Get(m, "host");
        var host = (hostNode is not null ? context.HostRef(hostNode) : null) ?? defaults.Host;
        var config = Get(m, "config") is { } c ? context.Path(c, "config", mustExist: true) : null;

        var extension = format == SavefileFormat.Legacy ? ".img" : ".xlsave";
        var savefileNode = Get(m, "savefile");
        var savefile = savefileNode is { } sf
            ? context.Path(sf, "savefile", mustExist: false)
            : System.IO.Path.Combine(defaults.SavefileDir ?? context.Resolve("saves"), name + extension);

        var (overrideConfig, settings) = LoadOverrides(m, context);

        var snapshotNode = Get(m, "snapshot");
        var snapshot = snapshotNode is null ? null : context.String(snapshotNode, "snapshot");
        var store = (Get(m, "store") is { } st ? context.StoreLocation(st) : null) ?? defaults.Store;
        if (snapshot is not null)
        {
            if (XenIac.Store.SnapshotStore.TagProblem(snapshot) is { } tagProblem)
                context.Error(snapshotNode!, $"invalid snapshot tag '{snapshot}': {tagProblem.Replace("web@", name + "@", StringComparison.Ordinal)}");
            if (store is null)
                context.Error(snapshotNode!, "a domain with 'snapshot' needs a store: set 'store' on the domain or in defaults (a folder or s3://bucket/prefix)");
            if (format == SavefileFormat.Legacy)
                context.Error(snapshotNode!, "snapshots hold xl savefiles; a legacy-format domain cannot name one");
        }

        var labels = LoadLabels(m, context);

        var clonesNode = Get(m, "clones");
        var clones = clonesNode is null ? 0 : context.Clones(clonesNode) ?? 0;
        var cloneDiskCopy = Cloning.CloneDiskCopy.Copy;
        if (Get(m, "cloneDiskCopy") is { } cdc && !(cdc is YamlScalarNode { Value: var word } && Cloning.CloneDiskCopyWords.TryParse(word, out cloneDiskCopy)))
            context.Error(cdc, $"'cloneDiskCopy' must be {Cloning.CloneDiskCopyWords.List} (how each clone gets its own writable disks)");
        if (clones > 0)
        {
            // Clones restore from the savefile with its stored config: a legacy one has none, a store tag is not a file here.
            if (format == SavefileFormat.Legacy)
                context.Error(clonesNode!, "clones restore from an xl savefile's stored config; a legacy-format domain cannot have clones");
            if (snapshot is not null)
                context.Error(clonesNode!, "clones restore from a local savefile; a domain kept under a store snapshot cannot have clones yet");
            if (!Cloning.CloneBatch.IsValidPrefix(name))
                context.Error(clonesNode!, $"clones are named {name}-N, and '{name}' is too long for that (up to 60 characters)");
        }

        var location = context.At(nameNode);
        if (checkpoint && state != DesiredState.Running)
            context.Error(checkpointNode ?? m, $"checkpoint keeps the domain running, which contradicts state '{state.ToString().ToLowerInvariant()}'; use state: running with checkpoint: true");
        if (format == SavefileFormat.Legacy && config is null && overrideConfig is null && state == DesiredState.Running)
            context.Error(m, "a legacy savefile stores no config: give the domain a 'config' (or overrides.config) to restore it with");

        if (context.Errors.Count > errorsBefore) return null;
        return new DomainSpec
        {
            Name = name,
            ConfigPath = config,
            SavefilePath = savefile!,
            State = state,
            OverrideConfigPath = overrideConfig,
            OverrideSettings = settings,
            Checkpoint = checkpoint,
            Paused = paused,
            ObserveOnly = pausedValue == PausedValue.Reconcile,
            Keep = keep,
            Format = format,
            Host = host?.Spec ?? default,
            HostName = host?.Name,
            HostSelector = host?.Selector,
            HostLocation = hostNode is not null ? context.At(hostNode) : host?.Location ?? location,
            Force = force,
            TrustConfig = trustConfig,
            Location = location,
            SavefileLocation = savefileNode is null ? location : context.At(savefileNode),
            ConfigLocation = Get(m, "config") is { } configNode ? context.At(configNode) : location,
            OverridesLocation = Get(m, "overrides") is { } on ? context.At(on) : location,
            Snapshot = snapshot is null || store is null ? null : new SnapshotRef(snapshot, store, defaults.StoreKey),
            Labels = labels,
            Clones = clones,
            CloneDiskCopy = cloneDiskCopy,
        };
    }

    /// <summary>
    /// A domain's labels: names and values kept to letters, digits and a few marks, so a selector
    /// (<c>label:rack=a,tier=web</c>) can never be ambiguous about where a name or a value ends.
    /// </summary>
    private static Dictionary<string, string> LoadLabels(YamlMappingNode m, Context context)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Get(m, "labels") is not { } node || context.Mapping(node, "labels") is not { } map) return labels;
        foreach (var (key, value) in map.Children)
        {
            if (context.String(key, "label name") is not { } k) continue;
            if (!LabelName().IsMatch(k))
            {
                context.Error(key, $"invalid label name '{k}': letters, digits and '_', '.', '-', '/', starting with a letter or digit, up to 63 characters");
                continue;
            }
            if (value is not YamlScalarNode { Value: var v } || Context.IsNull(value))
            {
                context.Error(value, $"label '{k}' must be a string (quote it, \"null\", if that is the value meant)");
                continue;
            }
            if (!LabelValue().IsMatch(v ?? ""))
            {
                context.Error(value, $"invalid value '{v}' of label '{k}': letters, digits, '_', '.' and '-', up to 63 characters");
                continue;
            }
            labels[k] = v ?? "";
        }
        return labels;
    }

    /// <summary>A domain's overrides: a whole config, and settings merged onto it (each name and value checked here).</summary>
    private static (string? Config, List<KeyValuePair<string, SettingValue>> Settings) LoadOverrides(YamlMappingNode m, Context context)
    {
        string? overrideConfig = null;
        var settings = new List<KeyValuePair<string, SettingValue>>();
        if (Get(m, "overrides") is { } o && context.Mapping(o, "overrides") is { } overrides)
        {
            context.CheckKeys(overrides, OverrideKeys, "overrides");
            if (Get(overrides, "config") is { } oc) overrideConfig = context.Path(oc, "overrides.config", mustExist: true);
            if (Get(overrides, "settings") is { } os && context.Mapping(os, "overrides.settings") is { } sm)
            {
                foreach (var (key, value) in sm.Children)
                {
                    var k = context.String(key, "setting name");
                    if (k is null) continue;
                    if (!SettingName().IsMatch(k))
                    {
                        context.Error(key, $"invalid setting name '{k}': xl.cfg names are lower-case letters, digits and '_', not starting with a digit");
                        continue;
                    }
                    if (context.Setting(value, k) is { } v && context.CheckSetting(value, k, v)) settings.Add(new(k, v));
                }
            }
        }
        return (overrideConfig, settings);
    }

    private static YamlNode? Get(YamlMappingNode mapping, string key) =>
        mapping.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    /// <summary>
    /// Where a YAML error is. The message comes from the inner exception when there is one, so its place does too;
    /// some scanner errors start at the construct they were scanning (a mapping at 1:1) and end where the offending
    /// character is (a tab on line 3), so a start on the first line with an end further down gives the end.
    /// </summary>
    private static YamlDotNet.Core.Mark YamlMark(YamlException e)
    {
        var source = e.InnerException as YamlException ?? e;
        return source.Start.Line <= 1 && source.End.Line > 1 ? source.End : source.Start;
    }

    /// <summary>
    /// The first tab in a line's indentation from <paramref name="fromLine"/> on: where YAML's tab errors really are.
    /// The scanner reports them at the construct it was reading (a mapping at 1:1, the end of the line before).
    /// </summary>
    private static (int Line, int Column)? IndentingTab(string text, int fromLine)
    {
        var line = 1;
        var start = 0;
        while (start <= text.Length)
        {
            var end = text.IndexOf('\n', start);
            if (end < 0) end = text.Length;
            if (line >= fromLine)
            {
                for (var i = start; i < end && text[i] is ' ' or '\t'; i++)
                    if (text[i] == '\t') return (line, i - start + 1);
            }
            start = end + 1;
            line++;
        }
        return null;
    }

    private static string YamlMessage(YamlException e)
    {
        var message = e.InnerException is YamlException inner ? inner.Message : e.Message;
        // YamlDotNet's "Duplicate key version" reads as a sentence about a "key version".
        if (message.StartsWith("Duplicate key ", StringComparison.Ordinal)) return $"the key '{message["Duplicate key ".Length..]}' appears twice in one mapping";
        return $"invalid YAML: {message}";
    }

    private static ManifestException Single(string path, string message, bool missing = false) =>
        new([new ManifestError(new SourceLocation(path, 1, 1), message)]) { ManifestMissing = missing };

    /// <summary>A path as it can be shown on one line: control characters (a NUL, a newline) as \uXXXX.</summary>
    internal static string Printable(string path) =>
        string.Concat(path.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex DomainName();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$")]
    internal static partial Regex LabelName();

    [GeneratedRegex("^[A-Za-z0-9_.-]{0,63}$")]
    internal static partial Regex LabelValue();
    /// <summary>Whether a manifest can name a domain <paramref name="name"/> (import skips those it cannot).</summary>
    internal static bool IsValidDomainName(string name) => DomainName().IsMatch(name);

    // xl's lexer reads keys in lower case only (libxlu_cfg_l.l); an upper-case key would never reach xl.
    [GeneratedRegex("^[a-z_][a-z0-9_]*$")]
    private static partial Regex SettingName();

    private sealed record Defaults
    {
        public HostRefValue? Host { get; init; }
        public DesiredState? State { get; init; }
        public SavefileFormat? Format { get; init; }
        public bool? Checkpoint { get; init; }
        public PausedValue? Paused { get; init; }
        public int? Keep { get; init; }
        public bool? Force { get; init; }
        public bool? TrustConfig { get; init; }
        public string? SavefileDir { get; init; }
        public string? Store { get; init; }
        public string? StoreKey { get; init; }
    }

    /// <summary>What a <c>host:</c> says: a spec (with its name in <c>hosts:</c>, if any) or a selector over <c>hosts:</c>.</summary>
    private sealed record HostRefValue(Hosts.HostSpec Spec, string? Name, LabelSelector? Selector, SourceLocation Location);

    /// <summary><c>paused:</c> is true/false (restore paused) or <c>reconcile</c> (observe-only, never changed).</summary>
    private enum PausedValue { No, Yes, Reconcile }

    /// <summary>Collects errors with locations and reads typed scalars.</summary>
    private sealed class Context(string path)
    {
        private readonly string _directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;

        public List<ManifestError> Errors { get; } = [];

        /// <summary>The <c>hosts:</c> section, read before any domain names one.</summary>
        public IReadOnlyList<ManifestHost> KnownHosts
        {
            get => _knownHosts;
            set
            {
                // Looked up once per domain: by dictionary, so thousands of domains on thousands of hosts stay linear.
                _knownHosts = value;
                _hostByName = value.GroupBy(h => h.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
                _hostBySpec = value.GroupBy(h => h.Spec).ToDictionary(g => g.Key, g => g.First());
                _selectorMatches.Clear();
            }
        }

        private IReadOnlyList<ManifestHost> _knownHosts = [];
        private Dictionary<string, ManifestHost> _hostByName = new(StringComparer.Ordinal);
        private Dictionary<Hosts.HostSpec, ManifestHost> _hostBySpec = [];
        private readonly Dictionary<string, bool> _selectorMatches = new(StringComparer.Ordinal);

        /// <summary>The host names for a message: the first few, and how many there are (a list of thousands in every domain's error grew with domains × hosts).</summary>
        private string HostNames() =>
            string.Join(", ", _knownHosts.Take(10).Select(h => h.Name)) + (_knownHosts.Count > 10 ? $", … ({_knownHosts.Count} hosts)" : "");

        /// <summary>Names of <c>hosts:</c> whose entry had an error: a domain naming one is not a second error ("unknown host").</summary>
        public HashSet<string> BrokenHosts { get; } = new(StringComparer.Ordinal);

        public SourceLocation At(YamlNode node) => new(path, Math.Max(1, (int)node.Start.Line), Math.Max(1, (int)node.Start.Column));

        public void Error(YamlNode node, string message) => Errors.Add(new ManifestError(At(node), message));

        public void Error(SourceLocation at, string message) => Errors.Add(new ManifestError(at, message));

        public string Resolve(string relative) => System.IO.Path.GetFullPath(relative, _directory);

        /// <summary>Resolves a path written in the manifest; one the OS cannot name (a NUL in it) is an error at its node.</summary>
        public string? Resolve(YamlNode node, string value, string what)
        {
            if (value.Contains('\0'))
            {
                Error(node, $"'{what}' contains a NUL character, which no path can hold");
                return null;
            }
            try { return System.IO.Path.GetFullPath(value, _directory); }
            catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
            {
                Error(node, $"'{what}' is not a usable path: {e.Message}");
                return null;
            }
        }

        /// <summary>
        /// Checks one inline setting the way xl would read it, so a value xl refuses (<c>vcpus: "two"</c>) is an
        /// error here, at its line, rather than after apply has created the domain.
        /// </summary>
        public bool CheckSetting(YamlNode node, string key, SettingValue value)
        {
            try
            {
                var text = XenIac.Core.Config.XlConfig.Parse("", "setting").Set(key, value.ToXl()).ToString();
                XenIac.Core.Config.DomainConfig.Parse(text, "setting");
                return true;
            }
            catch (XenIac.Core.Config.XlConfigException e)
            {
                Error(node, $"setting '{key}': {e.Reason}");
            }
            catch (Exception e) when (e is XenIac.Core.XenIacException or ArgumentException or FormatException or OverflowException)
            {
                Error(node, $"setting '{key}': {e.Message}");
            }
            return false;
        }

        public void CheckKeys(YamlMappingNode mapping, string[] allowed, string where)
        {
            foreach (var key in mapping.Children.Keys)
            {
                if (key is YamlScalarNode { Value: { } k } && allowed.Contains(k, StringComparer.Ordinal)) continue;
                var shown = key is YamlScalarNode sk ? $"'{sk.Value}'" : "a non-scalar key";
                Error(key, $"unknown key {shown} in {where}; expected one of: {string.Join(", ", allowed)}");
            }
        }

        public YamlMappingNode? Mapping(YamlNode node, string what)
        {
            if (node is YamlMappingNode m) return m;
            Error(node, $"'{what}' must be a mapping (key: value lines)");
            return null;
        }

        /// <summary>
        /// YAML's plain null (<c>null</c>, <c>~</c>): a value left out, not the text "null". Read as a string it became
        /// a file, a domain or a label named "null"; quoted (<c>"null"</c>) it is that text.
        /// </summary>
        public static bool IsNull(YamlNode node) =>
            node is YamlScalarNode { Style: ScalarStyle.Plain, Value: "null" or "Null" or "NULL" or "~" };

        public string? String(YamlNode node, string what)
        {
            if (IsNull(node))
            {
                Error(node, $"'{what}' is null; give it a value (quote it, \"null\", if that is the text meant)");
                return null;
            }
            if (node is YamlScalarNode { Value: { Length: > 0 } v }) return v;
            Error(node, node is YamlScalarNode ? $"'{what}' must not be empty" : $"'{what}' must be a string");
            return null;
        }

        public bool? Bool(YamlNode node, string what)
        {
            if (node is YamlScalarNode { Style: ScalarStyle.Plain, Value: "true" or "false" } s) return s.Value == "true";
            Error(node, $"'{what}' must be true or false");
            return null;
        }

        public PausedValue? PausedSetting(YamlNode node)
        {
            if (node is YamlScalarNode { Style: ScalarStyle.Plain, Value: "true" or "false" } s) return s.Value == "true" ? PausedValue.Yes : PausedValue.No;
            if (node is YamlScalarNode { Value: "reconcile" }) return PausedValue.Reconcile;
            Error(node, "'paused' must be true or false (restore paused or not), or reconcile (observe only: never changed by apply)");
            return null;
        }

        /// <summary><c>clones: N</c>, 0 to <see cref="Cloning.CloneBatch.MaxCount"/>.</summary>
        public int? Clones(YamlNode node)
        {
            if (node is YamlScalarNode { Style: ScalarStyle.Plain, Value: { } v } && int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
                && n is >= 0 and <= Cloning.CloneBatch.MaxCount) return n;
            Error(node, $"'clones' must be a whole number from 0 to {Cloning.CloneBatch.MaxCount} (how many clones of the domain's savefile run)");
            return null;
        }

        /// <summary><c>keep: N</c>, 1 to 1000 savefiles.</summary>
        public int? Keep(YamlNode node)
        {
            if (node is YamlScalarNode { Style: ScalarStyle.Plain, Value: { } v } && int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= MaxKeep) return n;
            Error(node, $"'keep' must be a whole number from 1 to {MaxKeep} (how many savefiles a save or checkpoint keeps)");
            return null;
        }

        public int? Int(YamlNode node, string what)
        {
            if (node is YamlScalarNode { Style: ScalarStyle.Plain, Value: { } v } && int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i)) return i;
            Error(node, $"'{what}' must be a whole number");
            return null;
        }

        public T? Enum<T>(YamlNode node, string what) where T : struct, System.Enum
        {
            var names = System.Enum.GetNames<T>().Select(n => n.ToLowerInvariant()).ToArray();
            if (node is YamlScalarNode { Value: { } v } && names.Contains(v, StringComparer.Ordinal))
                return System.Enum.Parse<T>(v, ignoreCase: true);
            Error(node, $"'{what}' must be one of: {string.Join(", ", names)}");
            return null;
        }

        /// <summary>
        /// A domain's (or the defaults') <c>host:</c>: a name from <c>hosts:</c>, a spec, or <c>{label: rack=a}</c>
        /// (which must match at least one host of <c>hosts:</c>).
        /// </summary>
        public HostRefValue? HostRef(YamlNode node)
        {
            if (node is YamlMappingNode m)
            {
                CheckKeys(m, HostSelectorKeys, "host");
                if (Get(m, "label") is not { } ln)
                {
                    Error(m, "a host selector is {label: key=value}: placement picks one of the hosts: whose labels match");
                    return null;
                }
                if (String(ln, "host.label") is not { } text) return null;
                if (LabelSelector.TryParse(text) is not { } selector)
                {
                    Error(ln, $"'{text}' is not a label selector: write key=value, key!=value or key, joined by commas");
                    return null;
                }
                if (!_selectorMatches.TryGetValue(text, out var matches))
                    _selectorMatches[text] = matches = _knownHosts.Any(h => selector.Matches(h.Labels));
                if (!matches)
                {
                    Error(ln, _knownHosts.Count == 0 ? "a host selector needs a hosts: section with labelled hosts"
                        : $"no host in hosts: matches label {text} (hosts: {HostNames()})");
                    return null;
                }
                return new HostRefValue(default, null, selector, At(node));
            }
            if (node is YamlScalarNode { Value: { Length: > 0 } broken } && BrokenHosts.Contains(broken)) return null;
            if (node is YamlScalarNode { Value: { Length: > 0 } name } && _hostByName.TryGetValue(name, out var named))
                return new HostRefValue(named.Spec, named.Name, null, At(node));
            if (node is YamlScalarNode { Value: { Length: > 0 } word } && _knownHosts.Count > 0 && !word.Contains(':', StringComparison.Ordinal) && word != global::XenIac.Hosts.HostSpec.LibxlText)
            {
                Error(node, $"unknown host '{word}': name one of hosts: ({HostNames()}) or write a host spec");
                return null;
            }
            if (HostSpecOf(node) is not { } spec) return null;
            return new HostRefValue(spec, _hostBySpec.TryGetValue(spec, out var bySpec) ? bySpec.Name : null, null, At(node));
        }

        /// <summary>A host spec; an embedded folder resolves against the manifest's folder.</summary>
        public Hosts.HostSpec? HostSpecOf(YamlNode node)
        {
            var text = String(node, "host");
            if (text is null) return null;
            if (!Hosts.HostSpec.TryParse(text, _directory, out var spec, out var error))
            {
                Error(node, error);
                return null;
            }
            if (spec.IsDefault)
            {
                Error(node, "'host' must not be empty");
                return null;
            }
            return spec;
        }

        /// <summary>A store: s3://bucket/prefix as written, anything else a folder resolved against the manifest's folder.</summary>
        public string? StoreLocation(YamlNode node)
        {
            var value = String(node, "store");
            if (value is null) return null;
            if (value.StartsWith("s3://", StringComparison.Ordinal)) return value.Length > 5 ? value : Fail();
            if (value.Contains("://", StringComparison.Ordinal)) return Fail();
            return Resolve(node, value, "store");

            string? Fail()
            {
                Error(node, $"'store' must be a folder or s3://bucket/prefix, not '{value}'");
                return null;
            }
        }

        public string? Path(YamlNode node, string what, bool mustExist)
        {
            var value = String(node, what);
            if (value is null) return null;
            var full = Resolve(node, value, what);
            if (full is null) return null;
            if (mustExist && !File.Exists(full))
            {
                Error(node, Directory.Exists(full) ? $"'{what}' names a folder, not a file: {value} (resolved to {full})"
                    : $"'{what}' file not found: {value} (resolved to {full})");
                return null;
            }
            // Read at every plan and again at apply: a FIFO would be waited on (and could be read once), a device never ends.
            if (mustExist && !Core.IO.AtomicFile.IsRegularFile(full))
            {
                Error(node, $"'{what}' is not a regular file (a FIFO, device or socket): {value}; the manifest's files are read at every plan and apply");
                return null;
            }
            return full;
        }

        public SettingValue? Setting(YamlNode node, string key)
        {
            if (IsNull(node))
            {
                // Not "remove the setting": overrides only add and change; a config without it is the way to drop one.
                Error(node, $"setting '{key}' is null; give it a value (quote it, \"null\", if that is the text meant)");
                return null;
            }
            switch (node)
            {
                case YamlScalarNode { Style: ScalarStyle.Plain, Value: "true" or "false" } b:
                    return new SettingValue { Number = b.Value == "true" ? 1 : 0 };
                case YamlScalarNode { Style: ScalarStyle.Plain, Value: { } v } when long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n):
                    return new SettingValue { Number = n };
                case YamlScalarNode { Value: { } s }:
                    return new SettingValue { String = s };
                case YamlSequenceNode seq:
                    var items = new List<string>();
                    foreach (var item in seq.Children)
                    {
                        if (item is YamlScalarNode { Value: { } iv } && !IsNull(item)) items.Add(iv);
                        else Error(item, $"setting '{key}': list items must be strings");
                    }
                    return new SettingValue { List = items };
                default:
                    Error(node, $"setting '{key}' must be a string, a number or a list of strings");
                    return null;
            }
        }
    }
}
