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
    // One Lazy per host: hosts open in parallel (a remote one may take a while to answer) and each exactly once. A
    // failed open is forgotten, so a long-lived provider (the reconcile loop's) tries the host again next time.
    private readonly Dictionary<HostSpec, Lazy<IXenHost>> _open = [];
    private readonly HostSpec _defaultSpec;
    private readonly Func<HostSpec, IXenHost> _openHost;

    /// <param name="defaultSpec">The host for domains that name none (the CLI's --host); default: libxl on a dom0.</param>
    /// <param name="created">Told of each new embedded host folder made. A manifest's embedded host is made on first
    /// use, as one typed on the command line is: only inside an existing folder, so a typo in a manifest's path does
    /// not grow a tree of folders holding a new, empty host.</param>
    public HostProvider(HostSpec defaultSpec = default, Action<string>? created = null)
        : this(defaultSpec, spec => spec.PrepareTyped(created).Open()) { }

    /// <summary>Opens hosts with <paramref name="openHost"/> (tests: hosts of their own).</summary>
    internal HostProvider(HostSpec defaultSpec, Func<HostSpec, IXenHost> openHost) => (_defaultSpec, _openHost) = (defaultSpec, openHost);

    public HostSpec Resolve(HostSpec spec) => spec.IsDefault ? _defaultSpec : spec;

    public IXenHost Get(HostSpec spec)
    {
        var effective = Resolve(spec);
        Lazy<IXenHost> host;
        lock (_open)
        {
            if (!_open.TryGetValue(effective, out host!))
                _open[effective] = host = new Lazy<IXenHost>(() => _openHost(effective), LazyThreadSafetyMode.ExecutionAndPublication);
        }
        try
        {
            return host.Value;
        }
        catch
        {
            lock (_open)
            {
                if (_open.TryGetValue(effective, out var same) && same == host) _open.Remove(effective);
            }
            throw;
        }
    }

    /// <summary>
    /// Closes every host opened, all at once: a remote host's close waits for its ssh and remote server to go,
    /// and one after another that was a wait per host at the end of every plan.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        List<Lazy<IXenHost>> opened;
        lock (_open)
        {
            opened = [.. _open.Values];
            _open.Clear();
        }
        await Task.WhenAll(opened.Select(async host =>
        {
            IXenHost value;
            try
            {
                if (!host.IsValueCreated) return;
                value = host.Value;
            }
            catch (Exception e) when (e is XenIac.Core.XenIacException or IOException or UnauthorizedAccessException) { return; }
            await value.DisposeAsync().ConfigureAwait(false);
        })).ConfigureAwait(false);
    }
}
