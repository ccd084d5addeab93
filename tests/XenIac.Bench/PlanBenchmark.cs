using XenIac.Core.Config;
using System.Diagnostics;
using System.Text;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;
using XenIac.Hosts.Embedded;

namespace XenIac.Bench;

/// <summary>Issue 5: `xen-iac plan` over a generated 1,000-domain manifest, whole process (target under 0.5 s).</summary>
public sealed class PlanBenchmark : IBenchmark
{
    public string Name => "plan";
    public string Description => "whole-process `xen-iac plan` over 1,000 domains on the embedded host (target < 0.5 s)";

    private const int domains = 1000;

    public async Task RunAsync(BenchContext context)
    {
        var dir = await EnsureManifestAsync(context);
        RunPlans(context, dir);
    }

    /// <summary>The generated 1,000-domain manifest and its embedded host (made once, kept in the bench folder).</summary>
    internal static async Task<string> EnsureManifestAsync(BenchContext context)
    {
        var dir = Path.Combine(context.WorkDir, "plan1000");
        if (!File.Exists(Path.Combine(dir, "xen-iac.yaml")))
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
            Directory.CreateDirectory(Path.Combine(dir, "saves"));
            var yaml = new StringBuilder("defaults:\n  host: embedded:host\ndomains:\n");
            await using (var host = EmbeddedHost.Open(Path.Combine(dir, "host")))
                yaml.Append(await WriteDomainsAsync(dir, host, 0, domains, hostName: null));
            await File.WriteAllTextAsync(Path.Combine(dir, "xen-iac.yaml"), yaml.ToString());
        }
        return dir;
    }

    /// <summary>
    /// Domains <c>vm{first}</c>..<c>vm{first+count-1}</c> made real in <paramref name="dir"/> (configs, <c>saves/</c>)
    /// and on <paramref name="host"/>: by the domain's number, a third running, a third saved (a real header before a
    /// stand-in image), a third new; every other one desired running, the rest saved. Returns their manifest entries
    /// (under <c>domains:</c>), each with <c>host: NAME</c> when <paramref name="hostName"/> is given.
    /// </summary>
    internal static async Task<string> WriteDomainsAsync(string dir, IXenHost host, int first, int count, string? hostName)
    {
        Directory.CreateDirectory(Path.Combine(dir, "saves"));
        var yaml = new StringBuilder();
        for (var i = first; i < first + count; i++)
        {
            var name = $"vm{i:D4}";
            var cfg = $"name = \"{name}\"\ntype = \"hvm\"\nmemory = 4\nvcpus = 1\ndisk = [ '/srv/{name}.img,raw,xvda,rw' ]\n";
            await File.WriteAllTextAsync(Path.Combine(dir, name + ".cfg"), cfg);
            switch (i % 3)
            {
                case 0:
                    await host.CreateAsync(ConfigText.FromText(cfg));
                    break;
                case 1:
                    var header = SaveFileHeader.Create($"{{\"c_info\":{{\"name\":\"{name}\",\"type\":\"hvm\"}}}}", SaveFileConfigFormat.Json);
                    await File.WriteAllBytesAsync(Path.Combine(dir, "saves", name + ".xlsave"), [.. header.ToBytes(), .. "LibxlFmt"u8]);
                    break;
            }
            yaml.Append($"  - name: {name}\n    config: {name}.cfg\n    state: {(i % 2 == 0 ? "running" : "saved")}\n");
            if (hostName is not null) yaml.Append($"    host: {hostName}\n");
        }
        return yaml.ToString();
    }

    private static void RunPlans(BenchContext context, string dir)
    {
        var tool = BenchContext.Tool;
        Console.WriteLine($"tool: {BenchContext.ToolKind}");
        var startup = context.TimeShell($"cd '{dir}' && {tool} --version > /dev/null");
        var plan = context.TimeShell($"cd '{dir}' && {tool} plan --json > /dev/null");
        var human = context.TimeShell($"cd '{dir}' && {tool} plan > /dev/null 2>&1");
        Console.WriteLine($"plan over {domains} domains: --json {plan.TotalSeconds:F3} s, default output {human.TotalSeconds:F3} s whole process " +
                          $"(target < 0.5 s); default / --json {human.TotalSeconds / plan.TotalSeconds:F2} (target <= 1.3); " +
                          $"process start alone (--version) {startup.TotalSeconds:F3} s");
        using var p = Process.Start(new ProcessStartInfo("bash", ["-c", $"{tool} plan --json"]) { WorkingDirectory = dir, RedirectStandardOutput = true })!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Console.WriteLine($"(plan exit code {p.ExitCode}; {output.Split("\"action\": \"none\"").Length - 1} domains unchanged)");
    }
}
