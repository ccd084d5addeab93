using System.Globalization;
using System.Text.Json.Nodes;
using XenIac.Store;

namespace XenIac.Cli.Commands.Store;

/// <summary>What the <c>store</c> commands print: text lines and the JSON shapes scripts rely on.</summary>
internal static class StoreRendering
{
    public static JsonObject PushJson(PushResult r)
    {
        var node = SnapshotJson(r.Snapshot);
        node["storedBytes"] = r.StoredBytes;
        node["newChunks"] = r.NewChunks;
        return node;
    }

    public static string PushLine(PushResult r, string location) =>
        $"pushed {r.Snapshot.Id}{(r.Snapshot.Tag is null ? "" : $" ({r.Snapshot.Tag})")} to {CommandLine.OneLine(location)}: {Size(r.Snapshot.Bytes)} in {r.Snapshot.Chunks} chunks, " +
        $"{r.NewChunks} new, {Size(r.StoredBytes)} added to the store";

    public static JsonObject SnapshotJson(SnapshotManifest s) => new()
    {
        ["id"] = s.Id,
        ["tag"] = s.Tag,
        ["created"] = s.Created.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
        ["bytes"] = s.Bytes,
        ["sha256"] = s.Sha256,
        ["chunks"] = s.Chunks,
        ["source"] = s.Source,
    };

    public static JsonObject ListJson(StoreScan scan) => new()
    {
        ["snapshots"] = new JsonArray([.. scan.Snapshots.Select(s => (JsonNode)SnapshotJson(s))]),
        ["damaged"] = new JsonArray([.. scan.Damaged.Select(d => (JsonNode)new JsonObject { ["object"] = d.Chunk, ["problem"] = d.Problem })]),
    };

    public static void WriteList(IReadOnlyList<SnapshotManifest> all, string location, int damaged = 0)
    {
        if (all.Count == 0)
        {
            Console.Out.WriteLine(damaged == 0 ? $"no snapshots in {CommandLine.OneLine(location)}"
                : $"no readable snapshots in {CommandLine.OneLine(location)} ({damaged} whose manifest does not read, named on stderr)");
            return;
        }
        Console.Out.WriteLine($"{"ID",-12}  {"TAG",-24}  {"CREATED (UTC)",-19}  {"SIZE",10}  SOURCE");
        foreach (var s in all)
            Console.Out.WriteLine($"{s.Id,-12}  {s.Tag ?? "-",-24}  {s.Created.UtcDateTime:yyyy-MM-dd HH:mm:ss}  {Size(s.Bytes),10}  {(s.Source is null ? "-" : CommandLine.OneLine(s.Source))}");
    }

    public static JsonObject VerifyJson(VerifyReport r) => new()
    {
        ["ok"] = r.Ok,
        ["snapshots"] = r.Snapshots,
        ["chunks"] = r.Chunks,
        ["bytes"] = r.Bytes,
        ["damaged"] = new JsonArray([.. r.Damaged.Select(d => (JsonNode)new JsonObject
        {
            ["chunk"] = d.Chunk,
            ["problem"] = d.Problem,
            ["snapshots"] = new JsonArray([.. d.Snapshots.Select(s => (JsonNode)s)]),
        })]),
        ["brokenSnapshots"] = new JsonArray([.. r.BrokenSnapshots.Select(s => (JsonNode)s)]),
    };

    /// <summary>Damaged objects named one per line on a terminal's stderr; beyond these, a count (every pack cut gave 4,711 lines). --json lists all.</summary>
    internal const int DamageLinesShown = 20;

    public static void WriteVerify(VerifyReport r)
    {
        foreach (var d in r.Damaged.Take(DamageLinesShown))
            Console.Error.WriteLine($"error: {CommandLine.OneLine(d.Problem)} (needed by snapshot{(d.Snapshots.Count == 1 ? "" : "s")} {string.Join(", ", d.Snapshots)})");
        if (r.Damaged.Count > DamageLinesShown)
            Console.Error.WriteLine($"error: … and {r.Damaged.Count - DamageLinesShown} more damaged objects (store verify --json lists every one)");
        if (r.Ok)
            Console.Out.WriteLine($"ok: {r.Snapshots} snapshot{(r.Snapshots == 1 ? "" : "s")}, {r.Chunks} chunks, {Size(r.Bytes)} checked");
        else
        {
            // A manifest that does not read is reported beside the chunks, not counted as one.
            var manifests = r.Damaged.Count(d => d.IsManifest);
            var chunks = r.Damaged.Count - manifests;
            var parts = new List<string>();
            if (chunks > 0 || manifests == 0) parts.Add($"{chunks} damaged chunk{(chunks == 1 ? "" : "s")}");
            if (manifests > 0) parts.Add($"{manifests} damaged snapshot manifest{(manifests == 1 ? "" : "s")}");
            Console.Error.WriteLine($"error: {string.Join(" and ", parts)}; broken snapshot{(r.BrokenSnapshots.Count == 1 ? "" : "s")}: {string.Join(", ", r.BrokenSnapshots)} " +
                "(xen-iac store forget ID gives one up)");
        }
    }

    public static JsonObject ForgetJson(ForgottenSnapshot f) => new()
    {
        ["id"] = f.Id,
        ["snapshot"] = f.Manifest is { } m ? SnapshotJson(m) : null,
    };

    public static string ForgetLine(ForgottenSnapshot f)
    {
        var what = f.Manifest is { } m
            ? $"snapshot {f.Id}{(m.Tag is null ? "" : $" ({CommandLine.OneLine(m.Tag)})")}, {Size(m.Bytes)}"
            : $"snapshot {f.Id} (its manifest did not read)";
        return $"forgot {what}; xen-iac store gc removes the chunks no other snapshot needs";
    }

    public static JsonObject GcJson(GcReport r) => new()
    {
        ["dryRun"] = r.DryRun,
        ["removedSnapshots"] = new JsonArray([.. r.RemovedSnapshots.Select(s => (JsonNode)SnapshotJson(s))]),
        ["removedObjects"] = r.RemovedObjects,
        ["removedBytes"] = r.RemovedBytes,
    };

    public static void WriteGc(GcReport r)
    {
        var verb = r.DryRun ? "would remove" : "removed";
        foreach (var s in r.RemovedSnapshots)
            Console.Out.WriteLine($"{verb} snapshot {s.Id} ({s.Tag}, {s.Created.UtcDateTime:yyyy-MM-dd HH:mm:ss})");
        Console.Out.WriteLine($"{verb} {r.RemovedSnapshots.Count} snapshot{(r.RemovedSnapshots.Count == 1 ? "" : "s")} and {r.RemovedObjects} unused pack{(r.RemovedObjects == 1 ? "" : "s")} and recipes ({Size(r.RemovedBytes)})");
    }

    public static string Size(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1 << 20 => $"{bytes / 1024.0:0.0} KiB",
        < 1 << 30 => $"{bytes / 1048576.0:0.0} MiB",
        _ => $"{bytes / 1073741824.0:0.00} GiB",
    };
}
