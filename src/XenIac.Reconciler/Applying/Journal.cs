using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace XenIac.Reconciler.Applying;

/// <summary>One line of the apply journal: what was done to one domain, and how it ended.</summary>
public sealed record JournalEntry
{
    public DateTimeOffset Time { get; init; } = DateTimeOffset.UtcNow;
    public required string ApplyId { get; init; }
    public required string Domain { get; init; }
    public required string Action { get; init; }
    /// <summary>started, succeeded or failed.</summary>
    public required string Outcome { get; init; }
    public string? Host { get; init; }
    public string? Savefile { get; init; }
    public long? Bytes { get; init; }
    public double? Seconds { get; init; }
    public string? Error { get; init; }
}

/// <summary>
/// Append-only JSON-lines record of what apply did. Each entry is one write of one line with O_APPEND, so lines
/// from concurrent domains never interleave, and a crash loses at most the line being written.
/// </summary>
public sealed class Journal
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly object _gate = new();

    public Journal(string path) => Path = path;

    public string Path { get; }

    public void Append(JournalEntry entry)
    {
        var line = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(entry, Options) + "\n");
        lock (_gate)
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!);
            using var stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            stream.Write(line);
            stream.Flush(flushToDisk: true);
        }
    }

    public static IReadOnlyList<JournalEntry> Read(string path) =>
        File.Exists(path)
            ? File.ReadLines(path).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<JournalEntry>(l, Options)!).ToList()
            : [];
}
