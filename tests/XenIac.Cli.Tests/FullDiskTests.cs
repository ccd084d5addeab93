using System.Diagnostics;
using XenIac.Core.Config;
using XenIac.Hosts;
using XenIac.Hosts.Embedded;

namespace XenIac.Cli.Tests;

/// <summary>
/// Writes that run out of room, on a real small file system (a 4 MiB tmpfs mounted for the test; it needs root and
/// skips with the reason otherwise). The kernel's copy calls report ENOSPC where a read/write loop would have seen a
/// short write: taken for "copy the rest yourself", a full disk once replaced a good savefile with a torn one, exit 0.
/// </summary>
public sealed class FullDiskTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-fulldisk-").FullName;
    private string Small => Path.Combine(_dir, "small");
    private bool _mounted;
    private string? _why;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Small);
        var mount = Process.Start(new ProcessStartInfo("mount", ["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", Small])
        {
            RedirectStandardError = true, RedirectStandardOutput = true,
        });
        if (mount is null) { _why = "mount could not be started"; return; }
        var error = await mount.StandardError.ReadToEndAsync();
        await mount.WaitForExitAsync();
        _mounted = mount.ExitCode == 0;
        if (!_mounted) _why = $"cannot mount a small tmpfs here (needs root): {error.Trim()}";
    }

    public async Task DisposeAsync()
    {
        if (_mounted)
        {
            using var umount = Process.Start("umount", [Small]);
            await umount.WaitForExitAsync();
        }
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>Saves a PV domain of <paramref name="memoryMiB"/> from an embedded host to big.xlsave (outside the small file system).</summary>
    private async Task SaveBigAsync(int memoryMiB)
    {
        await using var host = EmbeddedHost.Open(Path.Combine(_dir, "host"));
        await host.CreateAsync(ConfigText.FromText($"name = \"big\"\ntype = \"pv\"\nmemory = {memoryMiB}\nvcpus = 1\nkernel = \"/k\"\n"));
        await host.SaveAsync("big", Path.Combine(_dir, "big.xlsave"), SaveOptions.Default);
    }

    [SkippableFact]
    public async Task Convert_onto_a_full_disk_fails_and_keeps_the_old_destination_whole()
    {
        Skip.IfNot(_mounted, _why);
        // A savefile of 8 MiB guest memory: twice what the small file system holds.
        await SaveBigAsync(8);
        var destination = Path.Combine(Small, "kept.img");
        var old = new byte[512 * 1024];
        new Random(5).NextBytes(old);
        // An older savefile's start (a convert replaces only a savefile), then bytes the test can tell apart.
        using (var big = File.OpenRead(Path.Combine(_dir, "big.xlsave")))
            big.ReadExactly(old, 0, 64);
        await File.WriteAllBytesAsync(destination, old);

        var result = await CliRunner.RunAsync("savefile", "convert", Path.Combine(_dir, "big.xlsave"), destination, "--to", "legacy");

        Assert.True(result.ExitCode == 1, $"exit {result.ExitCode}: {result.StdOut} {result.StdErr}");
        var line = Assert.Single(result.StdErr.TrimEnd().Split('\n'));
        Assert.StartsWith("error: ", line);
        Assert.Contains("No space left on device", line);
        Assert.Equal(old, await File.ReadAllBytesAsync(destination));
        Assert.Equal(["kept.img"], Directory.GetFiles(Small).Select(Path.GetFileName));
    }

    /// <summary>
    /// A push into a store on a full disk: one error line naming the store object (not .NET's temp file path), exit 1,
    /// no snapshot, and the store still verifies and gc takes back the packs that did land.
    /// </summary>
    [SkippableFact]
    public async Task Push_onto_a_full_disk_fails_with_one_line_and_leaves_no_snapshot()
    {
        Skip.IfNot(_mounted, _why);
        await SaveBigAsync(16);
        var store = Path.Combine(Small, "store");

        var result = await CliRunner.RunAsync("store", "push", Path.Combine(_dir, "big.xlsave"), "--store", store);

        Assert.True(result.ExitCode == 1, $"exit {result.ExitCode}: {result.StdOut} {result.StdErr}");
        var line = Assert.Single(result.StdErr.TrimEnd().Split('\n'));
        Assert.StartsWith("error: ", line);
        Assert.Contains("No space left on device", line);
        Assert.DoesNotContain(".xeniac-tmp", line);
        Assert.False(Directory.Exists(Path.Combine(store, "snapshots")) && Directory.EnumerateFiles(Path.Combine(store, "snapshots")).Any(), "a snapshot was left");
        var verify = await CliRunner.RunAsync("store", "verify", "--store", store);
        Assert.True(verify.ExitCode == 0, verify.StdErr);
        var gc = await CliRunner.RunAsync("store", "gc", "--store", store);
        Assert.True(gc.ExitCode == 0, gc.StdErr);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(store, "packs"), "*", SearchOption.AllDirectories));
    }
}
