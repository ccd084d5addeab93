using XenIac.Core.IO;

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
}
