using XenIac.Tests;

namespace XenIac.MSBuild.Tests.Integration;

/// <summary>
/// Done once for the integration test class: packs XenIac.MSBuild into a private feed, copies
/// examples/msbuild-snapshot to a temp folder, points its nuget.config at that feed and restores it into a private
/// NUGET_PACKAGES folder, so a stale XenIac.MSBuild 0.1.0 from another run can never be the one tested.
/// </summary>
public sealed class PackagedExampleFixture : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(4);

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "xeniac-msbuild-it-" + Guid.NewGuid().ToString("N")[..12]);
    public string Feed => Path.Combine(Root, "feed");
    public string Example => Path.Combine(Root, "example");
    public string Project => Path.Combine(Example, "SnapshotExample.csproj");
    public string Package => Path.Combine(Feed, "XenIac.MSBuild.0.1.0.nupkg");

    public IReadOnlyDictionary<string, string> Environment { get; private set; } = new Dictionary<string, string>();

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Root);
        Environment = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(Root, "nuget-packages") };

        // The test assembly's configuration is the one the task project was just built in; reuse that build.
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
            ? "Debug" : "Release";
        var project = Path.Combine(SharedFixtures.RepoRoot, "src", "XenIac.MSBuild", "XenIac.MSBuild.csproj");
        var pack = await Run(SharedFixtures.RepoRoot, "pack", project, "-c", configuration, "--no-build", "-o", Feed, "-nologo");
        if (pack.ExitCode != 0 || !File.Exists(Package))
            pack = await Run(SharedFixtures.RepoRoot, "pack", project, "-c", configuration, "-o", Feed, "-nologo", "-p:UseSharedCompilation=false");
        if (pack.ExitCode != 0) throw new InvalidOperationException("dotnet pack failed: " + pack);

        CopyExample(Path.Combine(SharedFixtures.RepoRoot, "examples", "msbuild-snapshot"), Example);
        File.WriteAllText(Path.Combine(Example, "nuget.config"), NuGetConfig());

        var restore = await Run(Example, "restore", Project, "-nologo");
        if (restore.ExitCode != 0) throw new InvalidOperationException("dotnet restore of the example failed: " + restore);
    }

    public Task<DotNetResult> Run(string workingDirectory, params string[] args) => DotNet.RunAsync(workingDirectory, Environment, Timeout, args);

    /// <summary>`dotnet msbuild` on the example with the given targets and properties, at normal verbosity.</summary>
    public Task<DotNetResult> MSBuild(string targets, params string[] properties) => MSBuildAtVerbosity("n", targets, properties);

    public Task<DotNetResult> MSBuildAtVerbosity(string verbosity, string targets, params string[] properties) =>
        Run(Example, ["msbuild", Project, "-t:" + targets, "-v:" + verbosity, "-nologo", "-tl:off", "-nodeReuse:false", .. properties.Select(p => "-p:" + p)]);

    private string NuGetConfig()
    {
        // The machine's global packages folder is a valid local source: it spares the network for xunit and friends.
        // Source mapping lets XenIac.* come only from the fresh feed.
        var cache = System.Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } env ? env
            : Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var cacheSource = Directory.Exists(cache) ? $"""<add key="machine-cache" value="{cache}" />""" : "";
        var cacheMapping = Directory.Exists(cache) ? """<packageSource key="machine-cache"><package pattern="*" /></packageSource>""" : "";
        return $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="xeniac-local" value="{Feed}" />
                {cacheSource}
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="xeniac-local"><package pattern="XenIac.*" /></packageSource>
                {cacheMapping}
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """;
    }

    private static void CopyExample(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            var top = relative.Split(Path.DirectorySeparatorChar)[0];
            if (top is "bin" or "obj" || relative.EndsWith(".xlsave", StringComparison.Ordinal)) continue;
            var target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    public Task DisposeAsync()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        return Task.CompletedTask;
    }
}
