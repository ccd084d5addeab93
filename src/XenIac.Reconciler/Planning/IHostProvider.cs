using XenIac.Hosts;

namespace XenIac.Reconciler.Planning;

/// <summary>Opens each host a manifest names once and keeps it for the run.</summary>
public interface IHostProvider
{
    IXenHost Get(string spec, string? baseDirectory);
}

/// <summary>Opens hosts through <see cref="XenHosts.Open"/>; an empty spec means the default host (libxl on a dom0).</summary>
public sealed class HostProvider : IHostProvider, IAsyncDisposable
{
    private readonly Dictionary<string, IXenHost> _open = new(StringComparer.Ordinal);
    private readonly string? _defaultSpec;

    /// <param name="defaultSpec">The host for domains that name none (the CLI's --host); null: libxl on a dom0.</param>
    public HostProvider(string? defaultSpec = null) => _defaultSpec = defaultSpec;

    public IXenHost Get(string spec, string? baseDirectory)
    {
        var effective = string.IsNullOrEmpty(spec) ? _defaultSpec ?? "" : spec;
        lock (_open)
        {
            if (!_open.TryGetValue(effective, out var host))
                _open[effective] = host = XenHosts.Open(effective.Length == 0 ? null : effective, baseDirectory);
            return host;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _open.Values) await host.DisposeAsync().ConfigureAwait(false);
        _open.Clear();
    }
}
