using XenIac.Core.IO;
using XenIac.Tests;

namespace XenIac.Core.Tests.IO;

public sealed class SmallFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-smallfile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_file_of_exactly_the_limit_is_read_whole_and_one_byte_more_is_refused()
    {
        var path = Path.Combine(_dir, "f");
        var data = Enumerable.Range(0, 100_000).Select(i => (byte)i).ToArray();
        await File.WriteAllBytesAsync(path, data);
        Assert.Equal(data, SmallFile.ReadAllBytes(path, data.Length));
        Assert.Equal(data, await SmallFile.ReadAllBytesAsync(path, data.Length));
        var e = Assert.Throws<IOException>(() => SmallFile.ReadAllBytes(path, data.Length - 1));
        Assert.Contains("holds more than 99,999 bytes", e.Message);
        await Assert.ThrowsAsync<IOException>(() => SmallFile.ReadAllBytesAsync(path, data.Length - 1));
    }

    [SkippableTheory]
    [InlineData("/dev/zero")]
    [InlineData("/dev/urandom")]
    public async Task A_device_that_never_ends_is_refused_after_the_limit(string device)
    {
        Skip.IfNot(File.Exists(device), $"{device} is absent");
        Assert.Contains(device, Assert.Throws<IOException>(() => SmallFile.ReadAllBytes(device, 1 << 20)).Message);
        await Assert.ThrowsAsync<IOException>(() => SmallFile.ReadAllBytesAsync(device, 1 << 20));
    }

    [Fact]
    public void An_empty_file_and_a_missing_one()
    {
        var empty = Path.Combine(_dir, "empty");
        File.WriteAllBytes(empty, []);
        Assert.Empty(SmallFile.ReadAllBytes(empty));
        Assert.Throws<FileNotFoundException>(() => SmallFile.ReadAllBytes(Path.Combine(_dir, "missing")));
    }

    /// <summary>A pipe claims no size: the read grows from its first guess up to the limit, and no further.</summary>
    [SkippableTheory]
    [InlineData(100_000, 100_000, true)]
    [InlineData(100_000, 99_999, false)]
    [InlineData(3, 1 << 20, true)]
    public async Task A_fifo_is_read_whole_up_to_the_limit(int size, int limit, bool fits)
    {
        var fifo = Path.Combine(_dir, "fifo");
        Skip.IfNot(Fifo.TryMake(fifo), "mkfifo failed");
        var data = Enumerable.Range(0, size).Select(i => (byte)(i * 7)).ToArray();
        var writer = Task.Run(async () =>
        {
            try
            {
                await using var w = new FileStream(fifo, FileMode.Open, FileAccess.Write);
                await w.WriteAsync(data);
            }
            catch (IOException) { } // the reader refused and closed early: a broken pipe is expected then
        });
        if (fits) Assert.Equal(data, await SmallFile.ReadAllBytesAsync(fifo, limit));
        else await Assert.ThrowsAsync<IOException>(() => SmallFile.ReadAllBytesAsync(fifo, limit));
        await writer;
    }

    [Fact]
    public void Files_around_the_first_guess_and_growth_steps_read_back_exactly()
    {
        foreach (var size in new[] { 1, 4095, 4096, 4097, 16383, 16384, 16385, 65536, 200_001 })
        {
            var path = Path.Combine(_dir, $"s{size}");
            var data = Enumerable.Range(0, size).Select(i => (byte)(i * 31 + size)).ToArray();
            File.WriteAllBytes(path, data);
            Assert.Equal(data, SmallFile.ReadAllBytes(path));
            Assert.Throws<IOException>(() => SmallFile.ReadAllBytes(path, size - 1));
        }
    }
}
