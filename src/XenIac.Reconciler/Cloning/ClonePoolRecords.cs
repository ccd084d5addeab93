using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using XenIac.Core;
using XenIac.Core.IO;

namespace XenIac.Reconciler.Cloning;

/// <summary>A clone pool apply made: the domain it clones and the host (resolved spec) the clones run on.</summary>
internal sealed record ClonePoolRecord(string Domain, string Host);

/// <summary>
/// Which clone pools apply made, kept in the manifest's <c>.xen-iac/clones.json</c>. The host says which clones
/// exist (domains named NAME-N); this file only says which NAMEs are pools of this manifest, so that a pool whose
/// domain left the manifest, or went to <c>clones: 0</c>, is torn down, while a domain that merely happens to be
/// called <c>web-1</c> beside a manifest domain <c>web</c> without clones is never touched.
/// </summary>
internal static class ClonePoolRecords
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    public static string PathFor(string manifestDirectory) => Path.Combine(manifestDirectory, ".xen-iac", "clones.json");

    /// <summary>The records; none when there is no file.</summary>
    /// <exception cref="ClonePoolRecordException">The file is not the list this class writes.</exception>
    public static IReadOnlyList<ClonePoolRecord> Read(string path)
    {
        if (!File.Exists(path)) return [];
        try
        {
            var records = new List<ClonePoolRecord>();
            foreach (var node in JsonNode.Parse(SmallFile.ReadAllBytes(path))!.AsArray())
                records.Add(new ClonePoolRecord((string)node!["domain"]!, (string)node["host"]!));
            return records;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException or FormatException)
        {
            throw new ClonePoolRecordException($"{path} is not a list of clone pools ({e.Message}); fix or remove it (the pools it named are then not torn down)");
        }
    }

    /// <summary>Adds (<paramref name="present"/>) or removes one record; pools applied at once take turns.</summary>
    public static async Task SetAsync(string path, ClonePoolRecord record, bool present, CancellationToken cancellationToken)
    {
        await Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var records = Read(path).Where(r => r != record).ToList();
            if (present) records.Add(record);
            if (records.Count == 0)
            {
                File.Delete(path);
                return;
            }
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var json = new JsonArray([.. records.OrderBy(r => r.Domain, StringComparer.Ordinal).ThenBy(r => r.Host, StringComparer.Ordinal)
                .Select(r => (JsonNode)new JsonObject { ["domain"] = r.Domain, ["host"] = r.Host })]);
            var bytes = Encoding.UTF8.GetBytes(json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            await AtomicFile.WriteAsync(path, (stream, ct) => stream.WriteAsync(bytes, ct).AsTask(), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Gate.Release();
        }
    }
}

/// <summary>The clone pool record file cannot be read.</summary>
internal sealed class ClonePoolRecordException(string message) : XenIacException(message);
