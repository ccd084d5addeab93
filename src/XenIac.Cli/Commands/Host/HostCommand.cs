using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using XenIac.Hosts;

namespace XenIac.Cli.Commands.Host;

/// <summary><c>xen-iac host info</c>: what a host says about itself (as <c>xl info</c>), the facts placement checks.</summary>
internal static class HostCommand
{
    public static Command Create()
    {
        var command = new Command("host", "Facts about a host (libxl, embedded or ssh://)");
        var host = CommandLine.HostOption(
            $"Host: 'libxl' (this dom0), 'embedded:<folder>' or 'ssh://[user@]host[:port][?host=...]'; default ${CommandLine.HostVariable}, else libxl on a dom0");
        var json = CommandLine.JsonOption();
        var info = new Command("info", "The host's Xen version, CPU vendor and free memory") { host, json };
        info.SetHandler((parse, ct) => InfoAsync(parse.GetValue(host), parse.GetValue(json), ct));
        command.Subcommands.Add(info);
        return command;
    }

    private static async Task<int> InfoAsync(string? host, bool json, CancellationToken ct)
    {
        await using var h = CommandLine.HostSpec(host).Open();
        var info = await h.GetHostInfoAsync(ct);
        if (json)
        {
            CommandLine.WriteJson(new JsonObject
            {
                ["host"] = h.Spec,
                ["xenVersion"] = info.XenVersion,
                ["cpuVendor"] = info.CpuVendor,
                ["freeMemoryKiB"] = info.FreeMemoryKiB,
            });
        }
        else
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"host        : {h.Spec}"));
            Console.Out.WriteLine($"xen_version : {info.XenVersion}");
            Console.Out.WriteLine($"cpu_vendor  : {info.CpuVendor}");
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"free_memory : {info.FreeMemoryKiB / 1024} MiB"));
        }
        return ExitCodes.Ok;
    }
}
