using XenIac.Tests;

namespace XenIac.Cli.Tests;

public sealed class ToolUnderTestTests
{
    /// <summary>
    /// CI runs ./build.sh Test, which publishes the NativeAOT binary and names it in XENIAC_CLI: the process tests
    /// must then have run that binary, not silently the managed build.
    /// </summary>
    [SkippableFact]
    public async Task Under_ci_the_process_tests_run_the_native_binary()
    {
        Skip.IfNot(Environment.GetEnvironmentVariable("CI") == "true", "outside CI (CI=true) the managed tool may run the process tests");
        Assert.True(ToolUnderTest.NativeBinary is not null, $"{ToolUnderTest.Variable} does not name a file: '{Environment.GetEnvironmentVariable(ToolUnderTest.Variable)}'");
        var head = new byte[4];
        await using (var file = File.OpenRead(ToolUnderTest.NativeBinary!)) await file.ReadExactlyAsync(head);
        Assert.Equal(new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F' }, head);
        var version = await CliRunner.RunAsync("--version");
        Assert.Equal(0, version.ExitCode);
        Assert.StartsWith("0.", version.StdOut);
    }
    /// <summary>
    /// The native binary carries Native/prefault.c's constructor (a NativeLibrary item that does not reach the linker
    /// builds fine without it), and the constructor does what it is for where the kernel can: `--version` takes far
    /// fewer page faults with it than with XENIAC_NO_PREFAULT=1. Counted by the kernel, not timed.
    /// </summary>
    [SkippableFact]
    public async Task The_native_binary_populates_its_rehydrated_data_before_main()
    {
        Skip.If(ToolUnderTest.NativeBinary is null, $"no native binary ({ToolUnderTest.Variable} unset): the managed tool has no prefault");
        var binary = await File.ReadAllBytesAsync(ToolUnderTest.NativeBinary!);
        Assert.True(binary.AsSpan().IndexOf("XENIAC_NO_PREFAULT\0"u8) >= 0, "prefault.o is not linked into the native binary");
        Skip.IfNot(PageFaults.CanCount, $"no {PageFaults.Timer} to count page faults");
        // The fewest of five starts each: with other processes busy, the kernel sometimes has no huge page to give
        // (then about 500 more faults are counted), never the whole difference.
        var with = Enumerable.Range(0, 5).Min(_ => MinorFaults(prefault: true));
        var without = Enumerable.Range(0, 5).Min(_ => MinorFaults(prefault: false));
        // MADV_POPULATE_WRITE is Linux 5.14; an older kernel refuses it and the counts are the same.
        Skip.If(Environment.OSVersion.Version < new Version(5, 14), $"kernel {Environment.OSVersion.Version} has no MADV_POPULATE_WRITE");
        Assert.True(with * 2 < without, $"page faults of --version: {with} with the prefault, {without} without");
    }

    private static long MinorFaults(bool prefault)
    {
        var (exitCode, faults) = PageFaults.OfVersionStart(ToolUnderTest.NativeBinary!, prefault);
        Assert.Equal(0, exitCode);
        Assert.NotNull(faults);
        return faults.Value;
    }
}
