using XenIac.Core.Config;
using System.Text.Json;
using System.Text.Json.Nodes;
using XenIac.Core.SaveFiles;

namespace XenIac.Hosts.Libxl;

/// <summary>Turns configs into the libxl JSON that libxl_domain_config_from_json reads.</summary>
internal static class LibxlConfig
{
    /// <summary>The config as libxl JSON; xl.cfg text is converted through the config model.</summary>
    /// <exception cref="XenHostException">
    /// InvalidConfig: no config, an unparsable one, or xl.cfg settings the model cannot express in JSON — a real
    /// domain must not come up silently without them, so they are named and the caller can give JSON instead.
    /// </exception>
    public static string ToJson(ConfigText config)
    {
        var json = HostConfigs.ToLibxlJson(config, out var notConverted);
        if (notConverted.Count > 0)
            throw new XenHostException(XenHostError.InvalidConfig,
                $"cannot convert these xl.cfg settings to libxl JSON: {string.Join(", ", notConverted)}; " +
                "give the config as libxl JSON (e.g. from `xl -N create CFG`) instead");
        return json;
    }

    /// <summary>c_info.name, or null when the config names no domain.</summary>
    public static string? NameOf(string json) =>
        ParseObject(json)["c_info"] is JsonObject cInfo && cInfo["name"] is JsonValue name
        && name.TryGetValue<string>(out var text) ? text : null;

    private static JsonObject ParseObject(string json)
    {
        try
        {
            return JsonNode.Parse(json) as JsonObject
                   ?? throw new XenHostException(XenHostError.InvalidConfig, "libxl JSON config is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new XenHostException(XenHostError.InvalidConfig, $"libxl JSON config is not valid JSON: {Core.IO.JsonProblems.Describe(e)}", e);
        }
    }
}
