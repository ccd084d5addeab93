using System.IO.Pipes;
using System.Runtime.InteropServices;
using XenIac.Hosts.Remote;

namespace XenIac.Hosts.Tests.Remote;

/// <summary>
/// The pipe ends a connection reads and writes through threads of their own, over real OS pipes: the bytes that
/// come out are the bytes that went in (data, file ranges by sendfile), a reader that waits for a whole frame gets
/// it across many small writes, a cancelled wait loses nothing, and a savefile that cannot be read fails only the
/// write that needed it (the frame stays whole, the pipe usable).
/// </summary>
public sealed partial class PipeThreadsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xeniac-pipes-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static int Fd(PipeStream pipe) => (int)pipe.SafePipeHandle.DangerousGetHandle();

    [Fact]
    public async Task Writes_and_file_ranges_arrive_in_order_and_whole()
    {
        if (!OperatingSystem.IsLinux()) return;
        var file = Path.Combine(_dir, "src.bin");
        var content = new byte[3 << 20];
        new Random(1).NextBytes(content);
        await File.WriteAllBytesAsync(file, content);

        using var server = new AnonymousPipeServerStream(PipeDirection.Out);
        using var client = new AnonymousPipeClientStream(PipeDirection.In, server.ClientSafePipeHandle);
        var output = PipeOutput.TryOpen(Fd(server), "test writer");
        Assert.NotNull(output);
        server.Dispose(); // the writer holds a descriptor of its own: the reader sees the end only when it closes

        var expected = new MemoryStream();
        var reading = Task.Run(() => { var all = new MemoryStream(); client.CopyTo(all); return all.ToArray(); });
        using (var source = File.OpenHandle(file))
        {
            foreach (var (offset, count) in new[] { (0L, 700_000), (700_000L, 1 << 20), (5L, 3) })
            {
                var header = new byte[] { 1, 2, 3 };
                await output.WriteFileRangeAsync(header, source, offset, count);
                expected.Write(header);
                expected.Write(content, (int)offset, count);
                var plain = new byte[1000];
                new Random(count).NextBytes(plain);
                await output.WriteAsync(plain);
                expected.Write(plain);
            }
        }
        await output.DisposeAsync();
        var got = await reading.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(expected.Length, got.Length);
        Assert.True(expected.ToArray().AsSpan().SequenceEqual(got), "the bytes read differ from the bytes written");
    }

    [Fact]
    public async Task A_range_past_the_end_of_the_file_is_padded_and_fails_only_its_own_write()
    {
        if (!OperatingSystem.IsLinux()) return;
        var file = Path.Combine(_dir, "short.bin");
        await File.WriteAllBytesAsync(file, Enumerable.Repeat((byte)0xAB, 1000).ToArray());

        using var server = new AnonymousPipeServerStream(PipeDirection.Out);
        using var client = new AnonymousPipeClientStream(PipeDirection.In, server.ClientSafePipeHandle);
        var output = PipeOutput.TryOpen(Fd(server), "test writer")!;
        server.Dispose();
        var reading = Task.Run(() => { var all = new MemoryStream(); client.CopyTo(all); return all.ToArray(); });
        using (var source = File.OpenHandle(file))
            await Assert.ThrowsAsync<SavefileReadException>(() => output.WriteFileRangeAsync(new byte[] { 9 }, source, 500, 4000));
        await output.WriteAsync(new byte[] { 7, 7 });
        await output.DisposeAsync();
        var got = await reading.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1 + 4000 + 2, got.Length);
        Assert.Equal(9, got[0]);
        Assert.True(got.AsSpan(1, 500).ToArray().All(b => b == 0xAB), "the part the file has is sent as it is");
        Assert.True(got.AsSpan(501, 3500).ToArray().All(b => b == 0), "the part the file lacks is zeros");
        Assert.Equal(new byte[] { 7, 7 }, got[^2..]);
    }

    [Fact]
    public async Task A_reader_waiting_for_a_frame_gets_it_whole_across_small_writes()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var server = new AnonymousPipeServerStream(PipeDirection.In);
        using var client = new AnonymousPipeClientStream(PipeDirection.Out, server.ClientSafePipeHandle);
        var input = PipeInput.TryOpen(Fd(server), "test reader")!;
        server.Dispose();
        var sent = new byte[3 << 20];
        new Random(2).NextBytes(sent);
        var writing = Task.Run(() =>
        {
            for (var i = 0; i < sent.Length; i += 32 << 10) client.Write(sent, i, Math.Min(32 << 10, sent.Length - i));
            client.Dispose();
        });

        var got = new byte[sent.Length + 100];
        var total = 0;
        // The first wait is cancelled before anything could satisfy it: nothing may be lost by it.
        using (var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(1)))
        {
            try { total += await input.ReadAtLeastAsync(got.AsMemory(0, 2 << 20), 2 << 20, cancel.Token); }
            catch (OperationCanceledException) { }
        }
        while (true)
        {
            var want = Math.Min(512 << 10, got.Length - total);
            var n = await input.ReadAtLeastAsync(got.AsMemory(total, want), want, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            total += n;
            if (n < want) break; // only at the end of the pipe
        }
        await writing;
        Assert.Equal(sent.Length, total);
        Assert.True(sent.AsSpan().SequenceEqual(got.AsSpan(0, total)), "the bytes read differ from the bytes written");
        Assert.Equal(0, await input.ReadAsync(new byte[10]));
        await input.DisposeAsync();
    }

    [Fact]
    public async Task A_pipe_made_non_blocking_is_written_and_read_with_waits_not_errors()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var server = new AnonymousPipeServerStream(PipeDirection.Out);
        using var client = new AnonymousPipeClientStream(PipeDirection.In, server.ClientSafePipeHandle);
        // As .NET does for its own asynchronous pipe I/O: our end becomes O_NONBLOCK.
        var fd = Fd(server);
        Assert.True(Fcntl(fd, 4, Fcntl(fd, 3, 0) | 0x800) >= 0);
        var output = PipeOutput.TryOpen(fd, "test writer")!;
        server.Dispose();
        var data = new byte[4 << 20]; // four times the pipe: the writer must wait for the slow reader
        new Random(3).NextBytes(data);
        var writing = output.WriteAsync(data).AsTask();
        var reading = Task.Run(async () =>
        {
            await Task.Delay(200);
            var got = new MemoryStream();
            var buffer = new byte[4096];
            int n;
            while (got.Length < data.Length && (n = client.Read(buffer)) > 0) got.Write(buffer, 0, n);
            return got.ToArray();
        });
        try
        {
            await writing.WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            await output.DisposeAsync(); // a failed writer must still end the pipe, or the reader would wait for ever
        }
        var received = await reading.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(data.AsSpan().SequenceEqual(received));
    }

    [LibraryImport("libc", EntryPoint = "fcntl")]
    private static partial int Fcntl(int fd, int command, int argument);

    /// <summary>
    /// A client that sends a save and then ends its input but keeps reading nothing (its end of the pipe open): the
    /// save's frames filled the pipe and the write never returned, so serve never ended (SIGTERM included), the domain
    /// stayed paused and its temp savefile stayed. Past a grace the writes are given up: the save cleans up as on any
    /// lost connection, and serve ends.
    /// </summary>
    [Fact]
    public async Task A_client_that_stops_reading_mid_save_does_not_keep_serve_or_the_domain_waiting()
    {
        if (!OperatingSystem.IsLinux()) return;
        var hostDir = Path.Combine(_dir, "host");
        var temp = Directory.CreateDirectory(Path.Combine(_dir, "serve-temp")).FullName;
        await using var host = XenIac.Hosts.Embedded.EmbeddedHost.Open(hostDir);
        await host.CreateAsync(XenIac.Core.Config.ConfigText.FromText("name = \"v\"\ntype = \"pv\"\nkernel = \"/k\"\nmemory = 32\n"));

        using var toServer = new AnonymousPipeServerStream(PipeDirection.Out);
        using var input = new AnonymousPipeClientStream(PipeDirection.In, toServer.ClientSafePipeHandle);
        using var server = new AnonymousPipeServerStream(PipeDirection.Out);
        using var client = new AnonymousPipeClientStream(PipeDirection.In, server.ClientSafePipeHandle); // never read
        var output = PipeOutput.TryOpen(Fd(server), "test writer")!;
        server.Dispose();

        var serving = XenHostServer.ServeAsync(() => host, input, output, "t", TextWriter.Null, temp);
        using (var frames = new FrameWriter(toServer))
        {
            await frames.WriteControlAsync(0, new System.Text.Json.Nodes.JsonObject { ["t"] = "hello", ["version"] = Frames.MaxVersion });
            await frames.WriteControlAsync(1, new System.Text.Json.Nodes.JsonObject { ["t"] = "call", ["op"] = "save", ["name"] = "v", ["mode"] = "Plain" });
        }
        // The save runs, and its frames fill the pipe nobody reads; then the client's input ends.
        var paused = System.Diagnostics.Stopwatch.StartNew();
        while ((await host.FindDomainAsync("v"))?.State != DomainState.Paused && paused.Elapsed < TimeSpan.FromSeconds(20)) await Task.Delay(50);
        await Task.Delay(1000);
        toServer.Dispose();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var ended = await serving.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"serve took {clock.Elapsed}");
        Assert.Null(ended); // the client closed its input: an ordinary end
        var v = Assert.Single(await host.ListDomainsAsync());
        Assert.Equal(DomainState.Running, v.State);
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp, "*", SearchOption.AllDirectories));
    }
}
