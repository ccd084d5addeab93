using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using XenIac.Hosts.Embedded;
using XenIac.Hosts.Remote;
using XenIac.Tests;

namespace XenIac.Bench;

/// <summary>
/// Issue 14: `xen-iac plan -f MANIFEST` over 1,000 domains on 10 <c>ssh://</c> hosts, whole process (target ≤ 2 s).
/// One loopback sshd (keys made per run) reaches 10 embedded host folders, each its own
/// <c>ssh://user@127.0.0.1:PORT?host=embedded:/folder&amp;command=TOOL</c> (10 connections, 10 remote
/// <c>xen-iac serve --stdio</c>), with 100 domains each made as <see cref="PlanBenchmark"/> makes its 1,000 (a third
/// running, a third saved, a third new). The remote command is the same xen-iac the plan runs (the NativeAOT binary
/// when there is one). The same manifest with the 10 folders as local <c>embedded:</c> hosts is timed beside it, and
/// both plans are checked to be the same 1,000 domains with the same actions before any figure counts.
/// </summary>
public sealed class SshPlanBenchmark : IBenchmark
{
    public string Name => "ssh-plan";
    public string Description => "whole-process `xen-iac plan -f` over 1,000 domains on 10 ssh:// hosts (loopback sshd, embedded folders) vs the same 10 hosts local (target <= 2 s)";

    private const int hostCount = 10;
    private const int perHost = 100;
    private const double targetSeconds = 2.0;

    public async Task RunAsync(BenchContext context)
    {
        var dir = await EnsureDataAsync(context);
        var folders = Enumerable.Range(0, hostCount).Select(h => (Name: HostName(h), Folder: Path.Combine(dir, "hosts", HostName(h)))).ToList();
        var domains = await File.ReadAllTextAsync(Path.Combine(dir, "domains.yaml"));
        await File.WriteAllTextAsync(Path.Combine(dir, "local.yaml"), Manifest(folders.Select(f => (f.Name, $"embedded:{f.Folder}")), domains));

        await using var sshd = new LoopbackSshd();
        await sshd.StartAsync();
        if (sshd.SkipReason is not null)
        {
            Console.WriteLine($"skipped: {sshd.SkipReason}");
            return;
        }
        // The remote runs the very binary the plan runs; the managed fallback goes through the sshd's wrapper
        // (absolute dotnet, DOTNET_ROOT), which starts the same xen-iac.dll.
        var remoteCommand = BenchContext.NativeTool ?? sshd.RemoteTool;
        var user = Environment.UserName;
        string SshSpec(string folder) =>
            $"ssh://{user}@127.0.0.1:{sshd.Port}?host=embedded:{folder}&command={Uri.EscapeDataString(remoteCommand)}";
        await File.WriteAllTextAsync(Path.Combine(dir, "ssh.yaml"), Manifest(folders.Select(f => (f.Name, SshSpec(f.Folder))), domains));
        Environment.SetEnvironmentVariable(SshTarget.CommandVariable, sshd.SshCommand);

        var tool = BenchContext.Tool;
        Console.WriteLine($"tool: {BenchContext.ToolKind}; remote command: {remoteCommand}; {hostCount} hosts x {perHost} domains; " +
                          $"e.g. {SshSpec(folders[0].Folder)}");

        // A plan that is wrong is not timed: both must list the 1,000 domains, all planned, with the same actions.
        var local = CheckPlan(dir, "local.yaml");
        var ssh = CheckPlan(dir, "ssh.yaml");
        if (local.Summary != ssh.Summary || local.Domains != ssh.Domains)
            throw new InvalidOperationException($"ssh plan differs from the local plan: {ssh.Summary} vs {local.Summary}");
        Console.WriteLine($"plan checked: {ssh.Summary}; --detailed-exitcode {ssh.ExitCode} (2: changes, as expected) for both");

        // What one connection costs, whole processes: ssh alone, and one host's `host info` over ssh.
        var sshTrue = context.TimeShell($"{sshd.SshCommand} -T -o BatchMode=yes -p {sshd.Port} {user}@127.0.0.1 true");
        var hostInfo = context.TimeShell($"{tool} host info --host '{SshSpec(folders[0].Folder)}' > /dev/null");
        var localInfo = context.TimeShell($"{tool} host info --host 'embedded:{folders[0].Folder}' > /dev/null");

        var sshJson = context.TimeShell($"cd '{dir}' && {tool} plan -f ssh.yaml --json > /dev/null");
        var sshHuman = context.TimeShell($"cd '{dir}' && {tool} plan -f ssh.yaml > /dev/null 2>&1");
        var localJson = context.TimeShell($"cd '{dir}' && {tool} plan -f local.yaml --json > /dev/null");
        var localHuman = context.TimeShell($"cd '{dir}' && {tool} plan -f local.yaml > /dev/null 2>&1");
        var best = sshJson < sshHuman ? sshJson : sshHuman;
        var worst = sshJson > sshHuman ? sshJson : sshHuman;
        var verdict = worst.TotalSeconds <= targetSeconds ? "met" : best.TotalSeconds <= targetSeconds ? "met for one output only" : "missed";
        Console.WriteLine($"plan over {hostCount * perHost} domains on {hostCount} ssh hosts: default output {sshHuman.TotalSeconds:F3} s, " +
                          $"--json {sshJson.TotalSeconds:F3} s whole process (target <= {targetSeconds:F0} s: {verdict}); load average {BenchContext.LoadAverage()}, " +
                          $"{DateTime.UtcNow:u}");
        Console.WriteLine($"same plan on the {hostCount} hosts as local embedded folders (no ssh): default output {localHuman.TotalSeconds:F3} s, " +
                          $"--json {localJson.TotalSeconds:F3} s; ssh adds {(sshHuman - localHuman).TotalSeconds:F3} s / {(sshJson - localJson).TotalSeconds:F3} s");
        Console.WriteLine($"one connection: `ssh HOST true` {sshTrue.TotalSeconds:F3} s; `host info` over ssh {hostInfo.TotalSeconds:F3} s " +
                          $"(local embedded {localInfo.TotalSeconds:F3} s)");
    }

    private static string HostName(int h) => $"h{h:D2}";

    private static string Manifest(IEnumerable<(string Name, string Spec)> hosts, string domains)
    {
        var yaml = new StringBuilder("hosts:\n");
        foreach (var (name, spec) in hosts) yaml.Append($"  {name}: '{spec.Replace("'", "''", StringComparison.Ordinal)}'\n");
        return yaml.Append("domains:\n").Append(domains).ToString();
    }

    /// <summary>The 10 embedded host folders and the 1,000 domains' configs and savefiles (made once, kept in the bench folder).</summary>
    private static async Task<string> EnsureDataAsync(BenchContext context)
    {
        var dir = Path.Combine(context.WorkDir, "ssh-plan");
        if (File.Exists(Path.Combine(dir, "domains.yaml"))) return dir;
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        Directory.CreateDirectory(dir);
        var domains = new StringBuilder();
        for (var h = 0; h < hostCount; h++)
        {
            await using var host = EmbeddedHost.Open(Path.Combine(dir, "hosts", HostName(h)));
            domains.Append(await PlanBenchmark.WriteDomainsAsync(dir, host, h * perHost, perHost, HostName(h)));
        }
        await File.WriteAllTextAsync(Path.Combine(dir, "domains.yaml"), domains.ToString());
        return dir;
    }

    /// <summary>
    /// Runs `plan -f MANIFEST --json --detailed-exitcode` once and checks it: exit code 2 (changes, no error), 1,000
    /// domains, no domain with an error, each on the host the manifest names. Returns a summary, and each domain's
    /// action, to compare plans by.
    /// </summary>
    private static (string Summary, string Domains, int ExitCode) CheckPlan(string dir, string manifest)
    {
        var start = new ProcessStartInfo("bash", ["-c", $"{BenchContext.Tool} plan -f {manifest} --json --detailed-exitcode"])
        {
            WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var p = Process.Start(start)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        string Fail(string why) => throw new InvalidOperationException($"plan -f {manifest}: {why} (exit code {p.ExitCode}; stderr: {stderr.Result.Trim()})");
        if (p.ExitCode != 2) Fail("expected exit code 2 (changes)");
        var plan = JsonNode.Parse(output) as JsonObject ?? throw new InvalidOperationException($"plan -f {manifest}: no JSON object");
        var list = plan["domains"]!.AsArray();
        if (list.Count != hostCount * perHost) Fail($"{list.Count} domains, expected {hostCount * perHost}");
        if (plan["errors"]!.GetValue<bool>()) Fail("the plan has errors: " + string.Join("; ", list.Select(d => (string?)d!["error"]).Where(e => e is not null).Take(3)));
        var misplaced = list.Count(d => (string?)d!["hostName"] != HostName(int.Parse(((string)d["name"]!)[2..]) / perHost));
        if (misplaced > 0) Fail($"{misplaced} domains on another host than the manifest's");
        var actions = list.GroupBy(d => (string)d!["action"]!).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Count()} {g.Key}");
        var running = list.Count(d => d!["running"]!.GetValue<bool>());
        var each = string.Join('\n', list.Select(d => $"{d!["name"]} {d["action"]} {d["running"]} {d["hostName"]}"));
        return ($"{list.Count} domains ({string.Join(", ", actions)}; {running} running)", each, p.ExitCode);
    }
}
