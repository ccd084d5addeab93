using System.IO.Pipes;
using XenIac.Hosts.Remote;

namespace XenIac.Hosts.Tests.Remote;

/// <summary>A one-way OS pipe inside this process: what ssh's stdin or stdout is to the two ends.</summary>
internal sealed class OsPipe : IDisposable
{
    public OsPipe()
    {
        Writer = new AnonymousPipeServerStream(PipeDirection.Out);
        Reader = new AnonymousPipeClientStream(PipeDirection.In, ((AnonymousPipeServerStream)Writer).ClientSafePipeHandle);
    }

    public Stream Writer { get; }
    public Stream Reader { get; }

    public void Dispose()
    {
        Writer.Dispose();
        Reader.Dispose();
    }
}

/// <summary>
/// A host served over two pipes in this process, with a client connected to it: the protocol without ssh. The
/// server's log is kept; <see cref="DropAsync"/> cuts both pipes as a dead ssh connection would.
/// </summary>
internal sealed class Loopback : IAsyncDisposable
{
    private readonly OsPipe _toServer = new();
    private readonly OsPipe _toClient = new();

    private Loopback(Func<IXenHost> open, string? tempFolder)
    {
        Server = Task.Run(async () =>
        {
            // As a process's exit closes its stdout, the end of serving closes the pipe back to the client.
            try { await XenHostServer.ServeAsync(open, _toServer.Reader, _toClient.Writer, "9.9.9-test", Log, tempFolder); }
            finally { _toClient.Writer.Dispose(); }
        });
        Client = new RemoteXenHost("ssh://test-host", ct => RemoteConnection.OpenAsync(_toClient.Reader, _toServer.Writer, "ssh://test-host",
            _ => Task.FromResult<string?>("the test cut the pipes"), ct));
    }

    public static Loopback Start(IXenHost served, string? tempFolder = null) => new(() => served, tempFolder);

    public static Loopback Start(Func<IXenHost> open) => new(open, null);

    public RemoteXenHost Client { get; }
    public Task Server { get; }
    public StringWriter Log { get; } = new();

    /// <summary>Cuts the connection in both directions, as killing ssh does.</summary>
    public void Drop()
    {
        _toServer.Writer.Dispose();
        _toClient.Reader.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        _toServer.Writer.Dispose();
        await Server.WaitAsync(TimeSpan.FromSeconds(20));
        _toServer.Dispose();
        _toClient.Dispose();
    }
}
