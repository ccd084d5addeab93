using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using XenIac.Core;

namespace XenIac.Cli;

/// <summary>Shared options and the error policy: one <c>error:</c> line on stderr, exit 1, stack only with --verbose.</summary>
internal static class CommandLine
{
    public static readonly Option<bool> Verbose = new("--verbose")
    {
        Description = "Print stack traces for errors",
        Recursive = true,
    };

    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public static Option<bool> JsonOption() => new("--json") { Description = "Print machine-readable JSON" };

    public static void SetHandler(this Command command, Func<ParseResult, CancellationToken, Task<int>> handler) =>
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            try
            {
                return await handler(parseResult, cancellationToken);
            }
            catch (Reconciler.Manifests.ManifestException e)
            {
                // Every manifest problem on its own line, each with its file:line:column, so all can be fixed at once.
                foreach (var error in e.Errors) await Console.Error.WriteLineAsync($"error: {OneLine(error.ToString())}");
                if (parseResult.GetValue(Verbose)) await Console.Error.WriteLineAsync(e.ToString());
                return ExitCodes.Error;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await Console.Error.WriteLineAsync("error: cancelled; savefiles are replaced only when complete, so none was left half-written");
                return ExitCodes.Error;
            }
            catch (Exception e) when (IsReportable(e))
            {
                await Console.Error.WriteLineAsync($"error: {OneLine(e.Message)}");
                if (parseResult.GetValue(Verbose)) await Console.Error.WriteLineAsync(e.ToString());
                return ExitCodes.Error;
            }
        });

    private static bool IsReportable(Exception e) =>
        e is XenIacException or IOException or UnauthorizedAccessException or OperationCanceledException
            or ArgumentException or InvalidOperationException or JsonException;

    public static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();

    public static void WriteJson(JsonNode node) => Console.Out.WriteLine(node.ToJsonString(JsonOptions));

    /// <summary>Opens FILE for reading; "-" means standard input.</summary>
    public static Stream OpenInput(string path) =>
        path == "-" ? Console.OpenStandardInput() : new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024);
}
