using System.CommandLine;
using System.Text.Json.Nodes;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;

namespace XenIac.Cli.Commands;

/// <summary><c>xen-iac domain ...</c>: xl-like domain operations on any host, through <see cref="IXenHost"/> only.</summary>
internal static class DomainCommands
{
    /// <summary>The host when --host is not given.</summary>
    public const string HostVariable = CommandLine.HostVariable;

    public static Command Create()
    {
        var command = new Command("domain", "List, save, restore, create and control domains on a host (libxl or embedded)");
        command.Subcommands.Add(List());
        command.Subcommands.Add(Save());
        command.Subcommands.Add(Restore());
        command.Subcommands.Add(CreateDomain());
        command.Subcommands.Add(Simple("destroy", "Destroy (stop immediately) a domain", (h, n, ct) => h.DestroyAsync(n, ct)));
        command.Subcommands.Add(Simple("pause", "Pause a domain", (h, n, ct) => h.PauseAsync(n, ct)));
        command.Subcommands.Add(Simple("unpause", "Unpause a domain", (h, n, ct) => h.UnpauseAsync(n, ct)));
        command.Subcommands.Add(Config());
        return command;
    }

    private static Option<string?> HostOption() => new("--host")
    {
        Description = $"Host: 'libxl' (this dom0) or 'embedded:<folder>'; default ${HostVariable}, else libxl on a dom0",
    };

    private static Argument<string> NameArgument() => new("NAME") { Description = "The domain's name" };

    private static Option<string?> ConfigOption(string description) => CommandLine.InputFileOption("--config", description);

    private static Option<bool> PausedOption(string description) => new("--paused") { Description = description };

    private static IXenHost OpenHost(ParseResult parse, Option<string?> host) => CommandLine.HostSpec(parse.GetValue(host)).Open();

    private static Command List()
    {
        var host = HostOption();
        var json = CommandLine.JsonOption();
        var command = new Command("list", "List the host's domains") { host, json };
        command.SetHandler(async (parse, ct) =>
        {
            await using var h = OpenHost(parse, host);
            var domains = await h.ListDomainsAsync(ct);
            if (parse.GetValue(json))
            {
                CommandLine.WriteJson(new JsonArray(domains.Select(d => (JsonNode)new JsonObject
                {
                    ["name"] = d.Name,
                    ["domid"] = d.DomId,
                    ["state"] = d.State.ToString(),
                    ["memoryKiB"] = d.MemoryKiB,
                    ["vcpus"] = d.VCpus,
                }).ToArray()));
            }
            else
            {
                Console.Out.WriteLine($"{"Name",-32} {"ID",5} {"Mem(MiB)",9} {"VCPUs",5} State");
                foreach (var d in domains)
                    Console.Out.WriteLine($"{d.Name,-32} {d.DomId,5} {d.MemoryKiB / 1024,9} {d.VCpus,5} {d.State}");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Save()
    {
        var host = HostOption();
        var name = NameArgument();
        var file = CommandLine.OutputFile("FILE", "The savefile to write (replaced atomically, mode 0600; its folder must exist)");
        var checkpoint = new Option<bool>("--checkpoint") { Description = "Keep the domain running after the save (xl save -c)" };
        var paused = PausedOption("Leave the domain paused after the save (xl save -p)");
        var config = ConfigOption("Store this config instead of the one the host remembers (checked against it first)");
        var force = new Option<bool>("--force") { Description = "Store --config even when it is not compatible with the domain's config" };
        var command = new Command("save", "Save a domain to a savefile; without --checkpoint/--paused the domain is destroyed afterwards")
            { host, name, file, checkpoint, paused, config, force };
        command.SetHandler(async (parse, ct) =>
        {
            await using var h = OpenHost(parse, host);
            var domainName = parse.GetValue(name)!;
            // Every check happens before the save: a plain save destroys the domain, and a config the savefile
            // cannot be restored with would leave nothing to go back to.
            ConfigText? alternative = null;
            if (parse.GetValue(config) is { } configPath)
            {
                alternative = await LoadConfigAsync(configPath, ct);
                var current = await h.GetConfigAsync(domainName, ct);
                var findings = SavefileConfigEditor.CheckReplacement(configPath, Model(alternative, configPath),
                    Model(current, $"domain '{domainName}' (host config)"), $"the config of domain '{domainName}'", parse.GetValue(force));
                ConfigCommands.WriteFindings(findings, Console.Error);
            }
            var options = new SaveOptions
            {
                Mode = parse.GetValue(checkpoint) ? SaveMode.Checkpoint : SaveMode.Plain,
                LeavePaused = parse.GetValue(paused),
                AlternativeConfig = alternative,
            };
            var expected = (await h.FindDomainAsync(domainName, ct))?.MemoryKiB * 1024;
            var result = await ByteProgress.RunAsync($"saving {domainName}", expected,
                progress => h.SaveAsync(domainName, parse.GetValue(file)!, options with { Progress = progress }, ct));
            Console.Out.WriteLine($"saved {result.Name} to {result.SavefilePath} ({result.Bytes} bytes)");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Restore()
    {
        var host = HostOption();
        var file = CommandLine.InputFile("FILE", "The savefile to restore");
        var config = ConfigOption("Use this config instead of the stored one");
        var paused = PausedOption("Leave the restored domain paused (xl restore -p)");
        var trust = ReconcileCommands.TrustConfigOption();
        var force = new Option<bool>("--force") { Description = "Restore with --config even when it is not compatible with the savefile's config" };
        var command = new Command("restore", "Restore a domain from a savefile") { host, file, config, paused, trust, force };
        command.SetHandler(async (parse, ct) =>
        {
            var path = parse.GetValue(file)!;
            // A stored config is the savefile author's, not the operator's: what it makes dom0 run or open needs consent.
            if (parse.GetValue(config) is null && !parse.GetValue(trust))
                await CommandLine.OnSavefileAsync(path, () => Task.FromResult(RefuseUntrustedStoredConfig(path)));
            ConfigText? overrideConfig = null;
            if (parse.GetValue(config) is { } configPath)
            {
                // The rule savefile set-config applies, before the host is touched: a config the saved guest
                // cannot resume with is refused unless forced.
                overrideConfig = await LoadConfigAsync(configPath, ct);
                var proposed = overrideConfig with { Source = configPath };
                var findings = await CommandLine.OnSavefileAsync(path, () => SavefileConfigEditor.CheckForSavefileAsync(path,
                    sourceIsLegacy: !SaveFileHeader.LooksLikeXlSavefile(path), proposed, parse.GetValue(force), ct));
                ConfigCommands.WriteFindings(findings, Console.Error);
            }
            var options = new RestoreOptions
            {
                Paused = parse.GetValue(paused),
                OverrideConfig = overrideConfig,
            };
            await using var h = OpenHost(parse, host);
            var result = await CommandLine.OnSavefileAsync(path, () => ByteProgress.RunAsync($"restoring {Path.GetFileName(path)}",
                File.Exists(path) ? new FileInfo(path).Length : null, progress => h.RestoreAsync(path, options with { Progress = progress }, ct)));
            Console.Out.WriteLine($"restored {result.Domain.Name} as domain {result.Domain.DomId}" +
                                  (result.ConfigOverridden ? " (with the given config)" : ""));
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Returns true when the stored config needs no consent; throws naming what it would run or open.</summary>
    private static bool RefuseUntrustedStoredConfig(string path)
    {
        XenIac.Core.Config.DomainConfig stored;
        using (var reader = XenIac.Core.SaveFiles.SaveFileReader.Open(path))
        {
            if (reader.Header.ConfigText is not { } text) return true;
            stored = XenIac.Core.Config.DomainConfig.Parse(text.TrimEnd('\0'), path + " (stored config)");
        }
        var effects = XenIac.Core.Config.HostEffects.Find(stored);
        if (effects.Count > 0)
            throw new XenIac.Core.Config.UntrustedConfigException(
                $"the stored config of {path} makes dom0 run or open: {string.Join("; ", effects)}; restore it only if you trust the file " +
                "(--trust-config), or restore with your own config (--config)");
        return true;
    }

    private static Command CreateDomain()
    {
        var host = HostOption();
        var config = CommandLine.InputFile("CFG", "The domain config (libxl JSON; xl.cfg where the host supports it)");
        var paused = PausedOption("Leave the new domain paused");
        var command = new Command("create", "Create (boot) a domain from a config") { host, config, paused };
        command.SetHandler(async (parse, ct) =>
        {
            var document = await LoadConfigAsync(parse.GetValue(config)!, ct);
            await using var h = OpenHost(parse, host);
            var domain = await h.CreateAsync(document, parse.GetValue(paused), ct);
            Console.Out.WriteLine($"created {domain.Name} as domain {domain.DomId}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Simple(string verb, string description, Func<IXenHost, string, CancellationToken, Task> action)
    {
        var host = HostOption();
        var name = NameArgument();
        var command = new Command(verb, description) { host, name };
        command.SetHandler(async (parse, ct) =>
        {
            await using var h = OpenHost(parse, host);
            await action(h, parse.GetValue(name)!, ct);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Config()
    {
        var host = HostOption();
        var name = NameArgument();
        var command = new Command("config", "Print the config the host remembers for a domain (what save would store)") { host, name };
        command.SetHandler(async (parse, ct) =>
        {
            await using var h = OpenHost(parse, host);
            var config = await h.GetConfigAsync(parse.GetValue(name)!, ct);
            Console.Out.WriteLine(config.Text);
            return ExitCodes.Ok;
        });
        return command;
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
