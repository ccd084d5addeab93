using System.Runtime.InteropServices;
using System.CommandLine;
using System.Text;
using XenIac.Cli;

// Before anything prints: every line on stdout and stderr goes through writers that spell out terminal escapes.
TerminalText.Install();

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
// --help clears the parser's errors, so "xen-iac stroe --help" printed the root's help and exited 0: the typo went
// unnoticed. A word where a subcommand belongs is the same error with or without --help.
if (parseResult.Errors.Count == 0 && parseResult.Action is System.CommandLine.Help.HelpAction
    && parseResult.CommandResult.Command.Subcommands.Count > 0
    && parseResult.UnmatchedTokens.FirstOrDefault(t => !t.StartsWith('-')) is { } word)
{
    Console.Error.WriteLine($"error: Unrecognized command or argument '{CommandLine.OneLine(word)}'. (see '{CommandPath(parseResult)} --help')");
    return ExitCodes.Error;
}
if (parseResult.Errors.Count > 0)
{
    // One line, like every other error; --help of the command that was reached shows the usage. Of several errors the
    // one that quotes what the user typed wrong comes first: "xen-iac stroe push" is about 'stroe', not about a
    // missing command.
    var message = UnknownOption(parseResult, args) is { } unknown
        ? $"unknown option '{unknown}'"
        // Quoted, as the parser quotes them: a bare 'a' (domain info a) is found inside "Required command was not provided".
        : (parseResult.Errors.FirstOrDefault(e => parseResult.UnmatchedTokens.Any(t => e.Message.Contains($"'{t}'", StringComparison.Ordinal)))
           ?? parseResult.Errors[0]).Message;
    Console.Error.WriteLine($"error: {CommandLine.OneLine(message)} (see '{CommandPath(parseResult)} --help')");
    return ExitCodes.Error;
}
// The first Ctrl+C or SIGTERM cancels: handlers clean up (delete temp files, resume a domain libxl was suspending)
// however long that takes, then exit 1 through the usual error line. A second one ends the process at once, after
// deleting the temp files it was writing. A signal within two seconds of the first is the same request, not a second
// one: GNU timeout signals both the tool and its process group, and a terminal's Ctrl+C reaches every process of the
// foreground group, so one request often arrives twice; taken as "end now" it left a partial savefile of many GiB.
const long SameRequestMilliseconds = 2000;
using var cancel = new CancellationTokenSource();
long firstSignalAt = 0;
void OnSignal(PosixSignalContext context)
{
    var now = Math.Max(1, Environment.TickCount64);
    var first = Interlocked.CompareExchange(ref firstSignalAt, now, 0);
    if (first == 0 || now - first < SameRequestMilliseconds)
    {
        context.Cancel = true;
        cancel.Cancel();
        return;
    }
    XenIac.Core.IO.AtomicFile.DeleteTempFilesOfThisProcess();
    context.Cancel = false;
}
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
return await parseResult.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, cancel.Token);

// "xen-iac store push" for the command a command line reached (the root's own name is the executable's, which may be
// a path or a variant's name, so it is spelled out).
static string CommandPath(ParseResult result)
{
    var names = new List<string>();
    for (var command = result.CommandResult; command.Parent is System.CommandLine.Parsing.CommandResult parent; command = parent)
        names.Add(command.Command.Name);
    names.Add("xen-iac");
    names.Reverse();
    return string.Join(' ', names);
}

// A mistyped option before an argument ("store push --tga t FILE") is taken by the parser as the argument's value,
// and the error it then gives is about the word after it ("unrecognized 'FILE'"). The option the reached command
// does not have is what the user got wrong, so that is named.
static string? UnknownOption(ParseResult result, string[] args)
{
    var known = new HashSet<string>(StringComparer.Ordinal);
    for (System.CommandLine.Parsing.SymbolResult? symbol = result.CommandResult; symbol is not null; symbol = symbol.Parent)
        if (symbol is System.CommandLine.Parsing.CommandResult command)
            foreach (var option in command.Command.Options)
            {
                known.Add(option.Name);
                known.UnionWith(option.Aliases);
            }
    return args.TakeWhile(a => a != "--")
        .FirstOrDefault(a => a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2 && !known.Contains(a.Split('=', 2)[0]));
}
