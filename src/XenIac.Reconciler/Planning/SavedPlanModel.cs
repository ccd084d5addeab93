using System.Text.Json.Serialization;

namespace XenIac.Reconciler.Planning;

// The saved plan's file format (plan --out, apply FILE, show FILE). Version 1. Field order is the write order:
// "format" comes first so a reader can tell a saved plan from a manifest by its first bytes.

internal sealed record SavedPlanDocument
{
    public string? Format { get; init; }
    public int Version { get; init; }
    public DateTimeOffset Created { get; init; }
    public string? Tool { get; init; }
    public SavedFile? Manifest { get; init; }
    /// <summary>The config and override config files the plan read, each with its digest (null: the file was missing).</summary>
    public IReadOnlyList<SavedFile?>? Inputs { get; init; }
    public SavedOptions? Options { get; init; }
    public IReadOnlyList<SavedDomain?>? Domains { get; init; }
    /// <summary>SHA-256 of the document written without this field: an edit after <c>plan -out</c> is told, not applied.</summary>
    public string? Seal { get; init; }
}

internal sealed record SavedFile(string? Path, string? Sha256);

/// <summary>What the plan was asked for, so apply FILE plans exactly the same way.</summary>
internal sealed record SavedOptions
{
    /// <summary>The host for domains that name none (--host or $XENIAC_HOST when the plan was made); empty: the default.</summary>
    public string? DefaultHost { get; init; }
    public IReadOnlyList<string?>? Targets { get; init; }
    public IReadOnlyList<string?>? Replace { get; init; }
    public bool Force { get; init; }
    public bool TrustConfig { get; init; }
}

internal sealed record SavedDomain
{
    public string? Name { get; init; }
    /// <summary>The host as the manifest writes it (empty: the default host).</summary>
    public string? Host { get; init; }
    /// <summary>The host's name in the manifest's hosts:, when it has one.</summary>
    public string? HostName { get; init; }
    /// <summary>A cold migration's source: where the save step runs.</summary>
    public string? SourceHost { get; init; }
    public string? DesiredState { get; init; }
    public string? Savefile { get; init; }
    public string? Action { get; init; }
    public IReadOnlyList<string?>? Steps { get; init; }
    public string? Reason { get; init; }
    public string? Error { get; init; }
    public IReadOnlyList<string?>? Warnings { get; init; }
    public IReadOnlyList<SavedFinding?>? Findings { get; init; }
    public SavedObservation? Observed { get; init; }
}

internal sealed record SavedFinding(string? Severity, string? Setting, string? Old, string? New, string? Reason);

/// <summary>What the plan saw of one domain: apply FILE refuses when it sees anything else.</summary>
internal sealed record SavedObservation
{
    /// <summary>The host could not be asked (nothing else was observed).</summary>
    public string? HostError { get; init; }
    /// <summary>The domain on its host; null when it was not there.</summary>
    public SavedDomainState? Domain { get; init; }
    public SavedSavefile? Savefile { get; init; }
}

internal sealed record SavedDomainState(uint DomId, string? State, long MemoryKiB, int VCpus);

/// <summary>
/// A savefile's identity: size, modification time and the SHA-256 of its head (header, stored config and optional
/// data, which holds the image's SHA-256 when the file is sealed; the first 64 KiB of a file without an xl header).
/// For a domain kept in a store, the snapshot id (itself a content digest).
/// </summary>
internal sealed record SavedSavefile
{
    public bool Exists { get; init; }
    public bool Valid { get; init; }
    public string? Problem { get; init; }
    public long Size { get; init; }
    public DateTime? Modified { get; init; }
    public string? HeadSha256 { get; init; }
    public string? SnapshotId { get; init; }
}

// A field this version does not know, or one given twice, is refused rather than passed over: the seal is computed
// over what was read, so a plan with an extra "force": true beside the real one, or a field a newer xen-iac relies on,
// would otherwise be applied as if it said something else.
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, MaxDepth = 16,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow, AllowDuplicateProperties = false)]
[JsonSerializable(typeof(SavedPlanDocument))]
internal sealed partial class SavedPlanJson : JsonSerializerContext;
