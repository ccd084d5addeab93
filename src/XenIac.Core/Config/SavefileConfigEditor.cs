using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;

namespace XenIac.Core.Config;

/// <summary>
/// Replaces the config stored in a savefile after checking it against the stored one. The new config keeps
/// its own format: xl.cfg text is stored as text (the JSON flag cleared) even when the file held JSON, because
/// xl restore reads both (it picks its parser by that flag) and text loses nothing, where a conversion to JSON
/// would drop what the model does not cover.
/// </summary>
/// <remarks>
/// <see cref="CheckReplacement"/> is the one rule for every config that goes into a savefile (set-config, convert
/// --config, domain save --config, the MSBuild save task): it must parse, name the domain, and be compatible with
/// the config it replaces — or, when nothing is stored, with the guest type of the image.
/// </remarks>
public static class SavefileConfigEditor
{
    /// <param name="path">The savefile, rewritten atomically (mode 0600).</param>
    /// <param name="configText">
    /// The new config: libxl JSON when it starts with '{', xl.cfg otherwise. xl.cfg bytes that are not UTF-8
    /// are stored exactly when the text was read with <see cref="XlText.Decode"/>.
    /// </param>
    /// <param name="configName">The new config's name for error messages (usually its path).</param>
    /// <param name="force">Write even when the check finds errors.</param>
    /// <returns>The findings of the check (empty when the savefile had no config to compare with).</returns>
    public static async Task<IReadOnlyList<CompatibilityFinding>> SetConfigAsync(string path, string configText, string configName,
        bool force = false, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(configText);
        var proposed = ConfigText.FromText(configText, configName);
        var findings = await CheckForSavefileAsync(path, sourceIsLegacy: false, proposed, force, cancellationToken).ConfigureAwait(false);
        await SaveFileRewriter.ReplaceConfigAsync(path, configText, proposed.Language, progress, cancellationToken).ConfigureAwait(false);
        return findings;
    }

    /// <summary>
    /// Checks <paramref name="proposed"/> for the savefile at <paramref name="savefilePath"/>: against its stored
    /// config, or (legacy or configless) against its image's guest type. Reads only the header and the first records.
    /// </summary>
    public static async Task<IReadOnlyList<CompatibilityFinding>> CheckForSavefileAsync(string savefilePath, bool sourceIsLegacy,
        ConfigText proposed, bool force, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(proposed);
        var model = proposed.ToModel();
        await using var reader = sourceIsLegacy
            ? SaveFileReader.OpenLegacy(savefilePath)
            : await SaveFileReader.OpenAsync(SaveFileReader.OpenFile(savefilePath), cancellationToken: cancellationToken).ConfigureAwait(false);
        var h = reader.Header;
        if (h.ConfigFormat != SaveFileConfigFormat.None)
            return CheckReplacement(proposed.DisplayName, model, ConfigText.FromSavefile(h, savefilePath).ToModel(),
                $"the config stored in '{savefilePath}'", force);
        return CheckReplacement(proposed.DisplayName, model, ImageGuestType(reader), savefilePath, force);
    }

    /// <summary>
    /// The rule: <paramref name="proposed"/> must name the domain and be compatible with <paramref name="replaced"/>
    /// (the stored config, or the config of the domain being saved); error-level findings refuse it unless forced.
    /// </summary>
    /// <exception cref="IncompatibleConfigException">Refused; the message names both configs and the settings.</exception>
    public static IReadOnlyList<CompatibilityFinding> CheckReplacement(string proposedName, DomainConfig proposed, DomainConfig replaced,
        string replacedName, bool force)
    {
        ArgumentNullException.ThrowIfNull(proposed);
        ArgumentNullException.ThrowIfNull(replaced);
        var findings = ConfigCompatibility.Check(replaced, proposed).ToList();
        Refuse(proposedName, proposed, findings, $"is not compatible with {replacedName}", force);
        return findings;
    }

    private static IReadOnlyList<CompatibilityFinding> CheckReplacement(string proposedName, DomainConfig proposed, GuestType image,
        string savefilePath, bool force)
    {
        List<CompatibilityFinding> findings = [];
        // The image stream knows only PV and HVM; PVH guests are HVM containers in it.
        var fits = image switch
        {
            GuestType.PV => proposed.Type == GuestType.PV,
            GuestType.HVM or GuestType.PVH => proposed.Type is GuestType.HVM or GuestType.PVH,
            _ => true,
        };
        if (!fits)
            findings.Add(new CompatibilityFinding(FindingSeverity.Error, "type", image.ToString().ToLowerInvariant(), proposed.TypeName,
                "the image holds a guest of another type; it cannot resume as this one"));
        Refuse(proposedName, proposed, findings, $"does not fit the image in '{savefilePath}'", force);
        return findings;
    }

    private static void Refuse(string proposedName, DomainConfig proposed, List<CompatibilityFinding> findings, string what, bool force)
    {
        // xl restore cannot create a domain without a name, whatever else the config says.
        if (string.IsNullOrWhiteSpace(proposed.Name))
            findings.Insert(0, new CompatibilityFinding(FindingSeverity.Error, "name", null, null,
                "the config names no domain; xl restore needs 'name' (c_info.name in JSON)"));
        var errors = findings.Where(f => f.Severity == FindingSeverity.Error).ToList();
        if (errors.Count > 0 && !force)
            throw new IncompatibleConfigException(
                $"'{proposedName}' {what}: " +
                string.Join("; ", errors.Select(e => e.Old is null && e.New is null
                    ? $"{e.Setting}: {e.Reason}"
                    : $"{e.Setting} {e.Old ?? "(unset)"} -> {e.New ?? "(unset)"}")), findings);
    }

    /// <summary>The guest type the image's libxc header declares; Unknown when the first records do not say.</summary>
    private static GuestType ImageGuestType(SaveFileReader reader)
    {
        if (reader.Header.Format == SaveFileFormat.Xl && !reader.Header.IsStreamV2) return GuestType.Unknown;
        LibxcStreamHeader? libxc = null;
        try
        {
            using var image = reader.OpenImage();
            // The libxc header follows the libxl header and at most a few libxl records; no need to read pages.
            for (var i = 0; i < 8 && image.LibxcHeader is null; i++)
                if (!image.MoveNext()) break;
            libxc = image.LibxcHeader;
        }
        catch (XenFormatException)
        {
            // An image XenIac cannot read (pre-v2 libxc) says nothing about the guest type; verify reports on it.
        }
        return libxc?.DomainType switch
        {
            LibxcDomainType.X86Pv => GuestType.PV,
            LibxcDomainType.X86Hvm => GuestType.HVM,
            _ => GuestType.Unknown,
        };
    }
}
