using XenIac.Core.IO;
using XenIac.Tests;

namespace XenIac.Core.Tests.IO;

public sealed class AtomicFileTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "xeniac-atomic-" + Guid.NewGuid().ToString("N"));

    public AtomicFileTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string P(string name) => Path.Combine(_dir, name);

    private static Task Write(string path, string text) =>
        AtomicFile.WriteAsync(path, (s, ct) => s.WriteAsync(System.Text.Encoding.UTF8.GetBytes(text), ct).AsTask());

    /// <summary>A client killed while receiving a savefile left its temp (up to a guest's memory) for good; no later write removed it.</summary>
    [Fact]
    public async Task A_large_write_removes_the_temps_of_dead_writers_in_its_folder_and_leaves_live_ones()
    {
        using var dead = System.Diagnostics.Process.Start("true")!;
        dead.WaitForExit();
        var stale = P($"{AtomicFile.TempPrefix}a.xlsave.{dead.Id}.0123456789abcdef");
        var live = P($"{AtomicFile.TempPrefix}b.xlsave.{Environment.ProcessId}.0123456789abcdef");
        File.WriteAllText(stale, "left by a killed apply");
        File.WriteAllText(live, "being written");

        await AtomicFile.WriteLargeAsync(P("c.xlsave"), (s, ct) => s.WriteAsync(new byte[] { 1, 2, 3 }, ct).AsTask());

        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(live));
        Assert.Equal([1, 2, 3], File.ReadAllBytes(P("c.xlsave")));
    }

    [Fact]
    public async Task Replaces_a_regular_file_with_mode_0600()
    {
        File.WriteAllText(P("f"), "old");
        await Write(P("f"), "new");
        Assert.Equal("new", File.ReadAllText(P("f")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(P("f")));
    }

    [Fact]
    public async Task A_symbolic_link_is_refused_and_neither_the_link_nor_its_target_changes()
    {
        File.WriteAllText(P("target"), "keep");
        File.CreateSymbolicLink(P("link"), P("target"));

        var e = await Assert.ThrowsAsync<IOException>(() => Write(P("link"), "new"));

        Assert.Contains($"'{P("link")}' is a symbolic link", e.Message);
        Assert.Equal(P("target"), new FileInfo(P("link")).LinkTarget);
        Assert.Equal("keep", File.ReadAllText(P("target")));
        Assert.Empty(Directory.EnumerateFiles(_dir, AtomicFile.TempPrefix + "*"));
    }

    [Fact]
    public async Task A_dangling_link_is_refused_too()
    {
        File.CreateSymbolicLink(P("link"), P("nowhere"));
        await Assert.ThrowsAsync<IOException>(() => Write(P("link"), "new"));
        Assert.False(File.Exists(P("nowhere")));
    }

    [Fact]
    public async Task A_fifo_is_refused_as_not_a_regular_file()
    {
        Assert.True(Fifo.TryMake(P("pipe")), "mkfifo failed");
        var e = await Assert.ThrowsAsync<IOException>(() => Write(P("pipe"), "new"));
        Assert.Contains("is not a regular file", e.Message);
        Assert.Equal(0, new FileInfo(P("pipe")).Length);
    }

    [Fact]
    public async Task A_character_device_is_refused_without_being_opened()
    {
        var e = await Assert.ThrowsAsync<IOException>(() => AtomicFile.WriteAsync("/dev/null", (_, _) => throw new InvalidOperationException("must not write")));
        Assert.Contains("'/dev/null' is not a regular file", e.Message);
    }

    [Fact]
    public async Task A_folder_is_refused_naming_it()
    {
        Directory.CreateDirectory(P("sub"));
        var e = await Assert.ThrowsAsync<IOException>(() => Write(P("sub"), "x"));
        Assert.Contains($"'{P("sub")}' is a folder", e.Message);
    }

    [Fact]
    public async Task A_missing_folder_is_not_created_and_the_error_names_the_target_not_a_temp_file()
    {
        var target = P("missing/deeper/f.xlsave");
        var e = await Assert.ThrowsAsync<IOException>(() => Write(target, "x"));
        Assert.Contains($"cannot write '{target}'", e.Message);
        Assert.DoesNotContain(AtomicFile.TempPrefix, e.Message);
        Assert.False(Directory.Exists(P("missing")));
    }

    [Fact]
    public void Only_regular_files_are_regular_files_links_followed()
    {
        var dir = Directory.CreateTempSubdirectory("xeniac-regular-").FullName;
        try
        {
            var file = Path.Combine(dir, "f");
            File.WriteAllText(file, "x");
            var link = Path.Combine(dir, "l");
            File.CreateSymbolicLink(link, file);
            var dangling = Path.Combine(dir, "d");
            File.CreateSymbolicLink(dangling, Path.Combine(dir, "missing"));
            Assert.True(AtomicFile.IsRegularFile(file));
            Assert.True(AtomicFile.IsRegularFile(link));
            Assert.False(AtomicFile.IsRegularFile(dangling));
            Assert.False(AtomicFile.IsRegularFile(dir));
            Assert.False(AtomicFile.IsRegularFile("/dev/null"));
            Assert.False(AtomicFile.IsRegularFile(Path.Combine(dir, "missing")));
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>
    /// What a second Ctrl+C runs before the process ends: the temp file of a write still under way goes (it held a
    /// partial savefile of many GiB, left beside its target), and a finished write's file and other files stay.
    /// </summary>
    [Fact]
    public async Task Deleting_this_process_temp_files_removes_a_write_under_way_and_nothing_else()
    {
        File.WriteAllText(P("other"), "keep");
        await Write(P("done"), "done");
        var writing = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var write = AtomicFile.WriteLargeAsync(P("big"), async (s, ct) =>
        {
            await s.WriteAsync(new byte[1 << 20], ct);
            await s.FlushAsync(ct);
            writing.SetResult();
            await release.Task;
        });
        await writing.Task;
        var temp = Assert.Single(Directory.EnumerateFiles(_dir, AtomicFile.TempPrefix + "*"));
        // A temp path named by a host's own code (GuestMemory, a clone's base) is remembered the same way.
        var named = AtomicFile.TempPathFor(P("memory"));
        File.WriteAllText(named, "partial");

        Assert.Equal(2, AtomicFile.DeleteTempFilesOfThisProcess(_dir));

        Assert.False(File.Exists(temp));
        Assert.False(File.Exists(named));
        Assert.Equal("keep", File.ReadAllText(P("other")));
        Assert.Equal("done", File.ReadAllText(P("done")));
        release.SetResult();
        // The writer, its file deleted under it, fails (its rename finds no file) rather than writing a target.
        await Assert.ThrowsAsync<FileNotFoundException>(() => write);
        Assert.False(File.Exists(P("big")));
    }

    /// <summary>A legal name of 201–255 bytes made a temp name over the 255 a file system allows: the write failed.</summary>
    [Theory]
    [InlineData(255, 'a')]
    [InlineData(127, '\u00e9')] // 254 bytes of two-byte characters
    [InlineData(63, '\u2603')] // three bytes each: a cut must not split one
    public async Task A_name_as_long_as_the_file_system_allows_is_written(int count, char c)
    {
        var name = new string(c, count);
        await AtomicFile.WriteAsync(P(name), (s, ct) => s.WriteAsync("x"u8.ToArray(), ct).AsTask());
        Assert.Equal("x", File.ReadAllText(P(name)));
        Assert.Empty(Directory.EnumerateFiles(_dir, AtomicFile.TempPrefix + "*"));
        var temp = Path.GetFileName(AtomicFile.TempPathFor(P(name + "\U0001F600")));
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(temp) <= 255, temp);
        Assert.DoesNotContain('\uFFFD', System.Text.Encoding.UTF8.GetString(System.Text.Encoding.UTF8.GetBytes(temp)));
    }

    /// <summary>"FILE/x" said "the folder 'FILE' does not exist", where a file of that name does.</summary>
    [Fact]
    public void A_target_under_a_file_says_that_file_is_no_folder()
    {
        File.WriteAllText(P("a.xlsave"), "x");
        var e = Assert.Throws<IOException>(() => AtomicFile.CheckTarget(P("a.xlsave/out")));
        Assert.Contains($"'{P("a.xlsave")}' is a file, not a folder", e.Message);
        Assert.Contains("does not exist", Assert.Throws<IOException>(() => AtomicFile.CheckTarget(P("none/out"))).Message);
    }

    /// <summary>
    /// Messages about a failed write name the temp file; the CLI names the target instead, and for a name cut to fit
    /// it printed the cut name as if it were the target's.
    /// </summary>
    [Fact]
    public void A_temp_path_tells_its_target_and_says_when_the_name_was_cut()
    {
        Assert.Equal(P("web.xlsave"), AtomicFile.TargetOfTemp(AtomicFile.TempPathFor(P("web.xlsave"))));
        var longName = new string('w', 230) + ".xlsave";
        var shown = AtomicFile.TargetOfTemp(AtomicFile.TempPathFor(P(longName)));
        Assert.NotNull(shown);
        Assert.EndsWith("…", shown, StringComparison.Ordinal);
        Assert.StartsWith(P(new string('w', 150)), shown, StringComparison.Ordinal);
        Assert.Null(AtomicFile.TargetOfTemp(P("web.xlsave")));
        Assert.Null(AtomicFile.TargetOfTemp(P(AtomicFile.TempPrefix + "web.xlsave")));
    }
}
