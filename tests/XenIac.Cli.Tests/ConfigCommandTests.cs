using System.Text.Json;
using XenIac.Core.SaveFiles;
using XenIac.Tests;

namespace XenIac.Cli.Tests;

public sealed class ConfigCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-cli-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private string CopyRealSavefile(string name)
    {
        var path = Path.Combine(_dir, name);
        File.Copy(SharedFixtures.RealSavefile(name), path);
        return path;
    }

    /// <summary>
    /// Values from an untrusted config reach the terminal spelled out: an OSC title change, a screen clear and a
    /// right-to-left override went out raw (text output and error lines); JSON keeps the exact value.
    /// </summary>
    [Fact]
    public async Task Terminal_control_characters_in_a_config_are_spelled_out_not_sent_to_the_terminal()
    {
        var cfg = Write("esc.cfg", "name = \"\u001b]0;pwned\u0007\u001b[2J\"\ntype = \"pv\"\nmemory = 8\ndescription = \"a\u202eb\u0085c\"\n");

        var show = await CliRunner.RunAsync("config", "show", cfg);
        Assert.Equal(0, show.ExitCode);
        Assert.Contains(@"= \x1b]0;pwned\x07\x1b[2J", show.StdOut, StringComparison.Ordinal);
        Assert.Contains(@"= a\u202eb\x85c", show.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain(show.StdOut, c => c is '\u001b' or '\u0007' or '\u202e' or '\u0085');

        var json = await CliRunner.RunAsync("config", "show", cfg, "--json");
        Assert.Equal("\u001b]0;pwned\u0007\u001b[2J", JsonDocument.Parse(json.StdOut).RootElement.GetProperty("settings").GetProperty("name").GetString());

        var missing = await CliRunner.RunAsync("domain", "destroy", "x\u001b[2Jy", "--host", "embedded:" + Path.Combine(_dir, "host"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains(@"'x\x1b[2Jy'", missing.StdErr, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', missing.StdErr);
    }

    [SkippableFact]
    public async Task Show_json_reads_the_config_stored_in_a_real_savefile()
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        var result = await CliRunner.RunAsync("config", "show", SharedFixtures.RealSavefile("pv-plain.xlsave"), "--json");
        Assert.Equal(0, result.ExitCode);
        using var doc = JsonDocument.Parse(result.StdOut);
        Assert.Equal("json", doc.RootElement.GetProperty("format").GetString());
        Assert.True(doc.RootElement.GetProperty("savefile").GetBoolean());
        var settings = doc.RootElement.GetProperty("settings");
        Assert.Equal("96", settings.GetProperty("memory").GetString());
        Assert.Equal("/lab/domu-vmlinuz", settings.GetProperty("kernel").GetString());
    }

    [Fact]
    public async Task Show_of_an_xl_cfg_prints_the_settings()
    {
        var cfg = Write("g.cfg", "name = 'g'\nmemory = 64\ndisk = [ 'phy:/dev/vg/g,xvda,w' ]\n");
        var result = await CliRunner.RunAsync("config", "show", cfg);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("disk[0].target = /dev/vg/g", result.StdOut.Replace("  ", " ").Replace("  ", " "));
    }

    [Fact]
    public async Task Json_output_larger_than_the_writers_flush_size_is_one_document_escaped_as_before()
    {
        // 2,000 settings: about 90 KiB of JSON, past the 64 KiB at which the writer hands its buffer to stdout.
        var text = new System.Text.StringBuilder("name = 'g'\nmemory = 64\n");
        for (var i = 0; i < 2000; i++) text.Append($"note_{i} = \"a<b & \u00fc {i}\"\n");
        var cfg = Write("big.cfg", text.ToString());

        var result = await CliRunner.RunAsync("config", "show", cfg, "--json");

        Assert.Equal(0, result.ExitCode);
        Assert.True(result.StdOut.Length > 64 * 1024, $"only {result.StdOut.Length} characters");
        Assert.EndsWith("}\n", result.StdOut);
        using var doc = JsonDocument.Parse(result.StdOut);
        var settings = doc.RootElement.GetProperty("settings");
        for (var i = 0; i < 2000; i++) Assert.Equal($"a<b & \u00fc {i}", settings.GetProperty($"note_{i}").GetString());
        // The escaping System.Text.Json's default encoder gives (what the output always had): ASCII only, HTML-safe.
        Assert.Contains("\"note_1999\": \"a\\u003Cb \\u0026 \\u00FC 1999\"", result.StdOut);
        Assert.DoesNotContain(result.StdOut, c => c >= 0x80);
    }

    [Fact]
    public async Task A_parse_error_is_one_located_line()
    {
        var cfg = Write("bad.cfg", "name = 'g'\nmemory = -1\n");
        var result = await CliRunner.RunAsync("config", "show", cfg);
        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.StdErr.TrimEnd().Split('\n'));
        Assert.StartsWith($"error: {cfg}:2:10: ", line);
    }

    [SkippableFact]
    public async Task Check_of_a_real_savefile_against_its_cfg_is_compatible()
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        var result = await CliRunner.RunAsync("config", "check", SharedFixtures.RealSavefile("hvm-altcfg.xlsave"),
            Path.Combine(SharedFixtures.RealXenDir!, "meta", "tiny-hvm-alt.cfg"), "--json");
        Assert.Equal(0, result.ExitCode);
        using var doc = JsonDocument.Parse(result.StdOut);
        Assert.True(doc.RootElement.GetProperty("compatible").GetBoolean());
        Assert.Equal(0, doc.RootElement.GetProperty("findings").GetArrayLength());
    }

    [Fact]
    public async Task Check_reports_findings_and_exits_1_on_an_error()
    {
        var saved = Write("saved.cfg", "name = 'g'\nmemory = 64\nvif = [ 'mac=00:16:3e:00:00:01,bridge=br0' ]\n");
        var over = Write("over.cfg", "name = 'g'\nmemory = 128\nvif = [ 'mac=00:16:3e:00:00:01,bridge=br1' ]\n");
        var result = await CliRunner.RunAsync("config", "check", saved, over, "--json");
        Assert.Equal(1, result.ExitCode);
        using var doc = JsonDocument.Parse(result.StdOut);
        Assert.False(doc.RootElement.GetProperty("compatible").GetBoolean());
        var findings = doc.RootElement.GetProperty("findings").EnumerateArray()
            .ToDictionary(f => f.GetProperty("setting").GetString()!, f => (f.GetProperty("severity").GetString(), f.GetProperty("old").GetString(), f.GetProperty("new").GetString()));
        Assert.Equal(("error", "64", "128"), findings["memory"]);
        Assert.Equal(("ok", "br0", "br1"), findings["vif[0].bridge"]);
        Assert.True(doc.RootElement.GetProperty("findings")[0].TryGetProperty("reason", out _));

        var ok = await CliRunner.RunAsync("config", "check", saved, Write("over2.cfg", "name = 'g'\nmemory = 64\nvif = [ 'mac=00:16:3e:00:00:01,bridge=br1' ]\n"));
        Assert.Equal(0, ok.ExitCode);
        Assert.EndsWith("compatible", ok.StdOut.TrimEnd());
    }

    /// <summary>A config check of a sealed savefile cut short said "compatible" with exit 0: no config restores it.</summary>
    [Fact]
    public async Task Check_of_a_savefile_cut_short_is_an_error_though_the_configs_agree()
    {
        var config = Write("g.cfg", "name = 'g'\ntype = 'pv'\nmemory = 8\n");
        var host = "embedded:" + Path.Combine(_dir, "host");
        Assert.Equal(0, (await CliRunner.RunAsync("domain", "create", config, "--host", host)).ExitCode);
        var saved = Path.Combine(_dir, "g.xlsave");
        Assert.Equal(0, (await CliRunner.RunAsync("domain", "save", "g", saved, "--host", host)).ExitCode);
        var whole = await CliRunner.RunAsync("config", "check", saved, config);
        Assert.Equal((0, ""), (whole.ExitCode, whole.StdErr));

        using (var file = File.OpenHandle(saved, FileMode.Open, FileAccess.ReadWrite))
            RandomAccess.SetLength(file, RandomAccess.GetLength(file) - 4096);
        var cut = await CliRunner.RunAsync("config", "check", saved, config);
        Assert.Equal(1, cut.ExitCode);
        Assert.EndsWith("compatible", cut.StdOut.TrimEnd()); // the configs' verdict, as printed
        var line = Assert.Single(cut.StdErr.TrimEnd().Split('\n'));
        Assert.StartsWith($"error: {saved}: the savefile is cut short", line);
        var json = await CliRunner.RunAsync("config", "check", saved, config, "--json");
        Assert.Equal(1, json.ExitCode);
        using var doc = JsonDocument.Parse(json.StdOut);
        Assert.Contains("cut short", doc.RootElement.GetProperty("imageProblem").GetString());

        // The override's image is never restored: a cut savefile as OVERRIDE gives its config, and that is all.
        var reversed = await CliRunner.RunAsync("config", "check", config, saved);
        Assert.Equal((0, ""), (reversed.ExitCode, reversed.StdErr));
    }

    [Fact]
    public async Task Check_names_an_empty_side_and_show_reads_json_with_a_byte_order_mark()
    {
        // An empty SAVED (a copy that failed) was read as an empty xl.cfg: a page of "(unset) -> …" findings.
        var config = Write("a.cfg", "name = 'g'\nmemory = 64\n");
        var empty = Write("empty.xlsave", "");
        var check = await CliRunner.RunAsync("config", "check", empty, config);
        Assert.Equal(1, check.ExitCode);
        Assert.Equal($"error: SAVED {empty} is empty: give a savefile or a config file", check.StdErr.TrimEnd());
        Assert.Equal("", check.StdOut);
        // show and convert read it as a config with no name, exit 0.
        foreach (var args in new[] { new[] { "config", "show", empty }, ["config", "convert", empty, "--to", "json"] })
        {
            var shownEmpty = await CliRunner.RunAsync(args);
            Assert.Equal((1, $"error: FILE {empty} is empty: give a savefile or a config file"), (shownEmpty.ExitCode, shownEmpty.StdErr.TrimEnd()));
        }

        // An override that cannot replace the saved config is also the one error line on stderr, as verify's verdict.
        var bigger = Write("b.cfg", "name = 'g'\nmemory = 128\n");
        var refused = await CliRunner.RunAsync("config", "check", config, bigger);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("not compatible", refused.StdOut);
        Assert.Equal($"error: {bigger} cannot replace the config of {config}: 2 error finding(s) above", refused.StdErr.TrimEnd()); // memory and maxmem

        // JSON saved with a UTF-8 mark was taken for xl.cfg ("non-ASCII character outside a quoted string").
        var json = Path.Combine(_dir, "bom.json");
        File.WriteAllBytes(json, [0xEF, 0xBB, 0xBF, .. "{\"c_info\":{\"type\":\"pvh\",\"name\":\"g\"},\"b_info\":{\"max_memkb\":65536}}"u8]);
        var shown = await CliRunner.RunAsync("config", "show", json);
        Assert.True(shown.ExitCode == 0, shown.StdErr);
        Assert.Contains("json config", shown.StdOut);
    }

    [SkippableFact]
    public async Task Set_config_refuses_an_incompatible_config_and_leaves_the_file_byte_identical()
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        var path = CopyRealSavefile("pv-plain.xlsave");
        var before = await File.ReadAllBytesAsync(path);
        var cfg = Write("bigger.cfg", File.ReadAllText(Path.Combine(SharedFixtures.RealXenDir!, "meta", "tiny-pv.cfg")).Replace("memory  = 96", "memory  = 128"));
        var result = await CliRunner.RunAsync("savefile", "set-config", path, cfg);
        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.StdErr.TrimEnd().Split('\n'));
        Assert.Contains("memory 96 -> 128", line);
        Assert.Equal(before, await File.ReadAllBytesAsync(path));
    }

    [SkippableFact]
    public async Task Set_config_with_force_writes_it_with_mode_0600()
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        var path = CopyRealSavefile("pv-plain.xlsave");
        var cfgText = File.ReadAllText(Path.Combine(SharedFixtures.RealXenDir!, "meta", "tiny-pv.cfg")).Replace("memory  = 96", "memory  = 128");
        var cfg = Write("bigger.cfg", cfgText);
        var result = await CliRunner.RunAsync("savefile", "set-config", path, cfg, "--force");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("error   memory: 96 -> 128", result.StdOut);
        using var reader = SaveFileReader.Open(path);
        Assert.Equal(cfgText, reader.Header.ConfigText);
        Assert.Equal(SaveFileConfigFormat.XlCfg, reader.Header.ConfigFormat);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [SkippableFact]
    public async Task Set_config_with_a_compatible_cfg_writes_without_force()
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        var path = CopyRealSavefile("hvm-checkpoint.xlsave");
        var cfg = Path.Combine(SharedFixtures.RealXenDir!, "meta", "tiny-hvm-alt.cfg");
        var result = await CliRunner.RunAsync("savefile", "set-config", path, cfg);
        Assert.Equal(0, result.ExitCode);
        var shown = await CliRunner.RunAsync("config", "show", path, "--json");
        using var doc = JsonDocument.Parse(shown.StdOut);
        Assert.Equal("xl", doc.RootElement.GetProperty("format").GetString());
        Assert.Equal("tiny-hvm-alt", doc.RootElement.GetProperty("settings").GetProperty("name").GetString());
    }
}

public sealed class ConfigConvertCommandTests
{
    [Fact]
    public async Task Xl_cfg_converts_to_libxl_json_and_back_to_the_same_model()
    {
        var dir = Directory.CreateTempSubdirectory("xeniac-convert-").FullName;
        var cfg = Path.Combine(dir, "d.cfg");
        await File.WriteAllTextAsync(cfg, "name = \"d\"\ntype = \"hvm\"\nmemory = 256\nmaxmem = 512\nvcpus = 2\n" +
                                          "disk = [ '/srv/d.img,raw,xvda,rw' ]\nvif = [ 'mac=00:16:3e:00:00:09,bridge=xenbr0' ]\n");
        var json = await CliRunner.RunAsync("config", "convert", cfg, "--to", "json");
        Assert.Equal(0, json.ExitCode);
        var root = System.Text.Json.Nodes.JsonNode.Parse(json.StdOut)!;
        Assert.Equal("d", (string?)root["c_info"]!["name"]);
        Assert.Equal(512 * 1024, (long?)root["b_info"]!["max_memkb"]);
        Assert.Equal(256 * 1024, (long?)root["b_info"]!["target_memkb"]);
        Assert.Equal("/srv/d.img", (string?)root["disks"]![0]!["pdev_path"]);
        Assert.Equal("00:16:3e:00:00:09", (string?)root["nics"]![0]!["mac"]);

        var jsonFile = Path.Combine(dir, "d.json");
        await File.WriteAllTextAsync(jsonFile, json.StdOut);
        var check = await CliRunner.RunAsync("config", "check", cfg, jsonFile, "--json");
        Assert.Equal(0, check.ExitCode);
        Assert.True(System.Text.Json.Nodes.JsonNode.Parse(check.StdOut)!["compatible"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Convert_to_xl_writes_string_bytes_that_are_not_utf8_exactly()
    {
        var dir = Directory.CreateTempSubdirectory("xeniac-convert-").FullName;
        var cfg = Path.Combine(dir, "d.cfg");
        // A Latin-1 path: 0xE9 is not UTF-8 on its own. Read as text it became U+FFFD (EF BF BD) on the way out.
        await File.WriteAllBytesAsync(cfg, [.. "name = \"d\"\nkernel = \"/boot/caf"u8, 0xE9, .. "\"\n"u8]);

        var xl = await CliRunner.RunAsync("config", "convert", cfg, "--to", "xl");

        Assert.True(xl.ExitCode == 0, xl.StdErr);
        var kernel = "kernel = '/boot/caf"u8.ToArray();
        var at = xl.StdOutBytes.AsSpan().IndexOf(kernel);
        Assert.True(at >= 0, System.Text.Encoding.Latin1.GetString(xl.StdOutBytes));
        Assert.Equal(0xE9, xl.StdOutBytes[at + kernel.Length]);
        Assert.Equal((byte)'\'', xl.StdOutBytes[at + kernel.Length + 1]);
    }

    [Fact]
    public async Task Settings_without_a_json_form_are_a_warning_or_with_strict_an_error()
    {
        var dir = Directory.CreateTempSubdirectory("xeniac-convert-").FullName;
        var cfg = Path.Combine(dir, "d.cfg");
        await File.WriteAllTextAsync(cfg, "name = \"d\"\nmemory = 64\nfrobnicate_level = 3\n");
        var lax = await CliRunner.RunAsync("config", "convert", cfg);
        Assert.Equal(0, lax.ExitCode);
        Assert.Contains("warning: not converted", lax.StdErr);
        Assert.Contains("frobnicate_level", lax.StdErr);
        var strict = await CliRunner.RunAsync("config", "convert", cfg, "--strict");
        Assert.Equal(1, strict.ExitCode);
        Assert.StartsWith("error: not converted", strict.StdErr);
    }
}
