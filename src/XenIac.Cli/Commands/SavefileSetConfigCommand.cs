using XenIac.Core.SaveFiles;
using System.CommandLine;
using XenIac.Core.Config;

namespace XenIac.Cli.Commands;

/// <summary><c>xen-iac savefile set-config FILE CFG [--force]</c>.</summary>
internal static class SavefileSetConfigCommand
{
    public static Command Create()
    {
        var file = CommandLine.InputFile("FILE", "The savefile whose stored config to replace (rewritten atomically, mode 0600)");
        var cfg = CommandLine.InputFile("CFG", "The new config: xl.cfg (stored as text) or libxl JSON (stored as JSON)");
        var force = new Option<bool>("--force") { Description = "Write the config even when it is not compatible with the stored one" };
        var command = new Command("set-config", "Replace the config stored in a savefile, refusing one the saved guest could not resume with")
        {
            file, cfg, force,
        };
        command.SetHandler(async (parse, ct) =>
        {
            var path = parse.GetValue(file)!;
            var cfgPath = parse.GetValue(cfg)!;
            var text = await ConfigText.ReadTextAsync(cfgPath, ct);
            var findings = await CommandLine.OnSavefileAsync(path,
                () => SavefileConfigEditor.SetConfigAsync(path, text, cfgPath, parse.GetValue(force), cancellationToken: ct));
            ConfigCommands.WriteFindings(findings);
            Console.Out.WriteLine($"wrote {path} (config from {cfgPath}, stored as {(ConfigText.Detect(text) == SaveFileConfigFormat.Json ? "json" : "xl.cfg text")})");
            return ExitCodes.Ok;
        });
        return command;
    }
}
