using XenIac.Core.Config;

namespace XenIac.Hosts;

/// <summary>
/// A place where Xen domains live: the local dom0 through libxl, or the embedded folder-backed host. Domains are
/// addressed by name, as xl users do. Long operations report progress in bytes and honour cancellation; a
/// cancelled or failed save leaves no savefile behind and the domain as it was (resumed, as xl does).
/// </summary>
public interface IXenHost : IAsyncDisposable
{
    /// <summary>How to name this host again: <c>libxl</c> or <c>embedded:/path</c>.</summary>
    string Spec { get; }

    /// <summary>The host's Xen version, CPU vendor and free memory (what placement checks a restore against).</summary>
    Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default);

    Task<IReadOnlyList<DomainInfo>> ListDomainsAsync(CancellationToken cancellationToken = default);

    /// <summary>The domain named <paramref name="name"/>, or null.</summary>
    Task<DomainInfo?> FindDomainAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// Saves the domain into <paramref name="savefilePath"/> (xl header and optional data, then the image), written
    /// to a temp file in the same folder, fsynced and renamed into place with mode 0600.
    /// </summary>
    Task<SaveResult> SaveAsync(string name, string savefilePath, SaveOptions options, CancellationToken cancellationToken = default);

    /// <summary>Restores a domain from a savefile, with the stored config or an override.</summary>
    Task<RestoreResult> RestoreAsync(string savefilePath, RestoreOptions options, CancellationToken cancellationToken = default);

    /// <summary>
    /// Restores a domain from a savefile read once, front to back, from a stream that need not seek: a pipe, or a
    /// snapshot streaming out of a store. Nothing is written to disk first. The domain appears only when the whole
    /// stream was read and found valid; <paramref name="source"/> names the stream in messages.
    /// </summary>
    Task<RestoreResult> RestoreAsync(Stream savefile, string source, RestoreOptions options, CancellationToken cancellationToken = default);

    /// <summary>Creates (boots) a new domain from a config.</summary>
    Task<DomainInfo> CreateAsync(ConfigText config, bool paused = false, CancellationToken cancellationToken = default);

    Task DestroyAsync(string name, CancellationToken cancellationToken = default);

    Task PauseAsync(string name, CancellationToken cancellationToken = default);

    Task UnpauseAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>The config the host remembers for a running domain (libxl JSON, as xl save would store it).</summary>
    Task<ConfigText> GetConfigAsync(string name, CancellationToken cancellationToken = default);
}
