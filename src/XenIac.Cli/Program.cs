using System.Runtime.InteropServices;
using System.CommandLine;
using XenIac.Cli;
using XenIac.Cli.Commands.Config;
using XenIac.Cli.Commands.Domain;
using XenIac.Cli.Commands.Import;
using XenIac.Cli.Commands.Reconcile;
using XenIac.Cli.Commands.Savefile;
using XenIac.Cli.Commands.Store;

var root = new RootCommand("xen-iac: save and restore Xen domains as code");
root.Options.Add(CommandLine.Verbose);
root.Subcommands.Add(SavefileCommand.Create());
root.Subcommands.Add(ConfigCommand.Create());
root.Subcommands.Add(DomainCommand.Create());
root.Subcommands.Add(XenIac.Cli.Commands.Host.HostCommand.Create());
root.Subcommands.Add(StoreCommand.Create());
foreach (var command in ReconcileCommand.Create()) root.Subcommands.Add(command);
root.Subcommands.Add(ImportCommand.Create());
root.Subcommands.Add(XenIac.Cli.Commands.Loop.LoopCommand.Create());
root.Subcommands.Add(XenIac.Cli.Commands.Serve.ServeCommand.Create());

var parseResult = root.Parse(args);
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
