using Microsoft.Build.Framework;
using XenIac.Core.IO;
using XenIac.Hosts;
using XenIac.Core.SaveFiles;
using XenIac.Reconciler.Manifests;

namespace XenIac.MSBuild.Tests;

/// <summary>
/// Each task fed what users and broken files give it. Every failure must be one coded XIAC error naming the
/// user's file, never an unhandled exception (which MSBuild reports as MSB4018 with a stack trace).
/// </summary>
public sealed class HostileInputTests : IDisposable
{
    private readonly TaskFixture _f = new();

    public void Dispose() => _f.Dispose();

    private static readonly byte[] Random300 = Enumerable.Range(0, 300).Select(i => (byte)(i * 151 + 7)).ToArray();

    private string Write(string name, byte[] content)
    {
        File.WriteAllBytes(_f.PathOf(name), content);
        return name;
    }

    private string Write(string name, string content) => Write(name, System.Text.Encoding.UTF8.GetBytes(content));

    private BuildErrorEventArgs SingleError(XenIacTask task, string code)
    {
        Assert.False(task.Execute());
        var error = Assert.Single(_f.Engine.Errors);
        Assert.True(error.Code == code, _f.Engine.ToString());
        return error;
    }

    public static TheoryData<string, byte[], string> BadConfigs() => new()
    {
        { "rand.cfg", Random300, "rand.cfg:1:" },
        { "bad.json", "{\"c_info\": "u8.ToArray(), "bad.json:1:" },
        { "vcpus.cfg", "name = \"web\"\nvcpus = 0\n"u8.ToArray(), "vcpus.cfg:2:1: vcpus = 0 is out of range" },
    };

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void Create_with_a_bad_config_is_XIAC0007_naming_the_file(string name, byte[] content, string expected)
    {
        var task = _f.Wire(new XenIacCreateDomain { Config = Write(name, content) });
        Assert.Contains(expected, SingleError(task, "XIAC0007").Message);
        Assert.Empty(_f.Host.Calls);
    }

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void Save_with_a_bad_config_is_XIAC0007_and_the_domain_keeps_running(string name, byte[] content, string expected)
    {
        _f.Host.Add("web");
        var task = _f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = "web.xlsave", Config = Write(name, content) });
        Assert.Contains(expected, SingleError(task, "XIAC0007").Message);
        Assert.True(_f.Host.Domains.ContainsKey("web"));
        Assert.False(File.Exists(_f.PathOf("web.xlsave")));
    }

    [Theory]
    [InlineData("name = \"web\"\nmemory = 32\n", "memory 16 -> 32")]
    [InlineData("", "name: the config names no domain")]
    [InlineData("name = \"web\"\nmemory = 16\ntype = \"hvm\"\n", "type pv -> hvm")]
    public void Save_with_an_incompatible_config_is_XIAC0007_before_the_save_unless_Force(string config, string expected)
    {
        _f.Host.Add("web");
        var task = _f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = "web.xlsave", Config = Write("alt.cfg", config) });
        Assert.Contains(expected, SingleError(task, "XIAC0007").Message);
        Assert.DoesNotContain("save web", _f.Host.Calls);

        var forced = _f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = "web.xlsave", Config = "alt.cfg", Force = true });
        forced.BuildEngine = new Fakes.FakeBuildEngine(_f.Engine.ProjectFileOfTaskNode);
        Assert.True(forced.Execute());
        using var reader = SaveFileReader.Open(_f.PathOf("web.xlsave"));
        if (config.Length > 0) Assert.Equal(config, reader.Header.ConfigText);
    }

    [Fact]
    public void Save_onto_a_symbolic_link_is_XIAC0014_and_the_link_and_its_file_are_kept()
    {
        _f.Host.Add("web");
        Write("real.xlsave", "keep me");
        File.CreateSymbolicLink(_f.PathOf("link.xlsave"), _f.PathOf("real.xlsave"));
        var task = _f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = "link.xlsave" });

        Assert.Contains("symbolic link", SingleError(task, "XIAC0014").Message);
        Assert.True(_f.Host.Domains.ContainsKey("web"));
        Assert.NotNull(new FileInfo(_f.PathOf("link.xlsave")).LinkTarget);
        Assert.Equal("keep me", File.ReadAllText(_f.PathOf("real.xlsave")));
    }

    [Fact]
    public void Save_onto_a_folder_is_XIAC0014_naming_it()
    {
        _f.Host.Add("web");
        Directory.CreateDirectory(_f.PathOf("adir"));
        var task = _f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = "adir" });
        Assert.Contains("is a folder", SingleError(task, "XIAC0014").Message);
        Assert.True(_f.Host.Domains.ContainsKey("web"));
    }

    [Fact]
    public void A_folder_as_config_is_XIAC0007_not_access_denied()
    {
        Directory.CreateDirectory(_f.PathOf("adir"));
        var task = _f.Wire(new XenIacCreateDomain { Config = "adir" });
        Assert.Contains("is a folder", SingleError(task, "XIAC0007").Message);
    }

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void Restore_with_a_bad_override_config_is_XIAC0007(string name, byte[] content, string expected)
    {
        _f.Host.Add("web");
        Assert.True(_f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = "web.xlsave" }).Execute());
        var task = _f.Wire(new XenIacRestoreDomain { Savefile = "web.xlsave", Config = Write(name, content) });
        Assert.Contains(expected, SingleError(task, "XIAC0007").Message);
        Assert.DoesNotContain(_f.Host.Calls, c => c.StartsWith("restore", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("random")]
    [InlineData("empty")]
    public void Inspect_and_restore_of_a_savefile_that_is_not_one_are_XIAC0006(string kind)
    {
        Write("bad.xlsave", kind == "empty" ? [] : Random300);
        Assert.Contains("bad.xlsave", SingleError(_f.Wire(new XenIacInspectSavefile { Savefile = "bad.xlsave" }), "XIAC0006").Message);
        _f.Engine.Errors.Clear();
        Assert.Contains("bad.xlsave", SingleError(_f.Wire(new XenIacRestoreDomain { Savefile = "bad.xlsave" }), "XIAC0006").Message);
    }

    [Fact]
    public void BaseDirectory_is_where_relative_paths_and_hosts_resolve_not_the_calling_file()
    {
        // The package's targets call the tasks from the NuGet cache; the engine's project file is that targets file.
        var cache = _f.PathOf("nuget/build");
        Directory.CreateDirectory(cache);
        var project = _f.PathOf("project");
        Directory.CreateDirectory(Path.Combine(project, "vm"));
        _f.Host.Add("web");
        var task = _f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = "vm/x.xlsave", Host = "embedded:h", BaseDirectory = project });
        task.BuildEngine = new Fakes.FakeBuildEngine(Path.Combine(cache, "XenIac.MSBuild.targets"));

        Assert.True(task.Execute());

        Assert.True(File.Exists(Path.Combine(project, "vm", "x.xlsave")));
        Assert.False(Directory.Exists(Path.Combine(cache, "vm")));
        Assert.Equal(project, _f.Opened.Single().BaseDirectory);
    }

    [Fact]
    public void The_package_targets_pass_project_relative_paths_even_for_global_properties()
    {
        // A global property (-p:) cannot be reassigned, so the targets must never hand the raw property to a task.
        var targets = File.ReadAllText(Path.Combine(XenIac.Tests.SharedFixtures.RepoRoot, "src/XenIac.MSBuild/build/XenIac.MSBuild.targets"));
        var calls = System.Text.RegularExpressions.Regex.Matches(targets, @"<XenIac(SaveDomain|RestoreDomain|CreateDomain|DestroyDomain|InspectSavefile|ApplyManifest) [^>]*>").Select(m => m.Value).ToList();
        Assert.NotEmpty(calls);
        foreach (var call in calls)
        {
            Assert.Contains("BaseDirectory=\"$(MSBuildProjectDirectory)\"", call);
            // Path parameters only (TrustConfig is a flag): a raw path property would resolve against the package.
            Assert.DoesNotMatch(@"\s(Savefile|Config|ConsentConfig|Manifest)=""\$\(XenIac", call);
        }
    }

    public static TheoryData<string, Exception> ApplyFailures() => new()
    {
        { "XIAC0008", new LockBusyException("/run/lock/xen-iac-apply.lock", null, TimeSpan.Zero) },
        { "XIAC0007", new XenIac.Core.Config.XlConfigException("web.cfg", 3, 1, "bad value") },
        { "XIAC0009", new PlanLikeException("a legacy savefile stores no config") },
        { "XIAC0009", new InvalidOperationException("a bug") },
        { "XIAC0014", new UnauthorizedAccessException("denied") },
    };

    [Theory]
    [MemberData(nameof(ApplyFailures))]
    public void Apply_failures_are_coded_errors_never_MSB4018(string code, Exception failure)
    {
        Write("a.cfg", "name = \"a\"\n");
        Write("xen-iac.yaml", "version: 1\ndefaults:\n  host: embedded:host\ndomains:\n  - name: a\n    config: a.cfg\n");
        var task = _f.Wire(new XenIacApplyManifest { Manifest = "xen-iac.yaml" });
        task.Applier = new ThrowingApplier(failure);

        var error = SingleError(task, code);
        Assert.Contains(failure.Message, error.Message);
    }

    private sealed class PlanLikeException(string message) : XenIac.Core.XenIacException(message);

    private sealed class ThrowingApplier(Exception failure) : IManifestApplier
    {
        public Task ApplyAsync(Manifest manifest, IReadOnlyList<string> targets, int parallelism,
            Action<MessageImportance, string> log, CancellationToken cancellationToken) => throw failure;
    }
}
