using XenIac.Core.Config;
using XenIac.Core.IO;
using XenIac.Core.SaveFiles;

namespace XenIac.Hosts.Libxl;

/// <summary>
/// The order of libxl calls for save, restore and create, as xl does them (tools/xl/xl_saverestore.c,
/// xl_vmcontrol.c), with XenIac's file handling around them. Blocking: callers run it off the caller's thread.
/// </summary>
/// <remarks>
/// Cancellation: libxl's synchronous calls cannot be interrupted, so the token is checked before each libxl call
/// and after the suspend. A save cancelled after libxl_domain_suspend returned is undone like a failed one (the
/// domain is resumed, the temp file removed). Once a restore or create has produced a domain, the domain is
/// returned rather than thrown away.
/// </remarks>
internal sealed class LibxlSaveRestore(ILibxl libxl)
{
    /// <summary>How often progress polls the file; a field so tests need not wait.</summary>
    internal TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    public SaveResult Save(string name, string savefilePath, SaveOptions options, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var domid = ResolveDomId(name);
        if (domid == 0)
            throw new XenHostException(XenHostError.InvalidState, "domain 0 (the control domain) cannot be saved");

        var json = options.AlternativeConfig is { } alternative
            ? libxl.NormalizeConfigJson(LibxlConfig.ToJson(alternative))
            : libxl.NormalizeConfigJson(HostConfigs.WithDomId(libxl.RetrieveConfigJson(domid), options.PreserveDomId ? domid : null));
        var header = SaveFileHeader.Create(json, SaveFileConfigFormat.Json).WithFingerprint(options.Fingerprint);

        var full = Path.GetFullPath(savefilePath);
        var suspendStarted = false;
        long bytes = 0;
        try
        {
            // AtomicFile gives the temp file beside the target, the rename into place and the fsyncs; libxl writes
            // the image straight into the temp file's descriptor, after the header placed at its start.
            AtomicFile.WriteAsync(full, (stream, ct) =>
            {
                var file = (stream as FileStream ?? throw new InvalidOperationException("libxl needs a file descriptor to write to")).SafeFileHandle;
                var prefix = header.ToBytes();
                RandomAccess.Write(file, prefix, 0);
                Posix.SeekTo(file, prefix.Length);
                stream.Flush();
                ct.ThrowIfCancellationRequested();

                suspendStarted = true;
                using (Poll(options.Progress, () => RandomAccess.GetLength(file)))
                    libxl.Suspend(domid, file);

                bytes = RandomAccess.GetLength(file);
                options.Progress?.Report(bytes);
                return Task.CompletedTask;
            }, cancellationToken).GetAwaiter().GetResult(); // on the save's own long-running thread: nothing awaits here
        }
        catch (Exception failure)
        {
            // xl resumes only when the suspend was attempted: resuming a domain that was never suspended would
            // tell a running guest its (non-existent) suspend was cancelled.
            if (suspendStarted) ResumeAfterFailure(domid, failure);
            throw;
        }

        // As xl: -p leaves the domain paused, -c keeps it running, a plain save destroys it.
        if (options.LeavePaused || options.Mode == SaveMode.Checkpoint)
        {
            if (options.LeavePaused) libxl.Pause(domid);
            libxl.Resume(domid, suspendCancel: true);
        }
        else
        {
            libxl.Destroy(domid);
        }
        return new SaveResult(name, full, bytes, header);
    }

    public RestoreResult Restore(string savefilePath, RestoreOptions options, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var stream = InputFile.Open(savefilePath, 64 * 1024);
        using var savefile = options.Legacy ? SaveFileReader.OpenLegacy(stream, leaveOpen: true) : SaveFileReader.Open(stream, leaveOpen: true);
        var header = savefile.Header;
        var restoreConfig = HostConfigs.ForRestore(savefile, options);
        var json = LibxlConfig.ToJson(restoreConfig.Config);

        EnsureNameFree(json);
        var file = stream.SafeFileHandle;
        Posix.SeekTo(file, header.ImageOffset);
        cancellationToken.ThrowIfCancellationRequested();

        uint domid;
        using (Poll(options.Progress, () => Posix.Offset(file)))
            domid = libxl.CreateRestore(json, file, streamV2: header.IsStreamV2);
        options.Progress?.Report(Posix.Offset(file));

        // libxl leaves a restored domain paused; xl unpauses unless -p.
        if (!options.Paused) libxl.Unpause(domid);
        return new RestoreResult(Describe(domid), options.OverrideConfig is not null) { Cloned = restoreConfig.Clone, Findings = restoreConfig.Findings };
    }

    /// <summary>
    /// A restore from a stream: libxl reads the read end of a pipe while a feeder copies the image into the other
    /// end. Cancelling, or a source that fails (a store chunk that does not match its name), closes the pipe early,
    /// so libxl sees a short image and fails as it does on a truncated file. A source that fails only after libxl
    /// finished (the whole-file digest checked at the stream's end) gets the domain destroyed: what libxl read was
    /// not the savefile that was asked for.
    /// </summary>
    public RestoreResult Restore(Stream savefile, string source, RestoreOptions options, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var reader = options.Legacy ? SaveFileReader.OpenLegacy(savefile, leaveOpen: true) : SaveFileReader.Open(savefile, leaveOpen: true);
        var header = reader.Header;
        var restoreConfig = HostConfigs.ForRestore(reader, options);
        var json = LibxlConfig.ToJson(restoreConfig.Config);
        EnsureNameFree(json);

        var (readEnd, writeEnd) = Posix.Pipe();
        long fed = 0;
        var feeder = Task.Run(() =>
        {
            using var sink = new FileStream(writeEnd, FileAccess.Write, bufferSize: 0);
            var buffer = new byte[1 << 20];
            int n;
            while ((n = reader.Image.Read(buffer)) > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                sink.Write(buffer, 0, n);
                Interlocked.Add(ref fed, n);
            }
        }, CancellationToken.None);

        uint domid;
        try
        {
            using (Poll(options.Progress, () => Interlocked.Read(ref fed)))
                domid = libxl.CreateRestore(json, readEnd, streamV2: header.IsStreamV2);
        }
        catch (Exception failure)
        {
            // libxl gave up: closing its end makes a feeder still writing fail at once instead of blocking.
            readEnd.Dispose();
            try { feeder.GetAwaiter().GetResult(); }
            catch (Exception feedFailure) when (feedFailure is not OutOfMemoryException)
            {
                throw new XenHostException(XenHostError.OperationFailed,
                    $"cannot restore from {source}: {feedFailure.Message} (libxl: {failure.Message})", feedFailure);
            }
            throw;
        }
        readEnd.Dispose();
        try
        {
            feeder.GetAwaiter().GetResult();
        }
        catch (Exception feedFailure) when (feedFailure is not OutOfMemoryException)
        {
            libxl.Destroy(domid);
            throw new XenHostException(XenHostError.OperationFailed,
                $"cannot restore from {source}: {feedFailure.Message}; the domain libxl restored from it was destroyed", feedFailure);
        }
        options.Progress?.Report(Interlocked.Read(ref fed));
        if (!options.Paused) libxl.Unpause(domid);
        return new RestoreResult(Describe(domid), options.OverrideConfig is not null) { Cloned = restoreConfig.Clone, Findings = restoreConfig.Findings };
    }

    public DomainInfo Create(ConfigText config, bool paused, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var json = LibxlConfig.ToJson(config);
        EnsureNameFree(json);
        var domid = libxl.CreateNew(json);
        if (!paused) libxl.Unpause(domid);
        return Describe(domid);
    }

    public uint ResolveDomId(string name) =>
        libxl.FindDomId(name) ?? throw new XenHostException(XenHostError.DomainNotFound, $"no domain named '{name}'");

    public string GetConfig(string name) =>
        libxl.NormalizeConfigJson(HostConfigs.WithDomId(libxl.RetrieveConfigJson(ResolveDomId(name)), null));

    private void EnsureNameFree(string json)
    {
        if (LibxlConfig.NameOf(json) is { } name && libxl.FindDomId(name) is { } existing)
            throw new XenHostException(XenHostError.DomainExists, $"a domain named '{name}' already exists (domid {existing})");
    }

    private DomainInfo Describe(uint domid) =>
        libxl.ListDomains().FirstOrDefault(d => d.DomId == domid)
        ?? throw new XenHostException(XenHostError.OperationFailed, $"domain {domid} vanished right after it was created");

    private void ResumeAfterFailure(uint domid, Exception failure)
    {
        try
        {
            libxl.Resume(domid, suspendCancel: true);
        }
        catch (XenHostException resumeFailure)
        {
            throw new XenHostException(XenHostError.OperationFailed,
                $"{failure.Message}; resuming the domain afterwards also failed: {resumeFailure.Message}", failure);
        }
    }

    /// <summary>Reports <paramref name="measure"/> on a timer while libxl works, since libxl reports nothing itself.</summary>
    private IDisposable? Poll(IProgress<long>? progress, Func<long> measure) =>
        progress is null ? null : new Timer(_ =>
        {
            try { progress.Report(measure()); }
            catch (ObjectDisposedException) { }
            catch (IOException) { }
        }, null, ProgressInterval, ProgressInterval);

}
