using System.Text;
using XenIac.Hosts;
using XenIac.Reconciler.Manifests;

namespace XenIac.Reconciler.Importing;

/// <summary>A file import writes, with its content.</summary>
public sealed record ImportFile(string Path, byte[] Content);

/// <summary>
/// What an import writes: xl.cfg files under <c>configs/</c> beside the manifest, and the manifest text (a new
/// manifest, or an existing one with one entry added). Nothing is on disk until <see cref="ImportWriter"/> writes it.
/// </summary>
public sealed record ManifestDraft
{
    public required string ManifestPath { get; init; }
    public required string Text { get; init; }
    /// <summary>The existing manifest began with a UTF-8 byte order mark, kept when it is written back.</summary>
    public bool ByteOrderMark { get; init; }
    /// <summary>True when the manifest is new (refused over an existing file without --force).</summary>
    public required bool IsNew { get; init; }
    public required IReadOnlyList<ImportFile> Configs { get; init; }
    /// <summary>The entries written, each with what loading it must give (checked before the manifest is written).</summary>
    internal IReadOnlyList<ExpectedEntry> Entries { get; init; } = [];
    /// <summary>The names of an existing manifest's domains, in order; they must load unchanged before the new one.</summary>
    internal IReadOnlyList<string> KeptNames { get; init; } = [];

    public byte[] ToBytes()
    {
        var body = Encoding.UTF8.GetBytes(Text);
        return ByteOrderMark ? [.. Encoding.UTF8.Preamble, .. body] : body;
    }
}

/// <summary>An entry and what <see cref="ManifestLoader"/> must read from it: the state plan finds nothing to do for.</summary>
internal sealed record ExpectedEntry(ImportedDomain Domain, HostSpec Host, string SavefilePath, string? ConfigPath);

/// <summary>
/// The manifest text for imported domains. Every scalar is written through <see cref="YamlScalars"/>, so names and
/// paths that YAML would misread are quoted; paths are relative to the manifest's folder (the loader resolves
/// them there), so the manifest and its files can move together.
/// </summary>
public static class ManifestWriter
{
    /// <summary>The folder, beside the manifest, that imported configs are written to.</summary>
    public const string ConfigFolder = "configs";

    /// <summary>
    /// The settings of a manifest an entry inherits unless it says otherwise. An entry states what differs, so it
    /// means the same whatever the file's <c>defaults:</c> say.
    /// </summary>
    internal sealed record Inherited(HostSpec Host, string SavefileDir, SavefileFormat Format, bool Checkpoint, bool Paused);

    /// <summary>A new manifest for <paramref name="scan"/>'s domains on <paramref name="host"/>, to be written at <paramref name="manifestPath"/>.</summary>
    public static ManifestDraft Compose(ImportScan scan, string manifestPath, HostSpec host, string? savefileFolder)
    {
        ArgumentNullException.ThrowIfNull(scan);
        // Only a dom0 opens the default host, and there it is libxl; the manifest names it so plan needs no --host.
        if (host.IsDefault) host = HostSpec.Libxl;
        var path = Path.GetFullPath(manifestPath);
        var directory = Path.GetDirectoryName(path)!;
        var savefileDir = savefileFolder is null ? Path.Combine(directory, "saves") : Path.GetFullPath(savefileFolder);
        var inherited = new Inherited(host, savefileDir, SavefileFormat.Xl, Checkpoint: false, Paused: false);

        var text = new StringBuilder();
        // Printable: a line break in a folder's name would end the comment and start YAML.
        text.Append("# Written by `xen-iac import` from ").Append(ManifestLoader.Printable(HostText(host, null)))
            .Append(savefileFolder is null ? "" : " and the savefiles in " + ManifestLoader.Printable(savefileDir)).Append(".\n");
        text.Append("# `xen-iac plan` on it shows no changes until reality or this file changes.\n");
        text.Append("version: 1\n");
        text.Append("defaults:\n");
        text.Append("  host: ").Append(YamlScalars.Value(HostText(host, directory))).Append('\n');
        if (savefileFolder is not null)
            text.Append("  savefileDir: ").Append(YamlScalars.Value(Relative(directory, savefileDir))).Append('\n');
        text.Append(scan.Domains.Count == 0 ? "domains: []\n" : "domains:\n");

        var configs = new List<ImportFile>();
        var entries = new List<ExpectedEntry>();
        foreach (var domain in scan.Domains)
        {
            var (lines, entry, config) = Entry(domain, host, inherited, directory);
            AppendEntry(text, lines, dashColumn: 2, contentColumn: 4, "\n");
            entries.Add(entry);
            if (config is not null) configs.Add(config);
        }
        return new ManifestDraft { ManifestPath = path, Text = text.ToString(), IsNew = true, Configs = configs, Entries = entries };
    }

    /// <summary>How a host is written in a manifest in <paramref name="directory"/> (relative embedded folder); the default host is libxl.</summary>
    internal static string HostText(HostSpec host, string? directory) => host.Kind switch
    {
        HostKind.Embedded => HostSpec.EmbeddedPrefix + (directory is null ? host.Folder : Relative(directory, host.Folder!)),
        // A remote host is named as it was given: its folder (if any) is on the remote, not beside the manifest.
        HostKind.Ssh => host.ToString(),
        _ => HostSpec.LibxlText,
    };

    internal static string Relative(string directory, string path) => Path.GetRelativePath(directory, path);

    internal static string DefaultSavefile(Inherited inherited, string name, SavefileFormat format) =>
        Path.Combine(inherited.SavefileDir, name + (format == SavefileFormat.Legacy ? ".img" : ".xlsave"));

    /// <summary>The entry's key/value lines (values already YAML), what it must load as, and its config file.</summary>
    internal static (List<string> Lines, ExpectedEntry Entry, ImportFile? Config) Entry(ImportedDomain domain, HostSpec host, Inherited inherited, string directory)
    {
        var lines = new List<string> { "name: " + YamlScalars.Value(domain.Name) };
        ImportFile? config = null;
        if (domain.Config is { } c)
        {
            config = new ImportFile(Path.Combine(directory, ConfigFolder, domain.Name + ".cfg"), c.Content);
            lines.Add("config: " + YamlScalars.Value(Relative(directory, config.Path)));
        }
        var savefile = domain.SavefilePath ?? DefaultSavefile(inherited, domain.Name, domain.Format);
        if (savefile != DefaultSavefile(inherited, domain.Name, domain.Format))
            lines.Add("savefile: " + YamlScalars.Value(Relative(directory, savefile)));
        lines.Add("state: " + (domain.State == DesiredState.Running ? "running" : "saved"));
        if (domain.Paused != inherited.Paused) lines.Add("paused: " + (domain.Paused ? "true" : "false"));
        if (domain.Format != inherited.Format) lines.Add("format: " + (domain.Format == SavefileFormat.Legacy ? "legacy" : "xl"));
        // A checkpoint default would make plan propose a checkpoint of every running domain without a savefile.
        if (inherited.Checkpoint) lines.Add("checkpoint: false");
        if (host != inherited.Host) lines.Add("host: " + YamlScalars.Value(HostText(host, directory)));
        return (lines, new ExpectedEntry(domain, host, savefile, config?.Path), config);
    }

    internal static void AppendEntry(StringBuilder text, List<string> lines, int dashColumn, int contentColumn, string newLine)
    {
        for (var i = 0; i < lines.Count; i++)
        {
            if (i == 0) text.Append(' ', dashColumn).Append('-').Append(' ', contentColumn - dashColumn - 1);
            else text.Append(' ', contentColumn);
            text.Append(lines[i]).Append(newLine);
        }
    }
}
