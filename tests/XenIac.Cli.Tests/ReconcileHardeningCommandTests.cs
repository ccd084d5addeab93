using System.Diagnostics;
using System.Text.Json;

namespace XenIac.Cli.Tests;

/// <summary>The independent pass's findings as the user meets them: the real tool on temp folders (embedded host).</summary>
public sealed class ReconcileHardeningCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-cli-harden-").FullName;

    private string P(string name) => Path.Combine(_dir, name);

    private static string Cfg(string name, int memory = 8) =>
        $"name = \"{name}\"\ntype = \"hvm\"\nmemory = {memory}\nvcpus = 1\ndisk = [ '/srv/{name}.img,raw,xvda,rw' ]\nvif = [ 'mac=00:16:3e:00:00:01' ]\n";

    private void Manifest(string domains) => File.WriteAllText(P("xen-iac.yaml"), $"defaults:\n  host: embedded:host\ndomains:\n{domains}");

    private Task<CliResult> Run(params string[] args) => CliRunner.RunAsync(args, workingDirectory: _dir);

    private static string[] ErrorLines(CliResult r) => r.StdErr.Split('\n').Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToArray();

    private async Task<int> DomainCount() =>
        JsonDocument.Parse((await Run("domain", "list", "--host", "embedded:host", "--json")).StdOut).RootElement.GetArrayLength();

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Fact]
    public async Task Alias_bombs_and_deep_nesting_get_one_located_error_line_and_exit_1()
    {
        File.WriteAllText(P("bomb.yaml"), $"big: &big [{string.Join(", ", Enumerable.Range(0, 20_000))}]\n" +
                                          $"domains: [{string.Join(", ", Enumerable.Repeat("*big", 20_000))}]\n");
        var bomb = await Run("plan", "-f", "bomb.yaml");
        Assert.Equal(1, bomb.ExitCode);
        Assert.StartsWith("error: bomb.yaml:2:", Assert.Single(ErrorLines(bomb)));
        Assert.DoesNotContain("   at ", bomb.StdErr);

        File.WriteAllText(P("deep.yaml"), "domains: " + new string('[', 200_000) + new string(']', 200_000) + "\n");
        var deep = await Run("plan", "-f", "deep.yaml");
        Assert.Equal(1, deep.ExitCode);
        Assert.Matches(@"^error: deep\.yaml:1:\d+: the manifest nests deeper than", Assert.Single(ErrorLines(deep)));
    }

    [Fact]
    public async Task Create_then_save_with_an_incompatible_override_is_an_error_at_plan_and_apply_creates_nothing()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a", memory: 8));
        Manifest("  - name: a\n    config: a.cfg\n    state: saved\n    overrides:\n      settings:\n        memory: 16\n");
        var plan = await Run("plan");
        Assert.Equal(1, plan.ExitCode);
        Assert.Contains("memory", plan.StdOut);
        Assert.Matches(@"error: a: \S*xen-iac\.yaml:\d+:\d+: override config is incompatible with the config the domain is created from \(maxmem, memory\)",
            Assert.Single(ErrorLines(plan)));
        var apply = await Run("apply", "--auto-approve");
        Assert.Equal(1, apply.ExitCode);
        Assert.Equal(0, await DomainCount());
        Assert.False(File.Exists(P("saves/a.xlsave")));
    }

    [Fact]
    public async Task Invalid_settings_are_located_errors_of_the_manifest()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        Manifest("  - name: a\n    config: a.cfg\n    overrides:\n      settings:\n        vcpus: \"two\"\n        Memory: 512\n");
        var plan = await Run("plan");
        Assert.Equal(1, plan.ExitCode);
        var lines = ErrorLines(plan);
        Assert.Equal(2, lines.Length);
        Assert.Contains(lines, l => l.StartsWith("error: xen-iac.yaml:8:16: setting 'vcpus'", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("error: xen-iac.yaml:9:9: invalid setting name 'Memory'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_manifest_name_wins_over_the_configs_and_plan_after_apply_has_no_changes()
    {
        File.WriteAllText(P("a.cfg"), Cfg("something-else"));
        Manifest("  - name: a\n    config: a.cfg\n    state: saved\n");
        var plan = await Run("plan");
        Assert.Equal(0, plan.ExitCode);
        Assert.Contains("warning: a: ", plan.StdErr);
        Assert.Contains("'something-else'", plan.StdErr);
        Assert.Equal(0, (await Run("apply", "--auto-approve")).ExitCode);
        Assert.Equal(0, (await Run("plan", "--detailed-exitcode")).ExitCode);

        Manifest("  - name: a\n    config: a.cfg\n");
        Assert.Equal(0, (await Run("apply", "--auto-approve")).ExitCode);
        var list = JsonDocument.Parse((await Run("domain", "list", "--host", "embedded:host", "--json")).StdOut).RootElement;
        Assert.Equal("a", list[0].GetProperty("name").GetString());
        Assert.Equal(0, (await Run("plan", "--detailed-exitcode")).ExitCode);
    }

    [Fact]
    public async Task A_file_that_is_not_a_savefile_is_not_replaced_without_force_and_paths_are_shown()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        Assert.Equal(0, (await Run("domain", "create", "a.cfg", "--host", "embedded:host")).ExitCode);
        Directory.CreateDirectory(P("saves"));
        File.WriteAllText(P("saves/a.xlsave"), "notes I keep here");
        Manifest("  - name: a\n    config: a.cfg\n    state: saved\n");

        var plan = await Run("plan");
        Assert.Equal(1, plan.ExitCode);
        Assert.Contains($"a: savefile {P("saves/a.xlsave")}", plan.StdOut);
        Assert.Contains("--force", Assert.Single(ErrorLines(plan)));
        Assert.Equal(1, (await Run("apply", "--auto-approve")).ExitCode);
        Assert.Equal("notes I keep here", File.ReadAllText(P("saves/a.xlsave")));

        Assert.Equal(2, (await Run("plan", "--force", "--detailed-exitcode")).ExitCode);
        Assert.Equal(0, (await Run("apply", "--auto-approve", "--force")).ExitCode);
        Assert.Equal(0, (await Run("savefile", "verify", "saves/a.xlsave")).ExitCode);
    }

    [Fact]
    public async Task A_savefile_path_that_is_a_folder_or_outside_the_manifest_folder_is_reported_at_plan()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        Directory.CreateDirectory(P("images"));
        Manifest("  - name: a\n    config: a.cfg\n    state: saved\n    savefile: images\n  - name: b\n    config: a.cfg\n    savefile: ../b-outside.xlsave\n");
        var plan = await Run("plan");
        Assert.Equal(1, plan.ExitCode);
        Assert.Matches(@"^error: a: \S*xen-iac\.yaml:7:15: savefile \S+ is a folder", Assert.Single(ErrorLines(plan)));
        Assert.Contains("warning: b: ", plan.StdErr);
        Assert.Contains("outside the manifest's folder", plan.StdErr);
    }

    /// <summary>
    /// A savefile path that is a link to nothing, or a loop: plan said "create + save" for the first (apply then created
    /// the domain and failed its save, exiting 1 with nothing on stderr) and aborted the whole plan with .NET's text for
    /// the second. Now each is its own domain's located error, the other domains are planned, and nothing is created.
    /// </summary>
    [Fact]
    public async Task A_savefile_link_to_nothing_or_a_loop_is_that_domains_error_at_plan_and_nothing_is_created()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        File.CreateSymbolicLink(P("dangling.xlsave"), P("missing/zz.xlsave"));
        File.CreateSymbolicLink(P("loop1"), P("loop2"));
        File.CreateSymbolicLink(P("loop2"), P("loop1"));
        Manifest("  - name: a\n    config: a.cfg\n    state: saved\n    savefile: dangling.xlsave\n" +
                 "  - name: b\n    config: a.cfg\n    state: saved\n    savefile: loop1\n" +
                 "  - name: c\n    config: a.cfg\n    state: saved\n");

        var plan = await Run("plan");
        Assert.Equal(1, plan.ExitCode);
        var errors = ErrorLines(plan);
        Assert.Equal(2, errors.Length);
        Assert.Matches(@"^error: a: \S*xen-iac\.yaml:7:15: .*a symbolic link to \S*zz\.xlsave, which does not exist", errors[0]);
        Assert.Matches(@"^error: b: \S*xen-iac\.yaml:11:15: .*a symbolic link that loops", errors[1]);
        Assert.Matches(@"(?m)^c +create \+ save", plan.StdOut);

        var apply = await Run("apply", "--auto-approve");
        Assert.Equal(1, apply.ExitCode);
        Assert.Equal(2, ErrorLines(apply).Length);
        Assert.Equal(0, await DomainCount()); // c was created and saved (a save ends the domain); a and b were never created
        Assert.Equal(0, (await Run("savefile", "verify", "saves/c.xlsave")).ExitCode);
    }

    /// <summary>An apply step that fails says so on stderr too: exit 1 came with nothing there.</summary>
    [Fact]
    public async Task A_manifest_host_is_made_only_inside_an_existing_folder_and_said_so()
    {
        // A typo in a manifest's host path silently grew nope1/nope2/h and a new, empty host in it.
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        File.WriteAllText(P("xen-iac.yaml"), "defaults:\n  host: embedded:nope1/nope2/h\ndomains:\n  - name: a\n    config: a.cfg\n");
        var apply = await Run("apply", "--auto-approve");
        Assert.Equal(1, apply.ExitCode);
        Assert.Contains("cannot be created: its parent folder", Assert.Single(ErrorLines(apply)));
        Assert.False(Directory.Exists(P("nope1")));

        File.WriteAllText(P("xen-iac.yaml"), "defaults:\n  host: embedded:newhost\ndomains:\n  - name: a\n    config: a.cfg\n");
        var plan = await Run("plan");
        Assert.True(plan.ExitCode is 0 or 2, plan.StdErr);
        Assert.Contains($"note: created embedded host folder '{P("newhost")}'", plan.StdErr);
    }

    [Fact]
    public async Task A_failed_apply_step_has_its_error_line_on_stderr()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        Directory.CreateDirectory(P("saves"));
        Manifest("  - name: a\n    config: a.cfg\n    state: saved\n");
        Assert.Equal(0, (await Run("domain", "create", "a.cfg", "--host", "embedded:host")).ExitCode);
        // Restored, the domain's memory is a file of the host's; it becomes a folder after the plan (nothing the plan
        // looks at changes, so it is not stale): the save fails at apply. (A save the plan can see failing, such as
        // one whose folder became a file, is a plan error now.)
        Assert.Equal(0, (await Run("domain", "save", "a", "first.xlsave", "--host", "embedded:host")).ExitCode);
        Assert.Equal(0, (await Run("domain", "restore", "first.xlsave", "--host", "embedded:host", "--trust-config")).ExitCode);
        var planned = await Run("plan", "--out", "p.plan");
        Assert.True(planned.ExitCode is 0 or 2, planned.StdErr);
        var memory = P("host/domains/a/memory.img");
        Assert.True(File.Exists(memory), "the restored domain's memory is not where the test expects it");
        File.Delete(memory);
        Directory.CreateDirectory(memory);

        var apply = await Run("apply", "p.plan");
        Assert.Equal(1, apply.ExitCode);
        Assert.Matches(@"^error: a: save FAILED: ", Assert.Single(ErrorLines(apply)));
    }

    [Fact]
    public async Task Stored_configs_that_run_programs_need_trust_config_on_domain_restore_and_plan()
    {
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        File.WriteAllText(P("evil.cfg"), Cfg("a") + "device_model_override = \"/tmp/not-qemu\"\n");
        Assert.Equal(0, (await Run("domain", "create", "a.cfg", "--host", "embedded:host")).ExitCode);
        Assert.Equal(0, (await Run("domain", "save", "a", "evil.xlsave", "--config", "evil.cfg", "--host", "embedded:host", "--force")).ExitCode);

        var refused = await Run("domain", "restore", "evil.xlsave", "--host", "embedded:host");
        Assert.Equal(1, refused.ExitCode);
        var line = Assert.Single(ErrorLines(refused));
        Assert.Contains("device_model_override = /tmp/not-qemu (executes on dom0)", line);
        Assert.Contains("--trust-config", line);
        Assert.Equal(0, await DomainCount());

        Manifest("  - name: a\n    config: a.cfg\n    savefile: evil.xlsave\n");
        var plan = await Run("plan");
        Assert.Equal(1, plan.ExitCode);
        Assert.Contains("device_model_override", Assert.Single(ErrorLines(plan)));
        Assert.Equal(2, (await Run("plan", "--trust-config", "--detailed-exitcode")).ExitCode);
        Assert.Equal(0, (await Run("domain", "restore", "evil.xlsave", "--host", "embedded:host", "--trust-config")).ExitCode);
        Assert.Equal(1, await DomainCount());
    }

    [SkippableFact]
    public async Task Ctrl_c_at_the_confirmation_prompt_cancels_without_waiting_for_a_line()
    {
        Skip.If(!File.Exists("/usr/bin/python3") && !Directory.GetFiles("/usr/local/bin", "python3").Any()
                && Environment.GetEnvironmentVariable("PATH")!.Split(':').All(d => !File.Exists(Path.Combine(d, "python3"))), "python3 (for a pseudo-terminal) is not installed");
        File.WriteAllText(P("a.cfg"), Cfg("a"));
        Manifest("  - name: a\n    config: a.cfg\n");
        // python's pty gives the tool a real terminal: Ctrl+C (0x03) goes through the line discipline as SIGINT,
        // exactly as when a person presses it; the tool must end without waiting for another line. This side keeps
        // its own copy of the terminal open, so the tool's last words stay readable after it exits (a pty whose
        // last slave closes hangs up, and Linux may then drop what was not read yet).
        const string script = """
            import fcntl, os, select, signal, sys, termios, time
            wd, tool = sys.argv[1], sys.argv[2:]
            fd, slave = os.openpty()
            pid = os.fork()
            if pid == 0:
                # As an interactive shell does for what it starts: a test run started in the background (`cmd &` in a
                # script) inherits SIGINT ignored, and the runtime keeps an inherited "ignore", so Ctrl+C would do nothing.
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                os.setsid()
                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                for n in (0, 1, 2): os.dup2(slave, n)
                os.close(fd)
                os.chdir(wd)
                os.execvp(tool[0], tool + ["apply"])
            out = b""
            status = None
            def read_some(timeout):
                global out
                r, _, _ = select.select([fd], [], [], timeout)
                if r:
                    out += os.read(fd, 65536)
                    return True
                return False
            def pump(seconds, until=None):
                # True when `until` appeared; False when the tool exited (what it wrote is all read) or time ran out.
                global status
                end = time.time() + seconds
                while time.time() < end:
                    read_some(0.2)
                    if until is not None and until in out:
                        return True
                    done, code = os.waitpid(pid, os.WNOHANG)
                    if done:
                        status = code
                        while read_some(0.5):
                            pass
                        return False
                return False
            pump(90, b"will be accepted")
            os.write(fd, b"\x03")
            # Nothing typed after Ctrl+C: the tool must end by itself. (Before the fix it kept waiting for a line.)
            pump(20)
            exited = status is not None
            if not exited:
                os.write(fd, b"yes\r")
                pump(30)
            if status is None:
                _, status = os.waitpid(pid, 0)
            sys.stdout.write(out.decode("utf-8", "replace"))
            sys.stdout.write("\nSELF_EXIT=%s EXIT=%d\n" % (exited, os.waitstatus_to_exitcode(status)))
            """;
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add(_dir);
        foreach (var part in XenIac.Tests.ToolUnderTest.Command) psi.ArgumentList.Add(part);
        using var python = Process.Start(psi)!;
        var output = await python.StandardOutput.ReadToEndAsync();
        await python.WaitForExitAsync();

        Assert.Contains("Only 'yes' will be accepted", output);
        Assert.True(output.Contains("error: cancelled") && output.Contains("SELF_EXIT=True EXIT=1"), "the terminal showed:\n" + output);
        Assert.Equal(0, await DomainCount());
    }
}
