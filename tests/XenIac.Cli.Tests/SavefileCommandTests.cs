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
