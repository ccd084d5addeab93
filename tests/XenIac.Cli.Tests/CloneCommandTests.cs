using System.Text.Json.Nodes;

namespace XenIac.Cli.Tests;

/// <summary><c>domain clone</c> against an embedded host folder, run as the real tool.</summary>
public sealed class CloneCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-cli-clone-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    // The template's stored config names a disk path (dom0 opens it), so clones need --trust-config as restores do.
    private Task<CliResult> Run(params string[] args) =>
        CliRunner.RunAsync(args is ["domain", "clone", ..] ? [.. args, "--trust-config"] : args, workingDirectory: _dir, environment: new Dictionary<string, string> { ["XENIAC_HOST"] = "" });

    private static string SingleErrorLine(CliResult result)
    {
        Assert.Equal(1, result.ExitCode);
        var lines = result.StdErr.TrimEnd().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        return lines[0];
    }

    /// <summary>A template domain with one writable disk and one vif, saved to tmpl.xlsave.</summary>
    /// <param name="disk">The disk file in the folder; made as a small raw file unless it is there already.</param>
    private async Task<string> Template(string disk = "tmpl.img", string format = "raw")
    {
        if (!File.Exists(Path.Combine(_dir, disk))) await File.WriteAllTextAsync(Path.Combine(_dir, disk), "the template's disk");
        await File.WriteAllTextAsync(Path.Combine(_dir, "tmpl.cfg"), $"""
            name = "tmpl"
            type = "hvm"
            memory = 16
            vcpus = 1
            disk = [ 'format={format},vdev=xvda,access=rw,target={_dir}/{disk}' ]
            vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]
            """);
        Assert.Equal(0, (await Run("domain", "create", "tmpl.cfg", "--host", "embedded:host")).ExitCode);
        var save = await Run("domain", "save", "tmpl", "tmpl.xlsave", "--host", "embedded:host");
        Assert.True(save.ExitCode == 0, save.StdErr);
        return Path.Combine(_dir, "tmpl.xlsave");
    }

    [Fact]
    public async Task Four_clones_fan_out_with_distinct_names_macs_and_disks_and_teardown_leaves_nothing()
    {
        await Template();
        var result = await Run("domain", "clone", "tmpl.xlsave", "--count", "4", "--parallelism", "4", "--host", "embedded:host", "--json");
        Assert.True(result.ExitCode == 0, result.StdErr);
        Assert.Contains("new NIC address", result.StdErr);

        var clones = JsonNode.Parse(result.StdOut)!.AsArray();
        Assert.Equal(["tmpl-1", "tmpl-2", "tmpl-3", "tmpl-4"], clones.Select(c => (string)c!["name"]!));
        var macs = clones.Select(c => (string)c!["macs"]![0]!).ToList();
        Assert.Equal(4, macs.Distinct().Count());
        Assert.All(macs, m => Assert.StartsWith("00:16:3e:", m));
        Assert.DoesNotContain("00:16:3e:00:00:01", macs);
        Assert.Equal(4, clones.Select(c => (uint)c!["domid"]!).Distinct().Count());
        for (var i = 1; i <= 4; i++)
            Assert.Equal("the template's disk", await File.ReadAllTextAsync(Path.Combine(_dir, $"tmpl-{i}-xvda.img")));

        var list = await Run("domain", "list", "--host", "embedded:host", "--json");
        Assert.Equal(4, JsonNode.Parse(list.StdOut)!.AsArray().Count(d => ((string)d!["name"]!).StartsWith("tmpl-", StringComparison.Ordinal)));

        var down = await Run("domain", "clone", "--teardown", "--name-prefix", "tmpl", "--host", "embedded:host");
        Assert.True(down.ExitCode == 0, down.StdErr);
        Assert.Equal(4, down.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Empty(JsonNode.Parse((await Run("domain", "list", "--host", "embedded:host", "--json")).StdOut)!.AsArray());
        Assert.Empty(Directory.GetFiles(_dir, "tmpl-*"));
        Assert.True(File.Exists(Path.Combine(_dir, "tmpl.img")));
        Assert.Empty(Directory.GetDirectories(Path.Combine(_dir, "host", "bases")));
    }

    [Fact]
    public async Task A_ready_command_runs_for_every_clone_with_its_name_domid_and_macs()
    {
        await Template();
        var seen = Path.Combine(_dir, "seen.txt");
        // Fails the first time for each clone (no marker yet), passes on the retry: the gate tries again.
        var gate = $$"""m='{{_dir}}/'"$XENIAC_CLONE_NAME".gate; if [ -e "$m" ]; then echo "$XENIAC_CLONE_NAME $XENIAC_CLONE_DOMID $XENIAC_CLONE_MACS" >> '{{seen}}'; else touch "$m"; exit 1; fi""";
        var result = await Run("domain", "clone", "tmpl.xlsave", "--count", "2", "--disk-copy", "none", "--host", "embedded:host",
            "--ready-command", gate, "--ready-timeout", "20s", "--json");
        Assert.True(result.ExitCode == 0, result.StdErr);
        var clones = JsonNode.Parse(result.StdOut)!.AsArray();
        var lines = (await File.ReadAllLinesAsync(seen)).Order().ToList();
        Assert.Equal(2, lines.Count);
        for (var i = 0; i < 2; i++)
        {
            var c = clones.Single(x => (string)x!["name"]! == lines[i].Split(' ')[0])!;
            Assert.Equal($"{(string)c["name"]!} {(uint)c["domid"]!} {(string)c["macs"]![0]!}", lines[i]);
        }
    }

    [Fact]
    public async Task A_clone_that_never_gets_ready_undoes_the_batch()
    {
        await Template();
        var result = await Run("domain", "clone", "tmpl.xlsave", "--count", "3", "--host", "embedded:host",
            "--ready-command", "echo not yet >&2; exit 3", "--ready-timeout", "2s");
        var error = SingleErrorLine(result);
        Assert.Contains("did not pass --ready-command", error);
        Assert.Contains("exit 3: not yet", error);
        Assert.Empty(JsonNode.Parse((await Run("domain", "list", "--host", "embedded:host", "--json")).StdOut)!.AsArray());
        Assert.Empty(Directory.GetFiles(_dir, "tmpl-*"));
    }

    /// <summary>--ready-timeout 0 read as unset: a minute of tries (the default) instead of no time at all.</summary>
    [Fact]
    public async Task A_ready_timeout_of_zero_is_refused_before_any_clone_is_made()
    {
        await Template();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = await Run("domain", "clone", "tmpl.xlsave", "--count", "1", "--host", "embedded:host",
            "--ready-command", "exit 1", "--ready-timeout", "0");
        Assert.Contains("--ready-timeout '0' is no time at all", SingleErrorLine(result));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        Assert.Empty(JsonNode.Parse((await Run("domain", "list", "--host", "embedded:host", "--json")).StdOut)!.AsArray());
    }

    [Fact]
    public async Task A_ready_tcp_gate_waits_for_a_port_that_answers()
    {
        await Template();
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        var ok = await Run("domain", "clone", "tmpl.xlsave", "--count", "2", "--disk-copy", "none", "--host", "embedded:host",
            "--ready-tcp", $"127.0.0.1:{port}", "--ready-timeout", "10s");
        Assert.True(ok.ExitCode == 0, ok.StdErr);
        listener.Stop();

        Assert.Equal(0, (await Run("domain", "clone", "--teardown", "--name-prefix", "tmpl", "--host", "embedded:host")).ExitCode);
        var closed = await Run("domain", "clone", "tmpl.xlsave", "--count", "1", "--disk-copy", "none", "--host", "embedded:host",
            "--ready-tcp", $"127.0.0.1:{port}", "--ready-timeout", "2s");
        Assert.Contains($"did not pass --ready-tcp 127.0.0.1:{port}", SingleErrorLine(closed));
        Assert.Empty(JsonNode.Parse((await Run("domain", "list", "--host", "embedded:host", "--json")).StdOut)!.AsArray());

        foreach (var bad in new[] { "nohost", "h:0", "h:70000", ":80" })
            Assert.Contains("is not HOST:PORT", SingleErrorLine(await Run("domain", "clone", "tmpl.xlsave", "--count", "1", "--host", "embedded:host", "--ready-tcp", bad)));
        Assert.Contains("not both", SingleErrorLine(await Run("domain", "clone", "tmpl.xlsave", "--count", "1", "--host", "embedded:host",
            "--ready-tcp", "h:1", "--ready-command", "true")));
    }

    [Fact]
    public async Task Text_output_names_each_clone_with_its_domid_and_mac()
    {
        await Template();
        var result = await Run("domain", "clone", "tmpl.xlsave", "--count", "2", "--name-prefix", "ci", "--disk-copy", "none", "--host", "embedded:host");
        Assert.True(result.ExitCode == 0, result.StdErr);
        var lines = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Matches("^ci-1 domain [0-9]+ mac 00:16:3e:[0-9a-f:]{8}$", lines[0]);
        Assert.Matches("^ci-2 domain [0-9]+ mac 00:16:3e:[0-9a-f:]{8}$", lines[1]);
        Assert.Empty(Directory.GetFiles(_dir, "ci-*"));
    }

    [Fact]
    public async Task A_failing_clone_removes_the_whole_batch()
    {
        await Template();
        // ci-3 is taken by a domain of another config: clone refuses before anything is made.
        await File.WriteAllTextAsync(Path.Combine(_dir, "other.cfg"), "name = \"ci-3\"\ntype = \"pv\"\nmemory = 16\nkernel = \"/k\"\n");
        Assert.Equal(0, (await Run("domain", "create", "other.cfg", "--host", "embedded:host")).ExitCode);
        var line = SingleErrorLine(await Run("domain", "clone", "tmpl.xlsave", "--count", "4", "--name-prefix", "ci", "--host", "embedded:host"));
        Assert.Contains("'ci-3' already runs", line);

        // Already taken disk copies are refused up front too.
        await File.WriteAllTextAsync(Path.Combine(_dir, "web-3-xvda.img"), "in the way");
        Assert.Contains("web-3-xvda.img already exists",
            SingleErrorLine(await Run("domain", "clone", "tmpl.xlsave", "--count", "3", "--name-prefix", "web", "--host", "embedded:host")));
        File.Delete(Path.Combine(_dir, "web-3-xvda.img"));

        // The third clone's disk copy fails part way through the batch (a folder sits where its temp file goes):
        // the two clones made before it, and their disk copies, are removed.
        Directory.CreateDirectory(Path.Combine(_dir, "web-3-xvda.img.xeniac-copy"));
        var failed = await Run("domain", "clone", "tmpl.xlsave", "--count", "3", "--name-prefix", "web", "--parallelism", "1", "--host", "embedded:host");
        Assert.Contains("a clone failed and the clones this batch made were removed", SingleErrorLine(failed));
        var names = JsonNode.Parse((await Run("domain", "list", "--host", "embedded:host", "--json")).StdOut)!.AsArray().Select(d => (string)d!["name"]!);
        Assert.Equal(["ci-3"], names);
        Assert.Empty(Directory.GetFiles(_dir, "web-*"));
        Assert.Empty(Directory.GetDirectories(Path.Combine(_dir, "host", "bases")));
    }

    [Fact]
    public async Task A_stored_config_that_opens_host_paths_needs_trust()
    {
        await Template();
        var line = SingleErrorLine(await CliRunner.RunAsync(["domain", "clone", "tmpl.xlsave", "--count", "1", "--host", "embedded:host"], workingDirectory: _dir));
        Assert.Contains("--trust-config", line);
    }

    private static readonly string? QemuImg = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(d => Path.Combine(d, "qemu-img")).FirstOrDefault(File.Exists);

    private const string NoQemuImg = "qemu-img is not installed (Debian: qemu-utils; .ci/run installs it)";

    /// <summary><c>qemu-img info --output=json</c> of a file, as the tool that reads overlays sees it.</summary>
    private static async Task<JsonNode> QemuInfo(string file)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(QemuImg!) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "info", "--output=json", file }) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, await p.StandardError.ReadToEndAsync());
        return JsonNode.Parse(stdout)!;
    }

    [SkippableTheory]
    [InlineData("raw")]
    [InlineData("qcow2")]
    public async Task Qcow2_clones_get_overlays_backed_by_the_source_and_teardown_removes_them(string sourceFormat)
    {
        Skip.If(QemuImg is null, NoQemuImg);
        var source = Path.Combine(_dir, sourceFormat == "raw" ? "tmpl.img" : "tmpl.qcow2");
        if (sourceFormat == "qcow2")
        {
            // A source that is itself qcow2 serves as a backing file as it is (-F qcow2).
            var make = System.Diagnostics.Process.Start(QemuImg!, ["create", "-q", "-f", "qcow2", source, "1M"]);
            await make.WaitForExitAsync();
            Assert.Equal(0, make.ExitCode);
        }
        await Template(Path.GetFileName(source), sourceFormat);

        var result = await Run("domain", "clone", "tmpl.xlsave", "--count", "2", "--disk-copy", "qcow2", "--host", "embedded:host", "--json");
        Assert.True(result.ExitCode == 0, result.StdErr);
        var clones = JsonNode.Parse(result.StdOut)!.AsArray();
        for (var i = 1; i <= 2; i++)
        {
            var overlay = Path.Combine(_dir, $"tmpl-{i}-xvda.qcow2");
            Assert.Equal(overlay, (string)clones[i - 1]!["disks"]![0]!["target"]!);
            var info = await QemuInfo(overlay);
            Assert.Equal("qcow2", (string)info["format"]!);
            Assert.Equal(source, (string)info["backing-filename"]!);
            Assert.Equal(sourceFormat, (string)info["backing-filename-format"]!);

            // What the host keeps for the clone (what a save of it would store) opens the overlay as qcow2.
            var config = await Run("domain", "config", $"tmpl-{i}", "--host", "embedded:host");
            Assert.True(config.ExitCode == 0, config.StdErr);
            var disk = JsonNode.Parse(config.StdOut)!["disks"]![0]!;
            Assert.Equal(overlay, (string)disk["pdev_path"]!);
            Assert.Equal("qcow2", (string)disk["format"]!);
        }
        Assert.Equal(["tmpl-1-xvda.qcow2", "tmpl-2-xvda.qcow2"], Directory.GetFiles(_dir, "tmpl-*").Select(Path.GetFileName).Order());

        var down = await Run("domain", "clone", "--teardown", "--name-prefix", "tmpl", "--host", "embedded:host");
        Assert.True(down.ExitCode == 0, down.StdErr);
        Assert.Empty(Directory.GetFiles(_dir, "tmpl-*"));
        Assert.True(File.Exists(source));
    }

    [Fact]
    public async Task Without_qemu_img_qcow2_clones_are_refused_before_anything_is_made()
    {
        await Template();
        var empty = Directory.CreateDirectory(Path.Combine(_dir, "no-tools")).FullName;
        var result = await CliRunner.RunAsync(["domain", "clone", "tmpl.xlsave", "--count", "2", "--disk-copy", "qcow2", "--host", "embedded:host", "--trust-config"],
            workingDirectory: _dir, environment: new Dictionary<string, string> { ["XENIAC_HOST"] = "", ["PATH"] = empty });
        Assert.Contains("needs qemu-img (Debian: qemu-utils) on PATH", SingleErrorLine(result));
        Assert.Empty(JsonNode.Parse((await Run("domain", "list", "--host", "embedded:host", "--json")).StdOut)!.AsArray());
        Assert.Empty(Directory.GetFiles(_dir, "tmpl-*"));
    }

    [Fact]
    public async Task A_disk_copy_command_gets_source_and_target_and_its_failure_undoes_the_batch()
    {
        await Template();
        var log = Path.Combine(_dir, "copies.log");
        var ok = await Run("domain", "clone", "tmpl.xlsave", "--count", "2", "--host", "embedded:host",
            "--disk-copy-command", $"echo \"$1\" >> '{log}'; tr a-z A-Z < \"$1\" > \"$2\"");
        Assert.True(ok.ExitCode == 0, ok.StdErr);
        // The command, not a byte copy, made each clone's disk; it was given the source as $1.
        for (var i = 1; i <= 2; i++)
            Assert.Equal("THE TEMPLATE'S DISK", await File.ReadAllTextAsync(Path.Combine(_dir, $"tmpl-{i}-xvda.img")));
        Assert.Equal([Path.Combine(_dir, "tmpl.img"), Path.Combine(_dir, "tmpl.img")], await File.ReadAllLinesAsync(log));
        Assert.Equal(0, (await Run("domain", "clone", "--teardown", "--name-prefix", "tmpl", "--host", "embedded:host")).ExitCode);

        // The third copy fails: the two clones made before it and their copies go, and the error says why once.
        var failed = await Run("domain", "clone", "tmpl.xlsave", "--count", "3", "--name-prefix", "web", "--parallelism", "1", "--host", "embedded:host",
            "--disk-copy-command", "case \"$2\" in */web-3-*) echo no room left >&2; exit 7;; esac; cp \"$1\" \"$2\"");
        var line = SingleErrorLine(failed);
        Assert.Contains("a clone failed and the clones this batch made were removed", line);
        Assert.Contains("the disk copy command for xvda exited 7: no room left", line);
        Assert.Empty(JsonNode.Parse((await Run("domain", "list", "--host", "embedded:host", "--json")).StdOut)!.AsArray());
        Assert.Empty(Directory.GetFiles(_dir, "web-*"));

        // A command that exits 0 without writing $2 made no disk: that is a failure too, not a clone without one.
        Assert.Contains("exited 0 but made no file at $2", SingleErrorLine(await Run("domain", "clone", "tmpl.xlsave", "--count", "1",
            "--host", "embedded:host", "--disk-copy-command", "true")));
        Assert.Empty(Directory.GetFiles(_dir, "tmpl-*"));
    }

    [Fact]
    public async Task A_manifest_with_clones_applies_them_and_then_plans_no_changes()
    {
        await Template();
        await File.WriteAllTextAsync(Path.Combine(_dir, "xen-iac.yaml"),
            "domains:\n  - name: tmpl\n    config: tmpl.cfg\n    savefile: tmpl.xlsave\n    state: saved\n    host: embedded:host\n    clones: 2\n");
        var plan = await Run("plan", "--json");
        Assert.True(plan.ExitCode == 0, plan.StdErr);
        var pool = JsonNode.Parse(plan.StdOut)!["domains"]!.AsArray().Single(d => (string)d!["name"]! == "tmpl-*")!;
        Assert.Equal("clone", (string)pool["action"]!);
        Assert.Equal(["tmpl-1", "tmpl-2"], pool["clones"]!["create"]!.AsArray().Select(n => (string)n!));
        Assert.Contains("tmpl-*", (await Run("plan")).StdOut);

        var apply = await Run("apply", "--auto-approve");
        Assert.True(apply.ExitCode == 0, apply.StdErr + apply.StdOut);
        var names = JsonNode.Parse((await Run("domain", "list", "--host", "embedded:host", "--json")).StdOut)!.AsArray().Select(d => (string)d!["name"]!).Order();
        Assert.Equal(["tmpl-1", "tmpl-2"], names);
        var after = await Run("plan", "--detailed-exitcode");
        Assert.True(after.ExitCode == 0, after.StdErr + after.StdOut);
        Assert.Contains("No changes", after.StdOut);
    }

    [Theory]
    [InlineData(new[] { "domain", "clone", "tmpl.xlsave" }, "--count N")]
    [InlineData(new[] { "domain", "clone", "tmpl.xlsave", "--count", "0" }, "--count '0' is not a whole number")]
    [InlineData(new[] { "domain", "clone", "tmpl.xlsave", "--count", "2", "--name-prefix", "../x" }, "is not a domain name")]
    [InlineData(new[] { "domain", "clone", "missing.xlsave", "--count", "2" }, "does not exist")]
    [InlineData(new[] { "domain", "clone", "tmpl.cfg", "--count", "2" }, "not an xl savefile")]
    [InlineData(new[] { "domain", "clone", "--count", "2" }, "needs a SAVEFILE")]
    [InlineData(new[] { "domain", "clone", "--teardown" }, "needs --name-prefix")]
    [InlineData(new[] { "domain", "clone", "tmpl.xlsave", "--teardown", "--name-prefix", "p" }, "only --name-prefix")]
    [InlineData(new[] { "domain", "clone", "tmpl.xlsave", "--count", "2", "--disk-copy", "rsync" }, "rsync")]
    [InlineData(new[] { "domain", "clone", "tmpl.xlsave", "--count", "2", "--disk-copy", "qcow2", "--disk-copy-command", "cp \"$1\" \"$2\"" }, "does not go with --disk-copy qcow2")]
    [InlineData(new[] { "domain", "clone", "tmpl.xlsave", "--count", "2", "--disk-copy-command", " " }, "--disk-copy-command is empty")]
    public async Task Bad_input_is_one_error_line(string[] args, string message)
    {
        await Template();
        var line = SingleErrorLine(await Run([.. args, "--host", "embedded:host"]));
        Assert.Contains(message, line);
        Assert.Empty(JsonNode.Parse((await Run("domain", "list", "--host", "embedded:host", "--json")).StdOut)!.AsArray());
    }
}
