using System.Text.Json;
using System.Text.Json.Nodes;
using XenIac.Core.SaveFiles;

namespace XenIac.Hosts.Libxl;

/// <summary>Turns configs into the libxl JSON that libxl_domain_config_from_json reads.</summary>
internal static class LibxlConfig
{
    /// <summary>The config as libxl JSON.</summary>
    /// <exception cref="XenHostException">InvalidConfig: an xl.cfg config (not convertible yet) or no config.</exception>
    public static string ToJson(DomainConfigDocument config) => config.Format switch
    {
        SaveFileConfigFormat.Json => config.Text,
        // TODO(issue 4 merge): convert with the xl.cfg → libxl JSON converter of XenIac.Core.Config once that
        // branch lands; the libxl host must not grow an xl.cfg parser of its own.
        SaveFileConfigFormat.XlCfg => throw new XenHostException(XenHostError.InvalidConfig,
            "the libxl host needs the config as libxl JSON: xl.cfg configs must be converted to libxl JSON first " +
            "(the converter in XenIac.Core.Config is not wired to the libxl host yet)"),
        _ => throw new XenHostException(XenHostError.InvalidConfig, "no domain config given"),
    };

    /// <summary>
    /// The JSON with c_info.domid set, as xl save does (0 unless the domain id is to be preserved); 0 lets Xen
    /// choose the id on restore.
    /// </summary>
    public static string WithDomId(string json, uint domid)
    {
        var root = ParseObject(json);
        if (root["c_info"] is not JsonObject cInfo)
            throw new XenHostException(XenHostError.InvalidConfig, "libxl JSON config has no c_info object");
        cInfo["domid"] = domid;
        return root.ToJsonString();
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
            throw new XenHostException(XenHostError.InvalidConfig, $"libxl JSON config is not valid JSON: {e.Message}", e);
        }
    }
}
