using XenIac.Core.Config;
using XenIac.Core.SaveFiles;

namespace XenIac.Core.Tests.Config;

public sealed class SavefileConfigEditorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-setconfig-").FullName;
    private static readonly byte[] Image = PvImage();

    private static byte[] PvImage()
    {
        using var ms = new MemoryStream();
        XenIac.Core.Streams.ImageStreamWriter.Write(ms, Streams.ImageStreamWriterTests.Hvm(4) with { GuestType = XenIac.Core.Streams.GuestType.PV });
        return ms.ToArray();
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<string> SavefileAsync(string config, SaveFileConfigFormat format)
    {
        var path = Path.Combine(_dir, "dom.xlsave");
        await using var output = File.Create(path);
        await SaveFileWriter.WriteAsync(output, SaveFileHeader.Create(config, format), new MemoryStream(Image));
        return path;
    }

    private const string Json = """{"c_info":{"type":"pv","name":"a"},"b_info":{"max_vcpus":1,"avail_vcpus":[0],"max_memkb":65536,"target_memkb":65536}}""";

    [Fact]
    public async Task An_incompatible_config_is_refused_and_the_file_is_untouched()
    {
        var path = await SavefileAsync(Json, SaveFileConfigFormat.Json);
        var before = await File.ReadAllBytesAsync(path);
        var e = await Assert.ThrowsAsync<IncompatibleConfigException>(() =>
            SavefileConfigEditor.SetConfigAsync(path, "name = 'a'\nmemory = 128\nvcpus = 1\n", "new.cfg"));
        Assert.Contains(e.Findings, f => f is { Setting: "memory", Severity: FindingSeverity.Error });
        Assert.Contains("memory 64 -> 128", e.Message);
        Assert.Equal(before, await File.ReadAllBytesAsync(path));
    }

    [Fact]
    public async Task A_config_without_a_name_is_refused_with_the_reason_not_an_unset_to_unset_change()
    {
        var path = await SavefileAsync(Json, SaveFileConfigFormat.Json);
        var e = await Assert.ThrowsAsync<IncompatibleConfigException>(() =>
            SavefileConfigEditor.SetConfigAsync(path, "memory = 64\nvcpus = 1\n", "new.cfg"));
        Assert.Contains("name: the config names no domain", e.Message);
        Assert.DoesNotContain("(unset) -> (unset)", e.Message);
    }

    [Fact]
    public async Task Force_writes_it_and_keeps_the_image()
    {
        var path = await SavefileAsync(Json, SaveFileConfigFormat.Json);
        await SavefileConfigEditor.SetConfigAsync(path, "name = 'a'\nmemory = 128\n", "new.cfg", force: true);
        using var reader = SaveFileReader.Open(path);
        Assert.Equal("name = 'a'\nmemory = 128\n", reader.Header.ConfigText);
        var image = new MemoryStream();
        reader.Image.CopyTo(image);
        Assert.Equal(Image, image.ToArray());
    }

    [Fact]
    public async Task Xl_text_over_a_json_config_is_stored_as_text_with_the_json_flag_cleared()
    {
        var path = await SavefileAsync(Json, SaveFileConfigFormat.Json);
        var findings = await SavefileConfigEditor.SetConfigAsync(path, "name = 'b'\nmemory = 64\nvcpus = 1\ntype = 'pv'\n", "new.cfg");
        Assert.All(findings, f => Assert.NotEqual(FindingSeverity.Error, f.Severity));
        using var reader = SaveFileReader.Open(path);
        Assert.Equal(SaveFileConfigFormat.XlCfg, reader.Header.ConfigFormat);
        Assert.Equal(0u, reader.Header.MandatoryFlags & (uint)SaveFileMandatoryFlags.ConfigJson);
        Assert.True(reader.Header.IsStreamV2);
    }

    [Fact]
    public async Task Json_stays_json()
    {
        var path = await SavefileAsync("name = 'a'\nmemory = 64\nvcpus = 1\n", SaveFileConfigFormat.XlCfg);
        await SavefileConfigEditor.SetConfigAsync(path, Json.Replace("\"a\"", "\"b\""), "new.json");
        using var reader = SaveFileReader.Open(path);
        Assert.Equal(SaveFileConfigFormat.Json, reader.Header.ConfigFormat);
        Assert.Equal("b", DomainConfig.FromJson(reader.Header.ConfigText!).Name);
    }

    [Fact]
    public async Task A_config_that_does_not_parse_is_a_located_error_and_nothing_is_written()
    {
        var path = await SavefileAsync(Json, SaveFileConfigFormat.Json);
        var before = await File.ReadAllBytesAsync(path);
        var e = await Assert.ThrowsAsync<XlConfigException>(() => SavefileConfigEditor.SetConfigAsync(path, "name = 'a'\nMemory = 64\n", "new.cfg"));
        Assert.StartsWith("new.cfg:2:1:", e.Message);
        Assert.Equal(before, await File.ReadAllBytesAsync(path));
    }

    [Fact]
    public async Task An_xl_config_with_bytes_that_are_not_UTF8_is_stored_and_read_back_exactly()
    {
        var path = await SavefileAsync("name = 'a'\nmemory = 64\nvcpus = 1\n", SaveFileConfigFormat.XlCfg);
        byte[] config = [.. "name = 'a'\nmemory = 64\nvcpus = 1\nkernel = '/boot/"u8, 0xff, 0xc3, .. "'\n"u8];
        var cfgPath = Path.Combine(_dir, "raw.cfg");
        await File.WriteAllBytesAsync(cfgPath, config);

        var source = await ConfigText.LoadAsync(cfgPath);
        await SavefileConfigEditor.SetConfigAsync(path, source.Text, cfgPath, force: true); // a new kernel is an error-level finding

        using (var reader = SaveFileReader.Open(path))
            Assert.Equal(config, reader.Header.ConfigContent.ToArray());
        var stored = await ConfigText.LoadAsync(path);
        Assert.Equal((byte[])[.. "/boot/"u8, 0xff, 0xc3], XlText.Encode(stored.ToModel().Kernel));
    }
}
