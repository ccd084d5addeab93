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

/// <summary>
/// What a host says about itself: what placement checks a savefile against before a restore there (the CPU
/// vendor its CPUID policy was made on, the Xen release its config needs, the memory it will take).
/// </summary>
/// <param name="XenVersion">The hypervisor's version as Xen prints it (<c>4.17.5</c>, <c>4.20.1-pre</c>).</param>
/// <param name="CpuVendor">The CPUID vendor string (<c>GenuineIntel</c>, <c>AuthenticAMD</c>), or <c>unknown</c>.</param>
/// <param name="FreeMemoryKiB">Memory free for new domains, in KiB (as <c>xl info</c>'s free_memory, in MiB there).</param>
public sealed record HostInfo(string XenVersion, string CpuVendor, long FreeMemoryKiB)
{
    /// <summary>Major and minor of <see cref="XenVersion"/> (4.17), or null when it does not start with them.</summary>
    public Version? XenRelease
    {
        get
        {
            var parts = XenVersion.Split('.', 3);
            return parts.Length >= 2 && int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var major)
                && int.TryParse(new string(parts[1].TakeWhile(char.IsAsciiDigit).ToArray()), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var minor)
                ? new Version(major, minor) : null;
        }
    }
}

/// <summary>What a host says about one domain.</summary>
/// <param name="MemoryKiB">Current memory in KiB (xl list shows MiB).</param>
public sealed record DomainInfo(string Name, uint DomId, DomainState State, long MemoryKiB, int VCpus);

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
    public ConfigText? AlternativeConfig { get; init; }

    /// <summary>xl save -D: keep the domain id in the stored config.</summary>
    public bool PreserveDomId { get; init; }

    /// <summary>
    /// What the snapshot was made from (<c>sha256:</c> and 64 hex digits), recorded in the savefile's optional data
    /// (<see cref="SaveFileHeader.Fingerprint"/>) so a later restore can refuse one made from other inputs.
    /// </summary>
    public string? Fingerprint { get; init; }

    /// <summary>Bytes written so far.</summary>
    public IProgress<long>? Progress { get; init; }
}

public sealed record RestoreOptions
{
    public static RestoreOptions Default { get; } = new();

    /// <summary>xl restore -p: leave the restored domain paused.</summary>
    public bool Paused { get; init; }

    /// <summary>xl restore FILE CONFIG: use this config instead of the stored one.</summary>
    public ConfigText? OverrideConfig { get; init; }

    /// <summary>The savefile is the old configless format (then <see cref="OverrideConfig"/> is required).</summary>
    public bool Legacy { get; init; }

    /// <summary>Bytes read so far.</summary>
    public IProgress<long>? Progress { get; init; }

    /// <summary>
    /// Restore a clone: the host applies these fixups (name, MACs, disks, generation ID) to the config the restore
    /// would use and checks the result against the stored config with the fixups declared. The embedded host shares
    /// one copy of the savefile's memory between the clones of one savefile.
    /// </summary>
    public CloneFixups? Fixups { get; init; }

    /// <summary>Where a clone's MACs come from; one pool shared by a batch keeps them unique. Null: a pool avoiding the source's MACs.</summary>
    public MacPool? Macs { get; init; }
}

/// <param name="Bytes">Size of the written savefile.</param>
public sealed record SaveResult(string Name, string SavefilePath, long Bytes, SaveFileHeader Header);

/// <param name="ConfigOverridden">True when an override config replaced the stored one.</param>
public sealed record RestoreResult(DomainInfo Domain, bool ConfigOverridden)
{
    /// <summary>For a clone: its config and what the fixups changed (MACs, disks); null for a plain restore.</summary>
    public ClonedConfig? Cloned { get; init; }

    /// <summary>For a clone: the compatibility findings of its config against the stored one, fixups declared.</summary>
    public IReadOnlyList<CompatibilityFinding> Findings { get; init; } = [];
}
