using System.CommandLine;
using XenIac.Cli.Commands.Reconcile;
using XenIac.Hosts;

namespace XenIac.Cli.Commands.Domain;

/// <summary>
/// <c>xen-iac domain ...</c>: xl-like domain operations on any host, through <see cref="IXenHost"/> only. The
/// command line only; behaviour in <see cref="DomainHandlers"/>, output in <see cref="DomainRendering"/>.
/// </summary>
internal static class DomainCommand
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
        command.Subcommands.Add(CloneCommand.Create(HostOption()));
        return command;
    }

    private static Option<string?> HostOption() =>
        CommandLine.HostOption($"Host: 'libxl' (this dom0), 'embedded:<folder>' or 'ssh://[user@]host[:port][?host=...]'; default ${HostVariable}, else libxl on a dom0");

    private static Argument<string> NameArgument() => new("NAME") { Description = "The domain's name" };

    private static Option<string?> ConfigOption(string description) => CommandLine.InputFileOption("--config", description);

    private static Option<bool> PausedOption(string description) => new("--paused") { Description = description };

    private static Command List()
    {
        var host = HostOption();
        var json = CommandLine.JsonOption();
        var command = new Command("list", "List the host's domains") { host, json };
        command.SetHandler((parse, ct) => DomainHandlers.ListAsync(parse.GetValue(host), parse.GetValue(json), ct));
        return command;
    }

    private static Command Save()
    {
        var host = HostOption();
        var name = NameArgument();
        var file = CommandLine.OutputFile("FILE", "The savefile to write (replaced atomically, mode 0600; its folder must exist)", savefile: true);
        var checkpoint = new Option<bool>("--checkpoint") { Description = "Keep the domain running after the save (xl save -c)" };
        var paused = PausedOption("Leave the domain paused after the save (xl save -p)");
        var config = ConfigOption("Store this config instead of the one the host remembers (checked against it first)");
        var force = new Option<bool>("--force") { Description = "Store --config even when it is not compatible with the domain's config" };
        var command = new Command("save", "Save a domain to a savefile; without --checkpoint/--paused the domain is destroyed afterwards")
            { host, name, file, checkpoint, paused, config, force };
        command.SetHandler((parse, ct) => DomainHandlers.SaveAsync(parse.GetValue(host), parse.GetValue(name)!, parse.GetValue(file)!,
            new DomainHandlers.SaveRequest(parse.GetValue(checkpoint), parse.GetValue(paused), parse.GetValue(config), parse.GetValue(force)), ct));
        return command;
    }

    private static Command Restore()
    {
        var host = HostOption();
        var file = CommandLine.InputFile("FILE", "The savefile to restore");
        var config = ConfigOption("Use this config instead of the stored one");
        var paused = PausedOption("Leave the restored domain paused (xl restore -p)");
        var trust = ReconcileCommand.TrustConfigOption();
        var force = new Option<bool>("--force")
        {
            Description = "Restore with --config even when it is not compatible with the savefile's config, or on a host placement refuses (another CPU vendor, an older Xen for HVM state, too little free memory)",
        };
        var command = new Command("restore", "Restore a domain from a savefile") { host, file, config, paused, trust, force };
        command.SetHandler((parse, ct) => DomainHandlers.RestoreAsync(parse.GetValue(host), parse.GetValue(file)!,
            new DomainHandlers.RestoreRequest(parse.GetValue(config), parse.GetValue(paused), parse.GetValue(trust), parse.GetValue(force)), ct));
        return command;
    }

    private static Command CreateDomain()
    {
        var host = HostOption();
        var config = CommandLine.InputFile("CFG", "The domain config (libxl JSON; xl.cfg where the host supports it)");
        var paused = PausedOption("Leave the new domain paused");
        var command = new Command("create", "Create (boot) a domain from a config") { host, config, paused };
        command.SetHandler((parse, ct) => DomainHandlers.CreateAsync(parse.GetValue(host), parse.GetValue(config)!, parse.GetValue(paused), ct));
        return command;
    }

    private static Command Simple(string verb, string description, Func<IXenHost, string, CancellationToken, Task> action)
    {
        var host = HostOption();
        var name = NameArgument();
        var command = new Command(verb, description) { host, name };
        command.SetHandler((parse, ct) => DomainHandlers.SimpleAsync(parse.GetValue(host), parse.GetValue(name)!, action, ct));
        return command;
    }

    private static Command Config()
    {
        var host = HostOption();
        var name = NameArgument();
        var command = new Command("config", "Print the config the host remembers for a domain (what save would store)") { host, name };
        command.SetHandler((parse, ct) => DomainHandlers.ConfigAsync(parse.GetValue(host), parse.GetValue(name)!, ct));
        return command;
    }
}
