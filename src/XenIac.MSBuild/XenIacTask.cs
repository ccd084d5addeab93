using Microsoft.Build.Framework;
using XenIac.Core;
using XenIac.Core.Config;
using XenIac.Core.IO;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;
using XenIac.Reconciler.Manifests;
using XenIac.Store;

namespace XenIac.MSBuild;

/// <summary>
/// What every XenIac task shares: async work run safely from MSBuild's synchronous Execute, cancellation
/// (Ctrl+C), and the mapping of XenIac's failures to coded MSBuild errors. Subclasses only do their one job.
/// </summary>
public abstract partial class XenIacTask : Microsoft.Build.Utilities.Task, ICancelableTask
{
    private readonly CancellationTokenSource _cancellation = new();

    /// <summary>Test seam: how a host spec and a base folder become an open host.</summary>
    internal Func<string?, string, IXenHost> HostFactory { get; set; } = (spec, baseDirectory) => HostSpec.Parse(spec, baseDirectory).Open();

    /// <summary>What the task is doing, for errors ("Saving domain 'web'").</summary>
    private protected string Operation { get; set; } = "";

    /// <summary>Filled in as the task learns them, so a failure names the domain, host and file involved.</summary>
    private protected string? CurrentDomain { get; set; }
    private protected string? CurrentHost { get; set; }
    private protected string? CurrentSavefile { get; set; }

    /// <summary>
    /// The folder relative paths (and embedded:&lt;folder&gt; hosts) resolve against; the package's targets pass
    /// $(MSBuildProjectDirectory). Without it: the folder of the file that calls the task.
    /// </summary>
    public string? BaseDirectory { get; set; }

    public void Cancel() => _cancellation.Cancel();

    public sealed override bool Execute()
    {
        Operation = GetType().Name;
        // Diagnostics for "which copy of XenIac ran": MSBuild loads each task assembly into its own load context.
        var assembly = typeof(XenIacTask).Assembly;
        Log.LogMessage(MessageImportance.Low, "XenIac: {0} {1} from {2} in load context '{3}'", GetType().Name,
            assembly.GetName().Version, assembly.Location, System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(assembly)?.Name);
        // A host spec that does not parse is the first thing to fix: it was reported only when the host was opened,
        // after the savefile's trust check, so a build said "trust this config" for a typo in XenIacHost.
        if (this is XenIacHostTask { Host: { } spec } && !string.IsNullOrWhiteSpace(spec) && !HostSpec.TryParse(spec, ProjectDirectory, out _, out var problem))
        {
            LogCodedError(Strings.HostUnavailable, spec, problem);
            return false;
        }
        try
        {
            // Task.Run keeps the async host calls off the caller's thread: if a host of MSBuild (an IDE) runs tasks on a
            // thread with a SynchronizationContext, blocking on an await that wants to resume there would deadlock.
            System.Threading.Tasks.Task.Run(() => ExecuteAsync(_cancellation.Token)).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (_cancellation.IsCancellationRequested)
        {
            // Only a task that writes a savefile can promise none was left half-written.
            LogCodedError(Strings.Cancelled, Operation, CurrentSavefile is null ? "" : " No partial savefile was left behind.");
        }
        catch (XenHostException e)
        {
            LogHostError(e);
        }
        catch (XenFormatException e)
        {
            LogCodedError(Strings.SavefileInvalid, CurrentSavefile ?? "(savefile)", e.Message);
        }
        catch (ManifestException e)
        {
            foreach (var error in e.Errors)
                LogCodedError(Strings.ManifestInvalid, error.Location.File, error.Location.Line, error.Location.Column, error.Message);
        }
        catch (IncompatibleConfigException e)
        {
            LogCodedError(Strings.ConfigInvalid, e.Message + (HasForce ? " (the task's Force=\"true\" uses it anyway)" : ""));
        }
        catch (XlConfigException e)
        {
            LogCodedError(Strings.ConfigInvalid, e.Message);
        }
        catch (LockBusyException e)
        {
            LogCodedError(Strings.HostBusy, CurrentHost ?? e.LockPath, e.Message);
        }
        catch (StoreException e)
        {
            LogStoreError(e);
        }
        catch (XenIacException e)
        {
            LogCodedError(Strings.OperationFailed, Operation, CurrentHost ?? "(none)", e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogCodedError(Strings.FileAccessFailed, Operation, e.Message);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A bug, not bad input; still a coded error (no MSB4018 wall of text), with the stack at detailed verbosity.
            LogCodedError(Strings.OperationFailed, Operation, CurrentHost ?? "(none)", $"{e.GetType().Name}: {e.Message}");
            Log.LogMessage(MessageImportance.Low, "XenIac: {0}", e);
        }
        return !Log.HasLoggedErrors;
    }

    private protected abstract Task ExecuteAsync(CancellationToken cancellationToken);

    /// <summary>Whether the task takes Force="true" (only then is it advice).</summary>
    private protected virtual bool HasForce => false;

    /// <summary>
    /// The task's savefile as a full path, or null (XIAC0002 logged) when its name is blank: "   " from an unset-looking
    /// property passed [Required] and wrote a 16 MB file named three spaces into the project.
    /// </summary>
    private protected string? SavefilePath(string value)
    {
        if (string.IsNullOrWhiteSpace(value) || string.IsNullOrWhiteSpace(Path.GetFileName(value.TrimEnd('/'))))
        {
            LogCodedError(Strings.InvalidParameter, "Savefile", $"'{value}' names no file (XenIacSavefile in the XenIac targets)");
            return null;
        }
        return CurrentSavefile = FullPath(value);
    }

    /// <summary>Relative paths are relative to the project, as for MSBuild's own tasks.</summary>
    private protected string FullPath(string path) => Path.GetFullPath(path, ProjectDirectory);

    private protected string ProjectDirectory =>
        !string.IsNullOrWhiteSpace(BaseDirectory) ? Path.GetFullPath(BaseDirectory)
        : BuildEngine?.ProjectFileOfTaskNode is { Length: > 0 } project && Path.GetDirectoryName(Path.GetFullPath(project)) is { } dir
            ? dir
            : Environment.CurrentDirectory;

    /// <summary>
    /// Whether the stored config may be restored: what it makes dom0 run or open must be named by the project's own
    /// config (<paramref name="consentConfig"/>); otherwise XIAC0015 is logged.
    /// </summary>
    private protected async Task<bool> IsTrustedAsync(string savefile, string storedText, string? consentConfig, CancellationToken cancellationToken)
    {
        var stored = DomainConfig.Parse(storedText.TrimEnd('\0'), savefile + " (stored config)");
        DomainConfig? consented = null;
        if (!string.IsNullOrEmpty(consentConfig))
        {
            var document = await LoadConfigAsync(consentConfig, cancellationToken).ConfigureAwait(false);
            if (document is null) return false;
            consented = DomainConfig.Parse(document.Text, FullPath(consentConfig));
        }
        var effects = HostEffects.NotIn(stored, consented);
        if (effects.Count == 0) return true;
        LogCodedError(Strings.ConfigUntrusted, savefile, string.Join("; ", effects));
        return false;
    }

    /// <summary>Whether <paramref name="fingerprint"/> is one; logs XIAC0002 when it is not.</summary>
    private protected bool IsFingerprint(string fingerprint)
    {
        try
        {
            SaveFileHeader.ParseFingerprint(fingerprint.Trim());
            return true;
        }
        catch (ArgumentException e)
        {
            LogCodedError(Strings.InvalidParameter, "Fingerprint", e.Message);
            return false;
        }
    }

    private protected IXenHost OpenHost(string? spec)
    {
        CurrentHost = string.IsNullOrWhiteSpace(spec) ? "(default)" : spec;
        var host = HostFactory(string.IsNullOrWhiteSpace(spec) ? null : spec, ProjectDirectory);
        CurrentHost = host.Spec;
        Log.LogMessage(MessageImportance.Low, "XenIac: opened host {0}", host.Spec);
        return host;
    }

    /// <summary>
    /// Why <paramref name="full"/> is not a file a task may read whole, or null when it is one: a folder, a pipe, a
    /// socket or a character device is refused before it is opened. Opening a FIFO blocks until a writer comes, in
    /// a call the build's cancel cannot reach (Ctrl+C only repeated MSB4220 "waiting for the task to cancel"), and
    /// /dev/zero never ends. A block device (a savefile or disk image on a raw volume) has an end and is read.
    /// </summary>
    private protected static string? NotAReadableFile(string full) =>
        Directory.Exists(full) ? $"'{full}' is a folder, not a file"
        : !File.Exists(full) ? null
        : !AtomicFile.HasEnd(full) ? $"'{full}' is not a regular file (a pipe, socket or character device); XenIac reads only files it can see the end of"
        : null;

    /// <summary>
    /// Whether the task's savefile is there to read: XIAC0005 when nothing is at the path, XIAC0006 when a folder,
    /// a pipe or a device is (<see cref="NotAReadableFile"/>).
    /// </summary>
    private protected bool IsReadableSavefile(string savefile)
    {
        if (!File.Exists(savefile) && !Directory.Exists(savefile))
        {
            LogCodedError(Strings.SavefileNotFound, savefile);
            return false;
        }
        if (NotAReadableFile(savefile) is { } notAFile)
        {
            LogCodedError(Strings.SavefileInvalid, savefile, notAFile);
            return false;
        }
        return true;
    }

    /// <summary>
    /// Loads and parses a config file, or logs XIAC0007 and returns null.    /// <summary>
    /// Loads and parses a config file, or logs XIAC0007 and returns null. Parsing here names the user's file in
    /// errors (the host would call it "xl.cfg") and refuses a bad config before the host is touched.
    /// </summary>
    private protected async Task<ConfigText?> LoadConfigAsync(string path, CancellationToken cancellationToken)
    {
        var full = FullPath(path);
        if (Directory.Exists(full))
        {
            LogCodedError(Strings.ConfigInvalid, $"'{full}' is a folder, not a config file");
            return null;
        }
        if (!File.Exists(full))
        {
            LogCodedError(Strings.ConfigInvalid, $"'{full}' does not exist");
            return null;
        }
        if (!AtomicFile.IsRegularFile(full))
        {
            LogCodedError(Strings.ConfigInvalid, NotAReadableFile(full) ?? $"'{full}' is not a regular file");
            return null;
        }
        var document = await ConfigText.LoadAsync(full, cancellationToken).ConfigureAwait(false);
        _ = ConfigModel(document, full);
        return document;
    }

    private protected static DomainConfig ConfigModel(ConfigText document, string name) =>
        (document with { Source = name }).ToModel();

    /// <summary>
    /// Progress that logs synchronously on the reporting thread. <see cref="Progress{T}"/> would post to the thread
    /// pool, and a report arriving after Execute returned would make MSBuild throw.
    /// </summary>
    private protected IProgress<long> ByteProgress(string verb) => new LogProgress(this, verb);

    private protected void LogCodedError(string name, params object?[] args) => LogCoded(name, warning: false, null, 0, 0, args);

    private protected void LogCodedWarning(string name, params object?[] args) => LogCoded(name, warning: true, null, 0, 0, args);

    private void LogCodedError(string name, string file, int line, int column, string message) =>
        LogCoded(name, warning: false, file, line, column, [message]);

    private void LogCoded(string name, bool warning, string? file, int line, int column, object?[] args)
    {
        var (code, text) = Strings.Format(name, args);
        var helpKeyword = "XenIac." + code;
        var helpLink = HelpLink(code);
        if (warning)
            Log.LogWarning("XenIac", code, helpKeyword, helpLink, file, line, column, 0, 0, text);
        else
            Log.LogError("XenIac", code, helpKeyword, helpLink, file, line, column, 0, 0, text);
    }

    private void LogHostError(XenHostException e)
    {
        var domain = CurrentDomain ?? "(unknown)";
        var host = CurrentHost ?? "(default)";
        switch (e.Error)
        {
            case XenHostError.Unavailable: LogCodedError(Strings.HostUnavailable, host, e.Message); break;
            case XenHostError.DomainNotFound: LogCodedError(Strings.DomainNotFound, domain, host, e.Message); break;
            case XenHostError.DomainExists: LogCodedError(Strings.DomainExists, domain, host, e.Message); break;
            case XenHostError.InvalidState: LogCodedError(Strings.DomainInvalidState, domain, host, e.Message); break;
            case XenHostError.Busy: LogCodedError(Strings.HostBusy, host, e.Message); break;
            case XenHostError.InvalidConfig: LogCodedError(Strings.ConfigInvalid, e.Message); break;
            default: LogCodedError(Strings.OperationFailed, Operation, host, e.Message); break;
        }
    }

    /// <summary>
    /// The error table in the package's README, when the task runs from the package (tasks/net10.0/ → ../../README.md);
    /// none when it runs from a build folder, rather than a link to a page that may not exist.
    /// </summary>
    private static string? HelpLink(string code)
    {
        var dir = Path.GetDirectoryName(typeof(XenIacTask).Assembly.Location);
        if (string.IsNullOrEmpty(dir)) return null;
        var readme = Path.GetFullPath(Path.Combine(dir, "..", "..", "README.md"));
        return File.Exists(readme) ? new Uri(readme).AbsoluteUri + "#" + code.ToLowerInvariant() : null;
    }

    private sealed class LogProgress(XenIacTask task, string verb) : IProgress<long>
    {
        private const long Step = 256L * 1024 * 1024;
        private readonly Lock _gate = new();
        private long _next = Step;

        public void Report(long value)
        {
            lock (_gate)
            {
                if (value < _next) return;
                _next = (value / Step + 1) * Step;
                task.Log.LogMessage(MessageImportance.Low, "XenIac: {0} {1} MiB", verb, value / (1024 * 1024));
            }
        }
    }
}

/// <summary>A task that works on a host: <c>Host</c> is <c>libxl</c>, <c>embedded:&lt;folder&gt;</c>, or empty for libxl on a dom0.</summary>
public abstract class XenIacHostTask : XenIacTask
{
    public string? Host { get; set; }
}
