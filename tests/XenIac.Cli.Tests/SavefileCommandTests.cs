using System.Text.Json;
using XenIac.Tests;

namespace XenIac.Cli.Tests;

public sealed class SavefileCommandTests
{
    [SkippableFact]
    public async Task Inspect_json_reports_the_header_of_a_real_savefile()
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        var path = SharedFixtures.RealSavefile("pv-plain.xlsave");
        var result = await CliRunner.RunAsync("savefile", "inspect", path, "--json");
        Assert.Equal(0, result.ExitCode);
        using var doc = JsonDocument.Parse(result.StdOut);
        var root = doc.RootElement;
        Assert.Equal("xl", root.GetProperty("format").GetString());
        Assert.Equal("little", root.GetProperty("byteOrder").GetString());
        Assert.Equal(3u, root.GetProperty("mandatoryFlags").GetUInt32());
        Assert.Equal("json", root.GetProperty("configFormat").GetString());
        Assert.Equal(48 + root.GetProperty("optionalDataLength").GetInt64(), root.GetProperty("imageOffset").GetInt64());
    }

    [Fact]
    public async Task Inspect_of_a_non_savefile_prints_one_error_line_and_exits_1()
    {
        var path = Path.GetTempFileName();
        await File.WriteAllTextAsync(path, "LibvirtQemudSave and more bytes here........................");
        var result = await CliRunner.RunAsync("savefile", "inspect", path);
        Assert.Equal(1, result.ExitCode);
        var lines = result.StdErr.TrimEnd().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains("LibvirtQemudSave", lines[0]);
    }
}

public sealed class SavefileCommandContractTests
{
    private static string TempFile(byte[] content)
    {
        var dir = Path.Combine(Path.GetTempPath(), "xeniac-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "f.xlsave");
        File.WriteAllBytes(path, content);
        return path;
    }

    /// <summary>A header over a well-formed image (the commands that rewrite a file check its records first).</summary>
    private static byte[] SoundSavefile(XenIac.Core.SaveFiles.SaveFileHeader header,
        XenIac.Core.Streams.GuestType type = XenIac.Core.Streams.GuestType.HVM)
    {
        using var ms = new MemoryStream();
        ms.Write(header.ToBytes());
        XenIac.Core.Streams.ImageStreamWriter.Write(ms, new XenIac.Core.Streams.DomainImageDescription
        {
            GuestType = type, PageCount = 3, VCpus = 1,
            FillPage = (pfn, page) => page.Fill((byte)(pfn + 1)),
        });
        return ms.ToArray();
    }

    private static byte[] Savefile(XenIac.Core.SaveFiles.SaveFileHeader header, int imageBytes = 64) =>
        header.ToBytes().Concat("LibxlFmt"u8.ToArray()).Concat(Enumerable.Range(0, imageBytes).Select(i => (byte)i)).ToArray();

    [Fact]
    public async Task Set_config_stores_xl_cfg_bytes_that_are_not_utf8_exactly()
    {
        var header = XenIac.Core.SaveFiles.SaveFileHeader.Create("name = \"db\"\ntype = \"pv\"\nmemory = 8\n", XenIac.Core.SaveFiles.SaveFileConfigFormat.XlCfg);
        var path = TempFile(SoundSavefile(header, XenIac.Core.Streams.GuestType.PV));
        var cfg = Path.Combine(Path.GetDirectoryName(path)!, "new.cfg");
        // 0xE9 alone is not UTF-8 (a Latin-1 path); File.ReadAllText made it U+FFFD, stored as EF BF BD.
        byte[] cfgBytes = [.. "name = \"db\"\ntype = \"pv\"\nmemory = 8\ndescription = \"caf"u8, 0xE9, .. "\"\n"u8]; // only a warning
        File.WriteAllBytes(cfg, cfgBytes);

        var result = await CliRunner.RunAsync("savefile", "set-config", path, cfg);

        Assert.True(result.ExitCode == 0, result.StdErr);
        using var reader = XenIac.Core.SaveFiles.SaveFileReader.Open(path);
        Assert.Equal(cfgBytes, reader.Header.ConfigContent.ToArray());
    }

    [Fact]
    public async Task Inspect_json_has_every_contract_field_for_a_big_endian_file_read_from_stdin()
    {
        var header = XenIac.Core.SaveFiles.SaveFileHeader.Create("name = \"db\"\n", XenIac.Core.SaveFiles.SaveFileConfigFormat.XlCfg,
            XenIac.Core.SaveFiles.SaveFileByteOrder.BigEndian) with { Extension = new byte[] { 1, 2, 3 }, OptionalFlags = 4 };
        var result = await CliRunner.RunAsync(["savefile", "inspect", "-", "--json"], stdin: Savefile(header));

        Assert.Equal(0, result.ExitCode);
        var root = JsonDocument.Parse(result.StdOut).RootElement;
        Assert.Equal("xl", root.GetProperty("format").GetString());
        Assert.Equal("big", root.GetProperty("byteOrder").GetString());
        Assert.Equal(2u, root.GetProperty("mandatoryFlags").GetUInt32());
        Assert.Equal(4u, root.GetProperty("optionalFlags").GetUInt32());
        Assert.Equal("xl", root.GetProperty("configFormat").GetString());
        Assert.Equal(12, root.GetProperty("configLength").GetInt32());
        Assert.Equal(3, root.GetProperty("extensionLength").GetInt32());
        Assert.Equal(4 + 12 + 3, root.GetProperty("optionalDataLength").GetInt32());
        Assert.Equal(48 + 19, root.GetProperty("imageOffset").GetInt64());
    }

    [Fact]
    public async Task Inspect_legacy_reports_the_whole_file_as_image()
    {
        var path = TempFile(new byte[500]);
        var result = await CliRunner.RunAsync("savefile", "inspect", path, "--legacy", "--json");
        Assert.Equal(0, result.ExitCode);
        var root = JsonDocument.Parse(result.StdOut).RootElement;
        Assert.Equal("legacy", root.GetProperty("format").GetString());
        Assert.Equal("none", root.GetProperty("configFormat").GetString());
        Assert.Equal(0, root.GetProperty("imageOffset").GetInt64());
    }

    [Fact]
    public async Task Config_prints_the_stored_config_exactly_without_the_json_nul()
    {
        var json = "{\n  \"c_info\": {\"name\": \"caf\u00e9\"}\n}\n";
        var path = TempFile(Savefile(XenIac.Core.SaveFiles.SaveFileHeader.Create(json, XenIac.Core.SaveFiles.SaveFileConfigFormat.Json)));
        var result = await CliRunner.RunAsync("savefile", "config", path);
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(System.Text.Encoding.UTF8.GetBytes(json), result.StdOutBytes);
    }

    /// <summary>
    /// A sound image under a stored config that does not read (xl restore of the file would fail): verify said "valid"
    /// and exited 0, inspect showed only the config's length. Both languages, from a file and from a pipe.
    /// </summary>
    [Theory]
    [InlineData("\u0001{\"c_info\": {\"name\": \"db\"}}\n", XenIac.Core.SaveFiles.SaveFileConfigFormat.Json, "not valid JSON", false)]
    [InlineData("{\"c_info\": {\"name\": 7}}\n", XenIac.Core.SaveFiles.SaveFileConfigFormat.Json, "$.c_info.name", true)]
    [InlineData("name = \"db\"\nmemory = [\n", XenIac.Core.SaveFiles.SaveFileConfigFormat.XlCfg, ":3:1: expected a value for 'memory'", false)]
    [InlineData("name = \"db\"\nmemory = \"lots\"\n", XenIac.Core.SaveFiles.SaveFileConfigFormat.XlCfg, "memory", true)]
    public async Task A_stored_config_that_does_not_read_fails_verify_and_is_named_by_inspect(string config,
        XenIac.Core.SaveFiles.SaveFileConfigFormat language, string named, bool fromStdin)
    {
        var bytes = SoundSavefile(XenIac.Core.SaveFiles.SaveFileHeader.Create(config, language));
        var path = TempFile(bytes);
        var source = fromStdin ? "-" : path;
        var stdin = fromStdin ? bytes : null;

        var verify = await CliRunner.RunAsync(["savefile", "verify", source], stdin);
        Assert.Equal(1, verify.ExitCode);
        Assert.Equal("", verify.StdOut);
        var line = Assert.Single(verify.StdErr.TrimEnd().Split('\n'));
        Assert.StartsWith("error: the image is valid (HVM guest", line, StringComparison.Ordinal);
        Assert.Contains("its stored config does not read", line, StringComparison.Ordinal);
        Assert.Contains(named, line, StringComparison.Ordinal);
        Assert.Contains(fromStdin ? "standard input (stored config)" : $"{path} (stored config)", line, StringComparison.Ordinal);

        var json = await CliRunner.RunAsync(["savefile", "verify", source, "--json"], stdin);
        Assert.Equal(1, json.ExitCode);
        var verified = JsonDocument.Parse(json.StdOut).RootElement;
        Assert.True(verified.GetProperty("valid").GetBoolean()); // the image's verdict
        Assert.Contains(named, verified.GetProperty("configProblem").GetString(), StringComparison.Ordinal);

        var inspect = await CliRunner.RunAsync(["savefile", "inspect", source], stdin);
        Assert.Equal(0, inspect.ExitCode);
        Assert.Matches(@"(?m)^config: +(json|xl), \d+ bytes; does not read: .+$", inspect.StdOut);
        var inspected = JsonDocument.Parse((await CliRunner.RunAsync(["savefile", "inspect", source, "--json"], stdin)).StdOut).RootElement;
        Assert.Contains(named, inspected.GetProperty("configProblem").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stored_config_that_reads_leaves_verify_and_inspect_as_they_were()
    {
        var bytes = SoundSavefile(XenIac.Core.SaveFiles.SaveFileHeader.Create("name = \"db\"\nmemory = 8\n", XenIac.Core.SaveFiles.SaveFileConfigFormat.XlCfg));
        var path = TempFile(bytes);
        var verify = await CliRunner.RunAsync("savefile", "verify", path);
        Assert.True(verify.ExitCode == 0, verify.StdErr);
        Assert.StartsWith("valid: HVM guest", verify.StdOut, StringComparison.Ordinal);
        var json = JsonDocument.Parse((await CliRunner.RunAsync("savefile", "verify", path, "--json")).StdOut).RootElement;
        Assert.Equal(JsonValueKind.Null, json.GetProperty("configProblem").ValueKind);
        var inspect = await CliRunner.RunAsync("savefile", "inspect", path);
        Assert.Matches(@"(?m)^config: +xl, \d+ bytes$", inspect.StdOut);
    }

    [Fact]
    public async Task Config_of_a_file_without_config_is_an_error()
    {
        var path = TempFile(Savefile(new XenIac.Core.SaveFiles.SaveFileHeader { MandatoryFlags = 2 }));
        var result = await CliRunner.RunAsync("savefile", "config", path);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("error: the savefile stores no config", result.StdErr.Trim());
    }

    [Fact]
    public async Task Convert_to_legacy_and_back_with_the_config_gives_the_same_bytes()
    {
        var json = "{\"c_info\":{\"name\":\"x\"}}";
        var original = SoundSavefile(XenIac.Core.SaveFiles.SaveFileHeader.Create(json, XenIac.Core.SaveFiles.SaveFileConfigFormat.Json),
            XenIac.Core.Streams.GuestType.PV); // a config without type= is PV
        var path = TempFile(original);
        var dir = Path.GetDirectoryName(path)!;
        var cfg = Path.Combine(dir, "cfg.json");
        await File.WriteAllTextAsync(cfg, json);

        var toLegacy = await CliRunner.RunAsync("savefile", "convert", path, Path.Combine(dir, "l.img"), "--to", "legacy");
        var back = await CliRunner.RunAsync("savefile", "convert", Path.Combine(dir, "l.img"), Path.Combine(dir, "b.xlsave"), "--config", cfg);

        Assert.True(toLegacy.ExitCode == 0, toLegacy.StdErr);
        Assert.True(back.ExitCode == 0, back.StdErr);
        Assert.Equal(original, await File.ReadAllBytesAsync(Path.Combine(dir, "b.xlsave")));
    }

    [Fact]
    public async Task Commands_that_rewrite_a_file_refuse_a_cut_image_with_one_error_line_and_change_nothing()
    {
        var header = XenIac.Core.SaveFiles.SaveFileHeader.Create("name = \"db\"\ntype = \"pv\"\nmemory = 8\n", XenIac.Core.SaveFiles.SaveFileConfigFormat.XlCfg);
        var whole = SoundSavefile(header, XenIac.Core.Streams.GuestType.PV);
        var path = TempFile(whole[..(whole.Length - 4096)]);
        var before = await File.ReadAllBytesAsync(path);
        var dir = Path.GetDirectoryName(path)!;
        var cfg = Path.Combine(dir, "new.cfg");
        await File.WriteAllTextAsync(cfg, "name = \"db\"\ntype = \"pv\"\nmemory = 8\n");

        foreach (var args in new[]
                 {
                     new[] { "savefile", "set-config", path, cfg },
                     ["savefile", "seal", path],
                     ["savefile", "convert", path, Path.Combine(dir, "out.img"), "--to", "legacy"],
                     ["savefile", "convert", path, "-", "--to", "legacy"],
                 })
        {
            var result = await CliRunner.RunAsync(args);
            Assert.True(result.ExitCode == 1, $"{string.Join(' ', args)}: exit {result.ExitCode}");
            Assert.Empty(result.StdOutBytes); // onto a stream the check comes first: not a byte of a damaged image goes out
            var line = Assert.Single(result.StdErr.TrimEnd().Split('\n'));
            Assert.StartsWith("error: ", line);
            Assert.Contains("is damaged, nothing was written", line);
        }
        Assert.Equal(before, await File.ReadAllBytesAsync(path));
        Assert.Equal(["f.xlsave", "new.cfg"], Directory.GetFiles(dir).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task Convert_of_a_legacy_file_without_config_is_refused()
    {
        var path = TempFile(new byte[100]);
        var result = await CliRunner.RunAsync("savefile", "convert", path, path + ".out");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--config", result.StdErr);
        Assert.False(File.Exists(path + ".out"));
    }

    [Theory]
    [InlineData("savefile", "inspect", "/nonexistent/file.xlsave")]
    [InlineData("savefile", "frobnicate")]
    [InlineData("savefile", "convert", "a", "b", "--to", "qcow2")]
    public async Task Bad_usage_and_missing_files_exit_1_with_one_error_line(params string[] args)
    {
        var result = await CliRunner.RunAsync(args);
        Assert.Equal(1, result.ExitCode);
        var lines = result.StdErr.TrimEnd().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.DoesNotContain("   at ", result.StdErr);
    }

    [Fact]
    public async Task Verbose_adds_the_stack_trace()
    {
        // A file that exists but is no savefile: a missing one is refused while parsing, where there is no stack.
        var path = Path.GetTempFileName();
        await File.WriteAllTextAsync(path, "not a savefile at all, not even close.............................");
        var result = await CliRunner.RunAsync("savefile", "inspect", path, "--verbose");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("   at ", result.StdErr);
    }
}

public sealed class SavefileVerifyCommandTests
{
    private static string Example => Path.Combine(SharedFixtures.RepoRoot, "examples", "savefiles", "demo.xlsave");

    [Fact]
    public async Task Verify_json_of_the_example_reports_a_valid_hvm_image()
    {
        var result = await CliRunner.RunAsync("savefile", "verify", Example, "--json");
        Assert.Equal(0, result.ExitCode);
        using var doc = JsonDocument.Parse(result.StdOut);
        var root = doc.RootElement;
        Assert.True(root.GetProperty("valid").GetBoolean());
        Assert.Equal("HVM", root.GetProperty("guestType").GetString());
        Assert.Equal(12, root.GetProperty("pageShift").GetInt32());
        Assert.Equal(9, root.GetProperty("pages").GetInt64());
        Assert.Equal(1, root.GetProperty("records").GetProperty("libxc:PAGE_DATA").GetInt64());
        Assert.Equal(0, root.GetProperty("checkpoints").GetInt32());
        Assert.Equal("4.17", root.GetProperty("xenVersion").GetString());
        Assert.False(root.TryGetProperty("error", out _));
    }

    [Fact]
    public async Task Verify_of_a_corrupt_image_exits_1_with_the_offset_and_record_index()
    {
        var bytes = await File.ReadAllBytesAsync(Example);
        // The last 8 bytes are the libxl END record header: give it a length.
        bytes[^4] = 8;
        var path = Path.GetTempFileName();
        await File.WriteAllBytesAsync(path, bytes);

        var json = await CliRunner.RunAsync("savefile", "verify", path, "--json");
        Assert.Equal(1, json.ExitCode);
        using var doc = JsonDocument.Parse(json.StdOut);
        var error = doc.RootElement.GetProperty("error");
        Assert.False(doc.RootElement.GetProperty("valid").GetBoolean());
        Assert.Equal(bytes.Length - 8, error.GetProperty("offset").GetInt64());
        Assert.True(error.GetProperty("recordIndex").GetInt64() > 5);
        Assert.Contains("END", error.GetProperty("message").GetString());

        var plain = await CliRunner.RunAsync("savefile", "verify", path);
        Assert.Equal(1, plain.ExitCode);
        var line = Assert.Single(plain.StdErr.TrimEnd().Split('\n'));
        Assert.StartsWith("error: ", line);
        Assert.Contains($"offset {bytes.Length - 8}", line);
    }

    [Fact]
    public async Task Verify_reads_standard_input_and_the_legacy_configless_form()
    {
        var bytes = await File.ReadAllBytesAsync(Example);
        var piped = await CliRunner.RunAsync(["savefile", "verify", "-"], stdin: bytes);
        Assert.Equal(0, piped.ExitCode);
        Assert.StartsWith("valid: HVM guest from Xen 4.17, 1 vCPU", piped.StdOut);

        // Without the xl header the whole file is the image: --legacy verifies the bare libxl stream.
        var image = bytes.AsSpan(bytes.AsSpan().IndexOf("LibxlFmt"u8)).ToArray();
        var legacy = await CliRunner.RunAsync(["savefile", "verify", "-", "--legacy", "--json"], stdin: image);
        Assert.Equal(0, legacy.ExitCode);
        Assert.True(JsonDocument.Parse(legacy.StdOut).RootElement.GetProperty("valid").GetBoolean());
    }

    /// <summary>
    /// Some parents (CI runners, Node.js) hand a child a pipe they made non-blocking. .NET's console stream failed on
    /// such a stdin the moment the pipe was empty ("being used by another process"); the pipe is now opened again,
    /// blocking, for this process alone. perl (Debian's essential perl-base) sets O_NONBLOCK and then execs xen-iac,
    /// while the test writes the savefile in two parts with a pause, so the pipe runs empty in between.
    /// </summary>
    [SkippableFact]
    public async Task Verify_reads_a_stdin_pipe_its_parent_made_non_blocking()
    {
        Skip.If(!OperatingSystem.IsLinux() || !File.Exists("/usr/bin/perl"), "needs Linux and /usr/bin/perl");
        var bytes = await File.ReadAllBytesAsync(Example);
        var start = new System.Diagnostics.ProcessStartInfo("/usr/bin/perl")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        start.ArgumentList.Add("-e");
        start.ArgumentList.Add("use Fcntl; my $f = fcntl(STDIN, F_GETFL, 0) or die; fcntl(STDIN, F_SETFL, $f | O_NONBLOCK) or die; exec @ARGV or die");
        foreach (var a in ToolUnderTest.Command) start.ArgumentList.Add(a);
        foreach (var a in new[] { "savefile", "verify", "-" }) start.ArgumentList.Add(a);
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var input = process.StandardInput.BaseStream;
        await input.WriteAsync(bytes.AsMemory(0, bytes.Length / 3));
        await input.FlushAsync();
        await Task.Delay(TimeSpan.FromSeconds(2)); // long enough for even the JIT-started tool to reach its first read
        try
        {
            await input.WriteAsync(bytes.AsMemory(bytes.Length / 3));
            input.Close();
        }
        catch (IOException) { } // the tool gave up early: its exit code and stderr below say why

        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {await stderr}");
        Assert.StartsWith("valid: HVM guest from Xen 4.17, 1 vCPU", await stdout);
    }

    [Fact]
    public async Task Verify_says_plainly_that_a_pre_v2_image_is_not_verified()
    {
        var bytes = await File.ReadAllBytesAsync(Example);
        bytes[36] &= unchecked((byte)~2); // mandatory flags: clear "stream v2"
        var path = Path.GetTempFileName();
        await File.WriteAllBytesAsync(path, bytes);
        var result = await CliRunner.RunAsync("savefile", "verify", path, "--json");
        Assert.Equal(1, result.ExitCode);
        var root = JsonDocument.Parse(result.StdOut).RootElement;
        Assert.Equal("not-verified", root.GetProperty("status").GetString());
        Assert.Contains("pre-v2 legacy libxc stream, not verified", root.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Inspect_json_keeps_its_header_fields_and_adds_the_image_summary()
    {
        var result = await CliRunner.RunAsync("savefile", "inspect", Example, "--json");
        Assert.Equal(0, result.ExitCode);
        var root = JsonDocument.Parse(result.StdOut).RootElement;
        Assert.Equal("xl", root.GetProperty("format").GetString());
        Assert.True(root.GetProperty("streamV2").GetBoolean());
        var image = root.GetProperty("image");
        Assert.True(image.GetProperty("valid").GetBoolean());
        Assert.Equal("HVM", image.GetProperty("guestType").GetString());
        Assert.Equal(1, image.GetProperty("vcpus").GetInt32());
    }
}

public sealed class SavefileIntegrityCommandTests
{
    private static string CopyOfReal(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), "xeniac-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name);
        File.Copy(SharedFixtures.RealSavefile(name), path);
        return path;
    }

    /// <summary>
    /// A file name may hold a line break and escapes; a result line quoting it printed a line of the name's choosing
    /// under it (and ran its escapes), where each printed line must stay one line.
    /// </summary>
    [SkippableFact]
    public async Task A_result_line_quoting_a_name_with_a_line_break_and_escapes_stays_one_line()
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        var path = CopyOfReal("pv-plain.xlsave");
        var odd = Path.Combine(Path.GetDirectoryName(path)!, "web\nerror: fake\u001b[2J.xlsave");
        File.Move(path, odd);
        var seal = await CliRunner.RunAsync("savefile", "seal", odd);
        Assert.True(seal.ExitCode == 0, seal.StdErr);
        var line = Assert.Single(seal.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(@"web\x0aerror: fake\x1b[2J.xlsave: sha256:", line, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Seal_then_verify_integrity_passes_survives_set_config_and_catches_a_flipped_page_byte()
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        var path = CopyOfReal("pv-plain.xlsave");

        var unsealed = await CliRunner.RunAsync("savefile", "verify", path, "--integrity");
        Assert.Equal(1, unsealed.ExitCode);
        Assert.Contains("no integrity record", unsealed.StdErr);
        Assert.Contains("savefile seal", unsealed.StdErr);

        var seal = await CliRunner.RunAsync("savefile", "seal", path);
        Assert.True(seal.ExitCode == 0, seal.StdErr);
        Assert.StartsWith($"sealed {path}: sha256:", seal.StdOut);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));

        var ok = await CliRunner.RunAsync("savefile", "verify", path, "--integrity", "--json");
        Assert.True(ok.ExitCode == 0, ok.StdErr);
        var integrity = JsonDocument.Parse(ok.StdOut).RootElement.GetProperty("integrity");
        Assert.Equal("match", integrity.GetProperty("status").GetString());
        var digest = integrity.GetProperty("expected").GetProperty("digest").GetString()!;
        Assert.Equal(digest, integrity.GetProperty("actual").GetProperty("digest").GetString());

        // set-config with the stored config (compatible by definition) keeps the record, which still verifies.
        var config = await CliRunner.RunAsync("savefile", "config", path);
        var cfg = Path.Combine(Path.GetDirectoryName(path)!, "stored.json");
        await File.WriteAllBytesAsync(cfg, config.StdOutBytes);
        var set = await CliRunner.RunAsync("savefile", "set-config", path, cfg);
        Assert.True(set.ExitCode == 0, set.StdErr);
        var inspect = await CliRunner.RunAsync("savefile", "inspect", path);
        Assert.Contains($"integrity:            sha256:{digest}", inspect.StdOut);
        Assert.Equal(0, (await CliRunner.RunAsync("savefile", "verify", path, "--integrity")).ExitCode);

        // A byte inside page data: the structural check skips pages, only the digest can see it.
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[bytes.Length / 2] ^= 0x10;
        await File.WriteAllBytesAsync(path, bytes);
        var plain = await CliRunner.RunAsync("savefile", "verify", path);
        Assert.Equal(0, plain.ExitCode);
        var bad = await CliRunner.RunAsync("savefile", "verify", path, "--integrity");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains($"error: integrity mismatch: expected sha256 {digest}, actual ", bad.StdErr);
        Assert.DoesNotContain("valid:", bad.StdOut); // it said "valid: …" beside the error

        // Sealing the changed image again is allowed, but said: the record it replaces no longer matched.
        var reseal = await CliRunner.RunAsync("savefile", "seal", path);
        Assert.Equal(0, reseal.ExitCode);
        Assert.Contains("(record refreshed)", reseal.StdOut);
        var warning = Assert.Single(reseal.StdErr.TrimEnd().Split('\n'));
        Assert.StartsWith($"warning: {path}: the old integrity record did not match the image", warning);
        var again = await CliRunner.RunAsync("savefile", "seal", path);
        Assert.Equal((0, ""), (again.ExitCode, again.StdErr));
        Assert.Contains("(record unchanged)", again.StdOut);
    }

    [Fact]
    public async Task Inspect_json_lists_a_record_and_a_malformed_one()
    {
        var dir = Path.Combine(Path.GetTempPath(), "xeniac-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var header = XenIac.Core.SaveFiles.SaveFileHeader.Create("name = \"db\"\n", XenIac.Core.SaveFiles.SaveFileConfigFormat.XlCfg)
            .WithIntegrity(new XenIac.Core.SaveFiles.SaveFileIntegrity(64, new byte[32]));
        var path = Path.Combine(dir, "s.xlsave");
        await File.WriteAllBytesAsync(path, header.ToBytes().Concat(new byte[64]).ToArray());

        var good = await CliRunner.RunAsync("savefile", "inspect", path, "--json");
        Assert.Equal(0, good.ExitCode);
        var record = JsonDocument.Parse(good.StdOut).RootElement.GetProperty("integrity");
        Assert.Equal("sha256", record.GetProperty("algorithm").GetString());
        Assert.Equal(64, record.GetProperty("imageLength").GetInt64());
        Assert.Equal(new string('0', 64), record.GetProperty("digest").GetString());

        var bytes = await File.ReadAllBytesAsync(path);
        bytes[header.ImageOffset - 64 + 12] = 7; // version 7
        await File.WriteAllBytesAsync(path, bytes);
        var malformed = await CliRunner.RunAsync("savefile", "inspect", path);
        Assert.Equal(0, malformed.ExitCode);
        Assert.Contains("integrity:            malformed: integrity record has version 7", malformed.StdOut);
    }
}
