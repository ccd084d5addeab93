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
    /// builds fine without it), and the constructor does what it is for: before the runtime starts, one
    /// madvise(MADV_POPULATE_WRITE) covers the whole zero-filled end of the writable segment (where the runtime
    /// rehydrates its type data), and XENIAC_NO_PREFAULT=1 turns it off. Observed with strace, not counted: whether
    /// the populate also saves page faults depends on the kernel having a free huge page at that moment (on a busy
    /// CI machine it had none, and the counts were 1158 against 1623), which is not the binary's doing.
    /// </summary>
    [SkippableFact]
    public async Task The_native_binary_populates_its_rehydrated_data_before_main()
    {
        Skip.If(ToolUnderTest.NativeBinary is null, $"no native binary ({ToolUnderTest.Variable} unset): the managed tool has no prefault");
        var binary = await File.ReadAllBytesAsync(ToolUnderTest.NativeBinary!);
        Assert.True(binary.AsSpan().IndexOf("XENIAC_NO_PREFAULT\0"u8) >= 0, "prefault.o is not linked into the native binary");
        Skip.IfNot(File.Exists(Strace), $"no {Strace} to watch the constructor's system calls");
        var zeroFilled = ZeroFilledBytesOfWritableSegment(binary);
        Assert.True(zeroFilled > 1 << 20, $"the writable segment's zero-filled part is {zeroFilled} bytes; the runtime's rehydrated data should be megabytes");

        var populates = await PopulateCallsAsync(prefault: true);
        var call = Assert.Single(populates);
        Skip.If(call.Result.StartsWith("-1 EINVAL", StringComparison.Ordinal), $"kernel {Environment.OSVersion.Version} has no MADV_POPULATE_WRITE (Linux 5.14)");
        Assert.Equal("0", call.Result);
        // Whole pages only: the page .bss starts in is shared with .data, so up to one page less than the segment's tail.
        Assert.InRange(call.Length, zeroFilled - 4096, zeroFilled + 4096);
        Assert.Empty(await PopulateCallsAsync(prefault: false));
    }

    private const string Strace = "/usr/bin/strace";

    /// <summary>The MADV_POPULATE_WRITE calls of one <c>xen-iac --version</c> (strace names advice 23 by name or in hex).</summary>
    private static async Task<List<(long Length, string Result)>> PopulateCallsAsync(bool prefault)
    {
        var log = Path.Combine(Path.GetTempPath(), $"xeniac-strace-{Guid.NewGuid():N}.txt");
        try
        {
            var start = new System.Diagnostics.ProcessStartInfo(Strace, ["-f", "-e", "trace=madvise", "-o", log, ToolUnderTest.NativeBinary!, "--version"])
            { RedirectStandardOutput = true, RedirectStandardError = true };
            if (!prefault) start.Environment["XENIAC_NO_PREFAULT"] = "1";
            using var p = System.Diagnostics.Process.Start(start)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = await p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
            // A container without ptrace (seccomp, Yama) stops strace itself, not the binary.
            Skip.If(p.ExitCode != 0 && stderr.Contains("ptrace", StringComparison.OrdinalIgnoreCase), $"strace cannot trace here: {stderr.Trim()}");
            Assert.True(p.ExitCode == 0, $"strace {ToolUnderTest.NativeBinary} --version exited {p.ExitCode}: {stderr}{await stdout}");
            var calls = new List<(long, string)>();
            foreach (var line in await File.ReadAllLinesAsync(log))
            {
                var m = System.Text.RegularExpressions.Regex.Match(line, @"madvise\(0x[0-9a-f]+, (\d+), (?:MADV_POPULATE_WRITE|0x17)[^)]*\) = (.*)$");
                if (m.Success) calls.Add((long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), m.Groups[2].Value.Trim()));
            }
            return calls;
        }
        finally { File.Delete(log); }
    }

    /// <summary>
    /// The zero-filled tail (p_memsz - p_filesz) of the ELF's writable PT_LOAD segment: .bss and the runtime's
    /// .hydrated, the region the constructor populates.
    /// </summary>
    private static long ZeroFilledBytesOfWritableSegment(byte[] elf)
    {
        Assert.True(elf.Length > 64 && elf[4] == 2 && elf[5] == 1, "not a 64-bit little-endian ELF");
        var phoff = (long)BitConverter.ToUInt64(elf, 0x20);
        int phentsize = BitConverter.ToUInt16(elf, 0x36), phnum = BitConverter.ToUInt16(elf, 0x38);
        long tail = 0;
        for (var i = 0; i < phnum; i++)
        {
            var h = (int)(phoff + (long)i * phentsize);
            const uint load = 1, writable = 2;
            if (BitConverter.ToUInt32(elf, h) != load || (BitConverter.ToUInt32(elf, h + 4) & writable) == 0) continue;
            var filesz = (long)BitConverter.ToUInt64(elf, h + 0x20);
            var memsz = (long)BitConverter.ToUInt64(elf, h + 0x28);
            tail = Math.Max(tail, memsz - filesz);
        }
        return tail;
    }
}
