using System.Text.Json;
using System.Text.Json.Nodes;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;

namespace XenIac.Hosts.Embedded;

/// <summary>The few facts the embedded host needs from a config (name, guest type, memory and vCPUs), and the config as libxl JSON.</summary>
internal sealed record EmbeddedDomainShape(string Name, string GuestType, long MemoryKiB, int VCpus, string ConfigJson);

/// <summary>
/// Reads domain shape from configs and turns configs into libxl JSON (what today's xl stores in savefiles and
/// remembers for running domains). A config is parsed once into the validated <see cref="DomainConfig"/> model,
/// which gives both, so a bad config (JSON or xl.cfg, given or stored in a savefile) fails here with the model's
/// located message.
/// </summary>
internal static class EmbeddedConfig
{
    /// <summary>
    /// The embedded host keeps each domain's memory in a (sparse) file of this size at most: far more than a
    /// simulated guest needs, and small enough that a corrupt or hostile config cannot claim terabytes of disk.
    /// </summary>
    public const long MaxMemoryMiB = 64 * 1024;

    /// <summary>vCPUs a simulated domain may have (each one is a record in every image it saves).</summary>
    public const int MaxVcpus = 512;

    public static EmbeddedDomainShape Shape(ConfigText config)
    {
        var model = Model(config);
        var name = model.Name;
        if (string.IsNullOrEmpty(name))
            throw new XenHostException(XenHostError.InvalidConfig, "config has no domain name (c_info.name / name=)");
        var memMiB = model.MemoryMiB ?? model.MaxMemMiB
            ?? throw new XenHostException(XenHostError.InvalidConfig, $"config of '{name}' gives no memory size (memory= / b_info.max_memkb)");
        if (memMiB is <= 0 or > MaxMemoryMiB)
            throw new XenHostException(XenHostError.InvalidConfig,
                $"config of '{name}' asks for {memMiB} MiB of memory; the embedded host gives a domain 1 to {MaxMemoryMiB} MiB");
        var vcpus = model.MaxVcpus ?? model.Vcpus ?? 1;
        if (vcpus is < 1 or > MaxVcpus)
            throw new XenHostException(XenHostError.InvalidConfig,
                $"config of '{name}' asks for {vcpus} vCPUs; the embedded host gives a domain 1 to {MaxVcpus}");
        return new EmbeddedDomainShape(name, model.TypeName, memMiB * 1024, (int)vcpus, LibxlJson(config, model));
    }

    /// <summary>libxl JSON for the config, checked through the model (for a config stored, not run: no shape limits).</summary>
    public static string ToLibxlJson(ConfigText config) => LibxlJson(config, Model(config));

    /// <summary>
    /// JSON is kept as given; xl.cfg is written from its model. Settings the model cannot express are dropped: the
    /// embedded host has no devices for them to configure, unlike <see cref="Libxl.LibxlConfig.ToJson"/>, which
    /// refuses them.
    /// </summary>
    private static string LibxlJson(ConfigText config, DomainConfig model)
    {
        if (config.Language != SaveFileConfigFormat.Json) return model.ToLibxlJson(out _).ToJsonString(Indented);
        // "xl list -l" output wraps the config ([{"domid":..,"config":{...}}]); what is stored is the config itself.
        var root = JsonNode.Parse(config.Text);
        if (root is JsonArray { Count: 1 } list) root = list[0];
        if (root is JsonObject o && o["config"] is JsonObject wrapped && o["c_info"] is null) return wrapped.ToJsonString();
        return config.Text;
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static DomainConfig Model(ConfigText config)
    {
        try
        {
            return config.Language switch
            {
                SaveFileConfigFormat.Json => DomainConfig.FromJson(config.Text, "config"),
                SaveFileConfigFormat.XlCfg => DomainConfig.FromXl(XlConfig.Parse(config.Text)),
                _ => throw new XenHostException(XenHostError.InvalidConfig, "no domain config given"),
            };
        }
        catch (XlConfigException e)
        {
            throw new XenHostException(XenHostError.InvalidConfig, e.Message, e);
        }
    }
}
