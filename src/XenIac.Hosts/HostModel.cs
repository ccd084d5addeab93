using XenIac.Core.Config;
using XenIac.Core.SaveFiles;

namespace XenIac.Hosts;

public enum DomainState
{
    Running,
    Paused,
    Blocked,
    ShutDown,
    Crashed,
    Dying,
    Unknown,
}

/// <summary>What a host says about one domain.</summary>
/// <param name="MemoryKiB">Current memory in KiB (xl list shows MiB).</param>
public sealed record DomainInfo(string Name, uint DomId, DomainState State, long MemoryKiB, int VCpus);

/// <summary>A domain config as text, with its language.</summary>
public sealed record DomainConfigDocument(string Text, SaveFileConfigFormat Format)
{
    /// <summary>Reads a config file: text starting with '{' is libxl JSON, anything else xl.cfg.</summary>
    public static DomainConfigDocument FromText(string text) =>
        new(text, text.TrimStart().StartsWith('{') ? SaveFileConfigFormat.Json : SaveFileConfigFormat.XlCfg);

    public static async Task<DomainConfigDocument> LoadAsync(string path, CancellationToken cancellationToken = default) =>
        FromText(await ConfigSource.ReadTextAsync(path, cancellationToken).ConfigureAwait(false));
}

public enum SaveMode
{
    /// <summary>xl save: the domain is destroyed after a good save.</summary>
    Plain,
    /// <summary>xl save -c: the domain keeps running.</summary>
    Checkpoint,
}

public sealed record SaveOptions
{
    public static SaveOptions Default { get; } = new();

    public SaveMode Mode { get; init; } = SaveMode.Plain;

    /// <summary>xl save -p: leave the domain paused after the save instead of destroying or resuming it.</summary>
    public bool LeavePaused { get; init; }

    /// <summary>xl save FILE CONFIG: store this config instead of the one the host remembers.</summary>
    public DomainConfigDocument? AlternativeConfig { get; init; }

    /// <summary>xl save -D: keep the domain id in the stored config.</summary>
    public bool PreserveDomId { get; init; }

    /// <summary>Bytes written so far.</summary>
    public IProgress<long>? Progress { get; init; }
}

public sealed record RestoreOptions
{
    public static RestoreOptions Default { get; } = new();

    /// <summary>xl restore -p: leave the restored domain paused.</summary>
    public bool Paused { get; init; }

    /// <summary>xl restore FILE CONFIG: use this config instead of the stored one.</summary>
    public DomainConfigDocument? OverrideConfig { get; init; }

    /// <summary>The savefile is the old configless format (then <see cref="OverrideConfig"/> is required).</summary>
    public bool Legacy { get; init; }

    /// <summary>Bytes read so far.</summary>
    public IProgress<long>? Progress { get; init; }
}

/// <param name="Bytes">Size of the written savefile.</param>
public sealed record SaveResult(string Name, string SavefilePath, long Bytes, SaveFileHeader Header);

/// <param name="ConfigOverridden">True when an override config replaced the stored one.</param>
public sealed record RestoreResult(DomainInfo Domain, bool ConfigOverridden);
