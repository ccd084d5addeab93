using XenIac.Core.IO;
using XenIac.Reconciler.Manifests;

namespace XenIac.Reconciler.Importing;

/// <summary>
/// Writes a <see cref="ManifestDraft"/>: every refusal is decided before the first byte is written, config files
/// are written first (the manifest names them, and loading it checks they exist), then the manifest is loaded from
/// the draft's text and compared with what import meant, and only then written. Every file is replaced atomically.
/// </summary>
public static class ImportWriter
{
    /// <summary>
    /// Checks, writes the configs, validates, and writes the manifest unless <paramref name="writeManifest"/> is
    /// false (printing it instead is the caller's). Returns the manifest as it loads.
    /// </summary>
    /// <exception cref="ImportException">A file exists that <paramref name="force"/> would be needed to replace.</exception>
    public static async Task<Manifest> WriteAsync(ManifestDraft draft, bool force, bool writeManifest, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(draft);
        Check(draft, force, writeManifest);
        var changed = new List<ImportFile>();
        foreach (var config in draft.Configs)
        {
            // An identical file is left alone: importing twice writes nothing new.
            if (File.Exists(config.Path) && File.ReadAllBytes(config.Path).AsSpan().SequenceEqual(config.Content)) continue;
            changed.Add(config);
        }
        if (changed.Count > 0) Directory.CreateDirectory(Path.GetDirectoryName(changed[0].Path)!);
        foreach (var config in changed)
            await AtomicFile.WriteAsync(config.Path, (s, ct) => s.WriteAsync(config.Content, ct).AsTask(), cancellationToken).ConfigureAwait(false);

        var manifest = Validate(draft);
        if (writeManifest)
        {
            UnixFileMode? mode = !draft.IsNew && !OperatingSystem.IsWindows() ? File.GetUnixFileMode(draft.ManifestPath) : null;
            var bytes = draft.ToBytes();
            await AtomicFile.WriteAsync(draft.ManifestPath, (s, ct) => s.WriteAsync(bytes, ct).AsTask(), cancellationToken).ConfigureAwait(false);
            // The edited manifest keeps its mode (it is a file people and git read, not a private savefile).
            if (mode is { } m && !OperatingSystem.IsWindows()) File.SetUnixFileMode(draft.ManifestPath, m);
        }
        return manifest;
    }

    private static void Check(ManifestDraft draft, bool force, bool writeManifest)
    {
        if (writeManifest)
        {
            if (draft.IsNew && File.Exists(draft.ManifestPath) && !force)
                throw new ImportException($"{draft.ManifestPath} exists; pass --force to replace it (or import NAME -f {draft.ManifestPath} to add one domain to it)");
            try { AtomicFile.CheckTarget(draft.ManifestPath); }
            catch (IOException e) { throw new ImportException(e.Message, e); }
        }
        foreach (var config in draft.Configs)
        {
            if (Directory.Exists(config.Path))
                throw new ImportException($"{config.Path} is a folder; import writes the domain's config there");
            if (File.Exists(config.Path) && !force && !File.ReadAllBytes(config.Path).AsSpan().SequenceEqual(config.Content))
                throw new ImportException($"{config.Path} exists with other content; pass --force to replace it with the config the host remembers");
        }
        var folder = Path.GetDirectoryName(draft.Configs.FirstOrDefault()?.Path ?? draft.ManifestPath)!;
        if (File.Exists(folder)) throw new ImportException($"{folder} is a file; import writes the domains' configs into a folder of that name");
    }

    /// <summary>
    /// Loads the draft as plan will, and checks each entry means what import found (state, savefile, host, config)
    /// and that an edited manifest's other domains load as before. A mismatch is a bug here, never written.
    /// </summary>
    internal static Manifest Validate(ManifestDraft draft)
    {
        var manifest = ManifestLoader.Parse(draft.Text, draft.ManifestPath);
        var names = manifest.Domains.Select(d => d.Name).ToList();
        var expectedNames = draft.KeptNames.Concat(draft.Entries.Select(e => e.Domain.Name)).ToList();
        if (!names.SequenceEqual(expectedNames, StringComparer.Ordinal))
            throw new InvalidOperationException($"import wrote a manifest whose domains load as [{string.Join(", ", names)}], not [{string.Join(", ", expectedNames)}]");
        // Names are unique (the loader says so, and the sequence matched above): one lookup per entry.
        var byName = manifest.Domains.ToDictionary(d => d.Name, StringComparer.Ordinal);
        foreach (var entry in draft.Entries)
        {
            var spec = byName[entry.Domain.Name];
            var problems = new List<string>();
            if (spec.State != entry.Domain.State) problems.Add($"state {spec.State}");
            if (spec.Format != entry.Domain.Format) problems.Add($"format {spec.Format}");
            if (spec.Paused != entry.Domain.Paused) problems.Add($"paused {spec.Paused}");
            if (spec.Checkpoint) problems.Add("checkpoint");
            if (spec.SavefilePath != entry.SavefilePath) problems.Add($"savefile {spec.SavefilePath}");
            if (spec.ConfigPath != entry.ConfigPath) problems.Add($"config {spec.ConfigPath}");
            if (spec.Host != entry.Host) problems.Add($"host {spec.Host}");
            if (problems.Count > 0)
                throw new InvalidOperationException($"import wrote an entry for '{spec.Name}' that loads otherwise than meant: {string.Join(", ", problems)}");
        }
        return manifest;
    }
}
