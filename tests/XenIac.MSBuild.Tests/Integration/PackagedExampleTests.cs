using System.IO.Compression;
using XenIac.Core.SaveFiles;

namespace XenIac.MSBuild.Tests.Integration;

/// <summary>
/// The package as users get it: packed, restored from a feed, loaded by the real `dotnet build` / `dotnet test`.
/// Tests marked "real embedded host" need EmbeddedHost to create, save and restore domains.
/// </summary>
[Trait("Category", "Integration")]
public sealed class PackagedExampleTests(PackagedExampleFixture fixture) : IClassFixture<PackagedExampleFixture>
{
    private const string Domain = "xeniac-testvm";

    /// <summary>A folder of its own for each test (host folder, savefiles), inside the fixture's root.</summary>
    private string NewFolder(string name)
    {
        var dir = Path.Combine(fixture.Root, name);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>The smallest config of the test domain, as vm.cfg in <paramref name="dir"/>.</summary>
    private static string WriteConfig(string dir)
    {
        var config = Path.Combine(dir, "vm.cfg");
        File.WriteAllText(config, $"name = \"{Domain}\"\nmemory = 16\n");
        return config;
    }

    /// <summary>Extra targets injected into the example through CustomAfterMicrosoftCommonTargets, so the example stays as users see it.</summary>
    private string TestTargets(string folder, string body)
    {
        var path = Path.Combine(folder, "test.targets");
        File.WriteAllText(path, $"<Project>\n{body}\n</Project>\n");
        return "CustomAfterMicrosoftCommonTargets=" + path;
    }

    [Fact]
    public void The_package_carries_the_tasks_with_their_dependencies_and_none_of_MSBuilds_own_assemblies()
    {
        using var zip = ZipFile.OpenRead(fixture.Package);
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet();

        foreach (var dll in new[] { "XenIac.MSBuild.dll", "XenIac.Core.dll", "XenIac.Hosts.dll", "XenIac.Reconciler.dll", "XenIac.Store.dll",
                     "YamlDotNet.dll", "ZstdNet.dll", "Blake3.dll", "AWSSDK.Core.dll", "AWSSDK.S3.dll", "XenIac.MSBuild.deps.json",
                     "runtimes/linux-x64/native/libzstd.so", "runtimes/linux-arm64/native/libzstd.so" })
            Assert.Contains("tasks/net10.0/" + dll, entries);
        foreach (var file in new[] { "build/XenIac.MSBuild.props", "build/XenIac.MSBuild.targets", "buildTransitive/XenIac.MSBuild.props", "buildTransitive/XenIac.MSBuild.targets" })
            Assert.Contains(file, entries);
        Assert.DoesNotContain(entries, e => Path.GetFileName(e).StartsWith("Microsoft.Build", StringComparison.Ordinal));
        // System.IO.Hashing is a NuGet package (the AWS SDK's checksums), not part of the shared framework.
        Assert.DoesNotContain(entries, e => Path.GetFileName(e).StartsWith("System.", StringComparison.Ordinal) && Path.GetFileName(e) != "System.IO.Hashing.dll");
        // Build logic only: nothing for the consumer to compile against, and no dependencies that would flow to it.
        Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal) || e.StartsWith("ref/", StringComparison.Ordinal));
        using var nuspec = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
        var text = nuspec.ReadToEnd();
        Assert.DoesNotContain("<dependency ", text);
        Assert.Contains("<developmentDependency>true</developmentDependency>", text);
    }

    [Fact]
    public async Task Inspect_runs_in_a_real_build_and_targets_can_branch_on_its_outputs()
    {
        var dir = NewFolder("inspect");
        var savefile = SavefileMaker.Write(Path.Combine(dir, "vm.xlsave"), SavefileMaker.JsonConfig, SaveFileConfigFormat.Json);
        var targets = TestTargets(dir, """
              <Target Name="ItInspect">
                <XenIacInspectSavefile Savefile="$(ItSavefile)">
                  <Output TaskParameter="ByteOrder" PropertyName="ItByteOrder" />
                  <Output TaskParameter="MandatoryFlags" PropertyName="ItFlags" />
                  <Output TaskParameter="StreamV2" PropertyName="ItStreamV2" />
                  <Output TaskParameter="Info" ItemName="ItInfo" />
                </XenIacInspectSavefile>
                <Message Importance="high" Text="IT order=$(ItByteOrder) flags=$(ItFlags) name=%(ItInfo.DomainName) config=%(ItInfo.ConfigFormat) offset=%(ItInfo.ImageOffset)" />
                <Message Importance="high" Condition="'$(ItStreamV2)' == 'true'" Text="IT branch: stream v2" />
              </Target>
            """);

        var result = await fixture.MSBuildAtVerbosity("d", "ItInspect", targets, "ItSavefile=" + savefile);

        Assert.True(result.ExitCode == 0, result.ToString());
        // Loaded from the restored package, in MSBuild's per-task-assembly load context rather than the default one.
        var packaged = Path.Combine(fixture.Environment["NUGET_PACKAGES"], "xeniac.msbuild", "0.1.0", "tasks", "net10.0", "XenIac.MSBuild.dll");
        Assert.Matches($@"XenIac: XenIacInspectSavefile [0-9.]+ from {System.Text.RegularExpressions.Regex.Escape(packaged)} in load context '(?!Default')[^']+'", result.Output);
        var offset = SaveFileReader.Open(savefile).Header.ImageOffset;
        Assert.Contains($"IT order=LittleEndian flags=0x3 name=json-vm config=Json offset={offset}", result.Output);
        Assert.Contains("IT branch: stream v2", result.Output);
    }

    [Fact]
    public async Task An_invalid_manifest_fails_the_build_with_XIAC0011_at_its_line()
    {
        // Also proves YamlDotNet loads from the package's tasks folder inside MSBuild.
        var dir = NewFolder("manifest");
        var manifest = Path.Combine(dir, "xen-iac.yaml");
        File.WriteAllText(manifest, "version: 1\ndomains:\n  - name: a\n    colour: blue\n");

        var result = await fixture.MSBuild("XenIacApply", "XenIacManifest=" + manifest);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"{manifest}(4,", result.Output);
        Assert.Contains("error XIAC0011", result.Output);
    }

    [Fact]
    public async Task An_unknown_host_fails_the_build_with_XIAC0001()
    {
        var result = await fixture.MSBuild("XenIacCreateSnapshot",
            "XenIacHost=nowhere:at-all", "XenIacSavefile=" + Path.Combine(NewFolder("badhost"), "vm.xlsave"));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("error XIAC0001", result.Output);
        Assert.Contains("nowhere:at-all", result.Output);
    }

    [Fact]
    public async Task The_snapshot_target_is_skipped_while_its_savefile_is_newer_than_the_config()
    {
        var dir = NewFolder("uptodate");
        var config = WriteConfig(dir);
        File.SetLastWriteTimeUtc(config, DateTime.UtcNow.AddHours(-1));
        var savefile = SavefileMaker.Write(Path.Combine(dir, "vm.xlsave"), "name = 'x'", SaveFileConfigFormat.XlCfg);

        var result = await fixture.MSBuild("XenIacCreateSnapshot",
            "XenIacHost=embedded:" + Path.Combine(dir, "host"), "XenIacSavefile=" + savefile, "XenIacDomainConfig=" + config);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Skipping target \"XenIacCreateSnapshot\" because all output files are up-to-date", result.Output);
    }

    /// <summary>A folder as the snapshot path was refused by the save, after the create had replaced the running VM.</summary>
    [Fact]
    public async Task A_folder_as_the_snapshot_path_is_XIAC0014_before_any_domain_is_made()
    {
        var dir = NewFolder("folder-savefile");
        var config = WriteConfig(dir);
        var savefile = Path.Combine(dir, "vm.xlsave");
        Directory.CreateDirectory(savefile);
        var host = Path.Combine(dir, "host");

        var result = await fixture.MSBuild("XenIacCreateSnapshot", "XenIacHost=embedded:" + host, "XenIacSavefile=" + savefile, "XenIacDomainConfig=" + config);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("error XIAC0014", result.Output);
        Assert.Contains("is a folder", result.Output);
        Assert.DoesNotContain("created domain", result.Output);
        Assert.False(Directory.Exists(Path.Combine(host, "domains", Domain)));
    }

    // ---- These need the real embedded host (create, save, restore on a folder). ----

    [Fact]
    public async Task Real_embedded_host_dotnet_test_restores_the_VM_before_the_tests_and_checkpoints_it_after()
    {
        var dir = NewFolder("testrun");
        var savefile = Path.Combine(dir, "vm.xlsave");
        var checkpoint = Path.Combine(dir, "after-test.xlsave");

        var result = await fixture.Run(fixture.Example, "test", fixture.Project, "--no-restore", "-nologo", "-tl:off", "-nodeReuse:false",
            "-p:XenIacHost=embedded:" + Path.Combine(dir, "host"), "-p:XenIacSavefile=" + savefile, "-p:XenIacCheckpointSavefile=" + checkpoint);

        Assert.True(result.ExitCode == 0, result.ToString());
        var output = result.Output;
        var created = output.IndexOf($"created domain '{Domain}'", StringComparison.Ordinal);
        var restored = output.IndexOf($"restored domain '{Domain}'", StringComparison.Ordinal);
        var passed = output.IndexOf("Passed!", StringComparison.Ordinal);
        var checkpointed = output.IndexOf($"checkpointed domain '{Domain}'", StringComparison.Ordinal);
        Assert.True(created >= 0 && restored > created && passed > restored && checkpointed > passed, output);
        Assert.Matches(@"Failed:\s+0, Passed:\s+3,", output);

        foreach (var file in new[] { savefile, checkpoint })
        {
            using var reader = SaveFileReader.Open(file);
            Assert.Equal(SaveFileFormat.Xl, reader.Header.Format);
            Assert.NotEqual(SaveFileConfigFormat.None, reader.Header.ConfigFormat);
            Assert.Equal(Domain, ConfigNames.Find(reader.Header.ConfigText, reader.Header.ConfigFormat));
            Assert.True(new FileInfo(file).Length > reader.Header.ImageOffset, $"{file} has no image");
        }
    }

    /// <summary>
    /// The example as its README runs it: XenIacSavefile relative to the project. Its tests read the path from the
    /// assembly's metadata and resolved it from bin/, so two of its three tests failed with DirectoryNotFound.
    /// </summary>
    [Fact]
    public async Task Real_embedded_host_the_example_passes_with_its_own_relative_savefile()
    {
        var dir = NewFolder("asshipped");
        var relative = Path.Combine(fixture.Example, "vm", "testvm.xlsave");
        try
        {
            var result = await fixture.Run(fixture.Example, "test", fixture.Project, "--no-restore", "-nologo", "-tl:off", "-nodeReuse:false",
                "-p:XenIacHost=embedded:" + Path.Combine(dir, "host"));
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Matches(@"Failed:\s+0, Passed:\s+3,", result.Output);
            Assert.True(File.Exists(relative), "the snapshot is made beside the project, where XenIacSavefile says");
        }
        finally
        {
            File.Delete(relative);
        }
    }

    [Fact]
    public async Task Real_embedded_host_a_second_build_skips_the_up_to_date_snapshot_target()
    {
        var dir = NewFolder("twice");
        var savefile = Path.Combine(dir, "vm.xlsave");
        string[] properties = ["XenIacHost=embedded:" + Path.Combine(dir, "host"), "XenIacSavefile=" + savefile];

        var first = await fixture.MSBuild("XenIacCreateSnapshot", properties);
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains($"created domain '{Domain}'", first.Output);
        Assert.DoesNotContain("Skipping target \"XenIacCreateSnapshot\"", first.Output);
        using (var reader = SaveFileReader.Open(savefile))
            Assert.Equal(Domain, ConfigNames.Find(reader.Header.ConfigText, reader.Header.ConfigFormat));
        var written = File.GetLastWriteTimeUtc(savefile);

        var second = await fixture.MSBuild("XenIacCreateSnapshot", properties);
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("Skipping target \"XenIacCreateSnapshot\" because all output files are up-to-date", second.Output);
        Assert.DoesNotContain("created domain", second.Output);
        Assert.Equal(written, File.GetLastWriteTimeUtc(savefile));
    }

    [Fact]
    public async Task Real_embedded_host_saving_a_missing_domain_fails_the_build_with_XIAC0003()
    {
        var dir = NewFolder("missing");
        var savefile = Path.Combine(dir, "nope.xlsave");
        var targets = TestTargets(dir, """
              <Target Name="ItSaveMissing">
                <XenIacSaveDomain Host="$(XenIacHost)" Domain="no-such-domain" Savefile="$(ItSavefile)" />
              </Target>
            """);

        var result = await fixture.MSBuild("ItSaveMissing", targets, "XenIacHost=embedded:" + Path.Combine(dir, "host"), "ItSavefile=" + savefile);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("error XIAC0003", result.Output);
        Assert.Contains("'no-such-domain'", result.Output);
        Assert.False(File.Exists(savefile));
    }

    [Fact]
    public async Task Real_embedded_host_a_second_agent_pulls_the_snapshot_the_first_agent_pushed_instead_of_making_one()
    {
        // Also proves ZstdNet's native libzstd loads from the package's runtimes/ folder inside MSBuild.
        var dir = NewFolder("agents");
        var store = Path.Combine(dir, "store");
        string[] Agent(string name) => ["XenIacHost=embedded:" + Path.Combine(dir, name, "host"), "XenIacSavefile=" + Path.Combine(dir, name, "vm.xlsave"),
            "XenIacStore=" + store, "XenIacStoreTag=testvm@it"];

        var first = await fixture.MSBuild("XenIacPullSnapshot;XenIacCreateSnapshot", Agent("agent1"));
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains("has no snapshot 'testvm@it' yet", first.Output);
        Assert.Contains($"created domain '{Domain}'", first.Output);
        Assert.Matches(@"pushed .* as snapshot [0-9a-f]+ \(testvm@it\)", first.Output);

        var second = await fixture.MSBuild("XenIacPullSnapshot;XenIacCreateSnapshot", Agent("agent2"));
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Matches(@"pulled snapshot [0-9a-f]+ \(testvm@it\)", second.Output);
        Assert.Contains("Skipping target \"XenIacCreateSnapshot\" because all output files are up-to-date", second.Output);
        Assert.DoesNotContain("created domain", second.Output);
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "agent1", "vm.xlsave")), File.ReadAllBytes(Path.Combine(dir, "agent2", "vm.xlsave")));
    }

    [Fact]
    public async Task Real_embedded_host_a_snapshot_made_from_other_inputs_is_refused_with_XIAC0021_until_rebuilt()
    {
        var dir = NewFolder("fingerprint");
        var config = WriteConfig(dir);
        var disk = Path.Combine(dir, "disk.img");
        File.WriteAllText(disk, "provisioned v1");
        var savefile = Path.Combine(dir, "vm.xlsave");
        var targets = TestTargets(dir, $"""
              <ItemGroup><XenIacSnapshotInput Include="{disk}" /></ItemGroup>
            """);
        string[] properties = [targets, "XenIacHost=embedded:" + Path.Combine(dir, "host"), "XenIacSavefile=" + savefile, "XenIacDomainConfig=" + config];

        var first = await fixture.MSBuild("XenIacRestoreBeforeTest", properties);
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains($"restored domain '{Domain}'", first.Output);
        string recorded;
        using (var reader = SaveFileReader.Open(savefile))
            recorded = reader.Header.Fingerprint!;
        Assert.StartsWith("sha256:", recorded);

        // The disk image changes but keeps an old timestamp (a copy that preserved it): MSBuild's incremental check
        // sees nothing newer than the snapshot; the fingerprint does.
        File.WriteAllText(disk, "provisioned v2");
        File.SetLastWriteTimeUtc(disk, DateTime.UtcNow.AddHours(-2));
        File.SetLastWriteTimeUtc(config, DateTime.UtcNow.AddHours(-2));
        var stale = await fixture.MSBuild("XenIacRestoreBeforeTest", properties);
        Assert.NotEqual(0, stale.ExitCode);
        Assert.Contains("error XIAC0021", stale.Output);
        Assert.Contains(recorded, stale.Output);

        // A remake that cannot run (a host typo) leaves the snapshot there: it was deleted before the remake.
        var typo = await fixture.MSBuild("XenIacRestoreBeforeTest",
            [.. properties.Where(p => !p.StartsWith("XenIacHost=", StringComparison.Ordinal)), "XenIacHost=nowhere:at-all", "XenIacRebuildStaleSnapshot=true"]);
        Assert.NotEqual(0, typo.ExitCode);
        Assert.Contains("error XIAC0001", typo.Output);
        using (var reader = SaveFileReader.Open(savefile))
            Assert.Equal(recorded, reader.Header.Fingerprint);

        var rebuilt = await fixture.MSBuild("XenIacRestoreBeforeTest", [.. properties, "XenIacRebuildStaleSnapshot=true"]);
        Assert.True(rebuilt.ExitCode == 0, rebuilt.ToString());
        Assert.Contains("remaking it (XenIacRebuildStaleSnapshot)", rebuilt.Output);
        Assert.Contains($"created domain '{Domain}'", rebuilt.Output);
        using (var reader = SaveFileReader.Open(savefile))
            Assert.NotEqual(recorded, reader.Header.Fingerprint);

        // Fresh now: restored without a rebuild.
        var again = await fixture.MSBuild("XenIacRestoreBeforeTest", properties);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.DoesNotContain("XIAC0021", again.Output);
    }

    [Fact]
    public async Task Real_embedded_host_dotnet_test_with_a_clone_pool_names_the_clones_to_the_tests_and_tears_them_down()
    {
        var dir = NewFolder("pool");
        var config = Path.Combine(dir, "vm.cfg");
        File.WriteAllText(config, $"name = \"{Domain}\"\ntype = \"hvm\"\nmemory = 16\nvif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]\n");
        var host = Path.Combine(dir, "host");

        var result = await fixture.Run(fixture.Example, "test", fixture.Project, "--no-restore", "-nologo", "-tl:off", "-nodeReuse:false",
            "-p:XenIacHost=embedded:" + host, "-p:XenIacSavefile=" + Path.Combine(dir, "vm.xlsave"), "-p:XenIacDomainConfig=" + config,
            "-p:XenIacTestVmClones=3", "-p:XenIacClonePoolFile=" + Path.Combine(dir, "pool.json"));

        Assert.True(result.ExitCode == 0, result.ToString());
        var output = result.Output;
        Assert.Contains($"restored 3 clones of", output);
        Assert.Matches(@"Failed:\s+0, Passed:\s+3,", output);
        Assert.Contains("tore down 3 clones", output);
        Assert.DoesNotContain("checkpointed domain", output);
        using var pool = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "pool.json")));
        var macs = pool.RootElement.EnumerateArray().SelectMany(c => c.GetProperty("macs").EnumerateArray().Select(m => m.GetString())).ToList();
        Assert.Equal(3, macs.Distinct().Count());
        Assert.DoesNotContain("00:16:3e:00:00:01", macs);
        await using var embedded = XenIac.Hosts.Embedded.EmbeddedHost.Open(host);
        Assert.DoesNotContain(await embedded.ListDomainsAsync(), d => d.Name.StartsWith(Domain + "-", StringComparison.Ordinal));
    }
}
