using XenIac.Core.Config;
using XenIac.Core.IO;
using XenIac.Core.SaveFiles;

namespace XenIac.Hosts.Embedded;

/// <summary>
/// A folder-backed host that needs no Xen: for demos, tests and the quick start. Domains live as records in
/// <c>domains/NAME/</c>; their memory is generated from a seed until it is restored or written, then kept in a
/// file. Saves write real savefiles (xl header, libxl JSON config, a v2 image stream); restores read and verify
/// them and bring back the exact memory.
/// Several processes may share one folder: a short host lock guards the registry and a per-domain lock guards
/// each save or restore. Every file is replaced atomically, so a killed process never corrupts the folder.
/// </summary>
public sealed partial class EmbeddedHost : IXenHost
{
    private const string Marker = "xeniac-embedded-host.json";
    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(30);

    private readonly string _root;
    private readonly EmbeddedHostOptions _options;

    private EmbeddedHost(string root, EmbeddedHostOptions options)
    {
        _root = root;
        _options = options;
    }

    public string Spec => HostSpec.Embedded(_root).ToString();

    public string Folder => _root;

    /// <summary>
    /// Creates a folder of the host 0700 (its parents too, where missing): file names there name domains and bases,
    /// and the files under them hold guest memory. An existing folder keeps its mode; the user chose it.
    /// </summary>
    internal static void CreatePrivateFolder(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }
        // One level at a time: given the mode, .NET applies it to the last folder only and makes missing parents 0755.
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) return;
        if (Path.GetDirectoryName(full) is { } parent) CreatePrivateFolder(parent);
        Directory.CreateDirectory(full, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>Opens (creating when needed) the embedded host in <paramref name="folder"/>.</summary>
    public static EmbeddedHost Open(string folder, EmbeddedHostOptions? options = null)
    {
        var root = Path.GetFullPath(folder);
        try
        {
            if (File.Exists(root))
                throw new XenHostException(XenHostError.Unavailable, $"embedded host folder {root} is a file");
            if (Directory.Exists(root) && Directory.EnumerateFileSystemEntries(root).Any() && !File.Exists(Path.Combine(root, Marker)))
                throw new XenHostException(XenHostError.Unavailable,
                    $"{root} is not empty and is not an embedded host folder; choose an empty or new folder");
            CreatePrivateFolder(root);
            // The marker first, then the folders: a second first open of the same folder checks "not empty and no
            // marker" above, and found the folders the first had just made (CI jobs sharing a host folder: 1 in 20).
            var marker = Path.Combine(root, Marker);
            if (!File.Exists(marker))
            {
                // 0600 like every other file of the folder, from its creation (File.WriteAllText made it 0644). Created
                // only if absent: two first opens of one folder race here, and the one that loses keeps the other's.
                try
                {
                    using var file = AtomicFile.CreatePrivate(marker);
                    file.Write("{\"kind\":\"xeniac-embedded-host\",\"version\":1}\n"u8);
                }
                catch (IOException) when (File.Exists(marker)) { }
            }
            CreatePrivateFolder(Path.Combine(root, "domains"));
            CreatePrivateFolder(Path.Combine(root, "locks"));
        }
        catch (UnauthorizedAccessException e)
        {
            throw new XenHostException(XenHostError.Unavailable, $"cannot use {root} as embedded host folder: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new XenHostException(XenHostError.Unavailable, $"cannot use {root} as embedded host folder: {e.Message}", e);
        }
        return new EmbeddedHost(root, options ?? EmbeddedHostOptions.Default);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private string DomainDir(string name) => Path.Combine(_root, "domains", name);
    private string RecordPath(string name) => Path.Combine(DomainDir(name), "domain.json");
    private string MemoryPath(string name) => Path.Combine(DomainDir(name), "memory.img");
    private string HostLockPath => Path.Combine(_root, "locks", "host.lock");
    private string DomainLockPath(string name) => Path.Combine(_root, "locks", name + ".lock");

    private string OverlayPath(string name) => Path.Combine(DomainDir(name), "overlay.img");
    private string OverlayMapPath(string name) => Path.Combine(DomainDir(name), "overlay.map");
    private string BaseDir(string id) => Path.Combine(_root, "bases", id);
    private string BaseMemoryPath(string id) => Path.Combine(BaseDir(id), "memory.img");
    private string BaseLockPath(string id) => Path.Combine(_root, "locks", "base-" + id + ".lock");

    private GuestMemory MemoryOf(DomainRecord r) => new(MemoryPath(r.Name), r.MemorySeed, r.Pages,
        r.BaseMemory is { } id ? new CloneMemory(BaseMemoryPath(id), OverlayPath(r.Name), OverlayMapPath(r.Name), r.Pages) : null,
        fileExpected: r.MemoryFile);

    /// <summary>
    /// The machine this folder plays: by default Xen 4.17 (the savefiles it writes are 4.17's), no CPU vendor (its
    /// guests run on no CPU, so any savefile's CPUID policy fits; a machine's vendor would make a test suite pass on one
    /// CI machine and fail on another) and this machine's memory; the folder's marker file may say otherwise (<c>xenVersion</c>, <c>cpuVendor</c>,
    /// <c>memoryMiB</c>), so tests and demos can stand up unlike hosts. Free memory is what its live domains leave.
    /// </summary>
    public async Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default)
    {
        var machine = EmbeddedMachine.Read(Path.Combine(_root, Marker));
        var totalKiB = machine.MemoryMiB is > 0 and var mib ? mib * 1024 : GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1024;
        var used = (await ListDomainsAsync(cancellationToken).ConfigureAwait(false))
            .Where(d => d.State is not (DomainState.ShutDown or DomainState.Dying)).Sum(d => d.MemoryKiB);
        return new HostInfo(machine.XenVersion ?? EmbeddedMachine.DefaultXenVersion, machine.CpuVendor ?? HostCpu.Unknown, Math.Max(0, totalKiB - used));
    }

    public Task<IReadOnlyList<DomainInfo>> ListDomainsAsync(CancellationToken cancellationToken = default)
    {
        var list = new List<DomainInfo>();
        foreach (var dir in Directory.EnumerateDirectories(Path.Combine(_root, "domains")).Order(StringComparer.Ordinal))
        {
            if (DomainRecord.Load(Path.Combine(dir, "domain.json")) is { } r) list.Add(r.ToInfo());
        }
        return Task.FromResult<IReadOnlyList<DomainInfo>>(list.OrderBy(d => d.DomId).ToList());
    }

    public Task<DomainInfo?> FindDomainAsync(string name, CancellationToken cancellationToken = default) =>
        Task.FromResult(IsValidName(name) ? DomainRecord.Load(RecordPath(name))?.ToInfo() : null);

    private DomainRecord Require(string name) =>
        (IsValidName(name) ? DomainRecord.Load(RecordPath(name)) : null)
        ?? throw new XenHostException(XenHostError.DomainNotFound, $"no domain named '{name}' on {Spec}");

    private static bool IsValidName(string name) =>
        name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') && name[0] != '.';

    /// <summary>
    /// A name that cannot exist here is "not found", said before any path is built from it: a lock file named
    /// "../x" must never be created outside the host folder.
    /// </summary>
    private void CheckExistingName(string name)
    {
        if (!IsValidName(name))
            throw new XenHostException(XenHostError.DomainNotFound, $"no domain named '{name}' on {Spec}");
    }

    /// <summary>
    /// A new domain's name: also starting with a letter or digit, as a manifest's names do. "-x" was made, and then
    /// read as an option by every command that names it, and no manifest or import could name it.
    /// </summary>
    private static void CheckName(string name)
    {
        if (!IsValidName(name) || !char.IsAsciiLetterOrDigit(name[0]))
            throw new XenHostException(XenHostError.InvalidConfig,
                $"invalid domain name '{name}' for the embedded host: letters, digits, '.', '_' and '-', starting with a letter or digit, up to 64 characters");
    }

    public async Task<DomainInfo> CreateAsync(ConfigText config, bool paused = false, CancellationToken cancellationToken = default)
    {
        var shape = EmbeddedConfig.Shape(config);
        CheckName(shape.Name);
        using var domainLock = await FileLock.AcquireAsync(DomainLockPath(shape.Name), LockWait, "create", cancellationToken).ConfigureAwait(false);
        var record = await RegisterAsync(shape, shape.ConfigJson, shape.Name,
            paused ? DomainState.Paused : DomainState.Running, materializedMemory: null, cancellationToken).ConfigureAwait(false);
        return record.ToInfo();
    }

    /// <summary>Adds a domain record under the host lock: names are unique, domids are never reused.</summary>
    private async Task<DomainRecord> RegisterAsync(EmbeddedDomainShape shape, string configJson, string memorySeed, DomainState state,
        string? materializedMemory, CancellationToken cancellationToken, string? baseMemory = null)
    {
        using var hostLock = await FileLock.AcquireAsync(HostLockPath, LockWait, "register " + shape.Name, cancellationToken).ConfigureAwait(false);
        if (DomainRecord.Load(RecordPath(shape.Name)) is not null)
            throw new XenHostException(XenHostError.DomainExists, $"a domain named '{shape.Name}' already exists on {Spec}");

        var counterPath = Path.Combine(_root, "next-domid");
        var domId = File.Exists(counterPath) && uint.TryParse(await File.ReadAllTextAsync(counterPath, cancellationToken).ConfigureAwait(false), out var n) ? n : 1u;
        var record = new DomainRecord
        {
            Name = shape.Name,
            DomId = domId,
            State = state,
            GuestType = shape.GuestType,
            MemoryKiB = shape.MemoryKiB,
            VCpus = shape.VCpus,
            ConfigJson = configJson,
            MemorySeed = memorySeed,
            BaseMemory = baseMemory,
            MemoryFile = materializedMemory is not null,
        };
        // Serialized (and its size checked) before anything changes: a refused config leaves the folder as it was.
        var serialized = record.Serialize();
        await AtomicFile.WriteAsync(counterPath, (s, ct) => s.WriteAsync(System.Text.Encoding.ASCII.GetBytes((domId + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)), ct).AsTask(), cancellationToken).ConfigureAwait(false);

        CreatePrivateFolder(DomainDir(shape.Name));
        // A memory file left by an earlier domain of this name must not leak into this one.
        if (materializedMemory is null) File.Delete(MemoryPath(shape.Name));
        else File.Move(materializedMemory, MemoryPath(shape.Name), overwrite: true);
        await DomainRecord.Write(RecordPath(shape.Name), serialized, cancellationToken).ConfigureAwait(false);
        return record;
    }

    public async Task DestroyAsync(string name, CancellationToken cancellationToken = default)
    {
        CheckExistingName(name);
        RequireTrace(name);
        // Look the domain up under its lock: a save or restore in flight may remove or recreate it meanwhile.
        using var domainLock = await FileLock.AcquireAsync(DomainLockPath(name), LockWait, "destroy", cancellationToken).ConfigureAwait(false);
        try { Require(name); }
        // A record that cannot be read (damaged by hand, or written by an older version without a size check) must
        // not make its domain indestructible: destroy is how the user gets rid of it.
        catch (XenHostException e) when (e.Error == XenHostError.OperationFailed && Path.Exists(RecordPath(name))) { }
        await RemoveAsync(name, cancellationToken).ConfigureAwait(false);
    }

    private async Task RemoveAsync(string name, CancellationToken cancellationToken)
    {
        string? baseMemory;
        try { baseMemory = DomainRecord.Load(RecordPath(name))?.BaseMemory; }
        catch (XenHostException) { baseMemory = null; } // unreadable: its clone base (if any) stays until the host is cleaned
        using (await FileLock.AcquireAsync(HostLockPath, LockWait, "destroy " + name, cancellationToken).ConfigureAwait(false))
        {
            // The record goes first: without it the domain does not exist, whatever is left of its folder.
            // (A folder made where the record belongs goes with the domain's folder.)
            if (!Directory.Exists(RecordPath(name))) File.Delete(RecordPath(name));
            try { Directory.Delete(DomainDir(name), recursive: true); }
            catch (DirectoryNotFoundException) { }
        }
        if (baseMemory is not null) await ReleaseBaseAsync(baseMemory, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>
    /// A domain nobody has (no record, no folder) is reported before its lock is taken: the lock file would stay behind
    /// for every mistyped name (`domain destroy nope` left locks/nope.lock). One that appears meanwhile is looked up
    /// again under the lock.
    /// </summary>
    private void RequireTrace(string name)
    {
        if (!File.Exists(RecordPath(name)) && !Directory.Exists(DomainDir(name))) Require(name);
    }

    public Task PauseAsync(string name, CancellationToken cancellationToken = default) =>
        SetStateAsync(name, DomainState.Paused, cancellationToken);

    public Task UnpauseAsync(string name, CancellationToken cancellationToken = default) =>
        SetStateAsync(name, DomainState.Running, cancellationToken);

    private async Task SetStateAsync(string name, DomainState state, CancellationToken cancellationToken)
    {
        CheckExistingName(name);
        RequireTrace(name);
        using var domainLock = await FileLock.AcquireAsync(DomainLockPath(name), LockWait, state.ToString(), cancellationToken).ConfigureAwait(false);
        var record = Require(name);
        await (record with { State = state }).SaveAsync(RecordPath(name), cancellationToken).ConfigureAwait(false);
    }

    public Task<ConfigText> GetConfigAsync(string name, CancellationToken cancellationToken = default) =>
        Task.FromResult(Require(name).Config);

    /// <summary>
    /// Writes into a domain's memory, as a running guest would (the memory is materialized first). For tests and
    /// demos that want to see changed memory survive a save and restore.
    /// </summary>
    public async Task WriteMemoryAsync(string name, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        CheckExistingName(name);
        RequireTrace(name);
        using var domainLock = await FileLock.AcquireAsync(DomainLockPath(name), LockWait, "write memory", cancellationToken).ConfigureAwait(false);
        var record = Require(name);
        if (offset < 0 || offset + data.Length > record.Pages * GuestMemory.PageSize)
            throw new ArgumentOutOfRangeException(nameof(offset), $"outside the {record.MemoryKiB} KiB of '{name}'");
        await MemoryOf(record).WriteAsync(offset, data, cancellationToken).ConfigureAwait(false);
        // From now on the file is the memory: recorded, so that losing it is seen as damage, not regenerated.
        if (!record.MemoryFile && record.BaseMemory is null)
            await (record with { MemoryFile = true }).SaveAsync(RecordPath(name), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Copies a domain's whole memory to <paramref name="destination"/> (for comparing before and after).</summary>
    public async Task ReadMemoryAsync(string name, Stream destination, CancellationToken cancellationToken = default)
    {
        await MemoryOf(Require(name)).CopyToAsync(destination, cancellationToken).ConfigureAwait(false);
    }
}
