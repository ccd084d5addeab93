using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Tests;

namespace XenIac.Core.Tests.Config;

/// <summary>
/// <see cref="ConfigText.LoadAsync"/> on inputs that yield their bytes once (a FIFO, as /dev/stdin is for a pipe or
/// a here-string): the look at the start that tells a savefile from a config must not consume what is read next.
/// </summary>
public sealed class ConfigTextLoadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-config-load").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>JSON bytes that are not UTF-8 became U+FFFD (a domain named "t\uFFFD\uFFFD"); xl.cfg keeps its bytes, as xl does.</summary>
    [Fact]
    public async Task A_json_config_that_is_not_utf8_is_an_error_at_its_place_and_xl_cfg_keeps_its_bytes()
    {
        var json = Path.Combine(_dir, "t.json");
        await File.WriteAllBytesAsync(json, [.. "{\"c_info\": {\n  \"name\": \"t"u8, 0xFF, 0xFE, .. "\"}}"u8]);
        var e = await Assert.ThrowsAsync<XlConfigException>(() => ConfigText.LoadAsync(json));
        Assert.Contains($"{json}:2:13", e.Message);
        Assert.Contains("0xFF here is not UTF-8", e.Message);

        var xl = Path.Combine(_dir, "t.cfg");
        await File.WriteAllBytesAsync(xl, [.. "name = \"t"u8, 0xFF, .. "\"\n"u8]);
        var config = await ConfigText.LoadAsync(xl);
        Assert.Equal(SaveFileConfigFormat.XlCfg, config.Language);
    }

    [Fact]
    public async Task An_xl_config_through_a_fifo_is_read_whole()
    {
        const string text = "name = \"piped\"\ntype = \"pvh\"\nmemory = 8\n";
        var config = await LoadThroughFifoAsync(System.Text.Encoding.UTF8.GetBytes(text));
        Assert.Equal(text, config.Text);
        Assert.Equal(SaveFileConfigFormat.XlCfg, config.Language);
        Assert.False(config.IsSavefile);
    }

    [Fact]
    public async Task A_savefiles_stored_config_through_a_fifo_is_found()
    {
        const string text = "name = \"stored\"\ntype = \"hvm\"\nmemory = 16\n";
        var bytes = SaveFileHeader.Create(text, SaveFileConfigFormat.XlCfg).ToBytes().Concat(new byte[70_000]).ToArray();
        var config = await LoadThroughFifoAsync(bytes);
        Assert.True(config.IsSavefile);
        Assert.Equal(text, config.Text.TrimEnd('\0'));
    }

    [Fact]
    public async Task A_config_shorter_than_the_magic_through_a_fifo_is_kept()
    {
        var config = await LoadThroughFifoAsync("a=1\n"u8.ToArray());
        Assert.Equal("a=1\n", config.Text);
    }

    private async Task<ConfigText> LoadThroughFifoAsync(byte[] content)
    {
        var fifo = Path.Combine(_dir, "fifo");
        Assert.True(Fifo.TryMake(fifo), "mkfifo did not make the FIFO");
        // The writer closes when done, so the reader sees the end; a FIFO cannot be seeked or opened again for the same bytes.
        var writer = Task.Run(async () =>
        {
            try
            {
                await using var w = new FileStream(fifo, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1);
                await w.WriteAsync(content);
            }
            catch (IOException)
            {
                // A savefile's reader stops after the header and closes: the rest of the image is not needed.
            }
        });
        var config = await ConfigText.LoadAsync(fifo);
        await writer;
        return config;
    }
}
