using System.Text.Json.Nodes;
using XenIac.Hosts;

namespace XenIac.Cli.Commands.Domain;

/// <summary>What <c>domain list</c> prints: an xl-like table, or JSON.</summary>
internal static class DomainRendering
{
    public static JsonArray ListJson(IEnumerable<DomainInfo> domains) => new(domains.Select(d => (JsonNode)new JsonObject
    {
        ["name"] = d.Name,
        ["domid"] = d.DomId,
        ["state"] = d.State.ToString(),
        ["memoryKiB"] = d.MemoryKiB,
        ["vcpus"] = d.VCpus,
    }).ToArray());

    public static void WriteList(IEnumerable<DomainInfo> domains)
    {
        Console.Out.WriteLine($"{"Name",-32} {"ID",5} {"Mem(MiB)",9} {"VCPUs",5} State");
        foreach (var d in domains)
            Console.Out.WriteLine($"{d.Name,-32} {d.DomId,5} {d.MemoryKiB / 1024,9} {d.VCpus,5} {d.State}");
    }
}
