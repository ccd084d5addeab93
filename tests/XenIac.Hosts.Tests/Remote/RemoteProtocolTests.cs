using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using XenIac.Hosts.Embedded;
using XenIac.Hosts.Remote;

namespace XenIac.Hosts.Tests.Remote;

/// <summary>
/// The protocol's edges: versions that do not meet, a remote that is not xen-iac, and garbage or oversized frames
/// from either side. Each gives one clear error, and neither side allocates what a frame header merely claims.
/// </summary>
public sealed class RemoteProtocolTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-protocol-").FullName;
    private readonly OsPipe _toServer = new();
    private readonly OsPipe _toClient = new();

    public void Dispose()
    {
        _toServer.Dispose();
        _toClient.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private RemoteXenHost Client() => new("ssh://fake", ct => RemoteConnection.OpenAsync(_toClient.Reader, _toServer.Writer, "ssh://fake",
        _ => Task.FromResult<string?>("ssh exited with code 0"), ct));

    private static JsonObject Hello(int min = Frames.MinVersion, int max = Frames.MaxVersion) => new()
    {
        ["t"] = "hello", ["min"] = min, ["max"] = max, ["tool"] = "7.0.0", ["spec"] = "libxl",
        ["info"] = new JsonObject { ["xenVersion"] = "4.19.1", ["cpuVendor"] = "GenuineIntel", ["freeMemoryKiB"] = 1024 },
    };

    /// <summary>A fake server: the preamble, then whatever the test writes, then the end.</summary>
    private async Task FakeServerAsync(Func<FrameWriter, Stream, Task> write)
    {
        using var writer = new FrameWriter(_toClient.Writer);
        await writer.WritePreambleAsync();
        await write(writer, _toClient.Writer);
        _toClient.Writer.Dispose();
    }

    private static byte[] Header(byte type, uint call, uint length)
    {
        var header = new byte[Frames.HeaderSize];
        header[0] = type;
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(1), call);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(5), length);
        return header;
    }

    [Fact]
    public async Task A_server_of_other_versions_is_refused_naming_both()
    {
        var server = FakeServerAsync((w, _) => w.WriteControlAsync(0, Hello(7, 9)));
        await using var client = Client();
        var e = await Assert.ThrowsAsync<XenHostException>(() => client.ListDomainsAsync());
        await server;
        Assert.Equal(XenHostError.Unavailable, e.Error);
        Assert.Contains("xen-iac 7.0.0 speaks protocol versions 7 to 9", e.Message, StringComparison.Ordinal);
        Assert.Contains($"this one {Frames.MinVersion} to {Frames.MaxVersion}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_of_other_versions_that_waits_is_stopped_at_once()
    {
        // A real remote of another version says hello and waits for the answer: the client stops it, not waits for it.
        var writer = new FrameWriter(_toClient.Writer);
        await writer.WritePreambleAsync();
        await writer.WriteControlAsync(0, Hello(7, 9));
        var stops = new List<bool>();
        await using var client = StoppingClient(stops);
        await AssertAbandonedAsync(client.ListDomainsAsync(), "speaks protocol versions 7 to 9", stops);
    }

    [Fact]
    public async Task A_client_asking_for_an_unknown_version_gets_an_error_frame_and_the_server_ends()
    {
        await using var host = EmbeddedHost.Open(Path.Combine(_dir, "h"));
        var serve = XenHostServer.ServeAsync(() => host, _toServer.Reader, _toClient.Writer, "t", TextWriter.Null);
        var reader = new FrameReader(_toClient.Reader);
        await reader.ReadPreambleAsync(default);
        Assert.Equal("hello", Wire.TypeOf((await reader.ReadAsync(default))!.Value.Json()));
        using var writer = new FrameWriter(_toServer.Writer);
        await writer.WriteControlAsync(0, new JsonObject { ["t"] = "hello", ["version"] = 99 });
        var error = (await reader.ReadAsync(default))!.Value.Json();
        Assert.Equal("error", Wire.TypeOf(error));
        Assert.Contains("protocol version 99", Wire.Str(error, "message"), StringComparison.Ordinal);
        await serve.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_remote_that_is_not_xen_iac_is_quoted()
    {
        var server = Task.Run(async () =>
        {
            await _toClient.Writer.WriteAsync("bash: line 1: xen-iac: command not found\n"u8.ToArray());
            _toClient.Writer.Dispose();
        });
        await using var client = Client();
        var e = await Assert.ThrowsAsync<XenHostException>(() => client.GetHostInfoAsync());
        await server;
        Assert.Equal(XenHostError.Unavailable, e.Error);
        Assert.Contains("ssh://fake", e.Message, StringComparison.Ordinal);
        Assert.Contains("xen-iac: command not found", e.Message, StringComparison.Ordinal);
        Assert.Contains("ssh exited with code 0", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    /// <summary>A client that records whether the connection asked the transport to stop the remote.</summary>
    private RemoteXenHost StoppingClient(List<bool> stops, TimeSpan? helloTimeout = null, TimeSpan? cancelGrace = null) => new("ssh://fake", ct =>
        RemoteConnection.OpenAsync(_toClient.Reader, _toServer.Writer, "ssh://fake", stop =>
        {
            lock (stops) stops.Add(stop);
            return Task.FromResult<string?>(stop ? "ssh was stopped" : "ssh exited with code 0");
        }, ct, helloTimeout, cancelGrace));

    /// <summary>
    /// A remote that says hello and then never answers (ssh stopped, a wedged network): a cancelled call waited for
    /// its answer forever, so Ctrl+C did nothing while the remote domain stayed paused. It now gives up.
    /// </summary>
    [Fact]
    public async Task A_cancelled_call_the_remote_never_answers_ends_after_the_grace_and_stops_ssh()
    {
        await FakeServerHelloOnlyAsync();
        var stops = new List<bool>();
        await using var client = StoppingClient(stops, cancelGrace: TimeSpan.FromSeconds(1));
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAnyAsync<Exception>(() => client.ListDomainsAsync(cancel.Token)).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Contains("did not end the call within 1 s", e.Message, StringComparison.Ordinal);
        Assert.Contains(true, stops);
    }

    /// <summary>The preamble and a hello, then silence with the pipe held open (what a stopped ssh looks like).</summary>
    private async Task FakeServerHelloOnlyAsync(long? heartbeat = null)
    {
        var writer = new FrameWriter(_toClient.Writer);
        await writer.WritePreambleAsync();
        var hello = Hello();
        if (heartbeat is { } seconds) hello["heartbeat"] = seconds;
        await writer.WriteControlAsync(0, hello);
    }

    /// <summary>
    /// A remote that said hello (promising heartbeats) and then nothing, not cancelled by anyone: plan and apply waited
    /// for it forever, holding every host's lock. The call now fails once the silence passes the limit.
    /// </summary>
    [Fact]
    public async Task A_call_a_heartbeating_remote_goes_silent_on_fails_after_the_silence_limit()
    {
        await FakeServerHelloOnlyAsync(heartbeat: 1);
        var stops = new List<bool>();
        await using var client = new RemoteXenHost("ssh://fake", ct => RemoteConnection.OpenAsync(_toClient.Reader, _toServer.Writer, "ssh://fake",
            stop => { lock (stops) stops.Add(stop); return Task.FromResult<string?>("ssh was stopped"); }, ct, silenceLimit: TimeSpan.FromSeconds(1)));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<XenHostException>(() => client.ListDomainsAsync()).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Equal(XenHostError.Unavailable, e.Error);
        Assert.Contains("sent nothing for", e.Message, StringComparison.Ordinal);
        Assert.Contains(true, stops);
    }

    /// <summary>A remote of before heartbeats is waited for as before: its silence may be a long libxl call.</summary>
    [Fact]
    public async Task A_remote_that_promised_no_heartbeat_is_not_given_up_for_silence()
    {
        await FakeServerHelloOnlyAsync();
        await using var client = new RemoteXenHost("ssh://fake", ct => RemoteConnection.OpenAsync(_toClient.Reader, _toServer.Writer, "ssh://fake",
            _ => Task.FromResult<string?>(null), ct, silenceLimit: TimeSpan.FromMilliseconds(300)));
        var call = client.ListDomainsAsync();
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(call.IsCompleted);
    }


    [Fact]
    public async Task A_remote_that_writes_something_else_and_waits_is_told_apart_at_once()
    {
        // A login banner or a wrapper's message, then silence with the pipe open: the first differing byte decides.
        await _toClient.Writer.WriteAsync("Welcome to"u8.ToArray());
        await _toClient.Writer.FlushAsync();
        var stops = new List<bool>();
        await using var client = StoppingClient(stops);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await AssertAbandonedAsync(client.GetHostInfoAsync(), "it wrote: 'Welcome to'", stops);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}: the client waited for more than the banner");
    }

    /// <summary>The connect failed with <paramref name="expected"/> in its message, and the transport was told to stop the remote.</summary>
    private static async Task AssertAbandonedAsync(Task call, string expected, List<bool> stops)
    {
        var e = await Assert.ThrowsAsync<XenHostException>(() => call).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(XenHostError.Unavailable, e.Error);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Contains("ssh was stopped", e.Message, StringComparison.Ordinal);
        Assert.Equal([true], stops);
    }

    [Fact]
    public async Task A_remote_that_says_nothing_fails_at_the_hello_deadline_and_is_stopped()
    {
        var stops = new List<bool>();
        await using var client = StoppingClient(stops, TimeSpan.FromSeconds(1));
        await AssertAbandonedAsync(client.ListDomainsAsync(), "ssh://fake: cannot connect: no answer within 1 s", stops);
    }

    [Fact]
    public async Task A_hello_that_comes_slowly_but_in_time_connects()
    {
        var server = Task.Run(async () =>
        {
            await Task.Delay(300);
            await FakeServerAsync((w, _) => w.WriteControlAsync(0, Hello()));
        });
        var stops = new List<bool>();
        await using var client = StoppingClient(stops, TimeSpan.FromSeconds(10));
        var connection = await client.ConnectionAsync(default).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("7.0.0", connection.RemoteTool);
        Assert.DoesNotContain(true, stops); // the fake server then ends: a loss, not an abandoned remote
        await server;
    }

    [Fact]
    public async Task A_host_that_cannot_be_opened_there_is_a_typed_error_here()
    {
        var serve = XenHostServer.ServeAsync(() => throw new XenHostException(XenHostError.Unavailable, "no /dev/xen/privcmd here"),
            _toServer.Reader, _toClient.Writer, "t", TextWriter.Null);
        await using var client = Client();
        var e = await Assert.ThrowsAsync<XenHostException>(() => client.ListDomainsAsync());
        Assert.Equal(XenHostError.Unavailable, e.Error);
        Assert.Equal("ssh://fake: no /dev/xen/privcmd here", e.Message);
        Assert.Equal("no /dev/xen/privcmd here", await serve.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Theory]
    [InlineData(1, 0xFFFF_FFF0u, "larger than the limit")]
    [InlineData(2, 0x7FFF_FFFFu, "larger than the limit")]
    [InlineData(9, 4u, "unknown frame type 9")]
    public async Task A_hostile_server_frame_fails_the_call_clearly(byte type, uint length, string expected)
    {
        var server = FakeServerAsync(async (w, raw) =>
        {
            await w.WriteControlAsync(0, Hello());
            await raw.WriteAsync(Header(type, 1, length));
            await raw.FlushAsync();
            // Hold the pipe open: the client must stop on the header, not on the end of the stream.
            await Task.Delay(2000);
        });
        await using var client = Client();
        var before = GC.GetTotalAllocatedBytes(precise: false);
        var e = await Assert.ThrowsAsync<XenHostException>(() => client.ListDomainsAsync()).WaitAsync(TimeSpan.FromSeconds(10));
        // Process-wide, so other tests running beside this one count too: the bound is loose, the claims are 2 and 4 GiB.
        Assert.True(GC.GetTotalAllocatedBytes(precise: false) - before < 1L << 30, "the client allocated what the frame claimed");
        Assert.Equal(XenHostError.Unavailable, e.Error);
        Assert.Contains("protocol error", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        await server;
    }

    [Fact]
    public async Task A_garbage_control_frame_from_the_server_is_a_protocol_error()
    {
        var server = FakeServerAsync(async (w, _) =>
        {
            await w.WriteControlAsync(0, Hello());
            // Answer only once the client's call has arrived: a frame for a call not yet made is dropped as late,
            // and the test would then see the end of the stream instead of the garbage (a race a CI run lost).
            var fromClient = new FrameReader(_toServer.Reader);
            uint call = 0;
            while (call == 0 && await fromClient.ReadAsync(default) is { } frame) call = frame.Call;
            await w.WriteAsync(FrameType.Control, call, "{not json"u8.ToArray());
        });
        await using var client = Client();
        var e = await Assert.ThrowsAsync<XenHostException>(() => client.ListDomainsAsync());
        Assert.Contains("not valid JSON", e.Message, StringComparison.Ordinal);
        await server;
    }

    [Theory]
    [InlineData(2, 0xFFFF_FFF0u, "larger than the limit")]
    [InlineData(0, 4u, "unknown frame type 0")]
    public async Task A_hostile_client_frame_ends_the_session_with_an_error_frame(byte type, uint length, string expected)
    {
        await using var host = EmbeddedHost.Open(Path.Combine(_dir, "h"));
        var log = new StringWriter();
        var serve = XenHostServer.ServeAsync(() => host, _toServer.Reader, _toClient.Writer, "t", log);
        var reader = new FrameReader(_toClient.Reader);
        await reader.ReadPreambleAsync(default);
        await reader.ReadAsync(default);
        using var writer = new FrameWriter(_toServer.Writer);
        await writer.WriteControlAsync(0, new JsonObject { ["t"] = "hello", ["version"] = Frames.MaxVersion });
        await _toServer.Writer.WriteAsync(Header(type, 1, length));
        await _toServer.Writer.FlushAsync();
        var error = (await reader.ReadAsync(default).WaitAsync(TimeSpan.FromSeconds(10)))!.Value.Json();
        Assert.Equal("error", Wire.TypeOf(error));
        Assert.Contains(expected, Wire.Str(error, "message"), StringComparison.Ordinal);
        var problem = await serve.WaitAsync(TimeSpan.FromSeconds(10)); // ended although the client's end is still open
        Assert.Contains("protocol error from the client: ", problem, StringComparison.Ordinal);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_starting_more_restores_than_a_connection_runs_is_told_busy_and_its_bytes_are_dropped()
    {
        // Each restore's stream may hold 16 frames: 256 restores that are sent bytes no restore reads held 3.5 GB.
        await using var host = EmbeddedHost.Open(Path.Combine(_dir, "h"));
        var serve = XenHostServer.ServeAsync(() => host, _toServer.Reader, _toClient.Writer, "t", TextWriter.Null);
        var reader = new FrameReader(_toClient.Reader);
        await reader.ReadPreambleAsync(default);
        await reader.ReadAsync(default);
        using var writer = new FrameWriter(_toServer.Writer);
        await writer.WriteControlAsync(0, new JsonObject { ["t"] = "hello", ["version"] = Frames.MaxVersion });
        for (var call = 1u; call <= Frames.MaxRestoresAtOnce + 1; call++)
            await writer.WriteControlAsync(call, new JsonObject { ["t"] = "call", ["op"] = "restore", ["source"] = $"s{call}" });
        await writer.WriteAsync(FrameType.Data, Frames.MaxRestoresAtOnce + 1, new byte[Frames.MaxDataBytes]);
        var answer = (await reader.ReadAsync(default).WaitAsync(TimeSpan.FromSeconds(10)))!.Value;
        Assert.Equal((uint)Frames.MaxRestoresAtOnce + 1, answer.Call);
        var error = answer.Json();
        Assert.Equal("error", Wire.TypeOf(error));
        Assert.Equal(XenHostError.Busy, Wire.ToException(error).Error);
        Assert.Contains($"more than {Frames.MaxRestoresAtOnce} restores at once", Wire.Str(error, "message"), StringComparison.Ordinal);
        // The others are still waiting for their bytes; the end of the input ends them and the session.
        _toServer.Writer.Dispose();
        await serve.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.False(Directory.Exists(Path.Combine(_dir, "h", "domains")) && Directory.EnumerateFileSystemEntries(Path.Combine(_dir, "h", "domains")).Any(),
            "a restore that never got its bytes left a domain folder behind");
    }

    [Fact]
    public async Task Frames_round_trip_at_their_limits()
    {
        using var writer = new FrameWriter(_toClient.Writer);
        var big = new byte[Frames.MaxDataBytes];
        big[^1] = 42;
        var write = writer.WriteAsync(FrameType.Data, 77, big);
        var frame = await new FrameReader(_toClient.Reader).ReadAsync(default);
        await write;
        Assert.Equal(FrameType.Data, frame!.Value.Type);
        Assert.Equal(77u, frame.Value.Call);
        Assert.Equal(big, frame.Value.Payload.ToArray());
        Assert.Equal("xen-iac-serve\n", Encoding.ASCII.GetString(Frames.Preamble));
    }
}
