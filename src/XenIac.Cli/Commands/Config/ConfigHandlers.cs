using System.Text;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;

namespace XenIac.Cli.Commands.Config;

/// <summary>What the <c>config</c> commands do, given their parsed values; each returns the exit code.</summary>
internal static class ConfigHandlers
{
    public static async Task<int> ShowAsync(string path, bool json, CancellationToken ct)
    {
        var source = await LoadForCheckAsync(path, "FILE", ct);
        var settings = source.ToModel().ToSettings();
        if (json) CommandLine.WriteJson(ConfigRendering.ShowJson(source, settings));
        else ConfigRendering.WriteShow(source, settings);
        return ExitCodes.Ok;
    }

    public static async Task<int> ConvertAsync(string path, SaveFileConfigFormat to, bool strict, CancellationToken ct)
    {
        var model = (await LoadForCheckAsync(path, "FILE", ct)).ToModel();
        IReadOnlyList<string> notConverted;
        byte[] output;
        if (to == SaveFileConfigFormat.Json)
            output = Encoding.UTF8.GetBytes(model.ToLibxlJson(out notConverted).ToJsonString(CommandLine.JsonOptions) + "\n");
        else
            output = model.ToXlConfig(out notConverted).ToBytes(); // the exact bytes: xl.cfg strings may hold bytes that are not UTF-8
        if (notConverted.Count > 0)
        {
            var message = $"not converted (no {ConfigRendering.FormatName(to)} form): {string.Join(", ", notConverted)}";
            if (strict) throw new ArgumentException(message);
            await Console.Error.WriteLineAsync("warning: " + message);
        }
        await Console.Out.FlushAsync(ct);
        await using var stdout = Console.OpenStandardOutput();
        await stdout.WriteAsync(output, ct);
        return ExitCodes.Ok;
    }

    /// <summary>
    /// A config or savefile named on the command line, its damage named with its file. An empty file is no config: read
    /// as one, an empty savefile (a copy that failed) gave a page of "(unset) -> …" findings, and `config show` a
    /// config with no name, instead of saying what it is.
    /// </summary>
    private static async Task<ConfigText> LoadForCheckAsync(string path, string role, CancellationToken ct)
    {
        var loaded = await CommandLine.OnSavefileAsync(path, () => ConfigText.LoadAsync(path, ct));
        if (string.IsNullOrWhiteSpace(loaded.Text))
            throw new ArgumentException($"{role} {path} is empty: give a savefile or a config file");
        return loaded;
    }

    public static async Task<int> CheckAsync(string savedPath, string overridePath, bool json, CancellationToken ct)
    {
        var saved = await LoadForCheckAsync(savedPath, "SAVED", ct);
        var old = saved.ToModel();
        var @new = (await LoadForCheckAsync(overridePath, "OVERRIDE", ct)).ToModel();
        var findings = ConfigCompatibility.Check(old, @new);
        var compatible = ConfigCompatibility.IsCompatible(findings);
        // Only SAVED's image is restored; OVERRIDE, even a savefile, gives its config alone.
        var imageProblem = saved.ImageProblem;
        if (json) CommandLine.WriteJson(ConfigRendering.CheckJson(compatible, findings, imageProblem));
        else
        {
            ConfigRendering.WriteFindings(findings);
            Console.Out.WriteLine(compatible ? "compatible" : "not compatible");
        }
        // The configs' verdict stands as printed; the image's problem is the error, the one line a script sees.
        if (imageProblem is not null)
            await Console.Error.WriteLineAsync($"error: {CommandLine.OneLine($"{savedPath}: {imageProblem}: no config restores it ('savefile verify' tells more)")}");
        // As savefile verify: without --json the verdict is also the one error line a script reads on stderr.
        else if (!compatible && !json)
            await Console.Error.WriteLineAsync($"error: {CommandLine.OneLine($"{overridePath} cannot replace the config of {savedPath}: {findings.Count(f => f.Severity == FindingSeverity.Error)} error finding(s) above")}");
        return compatible && imageProblem is null ? ExitCodes.Ok : ExitCodes.Error;
    }
}
