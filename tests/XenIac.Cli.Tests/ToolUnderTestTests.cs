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
}
