using System.Text.Json;
using System.Text.RegularExpressions;
using XenIac.Core.SaveFiles;

namespace XenIac.MSBuild;

/// <summary>The domain name a config declares: libxl JSON <c>c_info.name</c>, or xl.cfg <c>name = "..."</c>.</summary>
/// <remarks>
/// Deliberately tiny: only the name is needed here (to find the domain a restore would clash with, and for
/// XenIacInspectSavefile). TODO(merge): use Core's config model (DomainConfig.Parse(...).Name) once the config
/// branch is in, so xl.cfg quirks (comments, escapes) are handled in one place.
/// </remarks>
internal static partial class ConfigNames
{
    public static string? Find(string? text, SaveFileConfigFormat format)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        return format switch
        {
            SaveFileConfigFormat.Json => FromJson(text),
            SaveFileConfigFormat.XlCfg => FromXlCfg(text),
            _ => null,
        };
    }

    private static string? FromJson(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.ValueKind == JsonValueKind.Object
                   && doc.RootElement.TryGetProperty("c_info", out var cInfo)
                   && cInfo.ValueKind == JsonValueKind.Object
                   && cInfo.TryGetProperty("name", out var name)
                   && name.ValueKind == JsonValueKind.String
                ? name.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? FromXlCfg(string text)
    {
        // xl.cfg lets a later assignment win, so the last match is the one xl uses.
        string? name = null;
        foreach (Match m in XlName().Matches(text))
            name = m.Groups["d"].Success ? m.Groups["d"].Value : m.Groups["s"].Value;
        return name;
    }

    [GeneratedRegex("""^[ \t]*name[ \t]*=[ \t]*(?:"(?<d>[^"\r\n]*)"|'(?<s>[^'\r\n]*)')""", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex XlName();
}
