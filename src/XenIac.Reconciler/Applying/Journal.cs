using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using XenIac.Core.IO;
using XenIac.Hosts;
using XenIac.Reconciler.Planning;

namespace XenIac.Reconciler.Applying;

/// <summary>How a journaled step stands (written as started, succeeded, failed).</summary>
public enum StepOutcome
{
    Started,
    Succeeded,
    Failed,
}

/// <summary>One line of the apply journal: what was done to one domain, and how it ended.</summary>
public sealed record JournalEntry
{
    public DateTimeOffset Time { get; init; } = DateTimeOffset.UtcNow;
    public required string ApplyId { get; init; }
    public required string Domain { get; init; }
    /// <summary>The step (written in lower case: create, restore, save, checkpoint, destroy; none before any step).</summary>
    public required PlanAction Action { get; init; }
    public required StepOutcome Outcome { get; init; }
    public string? Host { get; init; }
    public string? Savefile { get; init; }
    public long? Bytes { get; init; }
    public double? Seconds { get; init; }
    public string? Error { get; init; }
    /// <summary>What <c>keep: N</c> deleted after this save or checkpoint verified: history copies, or snapshot ids of the tag.</summary>
    public IReadOnlyList<string>? Pruned { get; init; }
}

/// <summary>
/// Append-only JSON-lines record of what apply did. Each entry is one write of one line at the end of the file,
/// made under a lock shared by every process (two applies on different hosts may share a manifest folder), so
/// lines never interleave or overwrite each other; a crash can tear only the last line, which readers skip.
/// </summary>
public sealed class Journal
{
    // Domains are applied in parallel; one append at a time within the process, and the file lock across processes.
    private readonly SemaphoreSlim _gate = new(1, 1);

    public Journal(string path) => Path = path;

    public string Path { get; }

    public async Task AppendAsync(JournalEntry entry, CancellationToken cancellationToken = default)
    {
        var line = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(entry, JournalJson.Default.JournalEntry) + "\n");
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!);
            using var fileLock = await FileLock.AcquireAsync(Path + ".lock", TimeSpan.FromSeconds(30), "journal append", cancellationToken).ConfigureAwait(false);
            await using var stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            await stream.WriteAsync(line, cancellationToken).ConfigureAwait(false);
            stream.Flush(flushToDisk: true);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Every complete entry; a torn line (from a crash mid-write) is skipped.</summary>
    public static IReadOnlyList<JournalEntry> Read(string path)
    {
        if (!File.Exists(path)) return [];
        var entries = new List<JournalEntry>();
        foreach (var line in File.ReadLines(path).Where(l => l.Length > 0))
        {
            try
            {
                if (JsonSerializer.Deserialize(line, JournalJson.Default.JournalEntry) is { } entry) entries.Add(entry);
            }
            catch (JsonException) { }
        }
        return entries;
    }
}

/// <summary>Journal lines: camelCase, nulls left out, steps and outcomes as camelCase strings; generated at compile time.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    Converters = [typeof(CamelCaseEnum<PlanAction>), typeof(CamelCaseEnum<StepOutcome>)])]
[JsonSerializable(typeof(JournalEntry))]
internal sealed partial class JournalJson : JsonSerializerContext;
