using XenIac.Core.Config;
using System.Text;
using XenIac.Core;
using XenIac.Core.IO;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;

namespace XenIac.Hosts.Embedded;

public sealed partial class EmbeddedHost
{
    public async Task<SaveResult> SaveAsync(string name, string savefilePath, SaveOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        CheckExistingName(name);
        RequireTrace(name);
        using var domainLock = await FileLock.AcquireAsync(DomainLockPath(name), LockWait, "save", cancellationToken).ConfigureAwait(false);
        var record = Require(name);
        var target = Path.GetFullPath(savefilePath);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);

        var configJson = options.AlternativeConfig is { } alternative ? EmbeddedConfig.ToLibxlJson(alternative) : record.ConfigJson;
        configJson = HostConfigs.WithDomId(configJson, options.PreserveDomId ? record.DomId : null);
        var header = SaveFileHeader.Create(configJson, SaveFileConfigFormat.Json).WithFingerprint(options.Fingerprint);
        var memory = MemoryOf(record);

        // The writer is synchronous; run it off the caller's thread and let the output stream carry progress
        // and cancellation. A failure here changes nothing about the domain: it "resumes" by never having stopped.
        // Sealed while written: the image is hashed on its way into the temp file and the integrity record in the
        // header patched before AtomicFile syncs and renames it, so the savefile never exists without its record.
        await AtomicFile.WriteLargeAsync(target, (output, ct) => Task.Run(() =>
        {
            header = SaveFileWriter.WriteSealed(output, header, image =>
            {
                using var reporting = new MeteredStream(image, reading: false, options.Progress, Throttle.For(_options), ct);
                using var source = memory.OpenRead();
                ImageStreamWriter.Write(reporting, Describe(record, source, memory));
            });
        }, ct), cancellationToken).ConfigureAwait(false);

        if (options.LeavePaused)
            await (record with { State = DomainState.Paused }).SaveAsync(RecordPath(name), CancellationToken.None).ConfigureAwait(false);
        else if (options.Mode == SaveMode.Plain)
            await RemoveAsync(name, CancellationToken.None).ConfigureAwait(false);

        return new SaveResult(name, target, new FileInfo(target).Length, header);
    }

    public async Task<RestoreResult> RestoreAsync(string savefilePath, RestoreOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var path = Path.GetFullPath(savefilePath);
        if (!File.Exists(path))
            throw new XenHostException(XenHostError.OperationFailed, $"savefile not found: {savefilePath}");

        // One open for the whole restore: the header gives the config, the image is checked, then read again from its start.
        using var savefile = options.Legacy ? SaveFileReader.OpenLegacy(path) : SaveFileReader.Open(path);
        var (config, overridden, clone, findings) = HostConfigs.ForRestore(savefile, options);
        var shape = EmbeddedConfig.Shape(config);
        CheckName(shape.Name);

        using var domainLock = await LockFreeNameAsync(shape.Name, cancellationToken).ConfigureAwait(false);

        Verify(savefile, path, shape);
        savefile.Image.Position = 0;
        if (clone is not null)
            return await RestoreCloneAsync(savefile, path, shape, options, cancellationToken).ConfigureAwait(false) with
            {
                ConfigOverridden = overridden, Cloned = clone, Findings = findings,
            };
        var throttle = Throttle.For(_options);
        var record = await RegisterLoadedAsync(shape, options,
            memoryTemp => LoadMemory(savefile, path, shape, memoryTemp, throttle, options.Progress, cancellationToken), cancellationToken).ConfigureAwait(false);
        return new RestoreResult(record.ToInfo(), overridden);
    }

    public async Task<RestoreResult> RestoreAsync(Stream savefile, string source, RestoreOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(savefile);
        ArgumentNullException.ThrowIfNull(options);
        var throttle = Throttle.For(_options);
        // Everything is read through one counting view, header included, so progress is in savefile bytes.
        await using var counted = new MeteredStream(savefile, reading: true, options.Progress, throttle, cancellationToken);
        using var reader = options.Legacy
            ? SaveFileReader.OpenLegacy(counted, leaveOpen: true)
            : await SaveFileReader.OpenAsync(counted, leaveOpen: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        var (config, overridden, clone, findings) = HostConfigs.ForRestore(reader, options);
        var shape = EmbeddedConfig.Shape(config);
        CheckName(shape.Name);

        using var domainLock = await LockFreeNameAsync(shape.Name, cancellationToken).ConfigureAwait(false);

        var record = await RegisterLoadedAsync(shape, options, memoryTemp => StreamMemory(reader, source, shape, memoryTemp), cancellationToken)
            .ConfigureAwait(false);
        // A clone from a stream (a store pull) has no file to share pages with: it gets its own memory.
        return new RestoreResult(record.ToInfo(), overridden) { Cloned = clone, Findings = findings };
    }

    /// <summary>The domain lock for a restore under <paramref name="name"/>, once no domain of that name runs here.</summary>
    private async Task<FileLock> LockFreeNameAsync(string name, CancellationToken cancellationToken)
    {
        var domainLock = await FileLock.AcquireAsync(DomainLockPath(name), LockWait, "restore", cancellationToken).ConfigureAwait(false);
        if (DomainRecord.Load(RecordPath(name)) is null) return domainLock;
        domainLock.Dispose();
        throw new XenHostException(XenHostError.DomainExists,
            $"cannot restore '{name}': a domain of that name already runs on {Spec} (destroy it first, or restore it under another name with a config that names it so)");
    }

    /// <summary>
    /// A restored domain's memory is written by <paramref name="load"/> into a temp file beside its final place
    /// (off the caller's thread), then the domain is registered with it; whatever fails, no temp file stays.
    /// </summary>
    private async Task<DomainRecord> RegisterLoadedAsync(EmbeddedDomainShape shape, RestoreOptions options, Action<string> load,
        CancellationToken cancellationToken)
    {
        var folder = DomainDir(shape.Name);
        CreatePrivateFolder(folder);
        AtomicFile.CleanStaleTempFiles(folder);
        var memoryTemp = AtomicFile.TempPathFor(MemoryPath(shape.Name));
        try
        {
            // A thread of its own: the load reads its stream synchronously, and a stream fed from the network (a
            // remote restore's frames) blocks it between frames; on a pool thread that starves the very reader
            // loop that feeds it (two cores: two pool threads to begin with).
            await Task.Factory.StartNew(() => load(memoryTemp), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default)
                .ConfigureAwait(false);
            return await RegisterAsync(shape, HostConfigs.WithDomId(shape.ConfigJson, null), shape.Name,
                options.Paused ? DomainState.Paused : DomainState.Running, memoryTemp, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // A failed restore leaves the host as it was: no folder for a domain that never came to be (the lock is
            // still held, so no other restore of the name is filling it).
            File.Delete(memoryTemp);
            try { if (!Directory.EnumerateFileSystemEntries(folder).Any()) Directory.Delete(folder); }
            catch (IOException) { /* something appeared in it: it stays */ }
            throw;
        }
        finally
        {
            if (Directory.Exists(folder)) File.Delete(memoryTemp);
        }
    }

    /// <summary>
    /// One pass over an image that cannot be read twice: the check reads every page and hands it to the memory
    /// file, which stays a temp file until the whole image (through its final END and the end of the stream)
    /// passed. The size rules that need the whole image are applied at the end, before the file gets its length.
    /// </summary>
    private static void StreamMemory(SaveFileReader savefile, string source, EmbeddedDomainShape shape, string memoryFile)
    {
        var pages = shape.MemoryKiB / 4;
        using var memory = AtomicFile.CreatePrivateOverwrite(memoryFile);
        using var runs = new PageRunWriter(memory);
        var result = SaveFileVerification.Verify(savefile, new ImageVerifierOptions
        {
            PageSink = page =>
            {
                if ((long)page.Pfn >= pages)
                    throw new XenHostException(XenHostError.InvalidConfig,
                        $"cannot restore from {source}: the image holds page {page.Pfn:x} but the config gives the domain only {shape.MemoryKiB} KiB");
                if (!page.Contents.IsEmpty) runs.Write(page.Pfn, page.Contents.Span);
            },
        });
        runs.Flush();
        CheckImage(result, source, shape);
        // Pages the stream does not carry read back as zeros, as unpopulated guest memory does.
        memory.SetLength(pages * GuestMemory.PageSize);
        memory.Flush(flushToDisk: true);
    }

    /// <summary>Structural check first (it seeks past page data), so a bad file fails before any memory is written.</summary>
    private static void Verify(SaveFileReader savefile, string path, EmbeddedDomainShape shape) =>
        CheckImage(SaveFileVerification.Verify(savefile), path, shape);

    private static void CheckImage(ImageVerification result, string path, EmbeddedDomainShape shape)
    {
        if (!result.IsValid)
            throw new XenHostException(XenHostError.OperationFailed,
                $"cannot restore from {path}: {result.Problem?.ToString() ?? "the image stream is not valid"}");
        CheckSizes(path, shape, result.Summary);
        var expected = GuestTypeOf(shape.GuestType);
        if (result.Summary.GuestType != expected && !(expected == GuestType.PVH && result.Summary.GuestType == GuestType.HVM))
            throw new XenHostException(XenHostError.InvalidConfig,
                $"cannot restore from {path}: the image is a {result.Summary.GuestType} guest but the config says type \"{shape.GuestType}\"");
    }

    /// <summary>
    /// The config's memory and vCPUs against what the image carries, before any memory file exists: the image must
    /// fit (every pfn below the memory size, no more vCPUs than the config has), and the memory may exceed the
    /// image's extent by at most <see cref="MemorySlackFactor"/>x plus <see cref="MemorySlackMiB"/> MiB (a save
    /// carries an entry for every page of the guest, so a config claiming far more was not made for this image).
    /// </summary>
    private static void CheckSizes(string path, EmbeddedDomainShape shape, ImageSummary image)
    {
        var pages = shape.MemoryKiB / 4;
        var extent = (image.HighestPfn ?? -1) + 1;
        if (extent > pages)
            throw new XenHostException(XenHostError.InvalidConfig,
                $"cannot restore from {path}: the image holds page {extent - 1:x} but the config gives the domain only {shape.MemoryKiB} KiB");
        if (pages > MemorySlackFactor * extent + MemorySlackMiB * 256)
            throw new XenHostException(XenHostError.InvalidConfig,
                $"cannot restore from {path}: the config gives the domain {shape.MemoryKiB / 1024} MiB but the image carries only " +
                $"{extent * 4 / 1024.0:0.##} MiB of guest memory (at most {MemorySlackFactor}x that plus {MemorySlackMiB} MiB is accepted)");
        if (image.VCpus > shape.VCpus)
            throw new XenHostException(XenHostError.InvalidConfig,
                $"cannot restore from {path}: the image holds {image.VCpus} vCPUs but the config gives the domain only {shape.VCpus}");
    }

    private const long MemorySlackFactor = 2;
    private const long MemorySlackMiB = 256;

    private static void LoadMemory(SaveFileReader savefile, string path, EmbeddedDomainShape shape, string memoryFile, Throttle? throttle,
        IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var pages = shape.MemoryKiB / 4;
        using var image = new ImageStreamReader(savefile.Image, savefile.ImageOffset, leaveOpen: true);
        using var memory = AtomicFile.CreatePrivateOverwrite(memoryFile);
        // Pages the stream does not carry read back as zeros, as unpopulated guest memory does.
        memory.SetLength(pages * GuestMemory.PageSize);
        using var runs = new PageRunWriter(memory);
        var lastPosition = 0L;
        while (image.MoveNext())
        {
            throttle?.Account(image.Position - lastPosition, cancellationToken);
            lastPosition = image.Position;
            cancellationToken.ThrowIfCancellationRequested();
            if (image.Current is not { Layer: ImageLayer.Libxc, Type: (uint)LibxcRecordType.PageData }) continue;
            foreach (var page in image.ReadPages())
            {
                if ((long)page.Pfn >= pages)
                    throw new XenHostException(XenHostError.InvalidConfig,
                        $"cannot restore from {path}: the image holds page {page.Pfn:x} but the config gives the domain only {shape.MemoryKiB} KiB");
                if (!page.Contents.IsEmpty) runs.Write(page.Pfn, page.Contents.Span);
            }
            progress?.Report(image.Position);
        }
        runs.Flush();
        memory.Flush(flushToDisk: true);
    }

    private static DomainImageDescription Describe(DomainRecord record, Stream? memoryFile, GuestMemory memory)
    {
        var type = GuestTypeOf(record.GuestType);
        var seed = GuestMemory.SeedOf(record.MemorySeed);
        return new DomainImageDescription
        {
            GuestType = type,
            PageCount = record.Pages,
            VCpus = record.VCpus,
            Memory = memoryFile,
            FillPage = memoryFile is null ? (pfn, page) => GuestMemory.Generate(seed, pfn, page) : null,
            // The embedded "device model" state: enough to make the HVM image complete and recognisable.
            EmulatorContext = type == GuestType.PV ? null : Encoding.ASCII.GetBytes($"XenIac embedded device model state for {record.Name}\n"),
        };
    }

    private static GuestType GuestTypeOf(string type) => type switch
    {
        "pv" => GuestType.PV,
        "hvm" => GuestType.HVM,
        "pvh" => GuestType.PVH,
        _ => throw new XenHostException(XenHostError.InvalidConfig, $"unknown guest type \"{type}\" (pv, hvm or pvh)"),
    };

    /// <summary>
    /// One direction of a savefile's bytes (written by a save, or read by a streamed restore), counted for progress
    /// and the throttle, and stopped when cancelled.
    /// </summary>
    private sealed class MeteredStream(Stream inner, bool reading, IProgress<long>? progress, Throttle? throttle,
        CancellationToken cancellationToken) : Stream
    {
        private long _bytes;
        private long _lastReport;

        public override bool CanRead => reading;
        public override bool CanSeek => false;
        public override bool CanWrite => !reading;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _bytes; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (reading) throw new NotSupportedException();
            cancellationToken.ThrowIfCancellationRequested();
            inner.Write(buffer);
            Count(buffer.Length);
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (!reading) throw new NotSupportedException();
            cancellationToken.ThrowIfCancellationRequested();
            var n = inner.Read(buffer);
            Count(n);
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken token = default)
        {
            if (!reading) throw new NotSupportedException();
            cancellationToken.ThrowIfCancellationRequested();
            var n = await inner.ReadAsync(buffer, token).ConfigureAwait(false);
            Count(n);
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken token) =>
            ReadAsync(buffer.AsMemory(offset, count), token).AsTask();

        private void Count(int n)
        {
            _bytes += n;
            throttle?.Account(n, cancellationToken);
            if (_bytes - _lastReport >= 1 << 20 || n == 0)
            {
                _lastReport = _bytes;
                progress?.Report(_bytes);
            }
        }

        public override void Flush()
        {
            if (!reading) inner.Flush();
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) progress?.Report(_bytes);
            base.Dispose(disposing);
        }
    }
}
