using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using XenIac.Core.Config;
using XenIac.Hosts;
using XenIac.Hosts.Embedded;

namespace XenIac.Cli.Tests;

/// <summary><c>xen-iac store</c> as a process: the JSON contract, errors, and kill -9 at random points.</summary>
public sealed class StoreCommandTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-store-cli-").FullName;
    private string Store => Path.Combine(_dir, "store");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        return Task.CompletedTask;
    }

    /// <summary>Savefiles of one domain whose memory changes between saves (as a guest's does).</summary>
    private async Task<List<string>> SavefilesAsync(int count, int memoryMiB)
    {
        await using var host = EmbeddedHost.Open(Path.Combine(_dir, "host"));
        await host.CreateAsync(ConfigText.FromText($"name = \"g\"\ntype = \"pv\"\nmemory = {memoryMiB}\nvcpus = 1\nkernel = \"/k\"\n"));
        var files = new List<string>();
        var rng = new Random(3);
        for (var i = 0; i < count; i++)
        {
            var run = new byte[64 << 10];
            rng.NextBytes(run);
            await host.WriteMemoryAsync("g", rng.Next(memoryMiB * 16 - 1) * (64L << 10), run);
            var path = Path.Combine(_dir, $"g{i}.xlsave");
            await host.SaveAsync("g", path, SaveOptions.Default with { Mode = SaveMode.Checkpoint });
            files.Add(path);
        }
        return files;
    }

    private static string Sha256(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }

    private Task<CliResult> Run(params string[] args) => CliRunner.RunAsync(args, workingDirectory: _dir);

    [Fact]
    public async Task Push_prints_the_contract_fields_and_pull_gives_the_file_back()
    {
        var files = await SavefilesAsync(2, 16);
        var first = await Run("store", "push", files[0], "--store", Store, "--tag", "web@nightly", "--json");
        Assert.True(first.ExitCode == 0, first.StdErr);
        using var one = JsonDocument.Parse(first.StdOut);
        var root = one.RootElement;
        Assert.Equal(new FileInfo(files[0]).Length, root.GetProperty("bytes").GetInt64());
        Assert.True(root.GetProperty("storedBytes").GetInt64() > 0);
        Assert.True(root.GetProperty("chunks").GetInt64() > 0);
        Assert.InRange(root.GetProperty("newChunks").GetInt64(), 1, root.GetProperty("chunks").GetInt64());
        Assert.Equal(Sha256(files[0]), root.GetProperty("sha256").GetString());

        // The second save differs in one 64 KiB run: few new chunks, from $XENIAC_STORE.
        var second = await CliRunner.RunAsync(["store", "push", files[1], "--tag", "web@nightly", "--json"], workingDirectory: _dir,
            environment: new Dictionary<string, string> { ["XENIAC_STORE"] = Store });
        Assert.True(second.ExitCode == 0, second.StdErr);
        using var two = JsonDocument.Parse(second.StdOut);
        Assert.InRange(two.RootElement.GetProperty("newChunks").GetInt64(), 1, 8);
        Assert.True(two.RootElement.GetProperty("storedBytes").GetInt64() < root.GetProperty("storedBytes").GetInt64() / 10);

        var pulled = Path.Combine(_dir, "pulled.xlsave");
        var pull = await Run("store", "pull", "web@nightly", pulled, "--store", Store);
        Assert.True(pull.ExitCode == 0, pull.StdErr);
        Assert.Equal(Sha256(files[1]), Sha256(pulled));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(pulled));

        var ls = await Run("store", "ls", "--store", Store);
        Assert.Equal(0, ls.ExitCode);
        Assert.Equal(2, ls.StdOut.Split('\n').Count(l => l.Contains("web@nightly")));
        var verify = await Run("store", "verify", "--store", Store, "--json");
        Assert.Equal(0, verify.ExitCode);
        Assert.True(JsonDocument.Parse(verify.StdOut).RootElement.GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task Damage_is_exit_1_naming_the_chunk_and_snapshot()
    {
        var files = await SavefilesAsync(1, 8);
        var push = await Run("store", "push", files[0], "--store", Store, "--json");
        var id = JsonDocument.Parse(push.StdOut).RootElement.GetProperty("id").GetString()!;
        var pack = Directory.GetFiles(Path.Combine(Store, "packs"), "*", SearchOption.AllDirectories).Order().First();
        var bytes = File.ReadAllBytes(pack);
        bytes[bytes.Length / 2] ^= 0xff;
        File.WriteAllBytes(pack, bytes);
        var verify = await Run("store", "verify", "--store", Store);
        Assert.Equal(1, verify.ExitCode);
        Assert.Contains(id, verify.StdErr);
        Assert.Contains("damaged", verify.StdErr);
        Assert.All(verify.StdErr.TrimEnd().Split('\n'), l => Assert.StartsWith("error: ", l));
        var pulled = Path.Combine(_dir, "pulled");
        var pull = await Run("store", "pull", id, pulled, "--store", Store);
        Assert.Equal(1, pull.ExitCode);
        Assert.False(File.Exists(pulled));
    }

    [Fact]
    public async Task A_damaged_manifest_is_named_by_ls_and_the_other_snapshots_stay_usable()
    {
        var files = await SavefilesAsync(1, 4);
        // A source name with a newline must not break the table (one row per snapshot).
        var odd = Path.Combine(_dir, "a\nb.xlsave");
        File.Copy(files[0], odd);
        Assert.Equal(0, (await Run("store", "push", odd, "--store", Store, "--tag", "a")).ExitCode);
        Assert.Equal(0, (await Run("store", "push", files[0], "--store", Store, "--tag", "b")).ExitCode);
        var ls = await Run("store", "ls", "--store", Store);
        Assert.Equal(0, ls.ExitCode);
        Assert.Equal(3, ls.StdOut.TrimEnd().Split('\n').Length);

        var hurt = Directory.GetFiles(Path.Combine(Store, "snapshots")).Single(f => File.ReadAllText(f).Contains("\"a\""));
        File.WriteAllText(hurt, "null");
        ls = await Run("store", "ls", "--store", Store);
        Assert.Equal(1, ls.ExitCode);
        Assert.Contains(Path.GetFileName(hurt), Assert.Single(ls.StdErr.TrimEnd().Split('\n')));
        Assert.StartsWith("error: ", ls.StdErr);
        Assert.Contains(" b ", ls.StdOut);
        // With --json the damage is in the document (exit 1 all the same) and stderr stays empty, as verify --json's.
        var lsJson = await Run("store", "ls", "--store", Store, "--json");
        Assert.Equal(1, lsJson.ExitCode);
        Assert.Equal("", lsJson.StdErr);
        Assert.Contains(Path.GetFileName(hurt), JsonDocument.Parse(lsJson.StdOut).RootElement.GetProperty("damaged")[0].ToString());
        var pull = await Run("store", "pull", "b", Path.Combine(_dir, "b.xlsave"), "--store", Store);
        Assert.True(pull.ExitCode == 0, pull.StdErr);
        var verify = await Run("store", "verify", "--store", Store);
        Assert.Equal(1, verify.ExitCode);
        Assert.Contains(Path.GetFileName(hurt), verify.StdErr);
        // The summary counts it as what it is (it said "1 damaged chunk" with no chunk damaged).
        Assert.Contains("error: 1 damaged snapshot manifest; broken snapshot: ", verify.StdErr, StringComparison.Ordinal);
        Assert.DoesNotContain("damaged chunk", verify.StdErr, StringComparison.Ordinal);

        // The short id store ls shows names the damage, not "no snapshot has the id".
        var id = Path.GetFileNameWithoutExtension(hurt);
        var byPrefix = await Run("store", "pull", id[..8], Path.Combine(_dir, "a.xlsave"), "--store", Store);
        Assert.Equal(1, byPrefix.ExitCode);
        Assert.DoesNotContain("no snapshot", byPrefix.StdErr, StringComparison.Ordinal);
        Assert.Contains(Path.GetFileName(hurt), Assert.Single(byPrefix.StdErr.TrimEnd().Split('\n')), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "store", "ls" }, "no store given")]
    [InlineData(new[] { "store", "ls", "--store", "/nonexistent/store" }, "there is no store")]
    [InlineData(new[] { "store", "ls", "--store", "ftp://x/y" }, "s3://bucket/prefix")]
    [InlineData(new[] { "store", "push", "missing.xlsave", "--store", "s" }, "does not exist")]
    [InlineData(new[] { "store", "gc", "--store", "s", "--keep", "-1" }, "--keep")]
    [InlineData(new[] { "store", "push", "/dev/null", "--store", "s" }, "is not a regular file")]
    [InlineData(new[] { "store", "push", "/etc/passwd", "--store", "s", "--tag", "@" }, "'@' is not a valid tag")]
    [InlineData(new[] { "store", "push", "/etc/passwd", "--store", "s", "--tag", "-x" }, "'-x' is not a valid tag")]
    [InlineData(new[] { "store", "keygen", "-" }, "'-' (standard output) is not supported")]
    [InlineData(new[] { "store", "keygen", "/tmp" }, "is a folder")]
    [InlineData(new[] { "store", "pull", "@refs", "@out", "--store", "s" }, "there is no store")] // "@x" is an argument, not a response file
    public async Task Bad_input_is_one_error_line_and_exit_1(string[] args, string expected)
    {
        var result = await Run(args);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(expected, result.StdErr);
        Assert.Single(result.StdErr.TrimEnd().Split('\n'));
        Assert.StartsWith("error: ", result.StdErr);
    }

    /// <summary>
    /// The tool copied somewhere without the libzstd it ships beside it (a NativeAOT binary copied alone, a managed
    /// build without its runtimes folder) uses the system's libzstd.so.1: it crashed with DllNotFoundException.
    /// </summary>
    [SkippableFact]
    public async Task A_tool_copied_without_its_libzstd_uses_the_system_s()
    {
        const string systemZstd = "/usr/lib/x86_64-linux-gnu/libzstd.so.1";
        Skip.IfNot(File.Exists(systemZstd) && OperatingSystem.IsLinux(), $"the system's libzstd ({systemZstd}) is not here");
        var copy = Path.Combine(_dir, "copied-tool");
        Directory.CreateDirectory(copy);
        string[] command;
        if (XenIac.Tests.ToolUnderTest.NativeBinary is { } native)
        {
            File.Copy(native, Path.Combine(copy, "xen-iac"));
            File.SetUnixFileMode(Path.Combine(copy, "xen-iac"), File.GetUnixFileMode(native));
            command = [Path.Combine(copy, "xen-iac")];
        }
        else
        {
            var built = Path.GetDirectoryName(XenIac.Tests.ToolUnderTest.ManagedDll)!;
            foreach (var file in Directory.EnumerateFiles(built)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
            command = ["dotnet", Path.Combine(copy, "xen-iac.dll")];
        }
        Assert.Empty(Directory.GetFiles(copy, "libzstd*", SearchOption.AllDirectories));
        var files = await SavefilesAsync(1, 4);
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _dir };
        foreach (var a in command.Skip(1).Concat(["store", "push", files[0], "--store", Store, "--tag", "t"])) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, await stderr);
        Assert.Contains("pushed", stdout);
        var pulled = await Run("store", "pull", "t", "back.xlsave", "--store", Store);
        Assert.True(pulled.ExitCode == 0, pulled.StdErr);
        Assert.Equal(Sha256(files[0]), Sha256(Path.Combine(_dir, "back.xlsave")));
    }

    /// <summary>
    /// The NativeAOT tool starts its x86-64-v3 build, found beside it, for store push, pull and verify, apply and
    /// reconcile only (they hash every byte of savefiles; Native/isa-dispatch.c), with the same arguments; XENIAC_X86_64_V3=0, a variant that is not executable
    /// or any other command keeps the baseline build. A script stands in for the variant so the test sees who ran.
    /// </summary>
    [SkippableFact]
    public async Task The_native_tool_starts_its_x86_64_v3_build_for_the_commands_that_hash_every_byte()
    {
        Skip.If(XenIac.Tests.ToolUnderTest.NativeBinary is null, "the tool under test is the managed build (XENIAC_CLI names no NativeAOT binary)");
        Skip.IfNot(System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64
                   && System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Bmi2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported,
            "this CPU cannot run x86-64-v3 code: the tool keeps its baseline build here");
        var native = XenIac.Tests.ToolUnderTest.NativeBinary!;
        var folder = Path.Combine(_dir, "tool");
        Directory.CreateDirectory(folder);
        var tool = Path.Combine(folder, "xen-iac");
        File.Copy(native, tool);
        File.SetUnixFileMode(tool, File.GetUnixFileMode(native));
        var libzstd = Path.Combine(Path.GetDirectoryName(native)!, "libzstd.so");
        if (File.Exists(libzstd)) File.Copy(libzstd, Path.Combine(folder, "libzstd.so"));
        var variant = tool + ".x86-64-v3";
        await File.WriteAllTextAsync(variant, "#!/bin/sh\necho \"variant: $*\"\n");
        File.SetUnixFileMode(variant, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var files = await SavefilesAsync(1, 4);

        async Task<(int ExitCode, string StdOut, string StdErr)> Tool(string? choice, params string[] args)
        {
            var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _dir };
            foreach (var a in args) psi.ArgumentList.Add(a);
            if (choice is not null) psi.Environment["XENIAC_X86_64_V3"] = choice;
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            var stdout = await p.StandardOutput.ReadToEndAsync();
            await p.WaitForExitAsync();
            return (p.ExitCode, stdout, await stderr);
        }

        foreach (var args in new[] { new[] { "store", "push", files[0], "--store", Store, "--tag", "a b" }, ["store", "pull", "t", "out", "--store", Store], ["store", "verify", "--store", Store],
                     ["apply", "-f", "m.yaml", "--auto-approve"], ["reconcile", "-f", "m.yaml", "--once"] })
        {
            var started = await Tool(null, args);
            Assert.Equal(0, started.ExitCode);
            Assert.Equal("variant: " + string.Join(' ', args), started.StdOut.TrimEnd());
        }

        // Not for the other commands, nor when the user asks for the baseline build or the variant cannot be run.
        var listed = await Tool(null, "store", "ls", "--store", Store);
        Assert.DoesNotContain("variant", listed.StdOut);
        var planned = await Tool(null, "plan", "-f", "m.yaml");
        Assert.DoesNotContain("variant", planned.StdOut + planned.StdErr);
        var baseline = await Tool("0", "store", "push", files[0], "--store", Store, "--tag", "t");
        Assert.True(baseline.ExitCode == 0, baseline.StdErr);
        Assert.Contains("pushed", baseline.StdOut);
        File.SetUnixFileMode(variant, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var verified = await Tool(null, "store", "verify", "--store", Store);
        Assert.True(verified.ExitCode == 0, verified.StdErr);
        Assert.DoesNotContain("variant", verified.StdOut);
    }

    [Fact]
    public async Task A_push_makes_a_new_store_folder_only_inside_an_existing_folder()
    {
        var files = await SavefilesAsync(1, 4);
        var deep = await Run("store", "push", files[0], "--store", "typo/deep/store");
        Assert.Equal(1, deep.ExitCode);
        Assert.StartsWith("error: ", deep.StdErr);
        Assert.Contains("does not exist", deep.StdErr);
        Assert.False(Directory.Exists(Path.Combine(_dir, "typo")));

        var made = await Run("store", "push", files[0], "--store", "new-store");
        Assert.True(made.ExitCode == 0, made.StdErr);
        Assert.True(Directory.Exists(Path.Combine(_dir, "new-store")));
    }

    [Fact]
    public async Task A_pull_to_standard_output_that_the_reader_closes_early_is_exit_1()
    {
        var files = await SavefilesAsync(1, 16);
        Assert.Equal(0, (await Run("store", "push", files[0], "--store", Store, "--tag", "t")).ExitCode);
        // `pull t - | head -c1`: the shell's pipeline, with the tool's own status kept.
        var psi = new ProcessStartInfo("bash", ["-c", "set -o pipefail; \"$0\" \"$@\" | head -c1 > /dev/null; echo \"status=${PIPESTATUS[0]}\""])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _dir,
        };
        var tool = XenIac.Tests.ToolUnderTest.StartInfo(["store", "pull", "t", "-", "--store", Store]);
        psi.ArgumentList.Add(tool.FileName);
        foreach (var a in tool.ArgumentList) psi.ArgumentList.Add(a);
        foreach (var (k, v) in tool.Environment) if (v is not null) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.Equal("status=1", stdout.Trim());
        Assert.Contains("error: ", await stderr);
        Assert.Contains("broken pipe", await stderr);
    }

    /// <summary>
    /// kill -9 during push and during gc at random points, 20 times each: the store always verifies, no killed push
    /// left a snapshot, and every completed snapshot pulls byte for byte.
    /// </summary>
    [Fact]
    public async Task Kill_9_during_push_and_gc_never_corrupts_the_store()
    {
        var files = await SavefilesAsync(3, 48);
        var digests = files.ToDictionary(Sha256, f => f);
        var rng = new Random(11);
        var ok = await Run("store", "push", files[0], "--store", Store, "--tag", "t");
        Assert.True(ok.ExitCode == 0, ok.StdErr);

        // How long a whole push takes here, so the kills land anywhere from start-up to the manifest write.
        var sw = Stopwatch.StartNew();
        Assert.Equal(0, (await Run("store", "push", files[1], "--store", Store, "--tag", "t")).ExitCode);
        var full = (int)sw.ElapsedMilliseconds;

        for (var i = 0; i < 20; i++)
        {
            using var push = CliRunner.Start(["store", "push", files[i % files.Count], "--store", Store, "--tag", "t"], _dir);
            await Task.Delay(rng.Next(full + 1));
            try { push.Kill(); } catch (InvalidOperationException) { }
            await push.WaitForExitAsync();
        }
        for (var i = 0; i < 20; i++)
        {
            using var gc = CliRunner.Start(["store", "gc", "--store", Store, "--keep", "2"], _dir);
            await Task.Delay(rng.Next(Math.Max(50, full / 2)));
            try { gc.Kill(); } catch (InvalidOperationException) { }
            await gc.WaitForExitAsync();
            var check = await Run("store", "verify", "--store", Store);
            Assert.True(check.ExitCode == 0, $"after gc kill {i}: {check.StdErr}");
            // A push between gc kills: the store keeps taking work.
            Assert.Equal(0, (await Run("store", "push", files[i % files.Count], "--store", Store, "--tag", "t")).ExitCode);
        }

        var verify = await Run("store", "verify", "--store", Store);
        Assert.True(verify.ExitCode == 0, verify.StdErr);
        var list = await Run("store", "ls", "--store", Store, "--json");
        var snapshots = JsonDocument.Parse(list.StdOut).RootElement.GetProperty("snapshots").EnumerateArray().ToList();
        Assert.NotEmpty(snapshots);
        foreach (var s in snapshots)
        {
            var sha = s.GetProperty("sha256").GetString()!;
            Assert.True(digests.ContainsKey(sha), "a snapshot whose digest matches no pushed file");
            var dest = Path.Combine(_dir, "p-" + s.GetProperty("id").GetString());
            var pull = await Run("store", "pull", s.GetProperty("id").GetString()!, dest, "--store", Store);
            Assert.True(pull.ExitCode == 0, pull.StdErr);
            Assert.Equal(sha, Sha256(dest));
            File.Delete(dest);
        }
        // Nothing a killed process left keeps gc from finishing, and after it nothing unused remains.
        var gcDone = await Run("store", "gc", "--store", Store, "--keep", "1", "--lock-timeout", "10s");
        Assert.True(gcDone.ExitCode == 0, gcDone.StdErr);
        Assert.Equal(0, (await Run("store", "verify", "--store", Store)).ExitCode);
        Assert.Empty(Directory.GetFiles(Store, ".xeniac-tmp-*", SearchOption.AllDirectories));
    }

    /// <summary>
    /// A domain kept under a snapshot tag: apply saves and pushes on host A; with the manifest pointing at host B
    /// and no local savefile at all (another machine), apply restores the tag's newest snapshot from the store.
    /// </summary>
    [Fact]
    public async Task A_manifest_snapshot_moves_a_domain_between_hosts_through_the_store()
    {
        File.WriteAllText(Path.Combine(_dir, "web.cfg"), "name = \"web\"\ntype = \"hvm\"\nmemory = 16\nvcpus = 1\n");
        Directory.CreateDirectory(Path.Combine(_dir, "a"));
        Directory.CreateDirectory(Path.Combine(_dir, "b"));
        string Manifest(string host, string state) => $"""
            version: 1
            defaults:
              host: embedded:./{host}
              store: ./store
            domains:
              - name: web
                config: web.cfg
                state: {state}
                snapshot: web@nightly
            """;
        var manifest = Path.Combine(_dir, "m.yaml");
        File.WriteAllText(manifest, Manifest("a", "saved"));
        var apply = await Run("apply", "-f", manifest, "--auto-approve");
        Assert.True(apply.ExitCode == 0, apply.StdOut + apply.StdErr);
        var saved = Path.Combine(_dir, "saves", "web.xlsave");
        var ls = await Run("store", "ls", "--store", Store, "--json");
        var snapshot = JsonDocument.Parse(ls.StdOut).RootElement.GetProperty("snapshots").EnumerateArray().Single();
        Assert.Equal("web@nightly", snapshot.GetProperty("tag").GetString());
        Assert.Equal(Sha256(saved), snapshot.GetProperty("sha256").GetString());
        Assert.Equal(0, (await Run("plan", "-f", manifest, "--detailed-exitcode")).ExitCode);

        Directory.Delete(Path.Combine(_dir, "saves"), recursive: true);
        File.WriteAllText(manifest, Manifest("b", "running"));
        var plan = await Run("plan", "-f", manifest);
        Assert.Contains($"snapshot {snapshot.GetProperty("id").GetString()}", plan.StdOut);
        apply = await Run("apply", "-f", manifest, "--auto-approve");
        Assert.True(apply.ExitCode == 0, apply.StdOut + apply.StdErr);
        var list = await Run("domain", "list", "--host", "embedded:./b");
        Assert.Contains("web", list.StdOut);
        // Streamed from the store into the host: no working copy of the savefile was written on the way.
        Assert.False(File.Exists(saved));
        Assert.Equal(0, (await Run("plan", "-f", manifest, "--detailed-exitcode")).ExitCode);

        // The streamed restore gives the guest the memory a restore from the pulled file gives it, byte for byte.
        var pulled = Path.Combine(_dir, "pulled.xlsave");
        Assert.Equal(0, (await Run("store", "pull", "web@nightly", pulled, "--store", Store)).ExitCode);
        Assert.Equal(snapshot.GetProperty("sha256").GetString(), Sha256(pulled));
        var restore = await Run("domain", "restore", pulled, "--host", "embedded:./c");
        Assert.True(restore.ExitCode == 0, restore.StdOut + restore.StdErr);
        Assert.Equal(Sha256(Path.Combine(_dir, "c", "domains", "web", "memory.img")), Sha256(Path.Combine(_dir, "b", "domains", "web", "memory.img")));
    }

    [Fact]
    public async Task A_snapshot_without_a_store_is_a_located_manifest_error()
    {
        var manifest = Path.Combine(_dir, "m.yaml");
        File.WriteAllText(manifest, "version: 1\ndomains:\n  - name: web\n    snapshot: web@nightly\n  - name: db\n    snapshot: 'bad tag'\n    store: ./s\n");
        var plan = await Run("plan", "-f", manifest);
        Assert.Equal(1, plan.ExitCode);
        Assert.Contains("m.yaml:4:15: a domain with 'snapshot' needs a store", plan.StdErr);
        Assert.Contains("m.yaml:6:15: invalid snapshot tag 'bad tag'", plan.StdErr);
    }

    [Fact]
    public async Task Two_processes_pushing_related_snapshots_at_once_both_land_whole()
    {
        var files = await SavefilesAsync(2, 32);
        var pushes = files.Select(f => Run("store", "push", f, "--store", Store, "--tag", "pair", "--json")).ToArray();
        var results = await Task.WhenAll(pushes);
        Assert.All(results, r => Assert.True(r.ExitCode == 0, r.StdErr));
        Assert.Equal(0, (await Run("store", "verify", "--store", Store)).ExitCode);
        for (var i = 0; i < files.Count; i++)
        {
            var id = JsonDocument.Parse(results[i].StdOut).RootElement.GetProperty("id").GetString()!;
            var dest = Path.Combine(_dir, "pair-" + i);
            Assert.Equal(0, (await Run("store", "pull", id, dest, "--store", Store)).ExitCode);
            Assert.Equal(Sha256(files[i]), Sha256(dest));
        }
    }
}
