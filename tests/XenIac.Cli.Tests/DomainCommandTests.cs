using System.Runtime.InteropServices;
using XenIac.Hosts;

namespace XenIac.Cli.Tests;

public sealed class DomainCommandTests
{
    private static readonly Dictionary<string, string> NoDefaultHost = new() { ["XENIAC_HOST"] = "" };

    private static bool LibxenlightInstalled =>
        new[] { "4.17", "4.18", "4.19", "4.20", "4.21", "4.22" }.Any(v => NativeLibrary.TryLoad($"libxenlight.so.{v}", out _));

    private static string SingleErrorLine(CliResult result)
    {
        Assert.Equal(1, result.ExitCode);
        var lines = result.StdErr.TrimEnd().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        return lines[0];
    }

    [SkippableFact]
    public async Task List_on_libxl_off_dom0_exits_1_with_one_clear_line()
    {
        Skip.If(!LibxenlightInstalled, "libxenlight is not installed (apt-get install libxen-dev)");
        Skip.If(XenHosts.IsDom0, "this machine is a Xen dom0, where libxl opens");

        var line = SingleErrorLine(await CliRunner.RunAsync(["domain", "list", "--host", "libxl"], environment: NoDefaultHost));

        Assert.Contains("libxl_ctx_alloc failed", line);
        Assert.Contains("not a Xen dom0", line);
        Assert.Contains("embedded:<folder> (--host in xen-iac", line);
    }

    [SkippableFact]
    public async Task List_without_a_host_off_dom0_says_how_to_pick_the_embedded_host()
    {
        Skip.If(XenHosts.IsDom0, "this machine is a Xen dom0, where no host means libxl");
        var line = SingleErrorLine(await CliRunner.RunAsync(["domain", "list"], environment: NoDefaultHost));
        Assert.Contains("not a Xen dom0", line);
        Assert.Contains("embedded:<folder> (--host in xen-iac", line);
    }

    [SkippableFact]
    public async Task XENIAC_HOST_is_the_default_host()
    {
        Skip.If(!LibxenlightInstalled, "libxenlight is not installed (apt-get install libxen-dev)");
        Skip.If(XenHosts.IsDom0, "this machine is a Xen dom0, where libxl opens");
        var line = SingleErrorLine(await CliRunner.RunAsync(["domain", "list"], environment: new Dictionary<string, string> { ["XENIAC_HOST"] = "libxl" }));
        Assert.Contains("libxl_ctx_alloc failed", line);
    }

    [Fact]
    public async Task A_bad_host_spec_exits_1_naming_the_valid_ones()
    {
        var line = SingleErrorLine(await CliRunner.RunAsync(["domain", "pause", "web", "--host", "qemu:/tmp"], environment: NoDefaultHost));
        Assert.Contains("unknown host 'qemu:/tmp'", line);
        Assert.Contains("embedded:<folder>", line);
    }

    [Fact]
    public async Task Host_info_prints_the_facts_placement_uses_and_json_for_scripts()
    {
        var dir = Directory.CreateTempSubdirectory("xeniac-cli-hostinfo-").FullName;
        try
        {
            var folder = Path.Combine(dir, "h");
            Assert.Equal(0, (await CliRunner.RunAsync(["domain", "list", "--host", $"embedded:{folder}"])).ExitCode);
            File.WriteAllText(Path.Combine(folder, "xeniac-embedded-host.json"), """{"kind":"xeniac-embedded-host","version":1,"xenVersion":"4.20.1","cpuVendor":"AuthenticAMD","memoryMiB":2048}""");

            var text = await CliRunner.RunAsync(["host", "info", "--host", $"embedded:{folder}"]);
            Assert.Equal(0, text.ExitCode);
            Assert.Contains("xen_version : 4.20.1", text.StdOut);
            Assert.Contains("cpu_vendor  : AuthenticAMD", text.StdOut);
            Assert.Contains("free_memory : 2048 MiB", text.StdOut);

            var json = await CliRunner.RunAsync(["host", "info", "--host", $"embedded:{folder}", "--json"]);
            Assert.Equal(0, json.ExitCode);
            var root = System.Text.Json.JsonDocument.Parse(json.StdOut).RootElement;
            Assert.Equal("4.20.1", root.GetProperty("xenVersion").GetString());
            Assert.Equal(2048L * 1024, root.GetProperty("freeMemoryKiB").GetInt64());

            File.WriteAllText(Path.Combine(folder, "xeniac-embedded-host.json"), "[");
            var line = SingleErrorLine(await CliRunner.RunAsync(["host", "info", "--host", $"embedded:{folder}"]));
            Assert.Contains("xeniac-embedded-host.json", line);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
