using System.CommandLine;
using XenIac.Cli;
using XenIac.Cli.Commands;

var root = new RootCommand("xen-iac: save and restore Xen domains as code");
root.Options.Add(CommandLine.Verbose);
root.Subcommands.Add(SavefileCommands.Create());
root.Subcommands.Add(ConfigCommands.Create());
root.Subcommands.Add(DomainCommands.Create());
foreach (var command in ReconcileCommands.Create()) root.Subcommands.Add(command);

var parseResult = root.Parse(args);
if (parseResult.Errors.Count > 0)
{
    // One line, like every other error; --help shows the usage.
    Console.Error.WriteLine($"error: {CommandLine.OneLine(parseResult.Errors[0].Message)} (see 'xen-iac --help')");
    return ExitCodes.Error;
}
return await parseResult.InvokeAsync();
