using System.Text;
using XenIac.Core.SaveFiles;

namespace XenIac.Core.Config;

/// <summary>
/// A config read from a file that is an xl.cfg, a libxl JSON config or a savefile (its stored config),
/// told apart by content: the savefile magic, then a leading '{', else xl.cfg.
/// </summary>
public sealed record ConfigSource(string Path, string Text, SaveFileConfigFormat Format, bool IsSavefile)
{
    /// <summary>The config's name in messages: the file, or "FILE (stored config)" for a savefile.</summary>
    public string DisplayName => IsSavefile ? $"{Path} (stored config)" : Path;

    public DomainConfig ToModel() =>
        Format == SaveFileConfigFormat.Json ? DomainConfig.FromJson(Text, DisplayName) : DomainConfig.FromXl(XlConfig.Parse(Text, DisplayName));

    public static async Task<ConfigSource> LoadAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (await StartsWithSavefileMagicAsync(path, cancellationToken).ConfigureAwait(false))
        {
            await using var reader = await SaveFileReader.OpenAsync(SaveFileReader.OpenFile(path), cancellationToken: cancellationToken).ConfigureAwait(false);
            var h = reader.Header;
            if (h.ConfigFormat == SaveFileConfigFormat.None)
                throw new SaveFileFormatException(SaveFileError.InvalidConfig, $"'{path}' stores no config");
            return new ConfigSource(path, h.ConfigText!, h.ConfigFormat, IsSavefile: true);
        }
        var text = Decode(await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false));
        return new ConfigSource(path, text, LooksLikeJson(text) ? SaveFileConfigFormat.Json : SaveFileConfigFormat.XlCfg, IsSavefile: false);
    }

    /// <summary>
    /// A config file's bytes as text: libxl JSON as UTF-8; xl.cfg through <see cref="XlText"/>, because its strings
    /// may hold bytes that are not UTF-8 and the model and rewrites must see (and write back) those very bytes.
    /// Every reader of a config file goes through here (File.ReadAllText would turn such bytes into U+FFFD).
    /// </summary>
    public static string Decode(ReadOnlySpan<byte> bytes)
    {
        var text = Encoding.UTF8.GetString(bytes);
        return LooksLikeJson(text) ? text : XlText.Decode(bytes);
    }

    /// <summary>The text of the config file at <paramref name="path"/>, read by <see cref="Decode"/>.</summary>
    public static string ReadText(string path) => Decode(File.ReadAllBytes(path));

    /// <inheritdoc cref="ReadText"/>
    public static async Task<string> ReadTextAsync(string path, CancellationToken cancellationToken = default) =>
        Decode(await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false));

    public static bool LooksLikeJson(string text) => text.TrimStart().StartsWith('{');

    private static async Task<bool> StartsWithSavefileMagicAsync(string path, CancellationToken ct)
    {
        await using var stream = File.OpenRead(path);
        var start = new byte[SaveFileLayout.Magic.Length];
        var n = await stream.ReadAtLeastAsync(start, start.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);
        return n == start.Length && start.AsSpan().SequenceEqual(SaveFileLayout.Magic);
    }
}
