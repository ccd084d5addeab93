using XenIac.Hosts;

namespace XenIac.Reconciler.Planning;

/// <summary>Opens each host a manifest names once and keeps it for the run.</summary>
public interface IHostProvider
{
    IXenHost Get(string spec, string? baseDirectory);
}

/// <summary>Opens hosts through <see cref="HostSpec.Open"/>; an empty spec means the default host.</summary>
public sealed class HostProvider : IHostProvider, IAsyncDisposable
{
    private readonly Dictionary<HostSpec, IXenHost> _open = [];
    private readonly HostSpec _defaultSpec;

    /// <param name="defaultSpec">The host for domains that name none (the CLI's --host); default: libxl on a dom0.</param>
    public HostProvider(HostSpec defaultSpec = default) => _defaultSpec = defaultSpec;

    public IXenHost Get(string spec, string? baseDirectory)
    {
        var parsed = HostSpec.Parse(spec, baseDirectory);
        var effective = parsed.IsDefault ? _defaultSpec : parsed;
        lock (_open)
        {
            if (!_open.TryGetValue(effective, out var host))
                _open[effective] = host = effective.Open();
            return host;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _open.Values) await host.DisposeAsync().ConfigureAwait(false);
        _open.Clear();
    }
}
