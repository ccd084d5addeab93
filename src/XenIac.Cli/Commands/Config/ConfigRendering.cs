using System.Text.Json.Nodes;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;

namespace XenIac.Cli.Commands.Config;

/// <summary>What the <c>config</c> commands print, and the finding lines every command that checks a config writes.</summary>
internal static class ConfigRendering
{
    public static JsonObject ShowJson(ConfigText source, IReadOnlyDictionary<string, string> settings) => new()
    {
        ["file"] = source.Source,
        ["format"] = FormatName(source.Language),
        ["savefile"] = source.IsSavefile,
        ["settings"] = new JsonObject(settings.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
    };

    public static void WriteShow(ConfigText source, IReadOnlyDictionary<string, string> settings)
    {
        Console.Out.WriteLine($"# {source.DisplayName}: {FormatName(source.Language)} config");
        // Keys spelled out before they are measured, so the '=' column holds for a key with an escape in it.
        var keys = settings.Keys.ToDictionary(k => k, k => CommandLine.Printable(k));
        var width = keys.Values.Max(k => k.Length);
        foreach (var (k, v) in settings) Console.Out.WriteLine($"{keys[k].PadRight(width)} = {v}");
    }

    public static JsonObject CheckJson(bool compatible, IEnumerable<CompatibilityFinding> findings, string? imageProblem = null)
    {
        var json = new JsonObject { ["compatible"] = compatible, ["findings"] = FindingsJson(findings) };
        // "compatible" stays the configs' verdict (as verify's "valid" stays the image's); the exit code says both.
        if (imageProblem is not null) json["imageProblem"] = imageProblem;
        return json;
    }

    /// <summary>
    /// The JSON shape of compatibility findings, the one place it is written: <c>config check --json</c> and the
    /// "findings" of each domain in <c>plan --json</c> / <c>apply --json</c>.
    /// </summary>
    public static JsonArray FindingsJson(IEnumerable<CompatibilityFinding> findings) => new([.. findings.Select(f => (JsonNode)new JsonObject
    {
        ["severity"] = SeverityName(f.Severity),
        ["setting"] = f.Setting,
        ["old"] = f.Old,
        ["new"] = f.New,
        ["reason"] = f.Reason,
    })]);

    /// <summary>One line per finding, severity first (set-config, convert, check, domain save/restore).</summary>
    public static void WriteFindings(IEnumerable<CompatibilityFinding> findings, TextWriter? writer = null)
    {
        writer ??= Console.Out;
        foreach (var f in findings)
            writer.WriteLine($"{SeverityName(f.Severity),-7} {f.Setting}: {f.Old ?? "(unset)"} -> {f.New ?? "(unset)"} ({f.Reason})");
    }

    public static string SeverityName(FindingSeverity s) => s switch
    {
        FindingSeverity.Ok => "ok",
        FindingSeverity.Warning => "warning",
        _ => "error",
    };

    public static string FormatName(SaveFileConfigFormat f) => f == SaveFileConfigFormat.Json ? "json" : "xl";
}
