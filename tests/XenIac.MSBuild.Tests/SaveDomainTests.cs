using XenIac.Core.IO;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;

namespace XenIac.MSBuild.Tests;

public sealed class SaveDomainTests : IDisposable
{
    private readonly TaskFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void Saves_a_running_domain_to_a_readable_savefile_and_reports_its_size()
    {
        _f.Host.Add("web");
        var task = _f.Wire(new XenIacSaveDomain { Host = "embedded:h", Domain = "web", Savefile = "snap/web.xlsave" });

        Assert.True(task.Execute(), _f.Engine.ToString());

        var path = _f.PathOf("snap/web.xlsave");
        using (var reader = SaveFileReader.Open(path))
            Assert.Contains("name = \"web\"", reader.Header.ConfigText);
        Assert.Equal(new FileInfo(path).Length, task.Bytes);
        Assert.Equal(SaveMode.Plain, _f.Host.LastSaveOptions!.Mode);
        Assert.False(_f.Host.Domains.ContainsKey("web"));
        // The host spec is passed through and relative folders resolve against the project's folder.
        Assert.Equal(("embedded:h", _f.Folder), _f.Opened.Single());
        Assert.Equal(1, _f.Host.Disposed);
        Assert.Contains(_f.Engine.Messages, m => m.Importance == Microsoft.Build.Framework.MessageImportance.High && m.Message!.Contains("saved domain 'web'"));
    }

    [Fact]
    public void Checkpoint_keeps_the_domain_and_LeavePaused_is_passed_on()
    {
        _f.Host.Add("web");
        var task = _f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = "web.xlsave", Checkpoint = true, LeavePaused = true });

        Assert.True(task.Execute(), _f.Engine.ToString());

        Assert.Equal(SaveMode.Checkpoint, _f.Host.LastSaveOptions!.Mode);
        Assert.True(_f.Host.LastSaveOptions.LeavePaused);
        Assert.True(_f.Host.Domains.ContainsKey("web"));
        // No host given: the factory gets null, which means "libxl on a dom0".
        Assert.Null(_f.Opened.Single().Spec);
    }

    [Fact]
    public void An_alternative_config_is_what_the_savefile_stores()
    {
        _f.Host.Add("web");
        File.WriteAllText(_f.PathOf("alt.cfg"), "name = \"web\"\nmemory = 16\non_crash = \"restart\"\n");
        var task = _f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = "web.xlsave", Config = "alt.cfg" });

        Assert.True(task.Execute(), _f.Engine.ToString());

        using var reader = SaveFileReader.Open(_f.PathOf("web.xlsave"));
        Assert.Contains("on_crash = \"restart\"", reader.Header.ConfigText);
    }

    [Fact]
    public void A_missing_domain_is_error_XIAC0003_with_help_keyword_and_no_savefile()
    {
        var task = _f.Wire(new XenIacSaveDomain { Domain = "nope", Savefile = "nope.xlsave" });

        Assert.False(task.Execute());

        var error = Assert.Single(_f.Engine.Errors);
        Assert.Equal("XIAC0003", error.Code);
        Assert.Equal("XenIac", error.Subcategory);
        Assert.Equal("XenIac.XIAC0003", error.HelpKeyword);
        Assert.Contains("'nope'", error.Message);
        Assert.Contains("fake:test", error.Message);
        Assert.False(File.Exists(_f.PathOf("nope.xlsave")));
        Assert.Empty(_f.Host.Calls);
    }

    [Fact]
    public void A_missing_alternative_config_is_XIAC0007_before_the_host_is_opened()
    {
        _f.Host.Add("web");
        var task = _f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = "web.xlsave", Config = "missing.cfg" });

        Assert.False(task.Execute());

        Assert.Equal(["XIAC0007"], _f.Engine.ErrorCodes);
        Assert.Empty(_f.Opened);
    }

    [Fact]
    public void An_unavailable_host_is_XIAC0001_and_names_the_reason()
    {
        var task = _f.WireUnavailable(new XenIacSaveDomain { Host = "embedded:x", Domain = "web", Savefile = "web.xlsave" }, "folder is a file.");

        Assert.False(task.Execute());

        var error = Assert.Single(_f.Engine.Errors);
        Assert.Equal("XIAC0001", error.Code);
        Assert.Contains("'embedded:x': folder is a file. Set XenIacHost", error.Message);
    }

    [Fact]
    public async Task Cancel_stops_a_save_in_progress_with_XIAC0010_and_leaves_no_file()
    {
        _f.Host.Add("web");
        var started = new TaskCompletionSource();
        _f.Host.DuringSave = async ct =>
        {
            started.SetResult();
            await Task.Delay(Timeout.Infinite, ct);
        };
        var task = _f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = "web.xlsave" });

        var execute = Task.Run(task.Execute);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        task.Cancel();
        var result = await execute.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.False(result);
        Assert.Equal(["XIAC0010"], _f.Engine.ErrorCodes);
        Assert.DoesNotContain(Directory.GetFiles(_f.Folder, "*", SearchOption.AllDirectories),
            p => Path.GetFileName(p).StartsWith(AtomicFile.TempPrefix, StringComparison.Ordinal) || p.EndsWith(".xlsave", StringComparison.Ordinal));
        Assert.True(_f.Host.Domains.ContainsKey("web"));
    }

    [Fact]
    public void Execute_does_not_deadlock_on_a_thread_whose_synchronization_context_never_runs_continuations()
    {
        _f.Host.Add("web");
        var task = _f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = "web.xlsave" });
        bool? result = null;

        var thread = new Thread(() =>
        {
            SynchronizationContext.SetSynchronizationContext(new BlackHoleContext());
            result = task.Execute();
        });
        thread.Start();

        Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "Execute deadlocked");
        Assert.True(result, _f.Engine.ToString());
    }

    /// <summary>Like a UI thread that is blocked: anything posted to it never runs.</summary>
    private sealed class BlackHoleContext : SynchronizationContext
    {
        public override void Post(SendOrPostCallback d, object? state) { }
        public override void Send(SendOrPostCallback d, object? state) => throw new InvalidOperationException();
    }

    [Fact]
    public void A_host_failure_maps_to_its_code()
    {
        var task = _f.Wire(new XenIacSaveDomain { Domain = "web", Savefile = "web.xlsave" });
        _f.Host.Add("web");
        _f.Host.DuringSave = _ => throw new XenHostException(XenHostError.Busy, "locked by pid 42");

        Assert.False(task.Execute());

        var error = Assert.Single(_f.Engine.Errors);
        Assert.Equal("XIAC0008", error.Code);
        Assert.Contains("locked by pid 42", error.Message);
        Assert.False(File.Exists(_f.PathOf("web.xlsave")));
    }
}
