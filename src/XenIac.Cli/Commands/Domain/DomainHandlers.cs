using XenIac.Cli.Commands.Config;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;
using XenIac.Reconciler.Planning;

namespace XenIac.Cli.Commands.Domain;

/// <summary>What the <c>domain</c> commands do, given their parsed values; each returns the exit code.</summary>
internal static class DomainHandlers
{
    public sealed record SaveRequest(bool Checkpoint, bool Paused, string? ConfigPath, bool Force);

    public sealed record RestoreRequest(string? ConfigPath, bool Paused, bool TrustConfig, bool Force);

    /// <param name="host">--host as given (null: $XENIAC_HOST, else libxl).</param>
    private static IXenHost OpenHost(string? host) => CommandLine.HostSpec(host).Open();

    public static async Task<int> ListAsync(string? host, bool json, CancellationToken ct)
    {
        await using var h = OpenHost(host);
        var domains = await h.ListDomainsAsync(ct);
        if (json) CommandLine.WriteJson(DomainRendering.ListJson(domains));
        else DomainRendering.WriteList(domains);
        return ExitCodes.Ok;
    }

    public static async Task<int> SaveAsync(string? host, string domainName, string file, SaveRequest request, CancellationToken ct)
    {
        await using var h = OpenHost(host);
        // Every check happens before the save: a plain save destroys the domain, and a config the savefile
        // cannot be restored with would leave nothing to go back to.
        ConfigText? alternative = null;
        if (request.ConfigPath is { } configPath)
        {
            alternative = await LoadConfigAsync(configPath, ct);
            var current = await h.GetConfigAsync(domainName, ct);
            var findings = SavefileConfigEditor.CheckReplacement(configPath, Model(alternative, configPath),
                Model(current, $"domain '{domainName}' (host config)"), $"the config of domain '{domainName}'", request.Force);
            ConfigRendering.WriteFindings(findings, Console.Error);
        }
        var options = new SaveOptions
        {
            Mode = request.Checkpoint ? SaveMode.Checkpoint : SaveMode.Plain,
            LeavePaused = request.Paused,
            AlternativeConfig = alternative,
        };
        var expected = (await h.FindDomainAsync(domainName, ct))?.MemoryKiB * 1024;
        var result = await ByteProgress.RunAsync($"saving {domainName}", expected,
            progress => h.SaveAsync(domainName, file, options with { Progress = progress }, ct));
        Console.Out.WriteLine($"saved {result.Name} to {CommandLine.OneLine(result.SavefilePath)} ({result.Bytes} bytes)");
        return ExitCodes.Ok;
    }

    public static async Task<int> RestoreAsync(string? host, string path, RestoreRequest request, CancellationToken ct)
    {
        CommandLine.RequireRereadable(path, "domain restore");
        // A stored config is the savefile author's, not the operator's: what it makes dom0 run or open needs consent.
        if (request.ConfigPath is null && !request.TrustConfig)
            await CommandLine.OnSavefileAsync(path, () => Task.FromResult(RefuseUntrustedStoredConfig(path)));
        ConfigText? overrideConfig = null;
        if (request.ConfigPath is { } configPath)
        {
            // The rule savefile set-config applies, before the host is touched: a config the saved guest
            // cannot resume with is refused unless forced.
            overrideConfig = await LoadConfigAsync(configPath, ct);
            var proposed = overrideConfig with { Source = configPath };
            var findings = await CommandLine.OnSavefileAsync(path, () => SavefileConfigEditor.CheckForSavefileAsync(path,
                sourceIsLegacy: !SaveFileHeader.LooksLikeXlSavefile(path), proposed, request.Force, ct));
            ConfigRendering.WriteFindings(findings, Console.Error);
        }
        var options = new RestoreOptions
        {
            Paused = request.Paused,
            OverrideConfig = overrideConfig,
        };
        await using var h = OpenHost(host);
        // Placement, as plan checks it: the image's CPU vendor and Xen, the config's memory and keys, against the host.
        var (placement, notChecked) = await CommandLine.OnSavefileAsync(path, () => RestorePlacement.CheckAsync(h, path, overrideConfig, ct));
        if (notChecked is not null) Console.Error.WriteLine($"warning: placement not checked: {h.Spec} did not say what it is ({CommandLine.OneLine(notChecked)})");
        ConfigRendering.WriteFindings(placement.Where(f => f.Severity != FindingSeverity.Ok), Console.Error);
        if (!Placement.Fits(placement) && !request.Force)
            throw new IncompatibleConfigException($"cannot restore {path} on {h.Spec}: " +
                string.Join("; ", placement.Where(f => f.Severity == FindingSeverity.Error).Select(f => f.Reason)) + " (--force restores it anyway)", placement);
        var result = await CommandLine.OnSavefileAsync(path, () => ByteProgress.RunAsync($"restoring {Path.GetFileName(path)}",
            File.Exists(path) ? new FileInfo(path).Length : null, progress => h.RestoreAsync(path, options with { Progress = progress }, ct)));
        Console.Out.WriteLine($"restored {result.Domain.Name} as domain {result.Domain.DomId}" +
                              (result.ConfigOverridden ? " (with the given config)" : ""));
        return ExitCodes.Ok;
    }

    /// <summary>Returns true when the stored config needs no consent; throws naming what it would run or open.</summary>
    /// <param name="ownConfigHint">How this command takes a config of the user's instead, or null when it takes none (clone).</param>
    internal static bool RefuseUntrustedStoredConfig(string path, string? ownConfigHint = "or restore with your own config (--config)")
    {
        DomainConfig stored;
        using (var reader = SaveFileReader.Open(path))
        {
            if (reader.Header.ConfigText is not { } text) return true;
            stored = DomainConfig.Parse(text.TrimEnd('\0'), path + " (stored config)");
        }
        var effects = HostEffects.Find(stored);
        if (effects.Count > 0)
            throw new UntrustedConfigException(
                $"the stored config of {path} makes dom0 run or open: {string.Join("; ", effects)}; restore it only if you trust the file " +
                $"(--trust-config){(ownConfigHint is null ? "" : ", " + ownConfigHint)}");
        return true;
    }

    public static async Task<int> CreateAsync(string? host, string configPath, bool paused, CancellationToken ct)
    {
        var document = await LoadConfigAsync(configPath, ct);
        await using var h = OpenHost(host);
        var domain = await h.CreateAsync(document, paused, ct);
        Console.Out.WriteLine($"created {domain.Name} as domain {domain.DomId}");
        return ExitCodes.Ok;
    }

    public static async Task<int> SimpleAsync(string? host, string name, Func<IXenHost, string, CancellationToken, Task> action, CancellationToken ct)
    {
        await using var h = OpenHost(host);
        await action(h, name, ct);
        return ExitCodes.Ok;
    }

    public static async Task<int> ConfigAsync(string? host, string name, CancellationToken ct)
    {
        await using var h = OpenHost(host);
        var config = await h.GetConfigAsync(name, ct);
        CommandLine.WriteDocument(config.Text);
        return ExitCodes.Ok;
    }

    /// <summary>
    /// Reads a config file and parses it here, so a bad one is reported with the user's file name and line
    /// (the host would name it "xl.cfg" or "config") and before the host is asked to do anything.
    /// </summary>
    private static async Task<ConfigText> LoadConfigAsync(string path, CancellationToken ct)
    {
        var document = await ConfigText.LoadAsync(path, ct);
        _ = Model(document, path);
        return document;
    }

    private static DomainConfig Model(ConfigText document, string name) =>
        (document with { Source = name }).ToModel();
}
