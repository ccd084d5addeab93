using System.Text;
using System.CommandLine;
using System.Text.Json.Nodes;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;

namespace XenIac.Cli.Commands;

/// <summary><c>xen-iac config ...</c>: read domain configs (xl.cfg, libxl JSON, or the one stored in a savefile) and compare them.</summary>
internal static class ConfigCommands
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
        command.SetHandler(async (parse, ct) =>
        {
            var source = await ConfigText.LoadAsync(parse.GetValue(file)!, ct);
            var settings = source.ToModel().ToSettings();
            if (parse.GetValue(json))
            {
                var node = new JsonObject
                {
                    ["file"] = source.Source,
                    ["format"] = FormatName(source.Language),
                    ["savefile"] = source.IsSavefile,
                    ["settings"] = new JsonObject(settings.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
                };
                CommandLine.WriteJson(node);
            }
            else
            {
                Console.Out.WriteLine($"# {source.DisplayName}: {FormatName(source.Language)} config");
                var width = settings.Keys.Max(k => k.Length);
                foreach (var (k, v) in settings) Console.Out.WriteLine($"{k.PadRight(width)} = {v}");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Convert()
    {
        var file = CommandLine.InputFile("FILE", "An xl.cfg, a libxl JSON config, or a savefile (its stored config)");
        var to = new Option<string>("--to") { Description = "json: libxl JSON (what a libxl host restores with); xl: xl.cfg text", DefaultValueFactory = _ => "json" };
        to.AcceptOnlyFromAmong("json", "xl");
        var strict = new Option<bool>("--strict") { Description = "Fail (exit 1) when a setting has no form in the target language instead of warning" };
        var command = new Command("convert", "Convert a config between xl.cfg and libxl JSON through the domain model") { file, to, strict };
        command.SetHandler(async (parse, ct) =>
        {
            var model = (await ConfigText.LoadAsync(parse.GetValue(file)!, ct)).ToModel();
            IReadOnlyList<string> notConverted;
            byte[] output;
            if (parse.GetValue(to) == "json")
                output = Encoding.UTF8.GetBytes(model.ToLibxlJson(out notConverted).ToJsonString(CommandLine.JsonOptions) + "\n");
            else
                output = model.ToXlConfig(out notConverted).ToBytes(); // the exact bytes: xl.cfg strings may hold bytes that are not UTF-8
            if (notConverted.Count > 0)
            {
                var message = $"not converted (no {parse.GetValue(to)} form): {string.Join(", ", notConverted)}";
                if (parse.GetValue(strict)) throw new ArgumentException(message);
                await Console.Error.WriteLineAsync("warning: " + message);
            }
            await Console.Out.FlushAsync(ct);
            await using var stdout = Console.OpenStandardOutput();
            await stdout.WriteAsync(output, ct);
            return ExitCodes.Ok;
        });
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
        command.SetHandler(async (parse, ct) =>
        {
            var old = (await ConfigText.LoadAsync(parse.GetValue(saved)!, ct)).ToModel();
            var @new = (await ConfigText.LoadAsync(parse.GetValue(over)!, ct)).ToModel();
            var findings = ConfigCompatibility.Check(old, @new);
            var compatible = ConfigCompatibility.IsCompatible(findings);
            if (parse.GetValue(json))
            {
                CommandLine.WriteJson(new JsonObject
                {
                    ["compatible"] = compatible,
                    ["findings"] = new JsonArray([.. findings.Select(f => (JsonNode)new JsonObject
                    {
                        ["severity"] = SeverityName(f.Severity),
                        ["setting"] = f.Setting,
                        ["old"] = f.Old,
                        ["new"] = f.New,
                        ["reason"] = f.Reason,
                    })]),
                });
            }
            else
            {
                WriteFindings(findings);
                Console.Out.WriteLine(compatible ? "compatible" : "not compatible");
            }
            return compatible ? ExitCodes.Ok : ExitCodes.Error;
        });
        return command;
    }

    internal static void WriteFindings(IEnumerable<CompatibilityFinding> findings, TextWriter? writer = null)
    {
        writer ??= Console.Out;
        foreach (var f in findings)
            writer.WriteLine($"{SeverityName(f.Severity),-7} {f.Setting}: {f.Old ?? "(unset)"} -> {f.New ?? "(unset)"} ({f.Reason})");
    }

    internal static string SeverityName(FindingSeverity s) => s switch
    {
        FindingSeverity.Ok => "ok",
        FindingSeverity.Warning => "warning",
        _ => "error",
    };

    internal static string FormatName(SaveFileConfigFormat f) => f == SaveFileConfigFormat.Json ? "json" : "xl";
}
