using XenIac.Core;
using XenIac.Core.Config;
using XenIac.Core.IO;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;
using XenIac.Hosts;
using XenIac.Reconciler.Manifests;

namespace XenIac.Reconciler.Importing;

/// <summary>
/// Finds what a manifest should say so that <c>plan</c> on it shows no changes: the host's domains (running or
/// paused: state running, with the config the host remembers converted to xl.cfg) and the savefiles in a folder
/// (a domain that does not run: state saved, with its savefile). What cannot be imported that way is skipped with
/// a warning rather than failing the whole import: one stray or unreadable file in a folder of savefiles should
/// not stop a person from importing the rest, and the warning says what was left out.
/// </summary>
public static class Importer
{
    /// <summary>
    /// Scans <paramref name="host"/> and, when given, the savefiles directly in <paramref name="savefileFolder"/>
    /// (not its subfolders). With <paramref name="only"/>, just that domain is looked for.
    /// </summary>
    /// <exception cref="ImportException">The savefile folder does not exist or cannot be listed.</exception>
    public static async Task<ImportScan> ScanAsync(IXenHost host, string? savefileFolder, string? only = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        var warnings = new List<string>();
        var savefiles = savefileFolder is null ? new Dictionary<string, FoundSavefile>(StringComparer.Ordinal)
            : ScanFolder(savefileFolder, only, warnings);

        var domains = new List<ImportedDomain>();
        foreach (var info in await host.ListDomainsAsync(cancellationToken).ConfigureAwait(false))
        {
            if (only is not null && info.Name != only) continue;
            if (!ManifestLoader.IsValidDomainName(info.Name))
            {
                warnings.Add($"warning: skipped domain '{info.Name}' on {host.Spec}: a manifest cannot name it (letters, digits, '.', '_' and '-', starting with a letter or digit, up to 64)");
                continue;
            }
            savefiles.Remove(info.Name, out var savefile);
            if (info.State is not (DomainState.Running or DomainState.Paused or DomainState.Blocked))
            {
                // Neither state describes it: running would claim a guest that is not running, saved would make
                // plan propose a save of a domain that is on the host.
                warnings.Add($"warning: skipped domain '{info.Name}' on {host.Spec}: it is {info.State.ToString().ToLowerInvariant()}, neither running nor saved"
                             + (savefile is null ? "" : $" (its savefile {savefile.Path} is skipped too)"));
                continue;
            }
            var config = await ConfigOfAsync(host, info.Name, warnings, cancellationToken).ConfigureAwait(false);
            if (savefile is { Format: SavefileFormat.Legacy } && config is null)
            {
                // A running legacy-format entry needs a config to restore with, and there is none to write.
                warnings.Add($"warning: skipped {savefile.Path} as the savefile of '{info.Name}': it is a legacy savefile (no config stored) and the host gave no config");
                savefile = null;
            }
            if (savefile is not null)
                warnings.Add($"note: '{info.Name}' runs on {host.Spec} and has a savefile {savefile.Path}: imported as running, with that savefile as its savefile");
            domains.Add(new ImportedDomain
            {
                Name = info.Name,
                State = DesiredState.Running,
                Paused = info.State == DomainState.Paused,
                Format = savefile?.Format ?? SavefileFormat.Xl,
                SavefilePath = savefile?.Path,
                Config = config,
            });
        }
        foreach (var savefile in savefiles.Values)
        {
            domains.Add(new ImportedDomain { Name = savefile.Name, State = DesiredState.Saved, Format = savefile.Format, SavefilePath = savefile.Path });
            if (savefile.Format == SavefileFormat.Legacy)
                warnings.Add($"note: {savefile.Path} is a legacy savefile, which stores no config: give '{savefile.Name}' a 'config' before you set it running");
            if (savefile.HostEffects.Count > 0)
                warnings.Add($"note: the stored config of {savefile.Path} names what dom0 would run or open ({string.Join("; ", savefile.HostEffects)}); " +
                             $"restoring '{savefile.Name}' needs trustConfig: true on it or --trust-config, once you trust the file");
        }
        domains.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        if (savefileFolder is not null) WarnSharedSavefiles(domains, Path.GetFullPath(savefileFolder), warnings);
        return new ImportScan(domains, warnings);
    }

    /// <summary>
    /// The domain <paramref name="name"/>: on the host, else its savefile in <paramref name="savefileFolder"/>.
    /// </summary>
    /// <exception cref="ImportException">Neither has it (the message says why, when it was found but skipped).</exception>
    public static async Task<(ImportedDomain Domain, IReadOnlyList<string> Warnings)> FindAsync(IXenHost host, string name, string? savefileFolder,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        var scan = await ScanAsync(host, savefileFolder, name, cancellationToken).ConfigureAwait(false);
        if (scan.Domains.Count == 1) return (scan.Domains[0], scan.Warnings);
        var why = scan.Warnings.Count == 0 ? "" : " (" + string.Join("; ", scan.Warnings) + ")";
        throw new ImportException($"no domain named '{name}' on {host.Spec}" +
                                  (savefileFolder is null ? "" : $" and no savefile of it in {Path.GetFullPath(savefileFolder)}") + why);
    }

    /// <summary>
    /// A running domain without a savefile of its own saves to NAME.xlsave in the folder; when that file is the
    /// savefile of another domain (its stored config names that one), a save would replace it. Said, not changed:
    /// which of the two the file should belong to is the person's call.
    /// </summary>
    private static void WarnSharedSavefiles(List<ImportedDomain> domains, string folder, List<string> warnings)
    {
        var owners = domains.Where(d => d.SavefilePath is not null).ToDictionary(d => d.SavefilePath!, d => d.Name, StringComparer.Ordinal);
        foreach (var domain in domains.Where(d => d.SavefilePath is null))
        {
            var path = Path.Combine(folder, domain.Name + ".xlsave");
            if (owners.TryGetValue(path, out var owner))
                warnings.Add($"warning: '{domain.Name}' would save to {path}, which is the savefile of '{owner}'; give one of them another 'savefile:' before you save");
        }
    }

    /// <summary>The host's config as xl.cfg; a domain whose config cannot be read is still imported, without one.</summary>
    private static async Task<ImportedConfig?> ConfigOfAsync(IXenHost host, string name, List<string> warnings, CancellationToken cancellationToken)
    {
        try
        {
            var config = await host.GetConfigAsync(name, cancellationToken).ConfigureAwait(false);
            var xl = config.ToModel().ToXlConfig(out var notConverted);
            if (notConverted.Count > 0)
                warnings.Add($"note: the config of '{name}' has settings without an xl.cfg form, left out of its config file: {string.Join(", ", notConverted)}");
            return new ImportedConfig(xl.ToBytes(), notConverted);
        }
        catch (Exception e) when (e is XenIacException or ArgumentException or FormatException)
        {
            warnings.Add($"note: no config written for '{name}': the host's config cannot be read ({e.Message}); plan needs none while it runs");
            return null;
        }
    }

    private sealed record FoundSavefile(string Name, string Path, SavefileFormat Format, DateTime WrittenUtc, IReadOnlyList<HostEffect> HostEffects)
    {
        public bool IsLink { get; init; }
    }

    private static Dictionary<string, FoundSavefile> ScanFolder(string folder, string? only, List<string> warnings)
    {
        if (File.Exists(folder)) throw new ImportException($"savefile folder '{folder}' is a file, not a folder");
        if (!Directory.Exists(folder)) throw new ImportException($"savefile folder '{folder}' does not exist");
        string[] files;
        try { files = Directory.GetFiles(folder); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImportException($"cannot list savefile folder '{folder}': {e.Message}", e);
        }
        Array.Sort(files, StringComparer.Ordinal);

        var byName = new Dictionary<string, FoundSavefile>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            var full = Path.GetFullPath(file);
            // Hidden files are not savefiles a person put there: a writer's temp file (.xeniac-tmp-...), an editor's.
            if (Path.GetFileName(full).StartsWith('.')) continue;
            if (!AtomicFile.IsRegularFile(full))
            {
                warnings.Add($"warning: skipped {full}: not a regular file");
                continue;
            }
            var said = new List<string>();
            var found = Examine(full, said);
            // Looking for one domain, what other files are is noise.
            if (only is null || found?.Name == only || Path.GetFileNameWithoutExtension(full) == only) warnings.AddRange(said);
            if (found is null || (only is not null && found.Name != only)) continue;
            if (!ManifestLoader.IsValidDomainName(found.Name))
            {
                warnings.Add($"warning: skipped {full}: its domain name '{found.Name}' cannot be named in a manifest");
                continue;
            }
            if (byName.TryGetValue(found.Name, out var other))
            {
                // Several savefiles of one domain (checkpoints, copies): the newest is what a person restores.
                // Of two as new (a link and the file it names), the file itself.
                var newer = found.WrittenUtc > other.WrittenUtc || (found.WrittenUtc == other.WrittenUtc && other.IsLink && !found.IsLink);
                var (keep, drop) = newer ? (found, other) : (other, found);
                byName[found.Name] = keep;
                warnings.Add($"warning: skipped {drop.Path}: '{found.Name}' also has the {(keep.WrittenUtc > drop.WrittenUtc ? "newer" : "equally new")} savefile {keep.Path}, which is imported");
                continue;
            }
            byName[found.Name] = found;
        }
        return byName;
    }

    /// <summary>
    /// What a file in the savefile folder is: an xl savefile (named by its stored config), a legacy one (the image
    /// stream alone, named by the file), or not a savefile (null, with a warning). Only the header and the first
    /// stream header are read, so a folder of large savefiles is scanned quickly; a sealed one whose length is not
    /// the one its integrity record states (cut short by a copy) is skipped all the same.
    /// </summary>
    private static FoundSavefile? Examine(string path, List<string> warnings)
    {
        try
        {
            var info = new FileInfo(path);
            var isLink = info.LinkTarget is not null;
            // A link's own FileInfo gives the link's size and time; the savefile is what it points to.
            if (isLink && info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target) info = target;
            var stem = Path.GetFileNameWithoutExtension(path);
            if (info.Length == 0)
            {
                warnings.Add($"warning: skipped {path}: the file is empty");
                return null;
            }
            if (SaveFileHeader.LooksLikeXlSavefile(path))
            {
                using var reader = SaveFileReader.Open(path, SaveFileReaderOptions.Inspection);
                var header = reader.Header;
                if (header.ConfigFormat == SaveFileConfigFormat.None)
                {
                    warnings.Add($"warning: skipped {path}: an xl savefile that stores no config cannot be a saved domain (give it one: xen-iac savefile set-config)");
                    return null;
                }
                if (header.ImageLengthProblem(info.Length) is { } problem)
                {
                    warnings.Add($"warning: skipped {path}: {problem}");
                    return null;
                }
                // An unsealed file says nothing of its length: its records are walked (page contents skipped by
                // seeking, milliseconds a GiB). Not walked, a copy cut short was imported over the whole file beside
                // it, being newer.
                if (reader.VerifyImage(new ImageVerifierOptions { AllowUnknownOptionalRecords = true }) is { Status: ImageVerificationStatus.Invalid, Problem: { } damage })
                {
                    warnings.Add($"warning: skipped {path}: its image is damaged: {damage}");
                    return null;
                }
                string name = stem;
                IReadOnlyList<HostEffect> effects = [];
                try
                {
                    var model = ConfigText.FromSavefile(header, path).ToModel();
                    if (!string.IsNullOrEmpty(model.Name)) name = model.Name;
                    effects = HostEffects.NotIn(model, null);
                }
                catch (Exception e) when (e is XenIacException or ArgumentException or FormatException)
                {
                    warnings.Add($"note: the stored config of {path} cannot be read ({e.Message}); the domain is named '{stem}' after the file");
                }
                return new FoundSavefile(name, path, SavefileFormat.Xl, info.LastWriteTimeUtc, effects) { IsLink = isLink };
            }
            // No xl header: a legacy savefile is the libxl/libxc image stream alone; its first header must read.
            using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
            using (var image = new ImageStreamReader(stream, leaveOpen: true))
                image.MoveNext();
            return new FoundSavefile(stem, path, SavefileFormat.Legacy, info.LastWriteTimeUtc, []) { IsLink = isLink };
        }
        catch (XenFormatException e)
        {
            warnings.Add($"warning: skipped {path}: not a savefile ({e.Message})");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            warnings.Add($"warning: skipped {path}: cannot read it ({e.Message})");
        }
        return null;
    }
}
