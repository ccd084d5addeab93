using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using XenIac.Core;
using XenIac.Core.Config;
using XenIac.Core.IO;

namespace XenIac.Hosts.Remote;

/// <summary>
/// Serves one <see cref="IXenHost"/> over a pair of streams: <c>xen-iac serve --stdio</c> on the far end of an ssh
/// connection. Nothing but frames is written to <c>output</c>; diagnostics go to <c>log</c> (the process's stderr,
/// which ssh carries back to the client for its error messages). Calls run concurrently, as an apply's steps do.
/// When the input ends (the client went away, or its ssh connection dropped) every call still running is cancelled
/// and cleaned up as a local failure would be: a save in progress resumes its domain and removes its temp file.
/// </summary>
public static class XenHostServer
{
    /// <summary>The name of the private folder a save waits in while it is sent.</summary>
    public const string TempPrefix = "xeniac-serve-";

    /// <summary>At most this many calls at once; more is a broken or hostile client.</summary>
    private const int MaxCalls = 256;

    /// <summary>
    /// A private folder for one save's file: <c>xeniac-serve-PID-RANDOM</c>, 0700. The process id in the name lets a
    /// later server remove what a killed one left (<see cref="RemoveStaleSaveFolders"/>).
    /// </summary>
    private static DirectoryInfo NewSaveFolder(string? tempFolder)
    {
        var path = Path.Combine(tempFolder ?? Path.GetTempPath(), $"{TempPrefix}{Environment.ProcessId}-{Guid.NewGuid():N}");
        return OperatingSystem.IsWindows() ? Directory.CreateDirectory(path)
            : Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>
    /// Removes save folders whose server is gone. A server killed mid-save (its ssh connection cut by a signal, an
    /// OOM kill) left the guest's memory in the temp folder for good; each new server now removes those of dead
    /// processes. A folder whose process id is alive (or reused) stays: the safe side.
    /// </summary>
    private static void RemoveStaleSaveFolders(string root, TextWriter log)
    {
        if (!Directory.Exists("/proc/self")) return;
        try
        {
            foreach (var folder in Directory.EnumerateDirectories(root, TempPrefix + "*"))
            {
                var rest = Path.GetFileName(folder)[TempPrefix.Length..];
                var dash = rest.IndexOf('-', StringComparison.Ordinal);
                if (dash <= 0 || !int.TryParse(rest.AsSpan(0, dash), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid)
                    || Directory.Exists($"/proc/{pid}") || new DirectoryInfo(folder).LinkTarget is not null)
                    continue;
                try
                {
                    Directory.Delete(folder, recursive: true);
                    log.WriteLine($"removed {folder}, left by a server that is gone (process {pid})");
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>Serves until the input ends. <paramref name="openHost"/> runs once; its failure is sent as the hello's error.</summary>
    /// <param name="tempFolder">Where a save waits while it is sent (a private folder per save is made in it); default the system temp folder.</param>
    /// <returns>
    /// Null when the client ended the session (closed its end); otherwise why serving stopped early (the host could not
    /// be opened, the client broke the protocol, the connection failed), already sent to the client where it could be:
    /// the caller's exit status and its error line.
    /// </returns>
    public static async Task<string?> ServeAsync(Func<IXenHost> openHost, Stream input, Stream output, string toolVersion, TextWriter log,
        string? tempFolder = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(openHost);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(log);
        using var writer = new FrameWriter(output);
        await writer.WritePreambleAsync().ConfigureAwait(false);
        IXenHost host;
        HostInfo info;
        try
        {
            host = openHost();
        }
        catch (XenHostException e)
        {
            await writer.WriteControlAsync(0, Wire.ErrorMessage(e.Error, e.Message), CancellationToken.None).ConfigureAwait(false);
            return e.Message;
        }
        await using (host.ConfigureAwait(false))
        {
            try
            {
                info = await host.GetHostInfoAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (XenHostException e)
            {
                await writer.WriteControlAsync(0, Wire.ErrorMessage(e.Error, e.Message), CancellationToken.None).ConfigureAwait(false);
                return e.Message;
            }
            var hello = Wire.Message(Wire.Hello);
            hello["min"] = Frames.MinVersion;
            hello["max"] = Frames.MaxVersion;
            hello["tool"] = toolVersion;
            hello["spec"] = host.Spec;
            hello["info"] = Wire.ToJson(info);
            hello["heartbeat"] = (long)Frames.Heartbeat.TotalSeconds;
            await writer.WriteControlAsync(0, hello, CancellationToken.None).ConfigureAwait(false);
            RemoveStaleSaveFolders(tempFolder ?? Path.GetTempPath(), log);
            return await new Session(host, writer, log, tempFolder).RunAsync(new FrameReader(input), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The process's standard input and output for serving over them (as ssh runs <c>serve --stdio</c>). Where they
    /// are pipes, each is enlarged and served by a thread of its own with blocking reads and writes: a savefile's
    /// frames then cost a thread hand-off each, not one per 32 KiB that sshd writes or reads. Elsewhere (a terminal,
    /// not Linux) the console streams.
    /// </summary>
    public static (Stream Input, Stream Output) OpenStandardStreams()
    {
        Stream input = (Stream?)PipeInput.TryOpen(0, "xen-iac serve reader") ?? Console.OpenStandardInput();
        Stream output = (Stream?)PipeOutput.TryOpen(1, "xen-iac serve writer") ?? Console.OpenStandardOutput();
        return (input, output);
    }

    private sealed class ServerCall(uint id, CancellationToken connection) : IDisposable
    {
        public uint Id { get; } = id;
        public CancellationTokenSource Cancel { get; } = CancellationTokenSource.CreateLinkedTokenSource(connection);
        /// <summary>A restore's incoming savefile.</summary>
        public ChunkStream? Data { get; init; }
        /// <summary>A save's answer from the client: true once it holds the whole savefile durably, false to abort.</summary>
        public TaskCompletionSource<bool> Commit { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public void Dispose() => Cancel.Dispose();
    }

    private sealed class Session(IXenHost host, FrameWriter writer, TextWriter log, string? tempFolder)
    {
        private readonly ConcurrentDictionary<uint, ServerCall> _calls = new();
        private readonly List<Task> _running = [];
        private int _restores;

        /// <returns>Null when the client closed the connection; otherwise why the session ended.</returns>
        public async Task<string?> RunAsync(FrameReader reader, CancellationToken cancellationToken)
        {
            using var connection = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Exception? lost = null;
            try
            {
                var first = await reader.ReadAsync(connection.Token).ConfigureAwait(false);
                if (first is null) return null;
                if (first.Value.Type != FrameType.Control || first.Value.Call != 0 || Wire.TypeOf(first.Value.Json()) != Wire.Hello)
                    throw new RemoteProtocolException("the client did not start with a hello");
                var version = Wire.Long(first.Value.Json(), "version");
                if (version is < Frames.MinVersion or > Frames.MaxVersion)
                    throw new RemoteProtocolException($"the client asks for protocol version {version}; this xen-iac speaks {Frames.MinVersion} to {Frames.MaxVersion}");
                while (await reader.ReadAsync(connection.Token).ConfigureAwait(false) is { } frame)
                    await DispatchAsync(frame, connection.Token).ConfigureAwait(false);
                return null;
            }
            catch (RemoteProtocolException e)
            {
                lost = e;
                await TryWriteAsync(0, Wire.ErrorMessage(XenHostError.OperationFailed, $"protocol error: {e.Message}")).ConfigureAwait(false);
                return $"protocol error from the client: {e.Message}";
            }
            catch (IOException e)
            {
                lost = e;
                return $"the connection to the client failed: {e.Message}";
            }
            catch (OperationCanceledException e)
            {
                lost = e;
                return "stopped (cancelled)";
            }
            finally
            {
                // The client is gone (or broke the protocol): whatever still runs is cancelled and cleans up.
                var gone = lost ?? new IOException("the client closed the connection");
                foreach (var call in _calls.Values)
                {
                    call.Commit.TrySetResult(false);
                    call.Data?.Complete(new IOException($"the connection to the client was lost ({gone.Message})", gone));
                    try { await call.Cancel.CancelAsync().ConfigureAwait(false); }
                    catch (ObjectDisposedException) { }
                }
                Task[] running;
                lock (_running) running = [.. _running];
                var all = Task.WhenAll(running);
                // A call may be waiting to write to a client that keeps its end of the pipe open but no longer reads
                // (its input ended, or it is hung): that write would never return, and the call's clean-up (a paused
                // domain resumed, its temp savefile removed) would never run. Past a grace, the writes are given up.
                if (await Task.WhenAny(all, Task.Delay(AbandonWritesAfter, CancellationToken.None)).ConfigureAwait(false) != all)
                    writer.Abandon("the client stopped reading");
                await all.ConfigureAwait(false);
            }
        }

        /// <summary>How long calls may still write to a client that is gone before their writes are given up.</summary>
        private static readonly TimeSpan AbandonWritesAfter = TimeSpan.FromSeconds(5);

        private async Task DispatchAsync(Frame frame, CancellationToken connection)
        {
            if (frame.Type == FrameType.Data)
            {
                // Data for a call that has already ended (it failed, or was cancelled) is dropped: the client may
                // have sent it before it heard.
                if (_calls.TryGetValue(frame.Call, out var target) && target.Data is { } data)
                    await data.AddAsync(frame, connection).ConfigureAwait(false);
                else
                    frame.Release();
                return;
            }
            var message = frame.Json();
            var type = Wire.TypeOf(message);
            if (type == Wire.Call)
            {
                if (frame.Call == 0 || _calls.ContainsKey(frame.Call))
                    throw new RemoteProtocolException($"call id {frame.Call} is 0 or already in use");
                if (_calls.Count >= MaxCalls)
                {
                    await TryWriteAsync(frame.Call, Wire.ErrorMessage(XenHostError.Busy, $"more than {MaxCalls} calls at once on one connection")).ConfigureAwait(false);
                    return;
                }
                var op = Wire.Str(message, "op");
                if (op == "restore" && Interlocked.Increment(ref _restores) > Frames.MaxRestoresAtOnce)
                {
                    // Its savefile frames find no call and are dropped.
                    Interlocked.Decrement(ref _restores);
                    await TryWriteAsync(frame.Call, Wire.ErrorMessage(XenHostError.Busy,
                        $"more than {Frames.MaxRestoresAtOnce} restores at once on one connection")).ConfigureAwait(false);
                    return;
                }
                var call = new ServerCall(frame.Call, connection) { Data = op == "restore" ? new ChunkStream() : null };
                _calls[frame.Call] = call;
                var task = Task.Run(() => RunCallAsync(call, op, message), CancellationToken.None);
                lock (_running)
                {
                    _running.RemoveAll(t => t.IsCompleted);
                    _running.Add(task);
                }
                return;
            }
            if (!_calls.TryGetValue(frame.Call, out var existing)) return; // a late message for a finished call
            switch (type)
            {
                case Wire.Cancel:
                case Wire.Abort:
                    // An abort is a save's cancel: it stops the sending too, whatever the save was doing.
                    existing.Commit.TrySetResult(false);
                    try { await existing.Cancel.CancelAsync().ConfigureAwait(false); }
                    catch (ObjectDisposedException) { }
                    break;
                case Wire.Commit:
                    existing.Commit.TrySetResult(true);
                    break;
                case Wire.End:
                    existing.Data?.Complete();
                    break;
                default:
                    throw new RemoteProtocolException($"unknown message type '{type}'");
            }
        }

        private async Task RunCallAsync(ServerCall call, string op, JsonObject message)
        {
            using var progress = new ProgressSender(writer, call.Id);
            try
            {
                var value = await ExecuteAsync(call, op, message, progress, call.Cancel.Token).ConfigureAwait(false);
                await progress.StopAsync().ConfigureAwait(false);
                var result = Wire.Message(Wire.Result);
                result["value"] = value;
                await TryWriteAsync(call.Id, result).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (call.Cancel.IsCancellationRequested)
            {
                var error = Wire.ErrorMessage(XenHostError.OperationFailed, $"{op} cancelled");
                error["cancelled"] = true;
                await TryWriteAsync(call.Id, error).ConfigureAwait(false);
            }
            catch (XenHostException e)
            {
                await TryWriteAsync(call.Id, Wire.ErrorMessage(e.Error, e.Message)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is CloneFixupException or XenIac.Core.Config.XlConfigException)
            {
                await TryWriteAsync(call.Id, Wire.ErrorMessage(XenHostError.InvalidConfig, e.Message)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is XenIacException or IOException or RemoteProtocolException or UnauthorizedAccessException)
            {
                await TryWriteAsync(call.Id, Wire.ErrorMessage(XenHostError.OperationFailed, e.Message)).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // A bug in one call must not take the other calls of the connection down with it.
            catch (Exception e)
#pragma warning restore CA1031
            {
                await log.WriteLineAsync($"xen-iac serve: {op} failed unexpectedly: {e}").ConfigureAwait(false);
                await TryWriteAsync(call.Id, Wire.ErrorMessage(XenHostError.OperationFailed, $"{op} failed on the remote: {e.Message}")).ConfigureAwait(false);
            }
            finally
            {
                if (call.Data is not null) Interlocked.Decrement(ref _restores);
                call.Data?.Abandon();
                _calls.TryRemove(call.Id, out _);
                call.Dispose();
            }
        }

        private async Task<JsonNode?> ExecuteAsync(ServerCall call, string op, JsonObject m, ProgressSender progress, CancellationToken ct)
        {
            switch (op)
            {
                case "info":
                    return Wire.ToJson(await host.GetHostInfoAsync(ct).ConfigureAwait(false));
                case "list":
                    return new JsonArray([.. (await host.ListDomainsAsync(ct).ConfigureAwait(false)).Select(d => (JsonNode?)Wire.ToJson(d))]);
                case "find":
                    return await host.FindDomainAsync(Wire.Str(m, "name"), ct).ConfigureAwait(false) is { } found ? Wire.ToJson(found) : null;
                case "create":
                    return Wire.ToJson(await host.CreateAsync(Wire.Config(Wire.Obj(m, "config")), Wire.Bool(m, "paused"), ct).ConfigureAwait(false));
                case "destroy":
                    await host.DestroyAsync(Wire.Str(m, "name"), ct).ConfigureAwait(false);
                    return null;
                case "pause":
                    await host.PauseAsync(Wire.Str(m, "name"), ct).ConfigureAwait(false);
                    return null;
                case "unpause":
                    await host.UnpauseAsync(Wire.Str(m, "name"), ct).ConfigureAwait(false);
                    return null;
                case "config":
                    return Wire.ToJson(await host.GetConfigAsync(Wire.Str(m, "name"), ct).ConfigureAwait(false));
                case "save":
                    return await SaveAsync(call, m, progress, ct).ConfigureAwait(false);
                case "restore":
                    return await RestoreAsync(call, m, progress, ct).ConfigureAwait(false);
                default:
                    throw new XenHostException(XenHostError.OperationFailed, $"the remote xen-iac does not know the operation '{op}' (a newer client?)");
            }
        }

        /// <summary>
        /// Saves into a private temp folder with the domain kept paused, sends the savefile, and only when the client
        /// says it holds the whole file durably destroys the domain (plain save) or resumes it (checkpoint). A
        /// dropped connection, a cancel or an abort resumes the domain instead; the temp folder never outlives the call.
        /// </summary>
        private async Task<JsonNode?> SaveAsync(ServerCall call, JsonObject m, ProgressSender progress, CancellationToken ct)
        {
            var name = Wire.Str(m, "name");
            var mode = Wire.Enum<SaveMode>(m, "mode");
            var leavePaused = Wire.Bool(m, "leavePaused");
            // A missing domain is left to the host's own SaveAsync to report, in its words.
            var before = await host.FindDomainAsync(name, ct).ConfigureAwait(false);
            var wasPaused = before?.State == DomainState.Paused;
            var folder = NewSaveFolder(tempFolder);
            var path = Path.Combine(folder.FullName, "domain.save");
            var stopped = false;
            var finished = false;
            try
            {
                var options = new SaveOptions
                {
                    Mode = mode, LeavePaused = true, AlternativeConfig = Wire.OptConfig(m, "config"),
                    PreserveDomId = Wire.Bool(m, "preserveDomId"), Fingerprint = Wire.OptStr(m, "fingerprint"), Progress = progress,
                };
                await host.SaveAsync(name, path, options, ct).ConfigureAwait(false);
                stopped = true;
                await progress.StopAsync().ConfigureAwait(false);

                var length = new FileInfo(path).Length;
                var saved = Wire.Message(Wire.Saved);
                saved["bytes"] = length;
                await writer.WriteControlAsync(call.Id, saved, ct).ConfigureAwait(false);
                await using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan))
                {
                    if (writer.SendsFiles)
                    {
                        // The announced length, moved by the kernel from the file's cached pages into the pipe to sshd.
                        await writer.WriteFileRangeAsync(call.Id, file.SafeFileHandle, 0, length, stop: null, ct).ConfigureAwait(false);
                    }
                    else
                    {
                        var buffer = Frames.NewDataBuffer();
                        int n;
                        while ((n = await file.ReadAsync(buffer.AsMemory(Frames.HeaderSize), ct).ConfigureAwait(false)) > 0)
                            await writer.WriteDataAsync(call.Id, buffer, n, ct).ConfigureAwait(false);
                    }
                }
                await writer.WriteControlAsync(call.Id, Wire.Message(Wire.Sent), ct).ConfigureAwait(false);

                if (!await call.Commit.Task.WaitAsync(ct).ConfigureAwait(false))
                    throw new OperationCanceledException("the client aborted the save", null, call.Cancel.Token);
                if (!leavePaused)
                {
                    if (mode == SaveMode.Plain) await host.DestroyAsync(name, CancellationToken.None).ConfigureAwait(false);
                    else if (!wasPaused) await host.UnpauseAsync(name, CancellationToken.None).ConfigureAwait(false);
                }
                finished = true;
                return new JsonObject { ["name"] = name, ["bytes"] = length };
            }
            finally
            {
                if (stopped && !finished && !wasPaused)
                {
                    try { await host.UnpauseAsync(name, CancellationToken.None).ConfigureAwait(false); }
                    catch (XenHostException e) { await log.WriteLineAsync($"xen-iac serve: resuming '{name}' after a failed save failed: {e.Message}").ConfigureAwait(false); }
                }
                try { folder.Delete(recursive: true); }
                catch (IOException e) { await log.WriteLineAsync($"xen-iac serve: cannot remove '{folder.FullName}': {e.Message}").ConfigureAwait(false); }
            }
        }

        private async Task<JsonNode?> RestoreAsync(ServerCall call, JsonObject m, ProgressSender progress, CancellationToken ct)
        {
            var options = new RestoreOptions
            {
                Paused = Wire.Bool(m, "paused"), Legacy = Wire.Bool(m, "legacy"), OverrideConfig = Wire.OptConfig(m, "config"),
                Fixups = m["fixups"] is JsonObject f ? Wire.Fixups(f) : null, Progress = progress,
            };
            var result = await host.RestoreAsync(call.Data!, Wire.Str(m, "source"), options, ct).ConfigureAwait(false);
            return Wire.ToJson(result);
        }

        /// <summary>Writes a message unless the connection is already gone (then nobody is left to tell).</summary>
        private async Task TryWriteAsync(uint call, JsonObject message)
        {
            try { await writer.WriteControlAsync(call, message, CancellationToken.None).ConfigureAwait(false); }
            catch (Exception e) when (e is IOException or ObjectDisposedException) { }
        }
    }

    /// <summary>
    /// Progress of one call, sent at most ten times a second: the host reports from its own threads as often as it
    /// likes, and the latest count goes out from here (never blocking the host's writer).
    /// </summary>
    private sealed class ProgressSender : IProgress<long>, IDisposable
    {
        private readonly FrameWriter _writer;
        private readonly uint _call;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private long _latest = -1;
        private long _sent = -1;

        public ProgressSender(FrameWriter writer, uint call)
        {
            _writer = writer;
            _call = call;
            _loop = Task.Run(LoopAsync);
        }

        public void Report(long value) => Interlocked.Exchange(ref _latest, value);

        private async Task LoopAsync()
        {
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    await Task.Delay(100, _stop.Token).ConfigureAwait(false);
                    await SendLatestAsync().ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) { }
            catch (IOException) { }
        }

        private long _sentAt = Environment.TickCount64;

        private async Task SendLatestAsync()
        {
            var latest = Interlocked.Read(ref _latest);
            // Unchanged, the count is sent again once per heartbeat: a call that runs long without news (a libxl
            // create, a save before its first byte) still shows the client that this end and the link are alive.
            var beat = Environment.TickCount64 - _sentAt >= (long)Frames.Heartbeat.TotalMilliseconds;
            if (!beat && (latest < 0 || latest == _sent)) return;
            latest = Math.Max(latest, 0);
            _sent = latest;
            _sentAt = Environment.TickCount64;
            var message = Wire.Message(Wire.Progress);
            message["bytes"] = latest;
            await _writer.WriteControlAsync(_call, message, CancellationToken.None).ConfigureAwait(false);
        }

        /// <summary>Stops the timer and sends the last count, so it arrives before the result.</summary>
        public async Task StopAsync()
        {
            if (!_stop.IsCancellationRequested) await _stop.CancelAsync().ConfigureAwait(false);
            await _loop.ConfigureAwait(false);
            try { await SendLatestAsync().ConfigureAwait(false); }
            catch (IOException) { }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _stop.Dispose();
        }
    }
}
