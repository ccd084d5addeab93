using System.Text.Json.Nodes;
using XenIac.Core.Config;
using XenIac.Core.IO;
using XenIac.Core.SaveFiles;

namespace XenIac.Hosts.Remote;

/// <summary>
/// An <see cref="IXenHost"/> on the far end of a <see cref="RemoteConnection"/> (an ssh connection in use; pipes in
/// tests). The connection is made on first use, so opening a host never blocks. Savefile paths are the caller's:
/// a save streams the savefile here into an <see cref="AtomicFile"/>, a restore streams local bytes there.
/// </summary>
internal sealed class RemoteXenHost : IXenHost
{
    private readonly Func<CancellationToken, Task<RemoteConnection>> _connect;
    private readonly SemaphoreSlim _connecting = new(1, 1);
    /// <summary>The restores sent at once; more wait here (the server would refuse them as busy).</summary>
    private readonly SemaphoreSlim _restores = new(Frames.MaxRestoresAtOnce, Frames.MaxRestoresAtOnce);
    private RemoteConnection? _connection;

    public RemoteXenHost(string spec, Func<CancellationToken, Task<RemoteConnection>> connect)
    {
        Spec = spec;
        _connect = connect;
    }

    public string Spec { get; }

    /// <summary>
    /// The live connection (made now if need be): the remote's version and hello facts. A connection that was lost
    /// (its calls failed with the reason) is replaced by a new one on the next call, so a long-lived host (a
    /// reconcile loop's) recovers from a network blip; a call is never retried by itself.
    /// </summary>
    internal async Task<RemoteConnection> ConnectionAsync(CancellationToken cancellationToken)
    {
        if (_connection is { IsLost: false } ready) return ready;
        await _connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_connection is { IsLost: true } lost)
            {
                _connection = null;
                await lost.DisposeAsync().ConfigureAwait(false);
            }
            return _connection ??= await _connect(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _connecting.Release();
        }
    }

    /// <summary>Runs a call to its result; a cancelled token asks the server to cancel and waits for it to have cleaned up.</summary>
    private async Task<JsonNode?> CallAsync(string op, JsonObject arguments, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var connection = await ConnectionAsync(cancellationToken).ConfigureAwait(false);
        var call = await connection.StartAsync(op, arguments, progress, receivesData: false).ConfigureAwait(false);
        return await AwaitAsync(call, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<JsonNode?> AwaitAsync(ClientCall call, CancellationToken cancellationToken)
    {
        await using (cancellationToken.Register(() => _ = call.CancelAsync()).ConfigureAwait(false))
        {
            try
            {
                return await call.Done.ConfigureAwait(false);
            }
            catch (RemoteCancelledException e)
            {
                throw new OperationCanceledException(e.Message, e, cancellationToken);
            }
        }
    }

    private static JsonObject Args(string? name = null) => name is null ? [] : new JsonObject { ["name"] = name };

    private static T Read<T>(JsonNode? value, Func<JsonObject, T> read) => value is JsonObject o
        ? Translate(() => read(o))
        : throw new XenHostException(XenHostError.OperationFailed, "the remote answered without the expected result");

    /// <summary>A malformed answer is a failed operation, not a crash.</summary>
    private static T Translate<T>(Func<T> read)
    {
        try { return read(); }
        catch (RemoteProtocolException e) { throw new XenHostException(XenHostError.OperationFailed, $"the remote's answer is malformed: {e.Message}", e); }
    }

    public async Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default) =>
        Read(await CallAsync("info", Args(), null, cancellationToken).ConfigureAwait(false), Wire.HostInfo);

    public async Task<IReadOnlyList<DomainInfo>> ListDomainsAsync(CancellationToken cancellationToken = default)
    {
        var value = await CallAsync("list", Args(), null, cancellationToken).ConfigureAwait(false);
        if (value is not JsonArray list) throw new XenHostException(XenHostError.OperationFailed, "the remote answered 'list' without a list");
        return Translate(() => list.Select(d => d is JsonObject o ? Wire.Domain(o) : throw new RemoteProtocolException("a domain is not an object")).ToList());
    }

    public async Task<DomainInfo?> FindDomainAsync(string name, CancellationToken cancellationToken = default)
    {
        var value = await CallAsync("find", Args(name), null, cancellationToken).ConfigureAwait(false);
        return value is null ? null : Read(value, Wire.Domain);
    }

    public async Task<DomainInfo> CreateAsync(ConfigText config, bool paused = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        var args = new JsonObject { ["config"] = Wire.ToJson(config), ["paused"] = paused };
        return Read(await CallAsync("create", args, null, cancellationToken).ConfigureAwait(false), Wire.Domain);
    }

    public Task DestroyAsync(string name, CancellationToken cancellationToken = default) => CallAsync("destroy", Args(name), null, cancellationToken);

    public Task PauseAsync(string name, CancellationToken cancellationToken = default) => CallAsync("pause", Args(name), null, cancellationToken);

    public Task UnpauseAsync(string name, CancellationToken cancellationToken = default) => CallAsync("unpause", Args(name), null, cancellationToken);

    public async Task<ConfigText> GetConfigAsync(string name, CancellationToken cancellationToken = default) =>
        Read(await CallAsync("config", Args(name), null, cancellationToken).ConfigureAwait(false), Wire.Config);

    /// <summary>
    /// The remote saves with the domain kept paused and sends the savefile; it lands here in an
    /// <see cref="AtomicFile"/> (temp file, fsync, rename, 0600). Only then is the remote told to commit: destroy
    /// the domain (plain save) or resume it (checkpoint). Any failure before (a cancel, a full local disk, a lost
    /// connection) leaves no file here and the domain resumed there.
    /// </summary>
    public async Task<SaveResult> SaveAsync(string name, string savefilePath, SaveOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var target = Path.GetFullPath(savefilePath);
        // Checked before the remote stops anything, as the local hosts do.
        try { AtomicFile.CheckTarget(target); }
        catch (IOException e) { throw new XenHostException(XenHostError.OperationFailed, e.Message, e); }
        cancellationToken.ThrowIfCancellationRequested();

        var connection = await ConnectionAsync(cancellationToken).ConfigureAwait(false);
        var args = Args(name);
        args["mode"] = options.Mode.ToString();
        args["leavePaused"] = options.LeavePaused;
        args["preserveDomId"] = options.PreserveDomId;
        if (options.Fingerprint is { } fingerprint) args["fingerprint"] = fingerprint;
        if (options.AlternativeConfig is { } alternative) args["config"] = Wire.ToJson(alternative);
        var call = await connection.StartAsync("save", args, options.Progress, receivesData: true).ConfigureAwait(false);
        var registration = cancellationToken.Register(() => _ = call.CancelAsync());
        var committing = false;
        long bytes;
        try
        {
            await AtomicFile.WriteLargeAsync(target, async (output, ct) =>
            {
                var expected = await call.Saved.Task.WaitAsync(ct).ConfigureAwait(false);
                var received = 0L;
                var buffer = new byte[Frames.DataChunkBytes];
                int n;
                while ((n = await call.Data!.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
                {
                    received += n;
                    if (received > expected) break;
                    await output.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                }
                if (received != expected)
                    throw new XenHostException(XenHostError.OperationFailed, $"{Spec}: the remote announced a savefile of {expected} bytes and sent {received}");
            }, cancellationToken).ConfigureAwait(false);
            bytes = new FileInfo(target).Length;
            // From here the savefile is durable here: the remote may destroy (or resume) the domain. A cancel now
            // comes too late to matter; the remote finishes what it was told.
            committing = true;
            await registration.DisposeAsync().ConfigureAwait(false);
            await call.SendAsync(Wire.Commit).ConfigureAwait(false);
            await call.Done.ConfigureAwait(false);
        }
        catch (Exception failure) when (!committing)
        {
            // Bytes still coming are dropped (the connection's reader must never wait for a consumer that has
            // gone); the remote is told to resume the domain, and waited for, so the caller sees it as it was.
            call.Data!.Abandon();
            try { await call.SendAsync(Wire.Abort).ConfigureAwait(false); }
            catch (XenHostException) { }
            try { await call.Done.ConfigureAwait(false); }
            catch (XenHostException remote) when (remote.Error == XenHostError.Unavailable && failure is not XenHostException) { throw new XenHostException(remote.Error, remote.Message, remote); }
            catch (Exception e) when (e is XenHostException or RemoteCancelledException or RemoteProtocolException) { }
            if (cancellationToken.IsCancellationRequested) throw new OperationCanceledException($"save of '{name}' on {Spec} cancelled", failure, cancellationToken);
            if (failure is RemoteProtocolException protocol)
                throw new XenHostException(XenHostError.OperationFailed, $"{Spec}: protocol error during the save: {protocol.Message}", protocol);
            throw;
        }
        finally
        {
            await registration.DisposeAsync().ConfigureAwait(false);
            connection.Forget(call.Id);
        }

        SaveFileHeader header;
        await using (var file = File.OpenRead(target))
            header = await SaveFileHeader.ReadAsync(file, cancellationToken: CancellationToken.None).ConfigureAwait(false);
        return new SaveResult(name, target, bytes, header);
    }

    public async Task<RestoreResult> RestoreAsync(string savefilePath, RestoreOptions options, CancellationToken cancellationToken = default)
    {
        FileStream file;
        try { file = InputFile.Open(savefilePath, 1, FileOptions.SequentialScan); }
        catch (FileNotFoundException e) { throw new XenHostException(XenHostError.OperationFailed, $"savefile not found: {savefilePath}", e); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new XenHostException(XenHostError.OperationFailed, $"cannot read savefile '{savefilePath}': {e.Message}", e); }
        await using (file.ConfigureAwait(false))
            return await RestoreAsync(file, savefilePath, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends the savefile as data frames while the remote restores from them as a stream (its own checks apply: the
    /// domain appears only once the whole stream was read and found valid). Progress is the remote's count.
    /// </summary>
    public async Task<RestoreResult> RestoreAsync(Stream savefile, string source, RestoreOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(savefile);
        ArgumentNullException.ThrowIfNull(options);
        cancellationToken.ThrowIfCancellationRequested();
        await _restores.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RestoreOneAsync(savefile, source, options, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _restores.Release();
        }
    }

    private async Task<RestoreResult> RestoreOneAsync(Stream savefile, string source, RestoreOptions options, CancellationToken cancellationToken)
    {
        var connection = await ConnectionAsync(cancellationToken).ConfigureAwait(false);
        var args = new JsonObject { ["source"] = source, ["paused"] = options.Paused, ["legacy"] = options.Legacy };
        if (options.OverrideConfig is { } config) args["config"] = Wire.ToJson(config);
        if (options.Fixups is { } fixups) args["fixups"] = Wire.ToJson(fixups);
        var call = await connection.StartAsync("restore", args, options.Progress, receivesData: false).ConfigureAwait(false);
        var sending = SendSavefileAsync(call, savefile, cancellationToken);
        JsonNode? result;
        try
        {
            result = await AwaitAsync(call, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Not the caller's cancel: the sender cancelled because the local savefile could not be read; say that.
            await sending.ConfigureAwait(false);
            throw;
        }
        try { await sending.ConfigureAwait(false); }
        catch (Exception e) when (e is IOException or XenHostException or OperationCanceledException) { }
        var restored = Read(result, Wire.RestoreResult);
        // The remote drew the clone's MACs from its own pool; the caller's pool learns them so a batch stays unique.
        if (options.Macs is { } pool && restored.Cloned is { } cloned)
            foreach (var mac in cloned.Macs.Where(m => m.Length > 0)) pool.Reserve(mac);
        return restored;
    }

    /// <summary>Sends the bytes until the end, the call's end (the remote failed early), or a cancel.</summary>
    private static async Task SendSavefileAsync(ClientCall call, Stream savefile, CancellationToken cancellationToken)
    {
        try
        {
            if (savefile is FileStream { CanSeek: true } file && call.SendsFiles)
            {
                await SendFileAsync(call, file, cancellationToken).ConfigureAwait(false);
                return;
            }
            var buffer = Frames.NewDataBuffer();
            while (!call.Done.IsCompleted)
            {
                var n = await savefile.ReadAtLeastAsync(buffer.AsMemory(Frames.HeaderSize), Frames.DataChunkBytes, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                if (n > 0) await call.SendDataAsync(buffer, n).ConfigureAwait(false);
                if (n < Frames.DataChunkBytes) break;
            }
            if (!call.Done.IsCompleted) await call.SendAsync(Wire.End).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or XenIac.Core.XenIacException)
        {
            // A local read failure: the remote must not take a short savefile for a whole one.
            await call.CancelAsync().ConfigureAwait(false);
            if (e is not XenHostException) throw new XenHostException(XenHostError.OperationFailed, $"cannot read the savefile: {e.Message}", e);
            throw;
        }
        catch (OperationCanceledException)
        {
            await call.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// A savefile on disk goes into the connection's pipe by sendfile, frame by frame from where the stream stands
    /// to the file's end: ssh reads the cached pages, and this process never copies them.
    /// </summary>
    private static async Task SendFileAsync(ClientCall call, FileStream file, CancellationToken cancellationToken)
    {
        var handle = file.SafeFileHandle;
        file.Position = await call.SendFileRangeAsync(handle, file.Position, RandomAccess.GetLength(handle), cancellationToken).ConfigureAwait(false);
        if (!call.Done.IsCompleted) await call.SendAsync(Wire.End).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is { } connection) await connection.DisposeAsync().ConfigureAwait(false);
        _connection = null;
        _connecting.Dispose();
    }
}
