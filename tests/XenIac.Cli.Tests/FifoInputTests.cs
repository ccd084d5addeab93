using System.Diagnostics;
using System.Globalization;
using XenIac.Tests;

namespace XenIac.Cli.Tests;

/// <summary>
/// A FIFO named as an input: read when a writer comes, and while none has, waiting is cancelled by Ctrl+C or SIGTERM
/// like any other work (it used to sit in open(), where only SIGKILL ended it).
/// </summary>
public sealed class FifoInputTests
{
    [SkippableTheory]
    [InlineData("TERM", "savefile inspect pipe")]
    [InlineData("INT", "config show pipe")]
    [InlineData("TERM", "config show pipe")]
    [InlineData("TERM", "plan -f pipe --host embedded:h")]
    public async Task Waiting_for_a_fifo_writer_ends_on_the_first_signal_with_one_error_line(string signal, string commandLine)
    {
        // A shell starts background jobs with SIGINT ignored and children inherit that (CI runners do it too): the tool
        // then rightly never sees a SIGINT, so there is nothing to test.
        Skip.If(signal == "INT" && SigIntIgnored(), "SIGINT is ignored in this process tree (a background job), so the tool never receives it");
        var dir = Directory.CreateTempSubdirectory("xeniac-fifo-").FullName;
        try
        {
            Assert.True(Fifo.TryMake(Path.Combine(dir, "pipe")), "mkfifo failed");
            using var process = CliRunner.Start(commandLine.Split(' '), dir);
            var stderr = process.StandardError.ReadToEndAsync();
            // Signalled only once the tool holds the FIFO open (so its handlers are in place: a fixed delay was a race
            // with a slow start on a busy machine, where SIGTERM's default action would end it as 143).
            var fifo = Path.Combine(dir, "pipe");
            var waited = Stopwatch.StartNew();
            while (!HoldsOpen(process.Id, fifo))
            {
                if (process.HasExited) Assert.Fail("it did not wait for the writer: " + await stderr);
                if (waited.Elapsed > TimeSpan.FromSeconds(60)) Assert.Fail("it never opened the FIFO");
                await Task.Delay(50);
            }

            Process.Start("kill", [$"-{signal}", process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try { await process.WaitForExitAsync(deadline.Token); }
            catch (OperationCanceledException)
            {
                process.Kill();
                Assert.Fail($"one SIG{signal} did not end the wait for a FIFO writer");
            }

            Assert.Equal(1, process.ExitCode);
            Assert.Matches(@"^error: cancelled[^\n]*\n$", await stderr);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static bool SigIntIgnored()
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line is not null && (ulong.Parse(line[7..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture) & 0x2) != 0;
    }

    private static bool HoldsOpen(int pid, string path)
    {
        try
        {
            return Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd")
                .Any(fd => { try { return new FileInfo(fd).LinkTarget == path; } catch (IOException) { return false; } });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    [Fact]
    public async Task A_fifo_whose_writer_comes_later_is_read()
    {
        var dir = Directory.CreateTempSubdirectory("xeniac-fifo-").FullName;
        try
        {
            var fifo = Path.Combine(dir, "pipe");
            Assert.True(Fifo.TryMake(fifo), "mkfifo failed");
            // The writer comes a while after the reader started waiting (its open waits for the reader).
            var writer = Task.Run(async () =>
            {
                await Task.Delay(500);
                await File.WriteAllTextAsync(fifo, "name = \"late\"\ntype = \"pvh\"\nmemory = 8\nvcpus = 1\n");
            });

            var result = await CliRunner.RunAsync(["config", "show", "pipe"], workingDirectory: dir, timeout: TimeSpan.FromSeconds(30));
            await writer;

            Assert.True(result.ExitCode == 0, result.StdErr);
            Assert.Matches(@"name\s+= late", result.StdOut);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
