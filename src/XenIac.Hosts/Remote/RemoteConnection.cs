using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace XenIac.Hosts.Remote;

/// <summary>
/// The client end of one <c>xen-iac serve --stdio</c> connection: the hello, then calls multiplexed by id. One task
/// reads frames and hands each to its call; when the stream ends or breaks, every call still waiting fails with one
/// error that names the host and, through <c>whyLost</c>, what the transport knows (ssh's exit code and stderr).
/// </summary>
internal sealed class RemoteConnection : IAsyncDisposable
{
    private readonly Stream _fromServer;
    private readonly Stream _toServer;
    private readonly FrameWriter _writer;
    private readonly string _name;
    private readonly Func<bool, Task<string?>> _whyLost;
    private readonly ConcurrentDictionary<uint, ClientCall> _calls = new();
    private readonly CancellationTokenSource _stop = new();
    private Task _readLoop = Task.CompletedTask;
    private XenHostException? _lostBox;
    private XenHostException? Lost => Volatile.Read(ref _lostBox);
    private int _nextId;

    private RemoteConnection(Stream fromServer, Stream toServer, string name, Func<bool, Task<string?>>? whyLost)
    {
        _fromServer = fromServer;
        _toServer = toServer;
        _writer = new FrameWriter(toServer);
        _name = name;
        _whyLost = whyLost ?? (_ => Task.FromResult<string?>(null));
    }

    /// <summary>True once the connection has ended; its calls have failed and new ones would fail at once.</summary>
    public bool IsLost => Lost is not null;

    public int Version { get; private set; }
    public string RemoteTool { get; private set; } = "";
    public string RemoteSpec { get; private set; } = "";
    public HostInfo RemoteInfo { get; private set; } = new("unknown", "unknown", 0);

    /// <summary>
    /// Reads the server's preamble and hello, answers with the version both speak and starts reading calls' frames.
    /// </summary>
    /// <param name="name">The host as the user wrote it, for messages.</param>
    /// <param name="whyLost">What the transport can say once the stream has ended (ssh's exit and stderr); given
    /// true when the connection is abandoned while the remote may still run (it is then ended at once).</param>
    /// <param name="helloTimeout">How long the remote may take to say hello; <see cref="HelloTimeout"/> unless given.</param>
    /// <exception cref="XenHostException">Unavailable: the remote did not speak the protocol, refused (its error,
    /// typed), or said nothing before the deadline.</exception>
    /// <param name="cancelGrace">How long a cancelled call may take to end; <see cref="CancelGrace"/> unless given.</param>
    /// <param name="silenceLimit">How long a call may wait without any frame from a server that sends heartbeats; <see cref="SilenceLimit"/> unless given.</param>
    public static async Task<RemoteConnection> OpenAsync(Stream fromServer, Stream toServer, string name, Func<bool, Task<string?>>? whyLost,
        CancellationToken cancellationToken, TimeSpan? helloTimeout = null, TimeSpan? cancelGrace = null, TimeSpan? silenceLimit = null)
    {
        var connection = new RemoteConnection(fromServer, toServer, name, whyLost) { Grace = cancelGrace ?? CancelGrace, Silence = silenceLimit ?? SilenceLimit };
        try
        {
            await connection.HelloAsync(helloTimeout ?? HelloTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return connection;
    }

    /// <summary>
    /// From starting ssh to the remote's hello. ssh runs with BatchMode, so nobody is typing a passphrase meanwhile:
    /// this covers connecting, logging in and starting the remote tool, on a slow link and a busy dom0. Without it a
    /// host that never answers (a dropped SYN, a remote command that hangs) held the command until ssh gave up,
    /// minutes later or never.
    /// </summary>
    public static readonly TimeSpan HelloTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// From a call's cancel to its end. The remote answers a cancel in well under a second (it resumes the domain and
    /// removes its temp file); one that does not (ssh stopped, the network wedged) held Ctrl+C forever with the domain
    /// paused there. After this the connection is given up and ssh ended, which ends the remote's input, and the
    /// remote then cancels on its own.
    /// </summary>
    public static readonly TimeSpan CancelGrace = TimeSpan.FromSeconds(15);

    internal TimeSpan Grace { get; private init; } = CancelGrace;

    /// <summary>
    /// With a server that sends heartbeats (every <see cref="Frames.Heartbeat"/> per running call): the longest a call
    /// may wait without any frame before the connection is given up. A remote that said hello and then stopped (a
    /// stopped process, a wedged dom0 or link) held plan and apply, and every host's lock, forever. Twelve missed
    /// heartbeats: a dom0 under heavy load still gets one through.
    /// </summary>
    public static readonly TimeSpan SilenceLimit = TimeSpan.FromSeconds(120);

    internal TimeSpan Silence { get; private init; } = SilenceLimit;

    /// <summary>When a frame last arrived or a call last started (Environment.TickCount64).</summary>
    private long _lastHeard = Environment.TickCount64;
    private Task _watch = Task.CompletedTask;

    /// <summary>Gives the connection up: every call fails with <paramref name="what"/> and the transport is stopped.</summary>
    internal async Task AbandonAsync(string what)
    {
        if (Lost is not null) return;
        var lost = await LostAsync(what, null, stop: true).ConfigureAwait(false);
        Interlocked.CompareExchange(ref _lostBox, lost, null);
        foreach (var call in _calls.Values) call.Fail(Lost!);
        try { await _stop.CancelAsync().ConfigureAwait(false); }
        catch (ObjectDisposedException) { }
    }

    private async Task HelloAsync(TimeSpan timeout, CancellationToken callerToken)
    {
        var reader = new FrameReader(_fromServer);
        JsonObject hello;
        var heartbeat = false;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(callerToken);
        deadline.CancelAfter(timeout);
        var cancellationToken = deadline.Token;
        try
        {
            await reader.ReadPreambleAsync(cancellationToken).ConfigureAwait(false);
            var frame = await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new RemoteProtocolException("the remote closed the connection instead of saying hello");
            if (frame.Type != FrameType.Control || frame.Call != 0) throw new RemoteProtocolException("the remote did not start with a hello");
            hello = frame.Json();
            if (Wire.TypeOf(hello) == Wire.Error)
            {
                var refused = Wire.ToException(hello);
                throw new XenHostException(refused.Error, $"{_name}: {refused.Message}");
            }
            if (Wire.TypeOf(hello) != Wire.Hello) throw new RemoteProtocolException("the remote did not start with a hello");
            RemoteTool = Wire.OptStr(hello, "tool") ?? "unknown";
            var min = Wire.Long(hello, "min");
            var max = Wire.Long(hello, "max");
            var version = Math.Min(max, Frames.MaxVersion);
            // The remote waits for an answer that will not come: it is stopped, or the client waited ~10 s for ssh to end.
            if (version < Math.Max(min, Frames.MinVersion))
                throw await LostAsync($"the remote xen-iac {RemoteTool} speaks protocol versions {min} to {max}, this one {Frames.MinVersion} to {Frames.MaxVersion}: install matching versions",
                    null, stop: true).ConfigureAwait(false);
            Version = (int)version;
            RemoteSpec = Wire.Str(hello, "spec");
            heartbeat = hello["heartbeat"] is JsonValue beat && beat.TryGetValue<long>(out var seconds) && seconds > 0;
            RemoteInfo = Wire.HostInfo(Wire.Obj(hello, "info"));
            var answer = Wire.Message(Wire.Hello);
            answer["version"] = Version;
            await _writer.WriteControlAsync(0, answer, cancellationToken).ConfigureAwait(false);
        }
        catch (RemoteProtocolException e)
        {
            throw await LostAsync($"cannot connect: {e.Message}", e, stop: true).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            throw await LostAsync($"cannot connect: {e.Message}", e).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!callerToken.IsCancellationRequested)
        {
            throw await LostAsync($"cannot connect: no answer within {timeout.TotalSeconds:0.#} s (ssh did not get through, " +
                "or the remote command did not start; try 'ssh HOST xen-iac --version')", e, stop: true).ConfigureAwait(false);
        }
        _readLoop = Task.Run(() => ReadLoopAsync(reader));
        if (heartbeat) _watch = Task.Run(WatchAsync);
    }

    /// <summary>Gives the connection up when a call has waited <see cref="Silence"/> with not one frame from a server that promised heartbeats.</summary>
    private async Task WatchAsync()
    {
        var step = TimeSpan.FromMilliseconds(Math.Clamp(Silence.TotalMilliseconds / 8, 50, 5000));
        try
        {
            while (Lost is null)
            {
                await Task.Delay(step, _stop.Token).ConfigureAwait(false);
                var quiet = Environment.TickCount64 - Volatile.Read(ref _lastHeard);
                if (_calls.IsEmpty || quiet < Silence.TotalMilliseconds) continue;
                await AbandonAsync($"the remote sent nothing for {quiet / 1000.0:0.#} s while a call waited (its heartbeat comes every {Frames.Heartbeat.TotalSeconds:0} s): " +
                    "a stopped xen-iac, a wedged dom0 or a dead link; the connection was given up").ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) { }
        catch (ObjectDisposedException) { }
    }

    /// <summary>The error for a connection that has ended: the host, what happened, and what the transport says.</summary>
    /// <param name="stop">The remote may still be running and is abandoned: the transport ends it now rather than waiting for it.</param>
    private async Task<XenHostException> LostAsync(string what, Exception? inner, bool stop = false)
    {
        string? why = null;
        try { why = await _whyLost(stop).ConfigureAwait(false); }
        catch (Exception e) when (e is IOException or InvalidOperationException) { }
        return new XenHostException(XenHostError.Unavailable, string.IsNullOrWhiteSpace(why) ? $"{_name}: {what}" : $"{_name}: {what}; {why}", inner);
    }

    private async Task ReadLoopAsync(FrameReader reader)
    {
        Exception? failure = null;
        try
        {
            while (await reader.ReadAsync(_stop.Token).ConfigureAwait(false) is { } frame)
            {
                Volatile.Write(ref _lastHeard, Environment.TickCount64);
                await DispatchAsync(frame).ConfigureAwait(false);
                // A savefile's frame waits for room when this side writes slowly: that wait is not the remote's silence.
                Volatile.Write(ref _lastHeard, Environment.TickCount64);
            }
        }
        catch (Exception e) when (e is IOException or RemoteProtocolException or OperationCanceledException or ObjectDisposedException)
        {
            failure = e;
        }
        var lost = _stop.IsCancellationRequested
            ? new XenHostException(XenHostError.Unavailable, $"{_name}: the connection was closed")
            : await LostAsync(failure is RemoteProtocolException p ? $"protocol error from the remote: {p.Message}"
                : failure is null ? "the connection was lost" : $"the connection was lost ({failure.Message})", failure,
                stop: failure is RemoteProtocolException).ConfigureAwait(false);
        // A full fence between publishing the loss and reading the calls; StartAsync does the mirror image, so each
        // new call is failed either here or there, never by neither.
        Interlocked.Exchange(ref _lostBox, lost);
        foreach (var call in _calls.Values) call.Fail(lost);
    }

    private async Task DispatchAsync(Frame frame)
    {
        if (!_calls.TryGetValue(frame.Call, out var call))
        {
            frame.Release();
            // A connection-level error (call 0) ends the connection; anything else for an unknown call is late.
            if (frame.Call == 0 && frame.Type == FrameType.Control && Wire.TypeOf(frame.Json()) == Wire.Error)
                throw new RemoteProtocolException(Wire.ToException(frame.Json()).Message);
            return;
        }
        if (frame.Type == FrameType.Data)
        {
            if (call.Data is null)
            {
                frame.Release();
                throw new RemoteProtocolException($"savefile bytes for call {frame.Call}, which expects none");
            }
            await call.Data.AddAsync(frame, _stop.Token).ConfigureAwait(false);
            return;
        }
        var message = frame.Json();
        switch (Wire.TypeOf(message))
        {
            case Wire.Progress:
                call.Progress?.Report(Wire.Long(message, "bytes"));
                break;
            case Wire.Saved:
                call.Saved.TrySetResult(Wire.Long(message, "bytes"));
                break;
            case Wire.Sent:
                call.Data?.Complete();
                break;
            case Wire.Result:
                _calls.TryRemove(call.Id, out _);
                call.Succeed(message["value"]);
                break;
            case Wire.Error:
                _calls.TryRemove(call.Id, out _);
                call.Fail(Wire.Bool(message, "cancelled") ? new RemoteCancelledException(Wire.ToException(message).Message) : Wire.ToException(message));
                break;
            default:
                throw new RemoteProtocolException($"unknown message type '{Wire.TypeOf(message)}'");
        }
    }

    /// <summary>Starts a call; <paramref name="receivesData"/> for a save (the savefile comes back as data frames).</summary>
    public async Task<ClientCall> StartAsync(string op, JsonObject arguments, IProgress<long>? progress, bool receivesData)
    {
        if (Lost is { } lost) throw new XenHostException(lost.Error, lost.Message, lost);
        var id = (uint)Interlocked.Increment(ref _nextId);
        var call = new ClientCall(this, id, progress, receivesData ? new ChunkStream() : null);
        // An idle connection's last frame may be old: the silence a new call is judged by starts now.
        Volatile.Write(ref _lastHeard, Environment.TickCount64);
        _calls[id] = call;
        // The reader may have failed the calls it knew between the check above and the line before: a call added
        // then would have waited forever (a test saw it when the remote's first frame after hello was garbage).
        if (Volatile.Read(ref _lostBox) is { } lostNow)
        {
            _calls.TryRemove(id, out _);
            throw new XenHostException(lostNow.Error, lostNow.Message, lostNow);
        }
        arguments["t"] = Wire.Call;
        arguments["op"] = op;
        await SendAsync(id, arguments).ConfigureAwait(false);
        return call;
    }

    /// <summary>Sends a control message for a call; a dead connection reports itself the way the reader saw it.</summary>
    public async Task SendAsync(uint id, JsonObject message)
    {
        try
        {
            await _writer.WriteControlAsync(id, message).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            throw await ConnectionErrorAsync(e).ConfigureAwait(false);
        }
    }

    /// <summary>Sends <paramref name="length"/> payload bytes from a <see cref="Frames.NewDataBuffer"/> buffer.</summary>
    public async Task SendDataAsync(uint id, byte[] buffer, int length)
    {
        try
        {
            await _writer.WriteDataAsync(id, buffer, length).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            throw await ConnectionErrorAsync(e).ConfigureAwait(false);
        }
    }

    /// <summary>True when a call can send a savefile's bytes straight from its file (<see cref="SendFileRangeAsync"/>).</summary>
    public bool SendsFiles => _writer.SendsFiles;

    /// <summary>Sends <paramref name="file"/> from <paramref name="offset"/> to <paramref name="end"/> as data frames (<see cref="FrameWriter.WriteFileRangeAsync"/>).</summary>
    /// <exception cref="SavefileReadException">The file could not be read (the connection is still fine).</exception>
    public async Task<long> SendFileRangeAsync(uint id, Microsoft.Win32.SafeHandles.SafeFileHandle file, long offset, long end,
        Func<bool> stop, CancellationToken cancellationToken)
    {
        try
        {
            return await _writer.WriteFileRangeAsync(id, file, offset, end, stop, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is (IOException and not SavefileReadException) or ObjectDisposedException)
        {
            throw await ConnectionErrorAsync(e).ConfigureAwait(false);
        }
    }

    /// <summary>The reader's verdict on a failed write (it sees the end of the stream and asks the transport why).</summary>
    private async Task<XenHostException> ConnectionErrorAsync(Exception e)
    {
        await Task.WhenAny(_readLoop, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
        return Lost is { } lost ? new XenHostException(lost.Error, lost.Message, e) : await LostAsync($"the connection was lost ({e.Message})", e).ConfigureAwait(false);
    }

    public void Forget(uint id) => _calls.TryRemove(id, out _);

    public async ValueTask DisposeAsync()
    {
        // Closing our end tells the server to cancel whatever still runs and exit; the reader then sees the end.
        try { await _toServer.DisposeAsync().ConfigureAwait(false); }
        catch (IOException) { }
        if (await Task.WhenAny(_readLoop, Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false) != _readLoop)
            await _stop.CancelAsync().ConfigureAwait(false);
        else if (!_stop.IsCancellationRequested) await _stop.CancelAsync().ConfigureAwait(false);
        try { await _fromServer.DisposeAsync().ConfigureAwait(false); }
        catch (IOException) { }
        await _watch.ConfigureAwait(false);
        _writer.Dispose();
        _stop.Dispose();
    }
}

/// <summary>The server says a call ended because it was cancelled.</summary>
internal sealed class RemoteCancelledException(string message) : Exception(message);

/// <summary>One call in flight: its result, a save's announced size and incoming bytes, its progress.</summary>
internal sealed class ClientCall(RemoteConnection connection, uint id, IProgress<long>? progress, ChunkStream? data)
{
    private readonly TaskCompletionSource<JsonNode?> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public uint Id { get; } = id;
    public IProgress<long>? Progress { get; } = progress;
    public ChunkStream? Data { get; } = data;
    public TaskCompletionSource<long> Saved { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public Task<JsonNode?> Done => _done.Task;

    public void Succeed(JsonNode? value)
    {
        Saved.TrySetException(new RemoteProtocolException("the save finished without sending its savefile"));
        Data?.Complete(new RemoteProtocolException("the save finished before its savefile was complete"));
        _done.TrySetResult(value);
    }

    public void Fail(Exception error)
    {
        Saved.TrySetException(error);
        Data?.Complete(error);
        _done.TrySetException(error);
    }

    /// <summary>
    /// Asks the server to cancel (best effort: a dead connection has already cancelled everything). A call that has not
    /// ended <see cref="RemoteConnection.CancelGrace"/> later gives the connection up, so a cancel always ends.
    /// </summary>
    public async Task CancelAsync()
    {
        if (Interlocked.Exchange(ref _cancelled, 1) == 0) _ = WatchCancelAsync();
        try { await connection.SendAsync(Id, Wire.Message(Wire.Cancel)).WaitAsync(connection.Grace).ConfigureAwait(false); }
        catch (Exception e) when (e is XenHostException or TimeoutException) { }
    }

    private int _cancelled;

    private async Task WatchCancelAsync()
    {
        if (await Task.WhenAny(Done, Task.Delay(connection.Grace)).ConfigureAwait(false) == Done) return;
        await connection.AbandonAsync($"cancelled, and the remote did not end the call within {connection.Grace.TotalSeconds:0.#} s; the connection was given up").ConfigureAwait(false);
    }

    public Task SendAsync(string type) => connection.SendAsync(Id, Wire.Message(type));

    public Task SendDataAsync(byte[] buffer, int length) => connection.SendDataAsync(Id, buffer, length);

    public bool SendsFiles => connection.SendsFiles;

    /// <summary>Sends the file's range as data frames until its end or this call's end (the remote failed early); returns where it stopped.</summary>
    public Task<long> SendFileRangeAsync(Microsoft.Win32.SafeHandles.SafeFileHandle file, long offset, long end, CancellationToken cancellationToken) =>
        connection.SendFileRangeAsync(Id, file, offset, end, () => Done.IsCompleted, cancellationToken);
}
