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
    /// The config a restore uses with <see cref="RestoreOptions.Fixups"/> applied: the fixups change the config
    /// <see cref="ForRestore"/> gives, and the result is checked against the config the savefile stores (or, when it
    /// stores none, the one the fixups changed) with the fixups declared. Any error-level finding refuses the clone.
    /// </summary>
    public static (ConfigText Config, bool IsOverride, ClonedConfig? Clone, IReadOnlyList<CompatibilityFinding> Findings) ForRestore(
        SaveFileReader savefile, RestoreOptions options)
    {
        var (config, overridden) = ForRestore(savefile, options.OverrideConfig);
        if (options.Fixups is not { } fixups) return (config, overridden, null, []);
        try
        {
            var before = config.ToModel();
            var clone = fixups.Apply(config, options.Macs ?? MacPool.Avoiding(before));
            var reference = savefile.Header.ConfigFormat != SaveFileConfigFormat.None
                ? ConfigText.FromSavefile(savefile.Header, "savefile").ToModel()
                : before;
            var findings = ConfigCompatibility.Check(reference, clone.Config.ToModel(), fixups);
            var errors = findings.Where(f => f.Severity == FindingSeverity.Error).ToList();
            if (errors.Count > 0)
                throw new XenHostException(XenHostError.InvalidConfig,
                    $"clone '{fixups.Name}' is not compatible with the stored config: " +
                    string.Join("; ", errors.Select(e => $"{e.Setting} {e.Old ?? "(unset)"} -> {e.New ?? "(unset)"}")));
            return (clone.Config, overridden, clone, findings);
        }
        catch (XlConfigException e)
        {
            throw new XenHostException(XenHostError.InvalidConfig, e.Message, e);
        }
        catch (CloneFixupException e)
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
            throw new XenHostException(XenHostError.InvalidConfig, $"libxl JSON config is not valid JSON: {Core.IO.JsonProblems.Describe(e)}", e);
        }
        if (root["c_info"] is not JsonObject cInfo)
            throw new XenHostException(XenHostError.InvalidConfig, "libxl JSON config has no c_info object");
        cInfo.Remove("domid");
        if (domId is { } id) cInfo["domid"] = id;
        return root.ToJsonString(Indented);
    }
}
