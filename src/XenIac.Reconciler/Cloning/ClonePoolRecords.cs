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
        const string Fix = "fix or remove it (the pools it named are then not torn down)";
        // A folder there was passed over as "no pools": the pools it should have named were never torn down.
        if (Directory.Exists(path)) throw new ClonePoolRecordException($"{path} is a folder, not the list of clone pools apply keeps; {Fix}");
        if (!File.Exists(path)) return [];
        try
        {
            var records = new List<ClonePoolRecord>();
            foreach (var node in JsonNode.Parse(SmallFile.ReadAllBytes(path))!.AsArray())
                records.Add(new ClonePoolRecord((string)node!["domain"]!, (string)node["host"]!));
            return records;
        }
        // Said in the file's terms: the JSON library's own texts ("'}' is invalid after a value. LineNumber: 0 |
        // BytePositionInLine: 3.", "The node must be of type 'JsonArray'.") name neither the file nor what belongs in it.
        catch (JsonException e)
        {
            throw new ClonePoolRecordException($"{path} is not valid JSON ({JsonProblems.Describe(e)}); {Fix}");
        }
        catch (Exception e) when (e is InvalidOperationException or NullReferenceException or FormatException or ArgumentException)
        {
            throw new ClonePoolRecordException($"{path} is not a list of clone pools (a JSON array of {{\"domain\": NAME, \"host\": SPEC}}); {Fix}");
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
