using System.Text.Json;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;

namespace XenIac.Hosts;

/// <summary>Turns a config document into libxl JSON through the config model, for every host.</summary>
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
}
