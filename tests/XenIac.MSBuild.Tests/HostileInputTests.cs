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

    /// <summary>The CLI refused to save over a file that is not a savefile; the task replaced a config or a note with guest memory.</summary>
    [Fact]
    public void Save_over_a_file_that_is_not_a_savefile_is_XIAC0014_and_the_domain_keeps_running()
    {
        _f.Host.Add("web");
        Write("notes.txt", "my notes\n");
        var task = _f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = "notes.txt" });
        Assert.Contains("exists and is not a savefile", SingleError(task, "XIAC0014").Message);
        Assert.Equal("my notes\n", File.ReadAllText(_f.PathOf("notes.txt")));
        Assert.True(_f.Host.Domains.ContainsKey("web"));
        Assert.DoesNotContain("save web", _f.Host.Calls);
    }

    /// <summary>Savefile="   " passed [Required] and a 16 MB file named three spaces appeared in the project.</summary>
    [Theory]
    [InlineData("   ")]
    [InlineData("vm/  ")]
    public void A_blank_savefile_name_is_XIAC0002(string savefile)
    {
        _f.Host.Add("web");
        var task = _f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = savefile });
        Assert.Contains("Savefile", SingleError(task, "XIAC0002").Message);
        Assert.Empty(_f.Host.Calls);
        Assert.False(_f.Wire(new XenIacRestoreDomain { Savefile = savefile }).Execute());
    }

    /// <summary>
    /// A FIFO as a config, a fingerprint input or a savefile blocked the build in an open the cancel could not reach.
    /// </summary>
    [Fact]
    public void A_pipe_or_a_character_device_where_a_file_belongs_is_refused_without_opening_it()
    {
        var fifo = _f.PathOf("pipe");
        Assert.True(XenIac.Tests.Fifo.TryMake(fifo), "mkfifo failed");
        var create = _f.Wire(new XenIacCreateDomain { Config = "pipe" });
        Assert.Contains("not a regular file", SingleError(create, "XIAC0007").Message);
        _f.Engine.Errors.Clear();
        var restore = _f.Wire(new XenIacRestoreDomain { Savefile = "pipe" });
        Assert.Contains("not a regular file", SingleError(restore, "XIAC0006").Message);
        _f.Engine.Errors.Clear();
        Write("vm.cfg", "name = 'vm'\n");
        var fingerprint = _f.Wire(new XenIacFingerprint { Config = "vm.cfg", Inputs = [new Microsoft.Build.Utilities.TaskItem("/dev/zero")] });
        Assert.Contains("not a regular file", SingleError(fingerprint, "XIAC0014").Message);
        Assert.Empty(_f.Host.Calls);
    }
}
