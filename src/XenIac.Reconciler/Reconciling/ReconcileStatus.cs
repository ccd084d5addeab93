using System.Text.Json;
using System.Text.Json.Serialization;
using XenIac.Core.IO;

namespace XenIac.Reconciler.Reconciling;

/// <summary>A domain's condition as reconcile last saw it (the words Kubernetes controllers and Flux use).</summary>
public enum DomainCondition
{
    /// <summary>Reality matches the manifest.</summary>
    Ready,
    /// <summary>A change is being applied.</summary>
    Progressing,
    /// <summary>Reality differs and is not being fixed: an error, drift under <c>--drift warn</c>, or an observe-only domain's drift.</summary>
    Degraded,
}

/// <summary>Why a domain has its condition: one word, stable for alerts and dashboards.</summary>
public static class ConditionReasons
{
    public const string UpToDate = "UpToDate";
    public const string Applying = "Applying";
    public const string Applied = "Applied";
    public const string ApplyFailed = "ApplyFailed";
    public const string PlanFailed = "PlanFailed";
    /// <summary>Reality differs and <c>--drift warn</c> only reports it.</summary>
    public const string DriftDetected = "DriftDetected";
    /// <summary>Reality differs for a <c>paused: reconcile</c> domain, which is never changed.</summary>
    public const string ObservedDrift = "ObservedDrift";
    /// <summary>Reconcile stopped (SIGTERM) before this domain's change started.</summary>
    public const string NotStarted = "NotStarted";
}

/// <summary>One domain in the status file.</summary>
public sealed record DomainStatus
{
    public required DomainCondition Condition { get; init; }
    public required string Reason { get; init; }
    /// <summary>What the plan or apply said, one line.</summary>
    public string? Message { get; init; }
    /// <summary>True for a <c>paused: reconcile</c> domain: observed and reported, never changed.</summary>
    public bool ObserveOnly { get; init; }
    /// <summary>The manifest digest the domain last matched (Ready) after a reconcile, so a reader can tell whether the newest manifest has reached it.</summary>
    public string? LastAppliedDigest { get; init; }
    /// <summary>The last error for this domain; kept when it becomes Ready again, with its time, for the record.</summary>
    public string? LastError { get; init; }
    public DateTimeOffset? LastErrorTime { get; init; }
    /// <summary>When <see cref="Condition"/> last changed.</summary>
    public required DateTimeOffset LastTransitionTime { get; init; }
}

/// <summary>How one reconcile run went.</summary>
public enum RunResult
{
    /// <summary>Nothing to change, or every change applied.</summary>
    Succeeded,
    /// <summary><c>--drift warn</c>: differences found and reported, nothing changed.</summary>
    Drift,
    /// <summary>The manifest could not be loaded, a host or lock could not be had, or a domain failed.</summary>
    Failed,
    /// <summary>Stopped by a signal; what was under way finished.</summary>
    Stopped,
}

/// <summary>The loop's last run.</summary>
public sealed record RunStatus
{
    public required DateTimeOffset Started { get; init; }
    public required DateTimeOffset Finished { get; init; }
    /// <summary>What started the run: start, interval or change (the manifest or a file it names).</summary>
    public required string Trigger { get; init; }
    public required RunResult Result { get; init; }
    /// <summary>Domains changed (or, with --drift warn, that would be).</summary>
    public int Changes { get; init; }
    public int Failures { get; init; }
    public string? Error { get; init; }
}

/// <summary>The status file reconcile keeps (see <see cref="StatusFile"/>).</summary>
public sealed record ReconcileStatus
{
    public required string Manifest { get; init; }
    /// <summary>Digest of the manifest and the files it names, as last loaded.</summary>
    public string? ManifestDigest { get; init; }
    public required string Drift { get; init; }
    public double IntervalSeconds { get; init; }
    public int ProcessId { get; init; }
    public RunStatus? LastRun { get; init; }
    public DateTimeOffset? LastSuccess { get; init; }
    public SortedDictionary<string, DomainStatus> Domains { get; init; } = new(StringComparer.Ordinal);
}

/// <summary>
/// Reads and writes the status file: JSON, replaced whole with <see cref="AtomicFile"/> so a reader (a monitor,
/// <c>jq</c>) never sees half of one. Default place: <c>.xen-iac/status.json</c> beside the manifest, with the journal.
/// </summary>
public static class StatusFile
{
    public const string DefaultName = "status.json";

    /// <summary>The status file for <paramref name="manifestPath"/> when none is named: in the folder the journal uses.</summary>
    public static string DefaultPath(string manifestPath) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(manifestPath))!, ".xen-iac", DefaultName);

    public static async Task WriteAsync(string path, ReconcileStatus status, CancellationToken cancellationToken = default)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(folder);
        await AtomicFile.WriteAsync(path, (stream, ct) => JsonSerializer.SerializeAsync(stream, status, StatusJson.Default.ReconcileStatus, ct),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Whether <paramref name="path"/> holds a status file (one this loop, or an earlier one, wrote): the only
    /// non-empty file <c>--status</c> replaces. Bounded: a large file is no status file and is not read.
    /// </summary>
    public static bool IsStatusFile(string path) =>
        new FileInfo(path) is { Exists: true, Length: <= MaxStatusBytes } && TryRead(path) is { Manifest: not null };

    /// <summary>Far beyond the status of thousands of domains.</summary>
    private const long MaxStatusBytes = 64L << 20;

    /// <summary>The status in <paramref name="path"/>, or null when there is none or it cannot be read (it is rewritten on the next step).</summary>
    public static ReconcileStatus? TryRead(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return JsonSerializer.Deserialize(stream, StatusJson.Default.ReconcileStatus);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or NotSupportedException) { return null; }
    }
}

/// <summary>Source-generated (no reflection): the CLI is to be published NativeAOT.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true)]
[JsonSerializable(typeof(ReconcileStatus))]
internal sealed partial class StatusJson : JsonSerializerContext;
