using XenIac.Hosts.Embedded;

namespace XenIac.Hosts.Tests.Embedded;

/// <summary>A fresh embedded host in a temp folder of its own per test, removed afterwards.</summary>
public abstract class EmbeddedHostTestBase(string prefix) : IAsyncLifetime
{
    protected readonly string _dir = Directory.CreateTempSubdirectory(prefix).FullName;
    protected EmbeddedHost _host = null!;

    public Task InitializeAsync()
    {
        _host = EmbeddedHost.Open(Path.Combine(_dir, "host"));
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        return Task.CompletedTask;
    }
}
