using XenIac.Cli.Commands.Config;
using XenIac.Core;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;

namespace XenIac.Cli.Commands.Savefile;

/// <summary>What the <c>savefile</c> commands do, given their parsed values; each returns the exit code.</summary>
internal static class SavefileHandlers
{
    public static async Task<int> InspectAsync(string path, bool legacy, bool json, CancellationToken ct)
    {
        await using var reader = await OpenAsync(path, legacy, ct);
        var image = SaveFileVerification.Verify(reader);
        var shown = path == "-" ? "standard input" : path;
        if (json) CommandLine.WriteJson(SavefileRendering.InspectJson(reader.Header, image, shown));
        else SavefileRendering.WriteInspect(reader.Header, image, shown);
        return ExitCodes.Ok;
    }

    public static async Task<int> VerifyAsync(string path, bool legacy, bool json, bool integrity, CancellationToken ct)
    {
        if (integrity && legacy)
            throw new ArgumentException("--integrity needs an xl savefile: a legacy file has no header to carry the record");
        ImageVerification result;
        SaveFileIntegrityResult? check = null;
        string? configProblem = null;
        try
        {
            await using var reader = await OpenAsync(path, legacy, ct);
            configProblem = SavefileRendering.StoredConfigProblem(reader.Header, path == "-" ? "standard input" : path);
            var running = integrity ? reader.BeginIntegrityCheck() : null;
            result = SaveFileVerification.Verify(reader);
            if (running is not null) check = await running.CompleteAsync(ct);
        }
        catch (XenFormatException e) when (json)
        {
            // A broken savefile header is a failed verification too: scripts get the same JSON shape.
            result = new ImageVerification(ImageVerificationStatus.Invalid, new ImageSummary(),
                new ImageStreamProblem(e.Error, e.Message, e.Offset, e.RecordIndex));
        }
        if (json)
        {
            var node = SavefileRendering.DescribeImage(result);
            if (integrity) node["integrity"] = SavefileRendering.DescribeIntegrityCheck(check);
            // "valid" and "status" stay the image's; the config's problem is beside them, and fails the exit code.
            node["configProblem"] = configProblem;
            CommandLine.WriteJson(node);
        }
        else
        {
            // "valid" only when nothing failed: beside an integrity mismatch it read as a verdict on the file.
            if (result.IsValid && configProblem is null && check is null or { IsValid: true }) Console.Out.WriteLine($"valid: {SavefileRendering.ImageLine(result)}");
            if (check is { IsValid: true }) Console.Out.WriteLine($"integrity: ok, {check.Actual}");
            // One error line, as for every failure: a damaged image usually fails its digest too.
            var problems = new List<string>();
            if (!result.IsValid) problems.Add(result.Problem!.ToString());
            if (check is { IsValid: false }) problems.Add(result.IsValid ? check.Problem! : $"and its integrity check: {check.Problem}");
            if (configProblem is not null)
                problems.Add((problems.Count == 0 ? $"the image is valid ({SavefileRendering.ImageLine(result)}), but " : "and ") +
                             $"its stored config does not read, so xl restore of it fails unless given another config " +
                             $"('savefile set-config' replaces it): {configProblem}");
            if (problems.Count > 0) await Console.Error.WriteLineAsync($"error: {CommandLine.OneLine(string.Join("; ", problems))}");
        }
        return result.IsValid && configProblem is null && check is null or { IsValid: true } ? ExitCodes.Ok : ExitCodes.Error;
    }

    public static async Task<int> ConfigAsync(string path, CancellationToken ct)
    {
        await using var reader = await OpenAsync(path, legacy: false, ct);
        if (reader.Header.ConfigFormat == SaveFileConfigFormat.None)
            throw new XenFormatException(FormatError.InvalidConfig, "the savefile stores no config");
        await using var stdout = Console.OpenStandardOutput();
        await stdout.WriteAsync(reader.Header.ConfigContent, ct);
        return ExitCodes.Ok;
    }

    public static Task<int> ConvertAsync(string src, string dst, SaveFileFormat to, string? configPath, SaveFileByteOrder? order, bool force,
        CancellationToken ct) => CommandLine.OnSavefileAsync(src, async () =>
    {
        CommandLine.RequireRereadable(src, "savefile convert");
        var toStdout = dst == CommandLine.StdioName;
        // With the result on standard output, everything else goes to standard error.
        var messages = toStdout ? Console.Error : Console.Out;
        var source = SaveFileHeader.LooksLikeXlSavefile(src) ? SaveFileFormat.Xl : SaveFileFormat.Legacy;
        var conversion = SaveFileConversion.Decide(source, to, configGiven: configPath is not null, order, allowPreV2Image: force);
        if (conversion.IsRefused) throw new ArgumentException(SavefileRendering.Refusal(conversion.Refusal, src));

        // Any config that goes into the result is checked first, by the rule set-config uses.
        (string Text, SaveFileConfigFormat Format)? config = null;
        if (conversion.StoresConfig)
        {
            var proposed = ConfigText.FromText(await ConfigText.ReadTextAsync(configPath!, ct), configPath);
            var findings = await SavefileConfigEditor.CheckForSavefileAsync(src, conversion.SourceIsLegacy, proposed, force, ct);
            ConfigRendering.WriteFindings(findings, messages);
            config = (proposed.Text, proposed.Language);
        }

        SaveFileHeader Transform(SaveFileHeader header, bool streamV2) => conversion.HeaderFor(header, streamV2, config);
        SaveFileHeader written;
        if (toStdout)
        {
            await using var stdout = XenIac.Core.IO.StandardStreams.OpenOutput();
            written = await SaveFileRewriter.RewriteAsync(src, stdout, conversion.SourceIsLegacy, Transform, cancellationToken: ct);
        }
        else
            written = await SaveFileRewriter.RewriteAsync(src, dst, conversion.SourceIsLegacy, Transform, cancellationToken: ct);
        if (written.Format == SaveFileFormat.Legacy)
            await Console.Error.WriteLineAsync("note: the legacy format stores no config; keep it beside the file to restore");
        await messages.WriteLineAsync(SavefileRendering.WroteLine(toStdout ? "standard output" : dst, written));
        return ExitCodes.Ok;
    });

    public static async Task<int> SealAsync(string path, bool json, CancellationToken ct)
    {
        CommandLine.RequireRereadable(path, "savefile seal");
        // The header alone (a few KiB): to say whether the record changed.
        var previous = await CommandLine.OnSavefileAsync(path, () =>
        {
            using var reader = SaveFileReader.Open(path);
            return Task.FromResult(reader.Header.Integrity);
        });
        var written = await CommandLine.OnSavefileAsync(path, () => SaveFileRewriter.SealAsync(path, cancellationToken: ct));
        var record = written.Integrity!;
        // A record that no longer matched means the image changed after it was sealed (damage, or an edit): sealing
        // again blesses the image as it is now, which the user must hear of rather than read as routine.
        if (previous is not null && !record.Equals(previous))
            await Console.Error.WriteLineAsync(CommandLine.OneLine($"warning: {path}: the old integrity record did not match the image ({previous}); " +
                "the image changed after it was sealed, and the new record seals it as it is now"));
        if (json)
            CommandLine.WriteJson(new System.Text.Json.Nodes.JsonObject
            {
                ["file"] = path,
                ["integrity"] = SavefileRendering.DescribeIntegrity(record),
                ["changed"] = !record.Equals(previous),
            });
        else
            Console.Out.WriteLine($"sealed {path}: {record}{(previous is null ? "" : record.Equals(previous) ? " (record unchanged)" : " (record refreshed)")}");
        return ExitCodes.Ok;
    }

    public static async Task<int> SetConfigAsync(string path, string cfgPath, bool force, CancellationToken ct)
    {
        CommandLine.RequireRereadable(path, "savefile set-config");
        var text = await ConfigText.ReadTextAsync(cfgPath, ct);
        var findings = await CommandLine.OnSavefileAsync(path,
            () => SavefileConfigEditor.SetConfigAsync(path, text, cfgPath, force, cancellationToken: ct));
        ConfigRendering.WriteFindings(findings);
        Console.Out.WriteLine($"wrote {CommandLine.OneLine(path)} (config from {CommandLine.OneLine(cfgPath)}, stored as {(ConfigText.Detect(text) == SaveFileConfigFormat.Json ? "json" : "xl.cfg text")})");
        return ExitCodes.Ok;
    }

    internal static Task<SaveFileReader> OpenAsync(string path, bool legacy, CancellationToken ct) =>
        CommandLine.OnSavefileAsync(path, async () =>
        {
            var stream = CommandLine.OpenInput(path);
            return legacy ? SaveFileReader.OpenLegacy(stream) : await SaveFileReader.OpenAsync(stream, cancellationToken: ct);
        });
}
