using XenIac.Core.Config;

namespace XenIac.Hosts.Libxl;

/// <summary>
/// The local dom0 through libxenlight (P/Invoke; Xen 4.17 to 4.22). Every libxl call blocks, so each operation runs
/// on a worker thread; see <see cref="LibxlSaveRestore"/> for what cancellation can and cannot stop.
/// </summary>
public sealed class LibxlHost : IXenHost
{
    private readonly ILibxl _libxl;
    private readonly LibxlSaveRestore _operations;

    internal LibxlHost(ILibxl libxl)
    {
        _libxl = libxl;
        _operations = new LibxlSaveRestore(libxl);
    }

    /// <summary>Opens the local dom0's libxl.</summary>
    /// <exception cref="XenHostException">Unavailable: libxenlight is missing, or this is not a dom0.</exception>
    public static IXenHost Open() => new LibxlHost(LibxlContext.Open());

    public string Spec => HostSpec.LibxlText;

    public Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default) =>
        Run(() =>
        {
            var (version, free) = _libxl.HostFacts();
            return new HostInfo(version, HostCpu.Vendor, free);
        }, cancellationToken);

    public Task<IReadOnlyList<DomainInfo>> ListDomainsAsync(CancellationToken cancellationToken = default) =>
        Run(_libxl.ListDomains, cancellationToken);

    public Task<DomainInfo?> FindDomainAsync(string name, CancellationToken cancellationToken = default) =>
        Run(() => _libxl.FindDomId(name) is { } domid ? _libxl.ListDomains().FirstOrDefault(d => d.DomId == domid) : null,
            cancellationToken);

    public Task<SaveResult> SaveAsync(string name, string savefilePath, SaveOptions options, CancellationToken cancellationToken = default) =>
        RunLong(() => _operations.Save(name, savefilePath, options, cancellationToken), cancellationToken);

    public Task<RestoreResult> RestoreAsync(string savefilePath, RestoreOptions options, CancellationToken cancellationToken = default) =>
        RunLong(() => _operations.Restore(savefilePath, options, cancellationToken), cancellationToken);

    public Task<RestoreResult> RestoreAsync(Stream savefile, string source, RestoreOptions options, CancellationToken cancellationToken = default) =>
        RunLong(() => _operations.Restore(savefile, source, options, cancellationToken), cancellationToken);

    public Task<DomainInfo> CreateAsync(ConfigText config, bool paused = false, CancellationToken cancellationToken = default) =>
        RunLong(() => _operations.Create(config, paused, cancellationToken), cancellationToken);

    public Task DestroyAsync(string name, CancellationToken cancellationToken = default) =>
        Run(() => { _libxl.Destroy(_operations.ResolveDomId(name)); return true; }, cancellationToken);

    public Task PauseAsync(string name, CancellationToken cancellationToken = default) =>
        Run(() => { _libxl.Pause(_operations.ResolveDomId(name)); return true; }, cancellationToken);

    public Task UnpauseAsync(string name, CancellationToken cancellationToken = default) =>
        Run(() => { _libxl.Unpause(_operations.ResolveDomId(name)); return true; }, cancellationToken);

    public Task<ConfigText> GetConfigAsync(string name, CancellationToken cancellationToken = default) =>
        Run(() => new ConfigText(_operations.GetConfig(name), Core.SaveFiles.SaveFileConfigFormat.Json), cancellationToken);

    public ValueTask DisposeAsync()
    {
        _libxl.Dispose();
        return ValueTask.CompletedTask;
    }

    private static Task<T> Run<T>(Func<T> operation, CancellationToken cancellationToken) =>
        Task.Run(operation, cancellationToken);

    // Saves and restores hold their thread for minutes; a dedicated thread keeps the pool free.
    private static Task<T> RunLong<T>(Func<T> operation, CancellationToken cancellationToken) =>
        Task.Factory.StartNew(operation, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
