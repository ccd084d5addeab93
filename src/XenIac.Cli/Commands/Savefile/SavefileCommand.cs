using System.CommandLine;
using XenIac.Core.SaveFiles;

namespace XenIac.Cli.Commands.Savefile;

/// <summary>
/// <c>xen-iac savefile ...</c>: look into and convert savefiles. Only the command line is defined here; what each
/// command does is in <see cref="SavefileHandlers"/>, what it prints in <see cref="SavefileRendering"/>.
/// </summary>
internal static class SavefileCommand
{
    public static Command Create()
    {
        var command = new Command("savefile", "Inspect, verify and convert xl savefiles");
        command.Subcommands.Add(Inspect());
        command.Subcommands.Add(Verify());
        command.Subcommands.Add(Config());
        command.Subcommands.Add(Convert());
        command.Subcommands.Add(SetConfig());
        command.Subcommands.Add(Seal());
        return command;
    }

    private static Argument<string> FileArgument(string description = "The savefile ('-' for standard input)") =>
        CommandLine.InputFile("FILE", description, stdin: true);

    private static Option<bool> LegacyOption() =>
        new("--legacy") { Description = "Treat the file as the old configless format (the whole file is the image stream)" };

    private static Command Inspect()
    {
        var file = FileArgument();
        var json = CommandLine.JsonOption();
        var legacy = LegacyOption();
        var command = new Command("inspect", "Show a savefile's header, flags and stored config") { file, json, legacy };
        command.SetHandler((parse, ct) =>
            SavefileHandlers.InspectAsync(parse.GetValue(file)!, parse.GetValue(legacy), parse.GetValue(json), ct));
        return command;
    }

    private static Command Verify()
    {
        var file = FileArgument();
        var json = CommandLine.JsonOption();
        var legacy = LegacyOption();
        var integrity = new Option<bool>("--integrity")
        {
            Description = "Also read the page data and check the image against the savefile's integrity record; a file without one fails (add it with 'savefile seal')",
        };
        var command = new Command("verify", "Check the domain image (libxl/libxc migration stream v2) against the specs; exit 1 when it is not valid")
        {
            file, json, legacy, integrity,
        };
        command.SetHandler((parse, ct) =>
            SavefileHandlers.VerifyAsync(parse.GetValue(file)!, parse.GetValue(legacy), parse.GetValue(json), parse.GetValue(integrity), ct));
        return command;
    }

    private static Command Config()
    {
        var file = FileArgument();
        var command = new Command("config", "Write the config stored in a savefile to standard output, byte for byte") { file };
        command.SetHandler((parse, ct) => SavefileHandlers.ConfigAsync(parse.GetValue(file)!, ct));
        return command;
    }

    private static Command Convert()
    {
        var source = CommandLine.InputFile("SOURCE", "The savefile to convert");
        var destination = CommandLine.OutputFile("DEST", "Where to write the result (may be SOURCE: replaced atomically; '-' streams to standard output)", stdout: true, savefile: true);
        var to = ChoiceOption.Create("--to", "Target format: xl (header with config) or legacy (configless, image only)",
            [("xl", SaveFileFormat.Xl), ("legacy", SaveFileFormat.Legacy)], SaveFileFormat.Xl);
        var config = CommandLine.InputFileOption("--config", "Config to store (xl.cfg or libxl JSON); required when SOURCE is legacy; checked like set-config");
        var force = new Option<bool>("--force") { Description = "Store --config even when it is not compatible with the stored config or the image; convert a legacy file whose image is no stream v2" };
        var byteOrder = ChoiceOption.Create("--byte-order", "Byte order of the written header: little or big (default: keep the source's)",
            [("little", SaveFileByteOrder.LittleEndian), ("big", SaveFileByteOrder.BigEndian)]);
        var command = new Command("convert", "Convert a savefile between the xl format and the old configless one, or change its byte order. " +
            "The image is copied unchanged, so an integrity record is kept (rewritten in the new byte order); --to legacy drops it with the header")
        {
            source, destination, to, config, force, byteOrder,
        };
        command.SetHandler((parse, ct) => SavefileHandlers.ConvertAsync(parse.GetValue(source)!, parse.GetValue(destination)!,
            parse.GetValue(to) ?? SaveFileFormat.Xl, parse.GetValue(config), parse.GetValue(byteOrder), parse.GetValue(force), ct));
        return command;
    }

    private static Command Seal()
    {
        var file = CommandLine.InputFile("FILE", "The xl savefile to seal (rewritten atomically, mode 0600)");
        var json = CommandLine.JsonOption();
        var command = new Command("seal", "Add or refresh the savefile's integrity record (SHA-256 of the image, kept in the optional data xl skips); " +
            "check it later with 'savefile verify --integrity'")
        {
            file, json,
        };
        command.SetHandler((parse, ct) => SavefileHandlers.SealAsync(parse.GetValue(file)!, parse.GetValue(json), ct));
        return command;
    }

    private static Command SetConfig()
    {
        var file = CommandLine.InputFile("FILE", "The savefile whose stored config to replace (rewritten atomically, mode 0600)");
        var cfg = CommandLine.InputFile("CFG", "The new config: xl.cfg (stored as text) or libxl JSON (stored as JSON)");
        var force = new Option<bool>("--force") { Description = "Write the config even when it is not compatible with the stored one" };
        var command = new Command("set-config", "Replace the config stored in a savefile, refusing one the saved guest could not resume with (an integrity record is kept: the image is unchanged)")
        {
            file, cfg, force,
        };
        command.SetHandler((parse, ct) =>
            SavefileHandlers.SetConfigAsync(parse.GetValue(file)!, parse.GetValue(cfg)!, parse.GetValue(force), ct));
        return command;
    }
}
