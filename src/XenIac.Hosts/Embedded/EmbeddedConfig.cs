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
        JsonObject? root;
        try { root = JsonNode.Parse(json) as JsonObject; }
        catch (JsonException e) { throw new XenHostException(XenHostError.InvalidConfig, $"config is not valid JSON: {e.Message}", e); }
        if (root is null) throw new XenHostException(XenHostError.InvalidConfig, "a libxl JSON config is an object");

        var name = ReadString(root["c_info"]?["name"], "c_info.name");
        if (string.IsNullOrEmpty(name))
            throw new XenHostException(XenHostError.InvalidConfig, "config has no domain name (c_info.name / name=)");
        var type = ReadString(root["c_info"]?["type"], "c_info.type") ?? "pv";
        var memKiB = ReadLong(root["b_info"]?["target_memkb"], "b_info.target_memkb") ?? ReadLong(root["b_info"]?["max_memkb"], "b_info.max_memkb")
            ?? throw new XenHostException(XenHostError.InvalidConfig, $"config of '{name}' gives no memory size (memory= / b_info.max_memkb)");
        if (memKiB is <= 0 or > MaxMemoryKiB || memKiB % 4 != 0)
            throw new XenHostException(XenHostError.InvalidConfig, $"config of '{name}' has an invalid memory size of {memKiB} KiB");
        var vcpus = ReadLong(root["b_info"]?["max_vcpus"], "b_info.max_vcpus") ?? 1;
        if (vcpus is < 1 or > MaxVcpus)
            throw new XenHostException(XenHostError.InvalidConfig, $"config of '{name}' asks for {vcpus} vCPUs (1 to {MaxVcpus})");
        return new EmbeddedDomainShape(name, type, memKiB, (int)vcpus);
    }

    // Bounds that no real domain reaches but that keep a typo from allocating a terabyte file or an absurd vCPU list.
    private const long MaxMemoryKiB = 1L << 40;
    private const long MaxVcpus = 4096;

    private static string? ReadString(JsonNode? node, string what) => node switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => throw new XenHostException(XenHostError.InvalidConfig, $"config field {what} must be a string, not {node.ToJsonString()}"),
    };

    /// <summary>
    /// libxl JSON for the config. Settings the model cannot express are dropped here: the embedded host has no
    /// devices for them to configure, unlike <see cref="Libxl.LibxlConfig.ToJson"/>, which refuses them.
    /// </summary>
    public static string ToLibxlJson(DomainConfigDocument config) => HostConfigs.ToLibxlJson(config, out _);

    private static long? ReadLong(JsonNode? node, string what) => node switch
    {
        null => null,
        JsonValue v when v.TryGetValue<long>(out var l) => l,
        JsonValue v when v.TryGetValue<string>(out var s) && long.TryParse(s, out var p) => p,
        _ => throw new XenHostException(XenHostError.InvalidConfig, $"config field {what} must be a whole number, not {node.ToJsonString()}"),
    };
}
