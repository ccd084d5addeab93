using System.Runtime.CompilerServices;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;
using XenIac.Reconciler.Manifests;

namespace XenIac.Reconciler.Planning;

/// <summary>
/// Builds the config a domain's overrides stand for: <c>overrides.config</c> (or the domain's base config) with the
/// inline settings set onto it through the lossless xl.cfg editor, so the rest of the file stays as written.
/// </summary>
internal static class OverrideConfigs
{
    public static ConfigText? Compose(DomainSpec spec)
    {
        if (!spec.HasOverrides) return null;
        var basePath = spec.OverrideConfigPath ?? spec.ConfigPath;
        if (spec.OverrideSettings.Count == 0)
            return ConfigText.FromText(ConfigText.ReadText(basePath!));
        if (basePath is null)
            throw new PlanException("inline override settings need an xl.cfg to merge onto: give the domain 'config' or 'overrides.config'");

        var text = ConfigText.ReadText(basePath);
        var document = ConfigText.FromText(text);
        if (document.Language != SaveFileConfigFormat.XlCfg)
            throw new PlanException($"inline override settings merge onto xl.cfg text, but {basePath} is a JSON config; use an xl.cfg file or put the changes in a JSON overrides.config");

        var config = XlConfig.Parse(text, basePath);
        foreach (var (key, value) in spec.OverrideSettings)
            config = config.Set(key, value.ToXl());
        return new ConfigText(config.ToString(), SaveFileConfigFormat.XlCfg);
    }

    /// <remarks>Errors name the document's source (its file) where it has one.</remarks>
    public static DomainConfig Model(ConfigText document) =>
        Parsed.GetValue(document, static d => DomainConfig.Parse(d.Text.TrimEnd('\0'), d.Source is null ? "config" : d.DisplayName));

    // A plan parses a domain's config several times (its name, the stored config's compatibility, placement), mostly
    // as the very same ConfigText; the model is immutable, so one parse per instance serves them all. Keyed by
    // reference and weakly: an entry lives as long as its ConfigText. A config that does not parse is not kept.
    private static readonly ConditionalWeakTable<ConfigText, DomainConfig> Parsed = new();

    /// <summary>
    /// The config with <paramref name="name"/> as the domain's name. The manifest's name is the domain's identity
    /// on the host (plan finds the domain by it), so the config a domain is created or restored with must carry it.
    /// xl.cfg text is edited in place; JSON gets c_info.name.
    /// </summary>
    public static ConfigText WithName(ConfigText document, string name)
    {
        if (Model(document).Name == name) return document;
        if (document.Language != SaveFileConfigFormat.Json)
            return new ConfigText(XlConfig.Parse(document.Text, "config").Set("name", XlValue.String(name)).ToString(), document.Language);
        System.Text.Json.Nodes.JsonObject root;
        try
        {
            root = System.Text.Json.Nodes.JsonNode.Parse(document.Text.TrimEnd('\0')) as System.Text.Json.Nodes.JsonObject
                ?? throw new PlanException("a libxl JSON config is an object");
        }
        catch (System.Text.Json.JsonException e) { throw new PlanException($"config is not valid JSON: {e.Message}"); }
        if (root["c_info"] is not System.Text.Json.Nodes.JsonObject cInfo) root["c_info"] = cInfo = new System.Text.Json.Nodes.JsonObject();
        cInfo["name"] = name;
        return new ConfigText(root.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }), document.Language);
    }
}

/// <summary>A domain cannot be planned; the message says why.</summary>
internal sealed class PlanException(string message) : XenIac.Core.XenIacException(message);
