using System.Globalization;
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
    public static DomainConfigDocument? Compose(DomainSpec spec)
    {
        if (!spec.HasOverrides) return null;
        var basePath = spec.OverrideConfigPath ?? spec.ConfigPath;
        if (spec.OverrideSettings.Count == 0)
            return DomainConfigDocument.FromText(ConfigSource.ReadText(basePath!));
        if (basePath is null)
            throw new PlanException("inline override settings need an xl.cfg to merge onto: give the domain 'config' or 'overrides.config'");

        var text = ConfigSource.ReadText(basePath);
        var document = DomainConfigDocument.FromText(text);
        if (document.Format != SaveFileConfigFormat.XlCfg)
            throw new PlanException($"inline override settings merge onto xl.cfg text, but {basePath} is a JSON config; use an xl.cfg file or put the changes in a JSON overrides.config");

        var config = XlConfig.Parse(text, basePath);
        foreach (var (key, value) in spec.OverrideSettings)
            config = config.Set(key, ToXl(value));
        return new DomainConfigDocument(config.ToString(), SaveFileConfigFormat.XlCfg);
    }

    private static XlValue ToXl(SettingValue value) =>
        value.Number is { } n ? XlValue.Number(n)
        : value.String is { } s ? XlValue.String(s)
        : XlValue.List(value.List!.ToArray());

    public static DomainConfig Model(DomainConfigDocument document) => DomainConfig.Parse(document.Text);

    public static string Describe(long value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A domain cannot be planned; the message says why.</summary>
internal sealed class PlanException(string message) : XenIac.Core.XenIacException(message);
