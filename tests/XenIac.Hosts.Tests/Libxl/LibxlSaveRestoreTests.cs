using XenIac.Core.Config;
using System.Text.Json.Nodes;
using XenIac.Core.IO;
using XenIac.Core.SaveFiles;
using XenIac.Hosts.Libxl;

namespace XenIac.Hosts.Tests.Libxl;

public sealed class LibxlSaveRestoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-libxl-").FullName;
    private readonly FakeLibxl _libxl = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private LibxlSaveRestore Operations() => new(_libxl) { ProgressInterval = TimeSpan.FromMilliseconds(5) };

    private string SavefilePath => Path.Combine(_dir, "web.xlsave");

    [Fact]
    public void Save_writes_the_xl_header_then_the_image_libxl_wrote_at_the_fd_offset()
    {
        var result = Operations().Save("web", SavefilePath, SaveOptions.Default, CancellationToken.None);

        using var reader = SaveFileReader.Open(SavefilePath);
        Assert.Equal(3u, reader.Header.MandatoryFlags); // JSON + STREAMv2, as xl writes
        using var image = new MemoryStream();
        reader.Image.CopyTo(image);
        Assert.Equal(_libxl.Image, image.ToArray());
        Assert.Equal(new FileInfo(SavefilePath).Length, result.Bytes);
        Assert.Equal(reader.Header, result.Header);
    }

    [Fact]
    public void Save_stores_no_domid_unless_preserved()
    {
        // As xl save writes it (see RealXenSavefileTests): without -D, c_info has no domid and Xen chooses on restore.
        Operations().Save("web", SavefilePath, SaveOptions.Default, CancellationToken.None);
        Assert.Null(StoredDomId(SavefilePath));

        _libxl.Domains["web"] = 7;
        var preserved = Path.Combine(_dir, "preserved.xlsave");
        Operations().Save("web", preserved, SaveOptions.Default with { PreserveDomId = true }, CancellationToken.None);
        Assert.Equal(7u, StoredDomId(preserved));
    }

    [Fact]
    public void Plain_save_destroys_the_domain_after_the_image_is_written()
    {
        Operations().Save("web", SavefilePath, SaveOptions.Default, CancellationToken.None);
        Assert.Equal(["retrieve 7", "normalize", "suspend 7", "destroy 7"], _libxl.Calls);
    }

    [Fact]
    public void Checkpoint_save_resumes_the_domain_cooperatively()
    {
        Operations().Save("web", SavefilePath, SaveOptions.Default with { Mode = SaveMode.Checkpoint }, CancellationToken.None);
        Assert.Equal(["suspend 7", "resume 7 cancel=True"], _libxl.Calls[2..]);
    }

    [Fact]
    public void Leave_paused_save_pauses_then_resumes_as_xl_does()
    {
        Operations().Save("web", SavefilePath, SaveOptions.Default with { LeavePaused = true }, CancellationToken.None);
        Assert.Equal(["suspend 7", "pause 7", "resume 7 cancel=True"], _libxl.Calls[2..]);
    }

    [Fact]
    public void Failed_suspend_resumes_the_domain_leaves_no_file_and_keeps_the_old_savefile()
    {
        File.WriteAllText(SavefilePath, "the previous savefile");
        _libxl.SuspendFailure = new XenHostException(XenHostError.OperationFailed, "libxl_domain_suspend failed with ERROR_FAIL (-3)");

        var e = Assert.Throws<XenHostException>(() => Operations().Save("web", SavefilePath, SaveOptions.Default, CancellationToken.None));

        Assert.Contains("libxl_domain_suspend failed", e.Message);
        Assert.Equal(["suspend 7", "resume 7 cancel=True"], _libxl.Calls[2..]);
        Assert.Equal("the previous savefile", File.ReadAllText(SavefilePath));
        Assert.Equal([SavefilePath], Directory.GetFiles(_dir));
    }

    [Fact]
    public void Cancellation_during_suspend_is_honoured_after_it_returns_by_undoing_the_save()
    {
        using var cts = new CancellationTokenSource();
        _libxl.DuringSuspend = cts.Cancel;

        Assert.ThrowsAny<OperationCanceledException>(() => Operations().Save("web", SavefilePath, SaveOptions.Default, cts.Token));

        Assert.Equal(["suspend 7", "resume 7 cancel=True"], _libxl.Calls[2..]);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void Cancellation_before_the_suspend_neither_suspends_nor_resumes()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => Operations().Save("web", SavefilePath, SaveOptions.Default, cts.Token));
        Assert.DoesNotContain(_libxl.Calls, c => c.StartsWith("suspend") || c.StartsWith("resume"));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [SkippableFact]
    public void Savefile_is_private_to_its_owner()
    {
        Skip.If(OperatingSystem.IsWindows(), "Unix file modes only");
        Operations().Save("web", SavefilePath, SaveOptions.Default, CancellationToken.None);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SavefilePath));
    }

    [Fact]
    public void Save_progress_reports_the_growing_file_while_libxl_writes_and_ends_at_its_size()
    {
        var reports = new List<long>();
        using var sawPartialFile = new ManualResetEventSlim();
        var progress = new SyncProgress(reports, sawPartialFile);
        // Halfway through the image the fake waits until the poll has seen the half-written file.
        _libxl.MidSuspend = () => Assert.True(sawPartialFile.Wait(TimeSpan.FromSeconds(30)), "no progress report during the suspend");

        var result = Operations().Save("web", SavefilePath, SaveOptions.Default with { Progress = progress }, CancellationToken.None);

        lock (reports)
        {
            Assert.Contains(reports, r => r > 0 && r < result.Bytes);
            Assert.Equal(result.Bytes, reports[^1]);
        }
    }

    [Fact]
    public void Unknown_domain_and_domain_0_are_refused_before_any_libxl_work()
    {
        var missing = Assert.Throws<XenHostException>(() => Operations().Save("nope", SavefilePath, SaveOptions.Default, CancellationToken.None));
        Assert.Equal(XenHostError.DomainNotFound, missing.Error);
        var dom0 = Assert.Throws<XenHostException>(() => Operations().Save("Domain-0", SavefilePath, SaveOptions.Default, CancellationToken.None));
        Assert.Equal(XenHostError.InvalidState, dom0.Error);
        Assert.Empty(_libxl.Calls);
    }

    [Fact]
    public void Restore_hands_libxl_the_fd_positioned_at_the_image_and_unpauses()
    {
        Operations().Save("web", SavefilePath, SaveOptions.Default, CancellationToken.None);
        _libxl.Calls.Clear();

        var result = Operations().Restore(SavefilePath, RestoreOptions.Default, CancellationToken.None);

        Assert.Equal(_libxl.Image, _libxl.RestoredImage);
        Assert.True(_libxl.RestoredStreamV2);
        Assert.Null(JsonNode.Parse(_libxl.RestoredJson!)!["c_info"]!["domid"]);
        Assert.Equal(["restore", "unpause 12"], _libxl.Calls);
        Assert.Equal(12u, result.Domain.DomId);
        Assert.False(result.ConfigOverridden);
    }

    [Fact]
    public void A_streamed_restore_feeds_libxl_the_image_through_a_pipe()
    {
        Operations().Save("web", SavefilePath, SaveOptions.Default, CancellationToken.None);
        _libxl.Calls.Clear();
        var reports = new List<long>();

        using var source = new XenIac.Tests.OneWayStream(File.ReadAllBytes(SavefilePath), 4099);
        var result = Operations().Restore(source, "the pipe", RestoreOptions.Default with { Progress = new Reports(r => { lock (reports) reports.Add(r); }) },
            CancellationToken.None);

        Assert.Equal(_libxl.Image, _libxl.RestoredImage);
        Assert.True(_libxl.RestoredStreamV2);
        Assert.Equal(["restore", "unpause 12"], _libxl.Calls);
        Assert.Equal(12u, result.Domain.DomId);
        Assert.Equal(_libxl.Image.Length, reports.Last());
    }

    [Fact]
    public void A_stream_that_fails_after_libxl_read_it_gets_the_domain_destroyed()
    {
        Operations().Save("web", SavefilePath, SaveOptions.Default, CancellationToken.None);
        _libxl.Calls.Clear();

        using var source = new XenIac.Tests.OneWayStream(File.ReadAllBytes(SavefilePath), 4099) { FailAtEnd = "digest mismatch" };
        var e = Assert.Throws<XenHostException>(() => Operations().Restore(source, "the pipe", RestoreOptions.Default, CancellationToken.None));

        Assert.Contains("cannot restore from the pipe: digest mismatch", e.Message);
        Assert.Contains("destroyed", e.Message);
        Assert.Equal(["restore", "destroy 12"], _libxl.Calls);
        Assert.DoesNotContain("restored", _libxl.Domains.Keys);
    }

    private sealed class Reports(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }

    [Fact]
    public void Restore_paused_does_not_unpause_and_an_override_config_is_used_and_reported()
    {
        Operations().Save("web", SavefilePath, SaveOptions.Default, CancellationToken.None);
        _libxl.Calls.Clear();
        const string other = """{"c_info":{"name":"web2"}}""";

        var result = Operations().Restore(SavefilePath,
            RestoreOptions.Default with { Paused = true, OverrideConfig = ConfigText.FromText(other) }, CancellationToken.None);

        Assert.Equal(other, _libxl.RestoredJson);
        Assert.Equal(["restore"], _libxl.Calls);
        Assert.True(result.ConfigOverridden);
    }

    [Fact]
    public void Restore_refuses_a_name_that_is_already_running()
    {
        File.WriteAllBytes(SavefilePath, SaveFileHeader.Create(FakeLibxl.StoredJson, SaveFileConfigFormat.Json).ToBytes());
        var e = Assert.Throws<XenHostException>(() => Operations().Restore(SavefilePath, RestoreOptions.Default, CancellationToken.None));
        Assert.Equal(XenHostError.DomainExists, e.Error);
        Assert.Empty(_libxl.Calls);
    }

    [Fact]
    public void Restore_of_a_2010_style_xl_cfg_savefile_names_settings_libxl_json_cannot_carry()
    {
        File.WriteAllBytes(SavefilePath, SaveFileHeader.Create("name = \"old\"\nmemory = 64\nfrobnicate_level = 3\n", SaveFileConfigFormat.XlCfg).ToBytes());
        var e = Assert.Throws<XenHostException>(() => Operations().Restore(SavefilePath, RestoreOptions.Default, CancellationToken.None));
        Assert.Equal(XenHostError.InvalidConfig, e.Error);
        Assert.Contains("frobnicate_level", e.Message);
        Assert.Empty(_libxl.Calls);
    }

    [Fact]
    public void Legacy_restore_needs_a_config_and_reads_the_whole_file_as_a_v1_image()
    {
        File.WriteAllBytes(SavefilePath, [1, 2, 3, 4, 5]);
        var e = Assert.Throws<XenHostException>(() => Operations().Restore(SavefilePath, RestoreOptions.Default with { Legacy = true }, CancellationToken.None));
        Assert.Contains("--config", e.Message);

        Operations().Restore(SavefilePath, RestoreOptions.Default with
        {
            Legacy = true,
            OverrideConfig = ConfigText.FromText("""{"c_info":{"name":"old"}}"""),
        }, CancellationToken.None);
        Assert.Equal([1, 2, 3, 4, 5], _libxl.RestoredImage);
        Assert.False(_libxl.RestoredStreamV2);
    }

    [Fact]
    public void Create_unpauses_unless_asked_to_stay_paused()
    {
        var config = ConfigText.FromText("""{"c_info":{"name":"fresh"}}""");
        Operations().Create(config, paused: false, CancellationToken.None);
        Assert.Equal(["create", "unpause 13"], _libxl.Calls);

        _libxl.Calls.Clear();
        _libxl.Domains.Remove("created");
        Operations().Create(config, paused: true, CancellationToken.None);
        Assert.Equal(["create"], _libxl.Calls);
    }

    [Fact]
    public void Temp_files_use_the_atomic_file_prefix_so_stale_ones_can_be_cleaned()
    {
        string? seen = null;
        _libxl.DuringSuspend = () => seen = Directory.GetFiles(_dir).Single();
        Operations().Save("web", SavefilePath, SaveOptions.Default, CancellationToken.None);
        Assert.StartsWith(AtomicFile.TempPrefix, Path.GetFileName(seen));
    }

    private static uint? StoredDomId(string path)
    {
        using var reader = SaveFileReader.Open(path);
        return (uint?)JsonNode.Parse(reader.Header.ConfigText!)!["c_info"]!["domid"];
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; this records in call order, which the assertions need.</summary>
    private sealed class SyncProgress(List<long> reports, ManualResetEventSlim sawPartialFile) : IProgress<long>
    {
        public void Report(long value)
        {
            lock (reports) reports.Add(value);
            if (value > 0) sawPartialFile.Set();
        }
    }
}
