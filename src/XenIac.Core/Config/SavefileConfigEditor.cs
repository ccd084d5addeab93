using XenIac.Core.SaveFiles;

namespace XenIac.Core.Config;

/// <summary>
/// Replaces the config stored in a savefile after checking it against the stored one. The new config keeps
/// its own format: xl.cfg text is stored as text (the JSON flag cleared) even when the file held JSON, because
/// xl restore reads both (it picks its parser by that flag) and text loses nothing, where a conversion to JSON
/// would drop what the model does not cover.
/// </summary>
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
        var format = ConfigSource.LooksLikeJson(configText) ? SaveFileConfigFormat.Json : SaveFileConfigFormat.XlCfg;
        var proposed = new ConfigSource(configName, configText, format, IsSavefile: false).ToModel();

        IReadOnlyList<CompatibilityFinding> findings = [];
        var stored = await ConfigSourceOrNullAsync(path, cancellationToken).ConfigureAwait(false);
        if (stored is not null)
        {
            findings = ConfigCompatibility.Check(stored.ToModel(), proposed);
            var errors = findings.Where(f => f.Severity == FindingSeverity.Error).ToList();
            if (errors.Count > 0 && !force)
                throw new IncompatibleConfigException(
                    $"'{configName}' is not compatible with the config stored in '{path}': " +
                    string.Join("; ", errors.Select(e => $"{e.Setting} {e.Old ?? "(unset)"} -> {e.New ?? "(unset)"}")) +
                    " (use --force to write it anyway)", findings);
        }
        await SaveFileRewriter.ReplaceConfigAsync(path, configText, format, progress, cancellationToken).ConfigureAwait(false);
        return findings;
    }

    private static async Task<ConfigSource?> ConfigSourceOrNullAsync(string path, CancellationToken ct)
    {
        await using var reader = await SaveFileReader.OpenAsync(SaveFileReader.OpenFile(path), cancellationToken: ct).ConfigureAwait(false);
        var h = reader.Header;
        return h.ConfigFormat == SaveFileConfigFormat.None ? null : new ConfigSource(path, h.ConfigText!, h.ConfigFormat, IsSavefile: true);
    }
}
