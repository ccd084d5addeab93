using XenIac.Reconciler.Manifests;

namespace XenIac.Reconciler.Importing;

/// <summary>
/// One domain as import found it, in the terms of a manifest entry: a domain on the host is
/// <see cref="DesiredState.Running"/> (with the config the host remembers), a savefile of a domain that does not
/// run is <see cref="DesiredState.Saved"/>. Those are the states <c>plan</c> finds nothing to do for.
/// </summary>
public sealed record ImportedDomain
{
    public required string Name { get; init; }
    public required DesiredState State { get; init; }
    /// <summary>The domain was paused on the host: the entry says <c>paused: true</c>, so a restore brings it back paused.</summary>
    public bool Paused { get; init; }
    public SavefileFormat Format { get; init; } = SavefileFormat.Xl;
    /// <summary>The savefile found for the domain (absolute); null when there is none and the manifest's default path serves.</summary>
    public string? SavefilePath { get; init; }
    /// <summary>The config the host remembers, as xl.cfg; null for savefiles (they store theirs) and when the host gave none.</summary>
    public ImportedConfig? Config { get; init; }
}

/// <summary>A domain's config as xl.cfg bytes, and the settings the host's JSON had that xl.cfg cannot say.</summary>
public sealed record ImportedConfig(byte[] Content, IReadOnlyList<string> NotConverted);

/// <summary>What import found: the domains (ordered by name), and one line per thing it skipped (<c>warning: ...</c>) or wants said (<c>note: ...</c>).</summary>
public sealed record ImportScan(IReadOnlyList<ImportedDomain> Domains, IReadOnlyList<string> Warnings);

/// <summary>Import cannot do what was asked (a missing folder, a name already in the manifest, ...); the message says why.</summary>
public sealed class ImportException(string message, Exception? inner = null) : XenIac.Core.XenIacException(message, inner);
