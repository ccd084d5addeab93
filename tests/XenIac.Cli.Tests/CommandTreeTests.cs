using System.Reflection;

namespace XenIac.Cli.Tests;

/// <summary>
/// The tool builds only the command group a command line names (CommandTree): every command the root help lists
/// must still parse and show its own help when it is the first word, and --version must print the build's version
/// (a constant the build writes, not read by reflection).
/// </summary>
public sealed class CommandTreeTests
{
    private static readonly string Version = typeof(CommandTreeTests).Assembly
        .GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;

    [Fact]
    public async Task Version_prints_the_build_version()
    {
        var result = await CliRunner.RunAsync("--version");
        Assert.Equal(0, result.ExitCode);
        // The tests and the tool are built from one commit, so they carry the same informational version.
        Assert.Equal(Version, result.StdOut.Trim());
    }

    [Theory]
    [InlineData("--version", "extra")]
    [InlineData("--verbose", "--version")]
    public async Task Version_beside_anything_else_is_one_error_line(params string[] args)
    {
        var result = await CliRunner.RunAsync(args);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.StdOut);
        Assert.Single(result.StdErr.TrimEnd().Split('\n'));
        Assert.StartsWith("error:", result.StdErr);
    }

    [Fact]
    public async Task Every_command_the_root_help_lists_shows_its_own_help_as_first_word()
    {
        var help = await CliRunner.RunAsync("--help");
        Assert.Equal(0, help.ExitCode);
        var words = help.StdOut.Split('\n')
            .SkipWhile(l => !l.StartsWith("Commands:", StringComparison.Ordinal)).Skip(1)
            .TakeWhile(l => l.StartsWith("  ", StringComparison.Ordinal))
            .Select(l => l.Trim().Split(' ')[0])
            .ToList();
        Assert.Superset(new HashSet<string> { "savefile", "config", "domain", "host", "store", "plan", "apply", "show", "drift",
            "schema", "import", "reconcile", "serve" }, words.ToHashSet());
        foreach (var word in words)
        {
            var own = await CliRunner.RunAsync(word, "--help");
            Assert.True(own.ExitCode == 0, $"{word} --help exited {own.ExitCode}: {own.StdErr}");
            Assert.Contains($"xen-iac {word}", own.StdOut);
        }
    }

    [Fact]
    public async Task An_unknown_first_word_is_one_error_line()
    {
        var result = await CliRunner.RunAsync("bogus");
        Assert.Equal(1, result.ExitCode);
        Assert.Single(result.StdErr.TrimEnd().Split('\n'));
        Assert.StartsWith("error:", result.StdErr);
        // The line names what was wrong, not only that no command was reached.
        Assert.Contains("'bogus'", result.StdErr);
        Assert.Contains("(see 'xen-iac --help')", result.StdErr);
    }

    [Theory]
    [InlineData("store", "(see 'xen-iac store --help')", null)]
    [InlineData("store push x.xlsave --bogus-option", "(see 'xen-iac store push --help')", "'--bogus-option'")]
    [InlineData("plan --bogus-option", "(see 'xen-iac plan --help')", "'--bogus-option'")]
    [InlineData("savefile bogus x", "(see 'xen-iac savefile --help')", "'bogus'")]
    // A short word after it ('a') is found inside "Required command was not provided": the unknown word is the error.
    [InlineData("domain info a", "(see 'xen-iac domain --help')", "'info'")]
    // The parser's list of choices comes on indented lines of its own: one line, without the tabs.
    [InlineData("config convert x.cfg --to bogus", "(see 'xen-iac config convert --help')", "Must be one of: 'json' 'xl' (see")]
    // --help would print the parent's help and exit 0, hiding the typo.
    [InlineData("bogus --help", "(see 'xen-iac --help')", "'bogus'")]
    [InlineData("store bogus --help", "(see 'xen-iac store --help')", "'bogus'")]
    [InlineData("--help savefile bogus", "(see 'xen-iac savefile --help')", "'bogus'")]
    // The parser takes the mistyped option as the savefile and complains about the file: the option is what was wrong.
    [InlineData("store push --tga t x.xlsave --store s", "(see 'xen-iac store push --help')", "unknown option '--tga'")]
    public async Task A_parse_error_points_at_the_help_of_the_command_it_reached(string line, string hint, string? quoted)
    {
        var result = await CliRunner.RunAsync(line.Split(' '));
        Assert.Equal(1, result.ExitCode);
        Assert.Single(result.StdErr.TrimEnd().Split('\n'));
        Assert.StartsWith("error:", result.StdErr);
        Assert.EndsWith(hint, result.StdErr.TrimEnd());
        if (quoted is not null) Assert.Contains(quoted, result.StdErr);
    }
}
