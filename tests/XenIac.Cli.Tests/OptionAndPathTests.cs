using System.Text.Json;
using XenIac.Tests;

namespace XenIac.Cli.Tests;

/// <summary>A folder with the files the hostile-input table refers to: a config, a folder, a savefile, a link.</summary>
public sealed class HostileInputFolder : IDisposable
{
    public HostileInputFolder()
    {
        Directory.CreateDirectory(Path.Combine(Dir, "adir"));
        Directory.CreateDirectory(Path.Combine(Dir, "host"));
        File.WriteAllText(Path.Combine(Dir, "ok.cfg"), "name = \"web\"\ntype = \"hvm\"\nmemory = 8\nvcpus = 1\n");
        File.WriteAllText(Path.Combine(Dir, "xen-iac.yaml"), "version: 1\ndomains: []\n");
        File.WriteAllBytes(Path.Combine(Dir, "s.xlsave"),
            XenIac.Core.SaveFiles.SaveFileHeader.Create("name = \"web\"\n", XenIac.Core.SaveFiles.SaveFileConfigFormat.XlCfg).ToBytes()
                .Concat("LibxlFmt"u8.ToArray()).ToArray());
        File.WriteAllText(Path.Combine(Dir, "target.xlsave"), "keep me");
        File.CreateSymbolicLink(Path.Combine(Dir, "link.xlsave"), Path.Combine(Dir, "target.xlsave"));
    }

    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "xeniac-cli-hostile", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}

public sealed class OptionAndPathTests(HostileInputFolder folder) : IClassFixture<HostileInputFolder>
{
    private static readonly Dictionary<string, string> EmbeddedHost = new() { ["XENIAC_HOST"] = "embedded:host" };

    /// <summary>
    /// Every option and file argument of every command with values that are wrong in each way a person gets them
    /// wrong: not a number, a fraction, too big, negative, a folder for a file, a missing file, '-' where
    /// standard input/output is not supported, a link or missing folder for an output. Each must be one error line.
    /// </summary>
    public static TheoryData<string, string> BadValues() => new()
    {
        { "apply --auto-approve --parallelism abc", "--parallelism 'abc' is not a whole number from 1 to 64" },
        { "apply --auto-approve --parallelism 1.5", "--parallelism '1.5'" },
        { "apply --auto-approve --parallelism 99999999999", "--parallelism '99999999999'" },
        { "apply --auto-approve --parallelism 0", "--parallelism '0'" },
        { "apply --auto-approve --parallelism -3", "--parallelism '-3'" },
        { "apply --auto-approve --parallelism 65", "--parallelism '65'" },
        { "apply --auto-approve --lock-timeout -5s", "--lock-timeout '-5s' is not a duration" },
        { "apply --auto-approve --lock-timeout abc", "--lock-timeout 'abc'" },
        { "apply --auto-approve --lock-timeout 1e300h", "--lock-timeout '1e300h'" },
        { "apply --auto-approve --lock-timeout NaN", "--lock-timeout 'NaN'" },
        { "apply --auto-approve --lock-timeout Infinitys", "--lock-timeout 'Infinitys'" },
        { "apply --auto-approve --lock-timeout 25h", "--lock-timeout '25h'" },
        { "apply --auto-approve -f adir", "--file 'adir' is a folder" },
        { "plan -f adir", "--file 'adir' is a folder" },
        { "plan -f missing.yaml", "missing.yaml" },
        { "plan --host qemu:x", "unknown host 'qemu:x'" },
        { "plan --host embedded:no-parent/host", "parent folder" },
        { "apply --auto-approve --host embedded:ok.cfg", "is a file, not a folder" },
        { "domain list --host embedded:", "embedded host needs a folder" },
        { "domain list --host embedded:no-parent/host", "parent folder" },
        { "domain save web adir", "'adir' is a folder" },
        { "domain save web no-parent/x.xlsave", "does not exist (create it first" },
        { "domain save web -", "'-' (standard output) is not supported" },
        { "domain save web link.xlsave", "is a symbolic link" },
        { "domain save web x.xlsave --config adir", "--config 'adir' is a folder" },
        { "domain save web x.xlsave --config missing.cfg", "--config 'missing.cfg' does not exist" },
        { "domain restore adir", "FILE 'adir' is a folder" },
        { "domain restore missing.xlsave", "FILE 'missing.xlsave' does not exist" },
        { "domain restore s.xlsave --config missing.cfg", "--config 'missing.cfg' does not exist" },
        { "domain create adir", "CFG 'adir' is a folder" },
        { "domain create -", "'-' (standard input) is not supported" },
        { "domain destroy nosuchdomain", "nosuchdomain" },
        { "domain config nosuchdomain", "nosuchdomain" },
        { "savefile inspect adir", "FILE 'adir' is a folder" },
        { "savefile inspect missing.xlsave", "FILE 'missing.xlsave' does not exist" },
        { "savefile verify adir", "FILE 'adir' is a folder" },
        { "savefile config adir", "FILE 'adir' is a folder" },
        { "savefile convert s.xlsave out.xlsave --to qcow2", "qcow2" },
        { "savefile convert s.xlsave out.xlsave --byte-order middle", "middle" },
        { "savefile convert s.xlsave out.xlsave --config adir", "--config 'adir' is a folder" },
        { "savefile convert s.xlsave adir", "'adir' is a folder" },
        { "savefile convert s.xlsave no-parent/out.xlsave", "does not exist (create it first" },
        { "savefile convert s.xlsave link.xlsave", "is a symbolic link" },
        { "savefile convert - out.xlsave", "'-' (standard input) is not supported" },
        { "savefile set-config s.xlsave adir", "CFG 'adir' is a folder" },
        { "savefile set-config adir ok.cfg", "FILE 'adir' is a folder" },
        { "savefile set-config s.xlsave -", "'-' (standard input) is not supported" },
        { "config show adir", "FILE 'adir' is a folder" },
        { "config check adir ok.cfg", "SAVED 'adir' is a folder" },
        { "config check ok.cfg missing.cfg", "OVERRIDE 'missing.cfg' does not exist" },
        { "config convert ok.cfg --to yaml", "yaml" },
        // Devices claim no size and never end: every whole-file read is bounded (SmallFile), so each is an error, not a hang.
        { "plan -f /dev/zero", "/dev/zero holds more than 16,777,216 bytes" },
        { "apply /dev/zero --auto-approve", "/dev/zero holds more than 16,777,216 bytes" },
        { "drift -f /dev/urandom", "/dev/urandom holds more than" },
        { "config show /dev/zero", "/dev/zero holds more than" },
        { "config convert /dev/urandom", "/dev/urandom holds more than" },
        { "config check ok.cfg /dev/zero", "/dev/zero holds more than" },
        { "store ls --store st --key /dev/zero", "key file '/dev/zero'" },
        { "import web -f /dev/zero", "/dev/zero" },
        { "serve --stdio --host bogus:x", "error: serve: " },
        { "savefile inspect @args", "'@args' does not exist" }, // an argument, never a response file
    };

    [Fact]
    public async Task Serve_exits_1_with_an_error_line_when_its_client_breaks_the_protocol()
    {
        string[] serve = ["serve", "--stdio", "--host", "embedded:" + Path.Combine(folder.Dir, "served")];
        // A client that says nothing and leaves is a normal end (this first start also makes the host folder).
        var quiet = await CliRunner.RunAsync(serve, stdin: []);
        Assert.True(quiet.ExitCode == 0, quiet.StdErr);

        var result = await CliRunner.RunAsync(serve, stdin: "GET / HTTP/1.1\r\n\r\n"u8.ToArray());
        Assert.True(result.ExitCode == 1, $"exit {result.ExitCode}: {result.StdErr}");
        var line = Assert.Single(result.StdErr.TrimEnd().Split('\n'));
        Assert.StartsWith("error: serve: protocol error from the client: ", line);
    }

    [Theory]
    [InlineData("domain", "list")]
    [InlineData("host", "info")]
    [InlineData("plan")]
    [InlineData("import")]
    public async Task An_empty_host_is_an_error_naming_the_option_not_the_default_host(params string[] command)
    {
        // `--host "$HOST"` with HOST unset fell back to $XENIAC_HOST: a host the user did not choose.
        var result = await CliRunner.RunAsync([.. command, "--host", ""], workingDirectory: folder.Dir, environment: EmbeddedHost);
        Assert.True(result.ExitCode == 1, $"exit {result.ExitCode}: {result.StdErr}");
        Assert.StartsWith("error: --host is empty", Assert.Single(result.StdErr.TrimEnd().Split('\n')));
    }

    [Theory]
    [InlineData("<&-", "standard input is closed")]
    [InlineData("0</dev/null >&-", "standard output is closed")]
    public async Task Serve_with_a_closed_standard_stream_says_so_at_once(string redirect, string expected)
    {
        // A closed stdin was one of the runtime's own pipes, read for ever; a closed stdout said "access denied".
        var tool = string.Join(' ', XenIac.Tests.ToolUnderTest.Command.Select(a => $"'{a}'"));
        var script = $"exec {tool} serve --stdio --host 'embedded:{Path.Combine(folder.Dir, "served")}' {redirect}";
        var start = new System.Diagnostics.ProcessStartInfo("bash", ["-c", script]) { RedirectStandardError = true, UseShellExecute = false };
        using var process = System.Diagnostics.Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        // Only error lines: the first start in this folder also notes the host folder it makes.
        var line = Assert.Single((await stderr).TrimEnd().Split('\n'), l => !l.StartsWith("note: ", StringComparison.Ordinal));
        Assert.StartsWith("error: serve: " + expected, line);
        Assert.Equal(1, process.ExitCode);
    }

    [Theory]
    [MemberData(nameof(BadValues))]
    public async Task A_bad_value_is_one_error_line_and_exit_1(string commandLine, string expected)
    {
        var result = await CliRunner.RunAsync(commandLine.Split(' '), workingDirectory: folder.Dir, environment: EmbeddedHost);

        Assert.True(result.ExitCode == 1, $"exit {result.ExitCode}: {result.StdErr}");
        var lines = result.StdErr.TrimEnd().Split('\n');
        Assert.True(lines.Length == 1, result.StdErr);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(expected, lines[0]);
        Assert.DoesNotContain(" at ", lines[0].Replace("at once", ""));
        // Nothing was created by the refusal: no stray folder, the link still a link to the untouched file.
        Assert.False(Directory.Exists(Path.Combine(folder.Dir, "no-parent")));
        Assert.False(File.Exists(Path.Combine(folder.Dir, "-")));
        Assert.NotNull(new FileInfo(Path.Combine(folder.Dir, "link.xlsave")).LinkTarget);
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(folder.Dir, "target.xlsave")));
    }

    [Fact]
    public async Task A_new_embedded_host_folder_is_created_only_under_an_existing_parent_and_said()
    {
        var dir = NewDir();
        var created = await CliRunner.RunAsync(["domain", "list", "--host", "embedded:fresh", "--json"], workingDirectory: dir);
        Assert.Equal(0, created.ExitCode);
        Assert.Contains($"note: created embedded host folder '{Path.Combine(dir, "fresh")}'", created.StdErr);
        Assert.True(Directory.Exists(Path.Combine(dir, "fresh")));

        // Second time: it exists, nothing to say.
        var again = await CliRunner.RunAsync(["domain", "list", "--host", "embedded:fresh"], workingDirectory: dir);
        Assert.Equal(0, again.ExitCode);
        Assert.Equal("", again.StdErr);

        var typo = await CliRunner.RunAsync(["plan", "--host", "embedded:typo/state"], workingDirectory: dir);
        Assert.Equal(1, typo.ExitCode);
        Assert.False(Directory.Exists(Path.Combine(dir, "typo")));
    }

    [Fact]
    public async Task Convert_to_dash_streams_the_same_bytes_a_file_gets_and_creates_no_file_named_dash()
    {
        var dir = NewDir();
        var source = await SavedDomainAsync(dir, "hvm");
        Assert.Equal(0, (await Run(dir, "savefile", "convert", source, "file.xlsave", "--byte-order", "big")).ExitCode);

        var streamed = await Run(dir, "savefile", "convert", source, "-", "--byte-order", "big");

        Assert.Equal(0, streamed.ExitCode);
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "file.xlsave")), streamed.StdOutBytes);
        Assert.Contains("wrote standard output", streamed.StdErr);
        Assert.False(File.Exists(Path.Combine(dir, "-")));
    }

    /// <summary>
    /// A command that writes a savefile replaces only a savefile (or an empty file): <c>domain save web web.cfg</c>
    /// (arguments swapped) replaced the config with guest memory, as <c>store pull</c> and <c>convert</c> did.
    /// </summary>
    [Fact]
    public async Task Savefile_writers_replace_a_savefile_but_not_a_config_or_a_manifest()
    {
        var dir = NewDir();
        await SavedDomainAsync(dir, "hvm");
        Assert.Equal(0, (await Run(dir, "domain", "restore", "web.xlsave")).ExitCode);
        var config = File.ReadAllText(Path.Combine(dir, "web.cfg"));
        File.WriteAllText(Path.Combine(dir, "xen-iac.yaml"), "domains: []\n");
        foreach (var args in new[]
        {
            new[] { "domain", "save", "web", "web.cfg", "--checkpoint" },
            ["domain", "save", "web", "xen-iac.yaml"],
            ["savefile", "convert", "web.xlsave", "web.cfg", "--byte-order", "big"],
        })
        {
            var refused = await Run(dir, args);
            Assert.Equal(1, refused.ExitCode);
            var line = Assert.Single(refused.StdErr.TrimEnd().Split('\n'));
            Assert.Contains("exists and is not a savefile; it is not replaced", line);
        }
        Assert.Equal(config, File.ReadAllText(Path.Combine(dir, "web.cfg")));
        Assert.Equal("domains: []\n", File.ReadAllText(Path.Combine(dir, "xen-iac.yaml")));
        Assert.Equal("Running", await DomainStateAsync(dir, "web"));

        // A savefile, and an empty file, are what these commands write over.
        File.WriteAllText(Path.Combine(dir, "empty.xlsave"), "");
        Assert.Equal(0, (await Run(dir, "savefile", "convert", "web.xlsave", "empty.xlsave", "--byte-order", "big")).ExitCode);
        Assert.Equal(0, (await Run(dir, "savefile", "convert", "empty.xlsave", "web.xlsave", "--byte-order", "little")).ExitCode);
        Assert.Equal(0, (await Run(dir, "domain", "save", "web", "empty.xlsave", "--checkpoint")).ExitCode);
        Assert.Equal(0, (await Run(dir, "savefile", "verify", "empty.xlsave")).ExitCode);
    }

    [Theory]
    [InlineData("pv", "type hvm -> pv")]
    [InlineData("empty", "name: the config names no domain")]
    [InlineData("random", "rand.cfg:1:")]
    [InlineData("bigger", "memory 8 -> 16")]
    [InlineData("json-garbage", "bad.json:1:")]
    public async Task Domain_save_refuses_a_bad_config_before_touching_the_domain(string kind, string expected)
    {
        var dir = NewDir();
        await SavedDomainAsync(dir, "hvm", checkpointOnly: true);
        var cfg = WriteConfig(dir, kind);

        var result = await Run(dir, "domain", "save", "web", "out.xlsave", "--config", cfg);

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.StdErr.TrimEnd().Split('\n'));
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
        Assert.False(File.Exists(Path.Combine(dir, "out.xlsave")));
        Assert.Equal("Running", (await DomainStateAsync(dir, "web")));
    }

    [Fact]
    public async Task Domain_save_with_force_stores_an_incompatible_config_and_with_a_compatible_one_without()
    {
        var dir = NewDir();
        await SavedDomainAsync(dir, "hvm", checkpointOnly: true);
        File.WriteAllText(Path.Combine(dir, "same.cfg"), "name = \"web\"\ntype = \"hvm\"\nmemory = 8\nvcpus = 1\non_crash = \"restart\"\n");

        var ok = await Run(dir, "domain", "save", "web", "out.xlsave", "--config", "same.cfg", "--checkpoint");
        Assert.Equal(0, ok.ExitCode);
        // The embedded host stores it as libxl JSON, as xl does; the setting only same.cfg has is what it stores.
        Assert.Contains("restart", (await Run(dir, "savefile", "config", "out.xlsave")).StdOut);
        Assert.Equal(0, (await Run(dir, "config", "check", "out.xlsave", "same.cfg")).ExitCode);

        var forced = await Run(dir, "domain", "save", "web", "forced.xlsave", "--config", WriteConfig(dir, "bigger"), "--force");
        Assert.Equal(0, forced.ExitCode);
        Assert.Contains("memory: 8 -> 16", (await Run(dir, "config", "check", "out.xlsave", "forced.xlsave")).StdOut);
    }

    [Theory]
    [InlineData("pv", "type hvm -> pv")]
    [InlineData("empty", "name: the config names no domain")]
    [InlineData("random", "rand.cfg:1:")]
    [InlineData("bigger", "memory 8 -> 16")]
    [InlineData("json-garbage", "bad.json:1:")]
    public async Task Domain_restore_refuses_a_config_incompatible_with_the_stored_one_before_restoring(string kind, string expected)
    {
        var dir = NewDir();
        var source = await SavedDomainAsync(dir, "hvm");

        var result = await Run(dir, "domain", "restore", source, "--config", WriteConfig(dir, kind));

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.StdErr.TrimEnd().Split('\n'));
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
        Assert.Null(await DomainStateAsync(dir, "web")); // nothing was restored
    }

    [Fact]
    public async Task Domain_restore_with_force_restores_with_an_incompatible_config_and_a_compatible_one_needs_no_force()
    {
        var dir = NewDir();
        var source = await SavedDomainAsync(dir, "hvm");
        File.Copy(Path.Combine(dir, source), Path.Combine(dir, "copy.xlsave"));
        File.WriteAllText(Path.Combine(dir, "same.cfg"), "name = \"web\"\ntype = \"hvm\"\nmemory = 8\nvcpus = 1\n");

        var forced = await Run(dir, "domain", "restore", source, "--config", WriteConfig(dir, "bigger"), "--force");
        Assert.True(forced.ExitCode == 0, forced.StdErr);
        Assert.Contains("memory", forced.StdErr); // the finding is still reported
        Assert.NotNull(await DomainStateAsync(dir, "web"));

        Assert.Equal(0, (await Run(dir, "domain", "destroy", "web")).ExitCode);
        var ok = await Run(dir, "domain", "restore", "copy.xlsave", "--config", "same.cfg");
        Assert.True(ok.ExitCode == 0, ok.StdErr);
    }

    [Theory]
    [InlineData("pv", "type hvm -> pv")]
    [InlineData("empty", "name: the config names no domain")]
    [InlineData("random", "rand.cfg:1:")]
    [InlineData("bigger", "memory 8 -> 16")]
    public async Task Convert_checks_a_new_config_against_the_stored_one(string kind, string expected)
    {
        var dir = NewDir();
        var source = await SavedDomainAsync(dir, "hvm");
        var result = await Run(dir, "savefile", "convert", source, "out.xlsave", "--config", WriteConfig(dir, kind));

        Assert.Equal(1, result.ExitCode);
        Assert.Contains(expected, Assert.Single(result.StdErr.TrimEnd().Split('\n')));
        Assert.False(File.Exists(Path.Combine(dir, "out.xlsave")));
    }

    [Fact]
    public async Task Convert_from_legacy_checks_the_config_against_the_image_guest_type()
    {
        var dir = NewDir();
        var source = await SavedDomainAsync(dir, "hvm");
        Assert.Equal(0, (await Run(dir, "savefile", "convert", source, "legacy.img", "--to", "legacy")).ExitCode);

        var pv = await Run(dir, "savefile", "convert", "legacy.img", "pv.xlsave", "--config", WriteConfig(dir, "pv"));
        Assert.Equal(1, pv.ExitCode);
        Assert.Contains("does not fit the image in 'legacy.img': type hvm -> pv", pv.StdErr);
        Assert.False(File.Exists(Path.Combine(dir, "pv.xlsave")));

        var hvm = await Run(dir, "savefile", "convert", "legacy.img", "hvm.xlsave", "--config", "web.cfg");
        Assert.Equal(0, hvm.ExitCode);
        Assert.Equal(0, (await Run(dir, "savefile", "verify", "hvm.xlsave")).ExitCode);

        var forced = await Run(dir, "savefile", "convert", "legacy.img", "forced.xlsave", "--config", WriteConfig(dir, "pv"), "--force");
        Assert.Equal(0, forced.ExitCode);
    }

    [Fact]
    public async Task A_bad_config_file_is_named_by_its_own_path_not_xl_cfg()
    {
        var dir = NewDir();
        File.WriteAllText(Path.Combine(dir, "mine.cfg"), "name = \"x\"\nmemory = [\n");
        var result = await Run(dir, "domain", "create", "mine.cfg");
        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.StdErr.TrimEnd().Split('\n'));
        Assert.Contains("mine.cfg:", line);
        Assert.DoesNotContain("xl.cfg", line);
    }

    [Fact]
    public async Task A_fifo_as_output_is_refused_not_replaced()
    {
        var dir = NewDir();
        var source = await SavedDomainAsync(dir, "hvm");
        var fifo = Path.Combine(dir, "pipe");
        Assert.True(Fifo.TryMake(fifo), "mkfifo failed");

        var result = await Run(dir, "savefile", "convert", source, "pipe");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("is not a regular file", result.StdErr);
        // Still the empty pipe, not a file holding the savefile.
        Assert.True(File.Exists(fifo));
        Assert.Equal(0, new FileInfo(fifo).Length);
    }

    [Fact]
    public async Task A_config_from_a_pipe_is_read_once()
    {
        // /dev/stdin as a here-string or pipe: the first look (is it a savefile?) must not use up the text.
        var dir = NewDir();
        var created = await CliRunner.RunAsync(["domain", "create", "/dev/stdin"],
            stdin: "name = \"piped\"\ntype = \"pvh\"\nmemory = 8\nvcpus = 1\n"u8.ToArray(), workingDirectory: dir, environment: EmbeddedHost);
        Assert.True(created.ExitCode == 0, created.StdErr);
        Assert.Contains("created piped", created.StdOut);

        var source = await SavedDomainAsync(dir, "pvh");
        var restored = await CliRunner.RunAsync(["domain", "restore", source, "--config", "/dev/stdin"],
            stdin: "name = \"web\"\ntype = \"pvh\"\nmemory = 8\nvcpus = 1\n"u8.ToArray(), workingDirectory: dir, environment: EmbeddedHost);
        Assert.True(restored.ExitCode == 0, restored.StdErr);
        Assert.Contains("with the given config", restored.StdOut);
    }

    [Theory]
    [InlineData("domain", "restore")]
    [InlineData("savefile", "seal")]
    [InlineData("savefile", "convert")]
    public async Task A_savefile_from_a_pipe_is_refused_where_it_would_be_read_twice(string group, string command)
    {
        var dir = NewDir();
        var source = await SavedDomainAsync(dir, "pvh");
        // The start of the savefile: a pipe's worth, so the write never waits for a reader that refuses.
        var start = File.ReadAllBytes(Path.Combine(dir, source))[..4096];
        string[] args = command == "convert" ? [group, command, "/dev/stdin", "out.xlsave", "--to", "legacy"] : [group, command, "/dev/stdin"];

        var result = await CliRunner.RunAsync(args, stdin: start, workingDirectory: dir, environment: EmbeddedHost);

        Assert.Equal(1, result.ExitCode);
        Assert.Matches(@"^error: [^\n]*cannot come from a pipe[^\n]*\n$", result.StdErr);
        Assert.False(File.Exists(Path.Combine(dir, "out.xlsave")));
    }

    /// <summary>
    /// /dev/zero and /dev/urandom seek, so they pass for files, but never end: `convert --config --force` copies a
    /// configless source whole and filled the disk with them until killed. A device without an end is refused up front.
    /// </summary>
    [SkippableTheory]
    [InlineData("/dev/zero", "savefile", "convert")]
    [InlineData("/dev/urandom", "savefile", "convert")]
    [InlineData("/dev/zero", "domain", "restore")]
    [InlineData("/dev/zero", "savefile", "set-config")]
    public async Task A_device_that_never_ends_is_refused_before_anything_is_copied(string device, string group, string command)
    {
        Skip.IfNot(File.Exists(device), $"no {device} here");
        var dir = NewDir();
        File.WriteAllText(Path.Combine(dir, "web.cfg"), "name = \"web\"\ntype = \"pvh\"\nmemory = 8\nvcpus = 1\n");
        string[] args = command switch
        {
            "convert" => [group, command, device, "out.xlsave", "--config", "web.cfg", "--force"],
            "set-config" => [group, command, device, "web.cfg"],
            _ => [group, command, device],
        };

        var result = await CliRunner.RunAsync(args, workingDirectory: dir, environment: EmbeddedHost, timeout: TimeSpan.FromSeconds(60));

        Assert.Equal(1, result.ExitCode);
        Assert.Matches(@"^error: [^\n]*a device that may never end[^\n]*\n$", result.StdErr);
        Assert.False(File.Exists(Path.Combine(dir, "out.xlsave")));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp*"));
    }

    private static string NewDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "xeniac-cli-paths", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(dir, "host"));
        return dir;
    }

    private static Task<CliResult> Run(string dir, params string[] args) =>
        CliRunner.RunAsync(args, workingDirectory: dir, environment: EmbeddedHost);

    /// <summary>Creates domain "web" on the embedded host and saves it (the domain keeps running with checkpointOnly).</summary>
    private static async Task<string> SavedDomainAsync(string dir, string type, bool checkpointOnly = false)
    {
        File.WriteAllText(Path.Combine(dir, "web.cfg"), $"name = \"web\"\ntype = \"{type}\"\nmemory = 8\nvcpus = 1\n");
        Assert.Equal(0, (await Run(dir, "domain", "create", "web.cfg")).ExitCode);
        if (checkpointOnly) return "";
        var save = await Run(dir, "domain", "save", "web", "web.xlsave");
        Assert.True(save.ExitCode == 0, save.StdErr);
        return "web.xlsave";
    }

    private static string WriteConfig(string dir, string kind)
    {
        var (name, content) = kind switch
        {
            "pv" => ("pv.cfg", "name = \"web\"\ntype = \"pv\"\nmemory = 8\nvcpus = 1\n"u8.ToArray()),
            "empty" => ("empty.cfg", []),
            "random" => ("rand.cfg", Enumerable.Range(0, 300).Select(i => (byte)(i * 151 + 7)).ToArray()),
            "bigger" => ("big.cfg", "name = \"web\"\ntype = \"hvm\"\nmemory = 16\nvcpus = 1\n"u8.ToArray()),
            _ => ("bad.json", "{\"c_info\": "u8.ToArray()),
        };
        File.WriteAllBytes(Path.Combine(dir, name), content);
        return name;
    }

    private static async Task<string?> DomainStateAsync(string dir, string name)
    {
        var list = await Run(dir, "domain", "list", "--json");
        Assert.Equal(0, list.ExitCode);
        return JsonDocument.Parse(list.StdOut).RootElement.EnumerateArray()
            .Where(d => d.GetProperty("name").GetString() == name).Select(d => d.GetProperty("state").GetString()).SingleOrDefault();
    }
}

public sealed class ErrorNamesTheFileTests
{
    [Theory]
    [InlineData("savefile inspect")]
    [InlineData("savefile verify")]
    [InlineData("savefile set-config")]
    [InlineData("domain restore")]
    public async Task A_file_that_is_not_a_savefile_is_named_in_the_error(string command)
    {
        var dir = Path.Combine(Path.GetTempPath(), "xeniac-cli-names", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(dir, "host"));
        File.WriteAllBytes(Path.Combine(dir, "mine.xlsave"), Enumerable.Range(0, 100).Select(i => (byte)(i * 37 + 1)).ToArray());
        File.WriteAllText(Path.Combine(dir, "ok.cfg"), "name = \"web\"\n");
        var args = command.Split(' ').Append("mine.xlsave").Concat(command == "savefile set-config" ? ["ok.cfg"] : []).ToArray();

        var result = await CliRunner.RunAsync(args, workingDirectory: dir, environment: new Dictionary<string, string> { ["XENIAC_HOST"] = "embedded:host" });

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.StdErr.TrimEnd().Split('\n'));
        Assert.StartsWith("error: mine.xlsave: not an xl savefile", line);
    }
}
