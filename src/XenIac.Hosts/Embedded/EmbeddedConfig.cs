using System.Text.Json;
using System.Text.Json.Nodes;
using XenIac.Core.SaveFiles;

namespace XenIac.Hosts;

/// <summary>The few facts the embedded host needs from a config: name, guest type, memory and vCPUs.</summary>
internal sealed record EmbeddedDomainShape(string Name, string GuestType, long MemoryKiB, int VCpus);

/// <summary>
/// Reads domain shape from configs and turns configs into libxl JSON (what today's xl stores in savefiles and
/// remembers for running domains).
/// </summary>
internal static class EmbeddedConfig
{
    public static EmbeddedDomainShape Shape(DomainConfigDocument config)
    {
        var json = ToLibxlJson(config);
        JsonNode? root;
        try { root = JsonNode.Parse(json); }
        catch (JsonException e) { throw new XenHostException(XenHostError.InvalidConfig, $"config is not valid JSON: {e.Message}", e); }

        var name = root?["c_info"]?["name"]?.GetValue<string>();
        if (string.IsNullOrEmpty(name))
            throw new XenHostException(XenHostError.InvalidConfig, "config has no domain name (c_info.name / name=)");
        var type = root?["c_info"]?["type"]?.GetValue<string>() ?? "pv";
        var memKiB = ReadLong(root?["b_info"]?["target_memkb"]) ?? ReadLong(root?["b_info"]?["max_memkb"])
            ?? throw new XenHostException(XenHostError.InvalidConfig, $"config of '{name}' gives no memory size (memory= / b_info.max_memkb)");
        if (memKiB <= 0 || memKiB % 4 != 0)
            throw new XenHostException(XenHostError.InvalidConfig, $"config of '{name}' has an invalid memory size of {memKiB} KiB");
        var vcpus = (int)(ReadLong(root?["b_info"]?["max_vcpus"]) ?? 1);
        return new EmbeddedDomainShape(name, type, memKiB, vcpus);
    }

    /// <summary>
    /// libxl JSON for the config. Settings the model cannot express are dropped here: the embedded host has no
    /// devices for them to configure, unlike <see cref="Libxl.LibxlConfig.ToJson"/>, which refuses them.
    /// </summary>
    public static string ToLibxlJson(DomainConfigDocument config) => HostConfigs.ToLibxlJson(config, out _);

    private static long? ReadLong(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.TryGetValue<long>(out var l) => l,
        JsonValue v when v.TryGetValue<string>(out var s) && long.TryParse(s, out var p) => p,
        _ => null,
    };
}
