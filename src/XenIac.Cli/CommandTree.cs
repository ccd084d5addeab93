using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using XenIac.Cli.Commands.Config;
using XenIac.Cli.Commands.Domain;
using XenIac.Cli.Commands.Host;
using XenIac.Cli.Commands.Import;
using XenIac.Cli.Commands.Loop;
using XenIac.Cli.Commands.Reconcile;
using XenIac.Cli.Commands.Savefile;
using XenIac.Cli.Commands.Serve;
using XenIac.Cli.Commands.Store;

namespace XenIac.Cli;

/// <summary>
/// The command tree, built for one process: only the group that the command line's first word names. Building every
/// group (about 60 commands and their options) took a tenth of a native start, and most starts run one command.
/// Help of the root, an unknown word and anything unusual build the whole tree, so they read as before.
/// </summary>
internal static class CommandTree
{
    public const string Name = "xen-iac";

    /// <summary>The groups by the top-level words they add (checked against what each builds by a test).</summary>
    internal static readonly (string[] Words, Func<IEnumerable<Command>> Create)[] Groups =
    [
        (["savefile"], () => [SavefileCommand.Create()]),
        (["config"], () => [ConfigCommand.Create()]),
        (["domain"], () => [DomainCommand.Create()]),
        (["host"], () => [HostCommand.Create()]),
        (["store"], () => [StoreCommand.Create()]),
        (["plan", "apply", "show", "drift", "schema"], ReconcileCommand.Create),
        (["import"], () => [ImportCommand.Create()]),
        (["reconcile"], () => [LoopCommand.Create()]),
        (["serve"], () => [ServeCommand.Create()]),
    ];

    public static Command Build(IReadOnlyList<string> args)
    {
        // The root is a plain command, not RootCommand: RootCommand finds its name and version by reflection over
        // the entry assembly, which a NativeAOT start pays for in full; both are known when the tool is built.
        var root = new Command(Name, "xen-iac: save and restore Xen domains as code")
        {
            new HelpOption(),
            new VersionOption { Action = new PrintVersion() },
            CommandLine.Verbose,
        };
        foreach (var group in GroupsFor(args))
            foreach (var command in group.Create()) root.Subcommands.Add(command);
        return root;
    }

    /// <summary>Which groups a command line needs: its first word's group; none for a bare --version; else all.</summary>
    internal static IEnumerable<(string[] Words, Func<IEnumerable<Command>> Create)> GroupsFor(IReadOnlyList<string> args)
    {
        // Root options before the command word: only flags (--verbose, --version, --help), so the first word that
        // is not an option is the command (response files are off: see Program.cs).
        var word = args.FirstOrDefault(a => !a.StartsWith('-'));
        if (word is null)
            return args is ["--version"] ? [] : Groups;
        return Groups.Where(g => g.Words.Contains(word, StringComparer.Ordinal)).ToArray() is { Length: 1 } one ? one : Groups;
    }

    /// <summary>--version prints the version the build stamped (<see cref="BuildInfo.Version"/>), without reflection.</summary>
    private sealed class PrintVersion : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine(BuildInfo.Version);
            return ExitCodes.Ok;
        }
    }
}
