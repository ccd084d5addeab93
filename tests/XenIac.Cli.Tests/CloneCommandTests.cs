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
    private async Task<string> Template()
    {
        await File.WriteAllTextAsync(Path.Combine(_dir, "tmpl.img"), "the template's disk");
        await File.WriteAllTextAsync(Path.Combine(_dir, "tmpl.cfg"), $"""
            name = "tmpl"
            type = "hvm"
            memory = 16
            vcpus = 1
            disk = [ 'format=raw,vdev=xvda,access=rw,target={_dir}/tmpl.img' ]
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
    public async Task Bad_input_is_one_error_line(string[] args, string message)
    {
        await Template();
        var line = SingleErrorLine(await Run([.. args, "--host", "embedded:host"]));
        Assert.Contains(message, line);
        Assert.Empty(JsonNode.Parse((await Run("domain", "list", "--host", "embedded:host", "--json")).StdOut)!.AsArray());
    }
}
