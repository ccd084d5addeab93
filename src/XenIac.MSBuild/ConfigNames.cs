using XenIac.Core;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;

namespace XenIac.MSBuild;

/// <summary>The domain name a config declares (libxl JSON <c>c_info.name</c>, or xl.cfg <c>name</c>), read through Core's config model.</summary>
internal static class ConfigNames
{
    /// <returns>The name, or null when there is no config, it names no domain, or it cannot be read.</returns>
    public static string? Find(string? text, SaveFileConfigFormat format)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        try
        {
            return format switch
            {
                SaveFileConfigFormat.Json => DomainConfig.FromJson(text).Name,
                SaveFileConfigFormat.XlCfg => DomainConfig.FromXl(XlConfig.Parse(text)).Name,
                _ => null,
            };
        }
        catch (Exception e) when (e is XenIacException or System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            // A config the model cannot read names no domain as far as these tasks are concerned; the host
            // reports the config itself when it is used.
            return null;
        }
    }
}
