using System.CommandLine;
using XenIac.Core.SaveFiles;

namespace XenIac.Cli.Commands.Config;

/// <summary>
/// <c>xen-iac config ...</c>: read domain configs (xl.cfg, libxl JSON, or the one stored in a savefile) and compare
/// them. The command line only; behaviour in <see cref="ConfigHandlers"/>, output in <see cref="ConfigRendering"/>.
/// </summary>
internal static class ConfigCommand
{
    public static Command Create()
    {
        var command = new Command("config", "Read xl.cfg and libxl JSON domain configs and check them against each other");
        command.Subcommands.Add(Show());
        command.Subcommands.Add(Check());
        command.Subcommands.Add(Convert());
        return command;
    }

    private static Command Show()
    {
        var file = CommandLine.InputFile("FILE", "An xl.cfg, a libxl JSON config, or a savefile (its stored config)");
        var json = CommandLine.JsonOption();
        var command = new Command("show", "Show what a config means for save and restore: the domain model XenIac reads from it") { file, json };
        command.SetHandler((parse, ct) => ConfigHandlers.ShowAsync(parse.GetValue(file)!, parse.GetValue(json), ct));
        return command;
    }

    private static Command Convert()
    {
        var file = CommandLine.InputFile("FILE", "An xl.cfg, a libxl JSON config, or a savefile (its stored config)");
        var to = ChoiceOption.Create("--to", "json: libxl JSON (what a libxl host restores with); xl: xl.cfg text",
            [("json", SaveFileConfigFormat.Json), ("xl", SaveFileConfigFormat.XlCfg)], SaveFileConfigFormat.Json);
        var strict = new Option<bool>("--strict") { Description = "Fail (exit 1) when a setting has no form in the target language instead of warning" };
        var command = new Command("convert", "Convert a config between xl.cfg and libxl JSON through the domain model") { file, to, strict };
        command.SetHandler((parse, ct) =>
            ConfigHandlers.ConvertAsync(parse.GetValue(file)!, parse.GetValue(to) ?? SaveFileConfigFormat.Json, parse.GetValue(strict), ct));
        return command;
    }

    private static Command Check()
    {
        var saved = CommandLine.InputFile("SAVED", "The config the domain was saved with: a savefile or a config file");
        var over = CommandLine.InputFile("OVERRIDE", "The config to restore it with: a savefile or a config file");
        var json = CommandLine.JsonOption();
        var command = new Command("check", "Check whether a saved domain can be restored with another config (exit 1 on any error-level finding)")
        {
            saved, over, json,
        };
        command.SetHandler((parse, ct) =>
            ConfigHandlers.CheckAsync(parse.GetValue(saved)!, parse.GetValue(over)!, parse.GetValue(json), ct));
        return command;
    }
}
