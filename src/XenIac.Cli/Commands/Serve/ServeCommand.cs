using System.CommandLine;
using XenIac.Hosts.Remote;

namespace XenIac.Cli.Commands.Serve;

/// <summary>
/// <c>xen-iac serve --stdio</c>: the far end of an <c>ssh://</c> host. It serves one host over stdin and stdout in
/// XenIac's framed protocol until stdin ends; nothing but frames goes to stdout (notes and errors go to stderr, which
/// ssh carries back to the client).
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var stdio = new Option<bool>("--stdio") { Description = "Serve over standard input and output (as ssh runs it)" };
        var host = CommandLine.HostOption($"Host to serve: 'libxl' (this dom0) or 'embedded:<folder>'; default ${CommandLine.HostVariable}, else libxl on a dom0");
        var command = new Command("serve", "Serve a host to a remote xen-iac (the ssh:// host spec runs this)") { stdio, host };
        command.SetHandler(async (parse, ct) =>
        {
            if (!parse.GetValue(stdio))
            {
                await Console.Error.WriteLineAsync("error: serve needs --stdio (the only transport: ssh runs it)");
                return ExitCodes.Error;
            }
            if (Core.IO.StandardStreams.ConversationProblem() is { } closed)
            {
                await Console.Error.WriteLineAsync($"error: serve: {closed}; serve --stdio reads its client's frames from standard input and answers on standard output (ssh connects both)");
                return ExitCodes.Error;
            }
            var given = parse.GetValue(host);
            var (input, output) = XenHostServer.OpenStandardStreams();
            await using var closeInput = input;
            await using var closeOutput = output;
            var problem = await XenHostServer.ServeAsync(() => CommandLine.HostSpec(given).Open(), input, output, BuildInfo.Version, Console.Error, cancellationToken: ct);
            // The client has been told (an error frame) where it could be; whoever started serve learns it here.
            if (problem is null) return ExitCodes.Ok;
            await Console.Error.WriteLineAsync($"error: serve: {CommandLine.OneLine(problem)}");
            return ExitCodes.Error;
        });
        return command;
    }
}
