using System.Text.Json;
using System.Text.Json.Nodes;
using XenIac.Core;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;

namespace XenIac.Hosts;

/// <summary>The config rules every host shares: libxl JSON through the config model, the config a restore uses, the stored domid.</summary>
internal static class HostConfigs
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>
    /// The config as libxl JSON. JSON passes through untouched; xl.cfg goes through <see cref="DomainConfig"/>,
    /// and <paramref name="notConverted"/> names the xl.cfg settings the model has no JSON form for.
    /// </summary>
    public static string ToLibxlJson(ConfigText config, out IReadOnlyList<string> notConverted)
    {
        notConverted = [];
        switch (config.Language)
        {
            case SaveFileConfigFormat.Json:
                return config.Text;
            case SaveFileConfigFormat.XlCfg:
                try
                {
                    return DomainConfig.FromXl(XlConfig.Parse(config.Text)).ToLibxlJson(out notConverted).ToJsonString(Indented);
                }
                catch (XlConfigException e)
                {
                    throw new XenHostException(XenHostError.InvalidConfig, e.Message, e);
                }
            default:
                throw new XenHostException(XenHostError.InvalidConfig, "no domain config given");
        }
    }

    /// <summary>
    /// The config a restore uses: the caller's when given, otherwise the one the savefile stores. A savefile that
    /// stores none (every legacy one) needs the caller's; that rule is the savefile reader's, reported as a host error.
    /// </summary>
    public static (ConfigText Config, bool IsOverride) ForRestore(SaveFileReader savefile, ConfigText? overrideConfig)
    {
        if (overrideConfig is not null) return (overrideConfig, true);
        try
        {
            var stored = savefile.ResolveConfig();
            return (new ConfigText(stored.Text!, stored.Format), false);
        }
        catch (XenFormatException e)
        {
            throw new XenHostException(XenHostError.InvalidConfig, e.Message, e);
        }
    }

    /// <summary>
    /// The libxl JSON with c_info.domid as xl save stores it: the domain's id when it is kept (xl save -D), otherwise
    /// none, so Xen chooses the id on restore.
    /// </summary>
    /// <exception cref="XenHostException">InvalidConfig: not a JSON object with a c_info object.</exception>
    public static string WithDomId(string json, uint? domId)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject
                   ?? throw new XenHostException(XenHostError.InvalidConfig, "libxl JSON config is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new XenHostException(XenHostError.InvalidConfig, $"libxl JSON config is not valid JSON: {e.Message}", e);
        }
        if (root["c_info"] is not JsonObject cInfo)
            throw new XenHostException(XenHostError.InvalidConfig, "libxl JSON config has no c_info object");
        cInfo.Remove("domid");
        if (domId is { } id) cInfo["domid"] = id;
        return root.ToJsonString(Indented);
    }
}
