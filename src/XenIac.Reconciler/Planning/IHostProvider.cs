using XenIac.Hosts;

namespace XenIac.Reconciler.Planning;

/// <summary>Opens each host a manifest names once and keeps it for the run.</summary>
public interface IHostProvider
{
    /// <summary>The host <paramref name="spec"/> names, opened once per run; the default spec means the provider's default host.</summary>
    IXenHost Get(HostSpec spec);

    /// <summary>The spec <see cref="Get"/> opens for <paramref name="spec"/> (the default replaced by the provider's).</summary>
    HostSpec Resolve(HostSpec spec);
}

/// <summary>Opens hosts through <see cref="HostSpec.Open"/>; an empty spec means the default host.</summary>
public sealed class HostProvider : IHostProvider, IAsyncDisposable
{
    private readonly Dictionary<HostSpec, IXenHost> _open = [];
    private readonly HostSpec _defaultSpec;

    /// <param name="defaultSpec">The host for domains that name none (the CLI's --host); default: libxl on a dom0.</param>
    public HostProvider(HostSpec defaultSpec = default) => _defaultSpec = defaultSpec;

    public HostSpec Resolve(HostSpec spec) => spec.IsDefault ? _defaultSpec : spec;

    public IXenHost Get(HostSpec spec)
    {
        var effective = Resolve(spec);
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
