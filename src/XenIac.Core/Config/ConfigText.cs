using System.Text;
using XenIac.Core.IO;
using XenIac.Core.SaveFiles;

namespace XenIac.Core.Config;

/// <summary>
/// A domain config as text with its language (xl.cfg or libxl JSON), and where it came from when it was read from
/// a file. The one place that tells the languages apart (<see cref="Detect"/>) and that reads a config file that
/// may be an xl.cfg, a libxl JSON config or a savefile (<see cref="LoadAsync"/>).
/// </summary>
public sealed record ConfigText(string Text, SaveFileConfigFormat Language)
{
    /// <summary>The file (or name) the text came from, used in messages; null when it came from elsewhere.</summary>
    public string? Source { get; init; }

    /// <summary>True when <see cref="Source"/> is a savefile and this is its stored config.</summary>
    public bool IsSavefile { get; init; }

    /// <summary>
    /// What the savefile's length says is wrong with its image (cut short, appended to: see
    /// <see cref="SaveFileHeader.ImageLengthProblem"/>), when <see cref="LoadAsync"/> read the config from a savefile
    /// it could measure; null otherwise. A config check of a savefile no config can restore must not say "compatible".
    /// </summary>
    public string? ImageProblem { get; init; }

    /// <summary>The config's name in messages: the file, "FILE (stored config)" for a savefile, else "config".</summary>
    public string DisplayName => Source is null ? "config" : IsSavefile ? $"{Source} (stored config)" : Source;

    /// <summary>The language of config text: libxl JSON when it starts with '{' (after white space), else xl.cfg.</summary>
    public static SaveFileConfigFormat Detect(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.AsSpan().TrimStart().StartsWith("{", StringComparison.Ordinal) ? SaveFileConfigFormat.Json : SaveFileConfigFormat.XlCfg;
    }

    /// <summary>Config text whose language is told by its content.</summary>
    public static ConfigText FromText(string text, string? source = null) => new(text, Detect(text)) { Source = source };

    /// <summary>The config stored in a savefile read from <paramref name="path"/>.</summary>
    /// <exception cref="XenFormatException">The savefile stores no config.</exception>
    public static ConfigText FromSavefile(SaveFileHeader header, string path)
    {
        ArgumentNullException.ThrowIfNull(header);
        if (header.ConfigFormat == SaveFileConfigFormat.None)
            throw new XenFormatException(FormatError.InvalidConfig, $"'{path}' stores no config");
        // libxl reads the stored JSON as UTF-8 and refuses other bytes; decoded leniently they became U+FFFD, and a
        // damaged key ("on_poweroff") read as a setting XenIac does not know instead of a config xl restore refuses.
        if (header.ConfigFormat == SaveFileConfigFormat.Json && !IO.Utf8Text.TryDecode(header.ConfigContent.Span, out _, out var invalid))
            throw new XlConfigException(path, invalid.Line, invalid.Column, $"the stored config's byte 0x{invalid.Value:X2} here is not UTF-8 (libxl JSON is UTF-8 text; xl restore refuses it)");
        return new ConfigText(header.ConfigText!, header.ConfigFormat) { Source = path, IsSavefile = true };
    }

    /// <summary>Parses the text in its language; errors are located in <see cref="DisplayName"/>.</summary>
    public DomainConfig ToModel() =>
        Language == SaveFileConfigFormat.Json ? DomainConfig.FromJson(Text, DisplayName) : DomainConfig.FromXl(XlConfig.Parse(Text, DisplayName));

    /// <summary>
    /// Reads a config file: a savefile (told by its magic) gives its stored config, anything else is config text
    /// whose language <see cref="Detect"/> tells.
    /// </summary>
    public static async Task<ConfigText> LoadAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        // Opened once and told apart by the bytes read: a pipe or /dev/stdin (a shell here-string) yields its
        // bytes only once, so opening it again to read what the first look found would see nothing or the rest.
        var stream = SmallFile.Open(path);
        try
        {
            var start = new byte[SaveFileLayout.MagicLength];
            var read = stream.ReadAtLeast(start, start.Length, throwOnEndOfStream: false);
            Stream whole = stream.CanSeek ? stream : new PrefixedStream(start.AsMemory(0, read), stream, leaveOpen: true);
            if (stream.CanSeek) stream.Position = 0;
            if (SaveFileHeader.LooksLikeXlSavefile(start.AsSpan(0, read)))
            {
                await using var reader = await SaveFileReader.OpenAsync(whole, cancellationToken: cancellationToken).ConfigureAwait(false);
                return FromSavefile(reader.Header, path) with { ImageProblem = stream.CanSeek ? reader.Header.ImageLengthProblem(stream.Length) : null };
            }
            cancellationToken.ThrowIfCancellationRequested();
            var text = Decode(SmallFile.ReadAll(whole, path), path);
            return new ConfigText(text, Detect(text)) { Source = path };
        }
        finally
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A config file's bytes as text: libxl JSON as UTF-8; xl.cfg through <see cref="XlText"/>, because its strings
    /// may hold bytes that are not UTF-8 and the model and rewrites must see (and write back) those very bytes.
    /// Every reader of a config file goes through here (File.ReadAllText would turn such bytes into U+FFFD).
    /// </summary>
    /// <param name="file">The file, named when JSON that is not UTF-8 is refused (at its line and column): decoded
    /// leniently, its bytes became U+FFFD in names and paths nobody wrote.</param>
    public static string Decode(ReadOnlySpan<byte> bytes, string? file = null)
    {
        // A JSON file saved with a UTF-8 byte-order mark (editors on some systems add one) is still JSON, as JSON
        // parsers read it; without this its first character made it "xl.cfg" and the error "non-ASCII character".
        // An xl.cfg file keeps its bytes: xl itself does not skip a mark, so neither does the xl.cfg reader.
        if (bytes.StartsWith(Utf8Mark) && Detect(Encoding.UTF8.GetString(bytes[Utf8Mark.Length..])) == SaveFileConfigFormat.Json)
            bytes = bytes[Utf8Mark.Length..];
        var text = Encoding.UTF8.GetString(bytes);
        if (Detect(text) != SaveFileConfigFormat.Json) return XlText.Decode(bytes);
        if (file is not null && !IO.Utf8Text.TryDecode(bytes, out _, out var invalid))
            throw new XlConfigException(file, invalid.Line, invalid.Column, $"the byte 0x{invalid.Value:X2} here is not UTF-8 (libxl JSON is UTF-8 text)");
        return text;
    }

    private static ReadOnlySpan<byte> Utf8Mark => [0xEF, 0xBB, 0xBF];

    /// <summary>The text of the config file at <paramref name="path"/>, read by <see cref="Decode"/>.</summary>
    public static string ReadText(string path) => Decode(SmallFile.ReadAllBytes(path), path);

    /// <inheritdoc cref="ReadText"/>
    public static async Task<string> ReadTextAsync(string path, CancellationToken cancellationToken = default) =>
        Decode(await SmallFile.ReadAllBytesAsync(path, cancellationToken: cancellationToken).ConfigureAwait(false), path);
}
