using System.Runtime.InteropServices;
using System.CommandLine;
using System.Text;
using XenIac.Cli;

// Console's own stdout writer flushes every 256 characters: a 600 KB `plan --json` went out in 2,489 write calls.
// This one still flushes after every write (a long-running command's lines appear as they happen), in larger chunks.
Console.SetOut(TextWriter.Synchronized(new StreamWriter(CommandLine.Stdout, new UTF8Encoding(false), 16 * 1024) { AutoFlush = true }));

var root = CommandTree.Build(args);

// No response files: System.CommandLine reads "@x" as "the arguments in file x", so a savefile or tag named "@..." was
// silently replaced by a file's contents (or a "response file not found" error) instead of being itself.
ParseResult parseResult;
try
{
    parseResult = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
}
catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException or InvalidOperationException)
{
    // A validator that throws instead of adding an error (a bug, but one the user must not see as a crash).
    Console.Error.WriteLine($"error: {CommandLine.OneLine(e.Message)} (see 'xen-iac --help')");
    return ExitCodes.Error;
}
if (parseResult.Errors.Count > 0)
{
    // One line, like every other error; --help shows the usage.
    Console.Error.WriteLine($"error: {CommandLine.OneLine(parseResult.Errors[0].Message)} (see 'xen-iac --help')");
    return ExitCodes.Error;
}
// The first Ctrl+C or SIGTERM cancels: handlers clean up (delete temp files, resume a domain libxl was suspending)
// however long that takes, then exit 1 through the usual error line. A second one ends the process at once.
using var cancel = new CancellationTokenSource();
void OnSignal(PosixSignalContext context)
{
    context.Cancel = !cancel.IsCancellationRequested;
    cancel.Cancel();
}
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
return await parseResult.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, cancel.Token);
