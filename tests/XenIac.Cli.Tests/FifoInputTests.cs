using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
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
            await WaitUntilHeldOpenAsync(process, fifo, stderr);

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

    /// <summary>
    /// A writer that sends part of the input and then stalls (a slow producer, a hung ssh): the read waiting for the
    /// rest ends on the first signal. It used to sit in read(), which no signal's handler could end until the writer
    /// closed the pipe; `savefile verify -` then even blamed the input ("the file is empty").
    /// </summary>
    [SkippableTheory]
    [InlineData("savefile verify -", "Xen saved domain")]
    [InlineData("savefile inspect pipe", "Xen saved domain")]
    [InlineData("config show pipe", "name = \"half\"\n")]
    [InlineData("config show /dev/stdin", "name = \"half\"\n")]
    [InlineData("plan -f pipe --host embedded:h", "domains:\n")]
    public async Task A_writer_that_stalls_midway_is_not_waited_for_after_the_first_signal(string commandLine, string part)
    {
        var dir = Directory.CreateTempSubdirectory("xeniac-fifo-").FullName;
        try
        {
            var fifo = Path.Combine(dir, "pipe");
            var named = commandLine.EndsWith(" pipe", StringComparison.Ordinal) || commandLine.Contains(" pipe ", StringComparison.Ordinal);
            if (named) Assert.True(Fifo.TryMake(fifo), "mkfifo failed");
            using var process = CliRunner.Start(commandLine.Split(' '), dir, keepInput: !named);
            var stderr = process.StandardError.ReadToEndAsync();

            Stream writer;
            SafeHandle writerHandle;
            if (named)
            {
                // The tool holds the FIFO open from inside its command (its signal handlers are in place by then), so
                // this open finds a reader and does not wait.
                await WaitUntilHeldOpenAsync(process, fifo, stderr);
                var file = new FileStream(fifo, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
                (writer, writerHandle) = (file, file.SafeFileHandle);
            }
            else
            {
                var pipe = (System.IO.Pipes.PipeStream)process.StandardInput.BaseStream;
                (writer, writerHandle) = (pipe, pipe.SafePipeHandle);
            }

            using (writer)
            {
                writer.Write(System.Text.Encoding.UTF8.GetBytes(part));
                writer.Flush();
                // The tool has taken the bytes (so it is past its start and in the read that waits for more).
                var drained = Stopwatch.StartNew();
                while (PendingBytes(writerHandle) > 0)
                {
                    if (process.HasExited) Assert.Fail("it ended before the writer did: " + await stderr);
                    if (drained.Elapsed > TimeSpan.FromSeconds(60)) Assert.Fail("it never read what was written");
                    await Task.Delay(50);
                }
                await Task.Delay(300);
                if (process.HasExited) Assert.Fail("it ended before the writer did: " + await stderr);

                Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try { await process.WaitForExitAsync(deadline.Token); }
                catch (OperationCanceledException)
                {
                    process.Kill();
                    Assert.Fail("one SIGTERM did not end a read from a writer that stalled");
                }
            }

            Assert.Equal(1, process.ExitCode);
            Assert.Matches(@"^error: cancelled[^\n]*\n$", await stderr);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>
    /// `savefile verify -` typed at a terminal used to wait for a savefile from the keyboard; it says what '-' means
    /// instead. The terminal is a pseudo-terminal from script(1).
    /// </summary>
    [SkippableFact]
    public async Task A_savefile_from_a_terminal_is_refused_at_once()
    {
        var shellCommand = string.Join(' ', ToolUnderTest.Command.Concat(["savefile", "verify", "-"]).Select(a => "'" + a.Replace("'", "'\\''") + "'"));
        var psi = new ProcessStartInfo("script") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in new[] { "-qec", shellCommand, "/dev/null" }) psi.ArgumentList.Add(a);
        Process? script;
        try { script = Process.Start(psi); }
        catch (System.ComponentModel.Win32Exception e) { throw new SkipException($"script(1) is not here to give the tool a terminal: {e.Message}"); }
        using var process = script!;
        var output = process.StandardOutput.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try { await process.WaitForExitAsync(deadline.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("it waited for a savefile typed at the terminal");
        }
        var text = await output;
        Skip.If(text.Contains("script:", StringComparison.Ordinal) && !text.Contains("error:", StringComparison.Ordinal),
            "script(1) could not open a pseudo-terminal here: " + text);
        Assert.Equal(1, process.ExitCode);
        Assert.Contains("error: '-' reads a savefile from standard input, which is a terminal here", text, StringComparison.Ordinal);
    }

    /// <summary>Bytes written to a pipe and not read yet (FIONREAD answers on either end).</summary>
    private static int PendingBytes(SafeHandle handle)
    {
        const ulong fionread = 0x541B;
        return Ioctl((int)handle.DangerousGetHandle(), fionread, out var count) == 0 ? count : 0;
    }

    [DllImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static extern int Ioctl(int fd, ulong request, out int count);

    private static bool SigIntIgnored()
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line is not null && (ulong.Parse(line[7..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture) & 0x2) != 0;
    }

    /// <summary>Until the tool holds <paramref name="fifo"/> open (from inside its command, so its signal handlers are in place).</summary>
    private static async Task WaitUntilHeldOpenAsync(Process process, string fifo, Task<string> stderr)
    {
        var waited = Stopwatch.StartNew();
        while (!HoldsOpen(process.Id, fifo))
        {
            if (process.HasExited) Assert.Fail("it did not wait for the writer: " + await stderr);
            if (waited.Elapsed > TimeSpan.FromSeconds(60)) Assert.Fail("it never opened the FIFO");
            await Task.Delay(50);
        }
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
