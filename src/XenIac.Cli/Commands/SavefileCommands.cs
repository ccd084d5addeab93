using XenIac.Core;
using System.CommandLine;
using System.Text.Json.Nodes;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;

namespace XenIac.Cli.Commands;

/// <summary><c>xen-iac savefile ...</c>: look into and convert savefiles.</summary>
internal static class SavefileCommands
{
    public static Command Create()
    {
        var command = new Command("savefile", "Inspect, verify and convert xl savefiles");
        command.Subcommands.Add(Inspect());
        command.Subcommands.Add(Verify());
        command.Subcommands.Add(Config());
        command.Subcommands.Add(Convert());
        command.Subcommands.Add(SavefileSetConfigCommand.Create());
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
        command.SetHandler(async (parse, ct) =>
        {
            await using var reader = await OpenAsync(parse.GetValue(file)!, parse.GetValue(legacy), ct);
            var node = Describe(reader.Header);
            var image = SaveFileVerification.Verify(reader);
            if (parse.GetValue(json))
            {
                node["image"] = DescribeImage(image);
                CommandLine.WriteJson(node);
            }
            else
            {
                var h = reader.Header;
                Console.Out.WriteLine($"format:               {node["format"]}");
                if (h.Format == SaveFileFormat.Xl)
                {
                    Console.Out.WriteLine($"byte order:           {node["byteOrder"]}");
                    var names = SaveFileHeader.DescribeMandatoryFlags(h.MandatoryFlags);
                    Console.Out.WriteLine($"mandatory flags:      0x{h.MandatoryFlags:x}{(names.Count > 0 ? $" ({string.Join(", ", names)})" : "")}");
                    Console.Out.WriteLine($"optional flags:       0x{h.OptionalFlags:x}");
                    Console.Out.WriteLine($"optional data length: {h.OptionalDataLength}");
                    Console.Out.WriteLine($"config:               {node["configFormat"]}, {h.ConfigLength} bytes");
                    Console.Out.WriteLine($"extension:            {h.Extension.Length} bytes");
                    Console.Out.WriteLine($"image stream:         {(h.IsStreamV2 ? "v2" : "pre-v2 (legacy libxc format)")}");
                }
                Console.Out.WriteLine($"image offset:         {h.ImageOffset}");
                Console.Out.WriteLine($"image:                {ImageLine(image)}");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Verify()
    {
        var file = FileArgument();
        var json = CommandLine.JsonOption();
        var legacy = LegacyOption();
        var command = new Command("verify", "Check the domain image (libxl/libxc migration stream v2) against the specs; exit 1 when it is not valid")
        {
            file, json, legacy,
        };
        command.SetHandler(async (parse, ct) =>
        {
            ImageVerification result;
            try
            {
                await using var reader = await OpenAsync(parse.GetValue(file)!, parse.GetValue(legacy), ct);
                result = SaveFileVerification.Verify(reader);
            }
            catch (XenFormatException e) when (parse.GetValue(json))
            {
                // A broken savefile header is a failed verification too: scripts get the same JSON shape.
                result = new ImageVerification(ImageVerificationStatus.Invalid, new ImageSummary(),
                    new ImageStreamProblem(e.Error, e.Message, e.Offset, e.RecordIndex));
            }
            if (parse.GetValue(json)) CommandLine.WriteJson(DescribeImage(result));
            else if (result.IsValid) Console.Out.WriteLine($"valid: {ImageLine(result)}");
            else await Console.Error.WriteLineAsync($"error: {CommandLine.OneLine(result.Problem!.ToString())}");
            return result.IsValid ? ExitCodes.Ok : ExitCodes.Error;
        });
        return command;
    }

    /// <summary>The image fields of <c>savefile verify --json</c> and of <c>inspect --json</c>'s "image" object.</summary>
    internal static JsonObject DescribeImage(ImageVerification result)
    {
        var s = result.Summary;
        var node = new JsonObject
        {
            ["valid"] = result.IsValid,
            ["status"] = result.Status switch
            {
                ImageVerificationStatus.Valid => "valid",
                ImageVerificationStatus.NotVerified => "not-verified",
                _ => "invalid",
            },
            ["guestType"] = s.GuestType == GuestType.Unknown ? null : s.GuestType.ToString(),
            ["pageShift"] = s.PageShift,
            ["pages"] = s.Pages,
            ["pagesByType"] = ToJson(s.PagesByType),
            ["records"] = ToJson(s.Records),
            ["vcpus"] = s.VCpus,
            ["checkpoints"] = s.Checkpoints,
            ["xenVersion"] = s.XenVersion,
            ["libxcVersion"] = s.LibxcVersion == 0 ? null : s.LibxcVersion,
        };
        if (result.Problem is { } p)
            node["error"] = new JsonObject { ["message"] = p.Message, ["offset"] = p.Offset, ["recordIndex"] = p.RecordIndex };
        return node;
    }

    private static JsonObject ToJson(IReadOnlyDictionary<string, long> counts)
    {
        var o = new JsonObject();
        foreach (var (k, v) in counts) o[k] = v;
        return o;
    }

    private static string ImageLine(ImageVerification r)
    {
        var s = r.Summary;
        if (r.Status == ImageVerificationStatus.NotVerified) return r.Problem!.Message;
        var what = $"{s.GuestType} guest from Xen {s.XenVersion}, {s.VCpus} vCPU{(s.VCpus == 1 ? "" : "s")}, " +
                   $"{s.Pages} pages of {(1 << s.PageShift) / 1024} KiB, {s.RecordCount} records, {s.Checkpoints} checkpoints";
        return r.IsValid ? what : $"invalid: {r.Problem}";
    }

    private static Command Config()
    {
        var file = FileArgument();
        var command = new Command("config", "Write the config stored in a savefile to standard output, byte for byte") { file };
        command.SetHandler(async (parse, ct) =>
        {
            await using var reader = await OpenAsync(parse.GetValue(file)!, legacy: false, ct);
            if (reader.Header.ConfigFormat == SaveFileConfigFormat.None)
                throw new XenFormatException(FormatError.InvalidConfig, "the savefile stores no config");
            await using var stdout = Console.OpenStandardOutput();
            await stdout.WriteAsync(reader.Header.ConfigContent, ct);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Convert()
    {
        var source = CommandLine.InputFile("SOURCE", "The savefile to convert");
        var destination = CommandLine.OutputFile("DEST", "Where to write the result (may be SOURCE: replaced atomically; '-' streams to standard output)", stdout: true);
        var to = new Option<string>("--to") { Description = "Target format: xl (header with config) or legacy (configless, image only)", DefaultValueFactory = _ => "xl" };
        to.AcceptOnlyFromAmong("xl", "legacy");
        var config = CommandLine.InputFileOption("--config", "Config to store (xl.cfg or libxl JSON); required when SOURCE is legacy; checked like set-config");
        var force = new Option<bool>("--force") { Description = "Store --config even when it is not compatible with the stored config or the image" };
        var byteOrder = new Option<string?>("--byte-order") { Description = "Byte order of the written header: little or big (default: keep the source's)" };
        byteOrder.AcceptOnlyFromAmong("little", "big");
        var command = new Command("convert", "Convert a savefile between the xl format and the old configless one, or change its byte order")
        {
            source, destination, to, config, force, byteOrder,
        };
        command.SetHandler((parse, ct) => CommandLine.OnSavefileAsync(parse.GetValue(source)!, async () =>
        {
            var src = parse.GetValue(source)!;
            var dst = parse.GetValue(destination)!;
            var toStdout = dst == CommandLine.StdioName;
            // With the result on standard output, everything else goes to standard error.
            var messages = toStdout ? Console.Error : Console.Out;
            var configPath = parse.GetValue(config);
            var order = parse.GetValue(byteOrder);
            var sourceIsXl = SaveFileHeader.LooksLikeXlSavefile(src);

            // Any config that goes into the result is checked first, by the rule set-config uses.
            async Task<(string Text, SaveFileConfigFormat Format)> CheckedConfigAsync(string path)
            {
                var proposed = ConfigText.FromText(await ConfigText.ReadTextAsync(path, ct), path);
                var findings = await SavefileConfigEditor.CheckForSavefileAsync(src, sourceIsLegacy: !sourceIsXl, proposed, parse.GetValue(force), ct);
                ConfigCommands.WriteFindings(findings, messages);
                return (proposed.Text, proposed.Language);
            }

            Func<SaveFileHeader, bool, SaveFileHeader> transform;
            if (parse.GetValue(to) == "legacy")
            {
                if (!sourceIsXl) throw new ArgumentException($"'{src}' is not an xl savefile; nothing to convert to legacy");
                if (configPath is not null) throw new ArgumentException("--config has no meaning for --to legacy: the legacy format stores no config");
                transform = (_, _) => SaveFileHeader.Legacy;
            }
            else if (sourceIsXl)
            {
                var newConfig = configPath is null ? ((string, SaveFileConfigFormat)?)null : await CheckedConfigAsync(configPath);
                transform = (h, _) =>
                {
                    var result = newConfig is { } c ? h.WithConfig(c.Item1, c.Item2) : h;
                    return order is null ? result : result with { ByteOrder = ParseByteOrder(order) };
                };
            }
            else
            {
                if (configPath is null)
                    throw new ArgumentException($"'{src}' has no xl header (legacy format): give its config with --config");
                var (text, format) = await CheckedConfigAsync(configPath);
                transform = (_, isV2) => SaveFileHeader.Create(text, format, order is null ? SaveFileByteOrder.LittleEndian : ParseByteOrder(order), streamV2: isV2);
            }

            SaveFileHeader written;
            if (toStdout)
            {
                await using var stdout = Console.OpenStandardOutput();
                written = await SaveFileRewriter.RewriteAsync(src, stdout, sourceIsLegacy: !sourceIsXl, transform, cancellationToken: ct);
            }
            else
                written = await SaveFileRewriter.RewriteAsync(src, dst, sourceIsLegacy: !sourceIsXl, transform, cancellationToken: ct);
            if (written.Format == SaveFileFormat.Legacy)
                await Console.Error.WriteLineAsync("note: the legacy format stores no config; keep it beside the file to restore");
            await messages.WriteLineAsync($"wrote {(toStdout ? "standard output" : dst)} ({(written.Format == SaveFileFormat.Legacy ? "legacy" : "xl")} format, image at offset {written.ImageOffset})");
            return ExitCodes.Ok;
        }));
        return command;
    }

    internal static Task<SaveFileReader> OpenAsync(string path, bool legacy, CancellationToken ct) =>
        CommandLine.OnSavefileAsync(path, async () =>
        {
            var stream = CommandLine.OpenInput(path);
            return legacy ? SaveFileReader.OpenLegacy(stream) : await SaveFileReader.OpenAsync(stream, cancellationToken: ct);
        });

    /// <summary>The header fields of <c>savefile inspect --json</c> (the contract scripts rely on).</summary>
    internal static JsonObject Describe(SaveFileHeader h) => new()
    {
        ["format"] = h.Format == SaveFileFormat.Legacy ? "legacy" : "xl",
        ["byteOrder"] = h.Format == SaveFileFormat.Legacy ? null : h.ByteOrder == SaveFileByteOrder.LittleEndian ? "little" : "big",
        ["mandatoryFlags"] = h.MandatoryFlags,
        ["mandatoryFlagNames"] = new JsonArray(SaveFileHeader.DescribeMandatoryFlags(h.MandatoryFlags).Select(n => (JsonNode)n!).ToArray()),
        ["optionalFlags"] = h.OptionalFlags,
        ["optionalDataLength"] = h.OptionalDataLength,
        ["configFormat"] = h.ConfigFormat switch
        {
            SaveFileConfigFormat.Json => "json",
            SaveFileConfigFormat.XlCfg => "xl",
            _ => "none",
        },
        ["configLength"] = h.ConfigLength,
        ["extensionLength"] = h.Extension.Length,
        ["streamV2"] = h.IsStreamV2,
        ["imageOffset"] = h.ImageOffset,
    };

    private static SaveFileByteOrder ParseByteOrder(string value) =>
        value == "big" ? SaveFileByteOrder.BigEndian : SaveFileByteOrder.LittleEndian;
}
