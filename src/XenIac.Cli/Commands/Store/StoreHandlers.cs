using XenIac.Store;

namespace XenIac.Cli.Commands.Store;

/// <summary>What the <c>store</c> commands do, given their parsed values; each returns the exit code.</summary>
internal static class StoreHandlers
{
    /// <summary>The store options as given; the environment fills what the command line leaves out.</summary>
    internal sealed record Location(string? Store, string? Key, TimeSpan? LockTimeout)
    {
        public async Task<SnapshotStore> OpenAsync(bool create, CancellationToken ct)
        {
            var store = string.IsNullOrWhiteSpace(Store) ? Environment.GetEnvironmentVariable(StoreCommand.StoreVariable) : Store;
            if (string.IsNullOrWhiteSpace(store))
                throw new ArgumentException($"no store given: use --store LOCATION (a folder or s3://bucket/prefix) or set {StoreCommand.StoreVariable}");
            var key = Key ?? NullIfEmpty(Environment.GetEnvironmentVariable(StoreCommand.KeyVariable));
            var options = new StoreOptions { KeyFile = key };
            if (LockTimeout is { } wait) options = options with { LockWait = wait };
            return await SnapshotStore.OpenAsync(store, options, create, ct);
        }

        private static string? NullIfEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;
    }

    public static async Task<int> PushAsync(Location where, string file, string? tag, bool json, CancellationToken ct)
    {
        if (tag is not null) SnapshotStore.CheckTag(tag);
        // Before a new store is made for it: a device or pipe is no savefile to push.
        if (!Core.IO.AtomicFile.IsRegularFile(file))
            throw new ArgumentException($"'{file}' is not a regular file (a device, pipe or socket); a push reads a savefile on disk");
        await using var store = await where.OpenAsync(create: true, ct);
        var size = new FileInfo(file).Length;
        var result = await ByteProgress.RunAsync($"push {Path.GetFileName(file)}", size, p => store.PushAsync(file, tag, p, ct));
        if (json) CommandLine.WriteJson(StoreRendering.PushJson(result));
        else Console.Out.WriteLine(StoreRendering.PushLine(result, store.Location));
        return ExitCodes.Ok;
    }

    public static async Task<int> PullAsync(Location where, string reference, string dest, bool json, CancellationToken ct)
    {
        await using var store = await where.OpenAsync(create: false, ct);
        SnapshotManifest snapshot;
        if (dest == CommandLine.StdioName)
        {
            // Streamed as it is checked: a damaged chunk stops the stream with exit 1 (the reader sees a short file).
            await using var gate = await store.HoldAsync(ct);
            snapshot = await store.ResolveAsync(reference, ct);
            // Not Console's stream: it drops EPIPE, so `pull REF - | head -c1` exited 0 as if the whole file had gone out.
            await using var stdout = Core.IO.StandardStreams.OpenOutput();
            await store.MaterializeAsync(snapshot, stdout, null, ct);
            return ExitCodes.Ok;
        }
        snapshot = await store.ResolveAsync(reference, ct);
        await ByteProgress.RunAsync($"pull {snapshot.Id}", snapshot.Bytes, p => store.PullAsync(snapshot, dest, p, ct));
        if (json) CommandLine.WriteJson(StoreRendering.SnapshotJson(snapshot));
        else Console.Out.WriteLine($"wrote {CommandLine.OneLine(dest)} ({snapshot.Bytes} bytes, sha256 {snapshot.Sha256}) from snapshot {snapshot.Id}{(snapshot.Tag is null ? "" : $" ({snapshot.Tag})")}");
        return ExitCodes.Ok;
    }

    public static async Task<int> ListAsync(Location where, bool json, CancellationToken ct)
    {
        await using var store = await where.OpenAsync(create: false, ct);
        var scan = await store.ScanAsync(ct);
        // The readable snapshots are listed; a damaged manifest is named (and makes the exit code 1) but does not
        // hide the others. With --json it is named in the document's "damaged" list, as verify --json does.
        if (!json)
            foreach (var d in scan.Damaged) Console.Error.WriteLine($"error: {CommandLine.OneLine(d.Problem)} (xen-iac store verify checks the store)");
        if (json) CommandLine.WriteJson(StoreRendering.ListJson(scan));
        else StoreRendering.WriteList(scan.Snapshots, store.Location, scan.Damaged.Count);
        return scan.Damaged.Count == 0 ? ExitCodes.Ok : ExitCodes.Error;
    }

    public static async Task<int> VerifyAsync(Location where, string? reference, bool json, CancellationToken ct)
    {
        await using var store = await where.OpenAsync(create: false, ct);
        var report = await ByteProgress.RunAsync("verify", null, p => store.VerifyAsync(reference, p, ct));
        if (json) CommandLine.WriteJson(StoreRendering.VerifyJson(report));
        else StoreRendering.WriteVerify(report);
        return report.Ok ? ExitCodes.Ok : ExitCodes.Error;
    }

    public static async Task<int> GcAsync(Location where, int keep, bool dryRun, bool json, CancellationToken ct)
    {
        await using var store = await where.OpenAsync(create: false, ct);
        var report = await store.GcAsync(keep == 0 ? null : keep, dryRun, ct);
        if (json) CommandLine.WriteJson(StoreRendering.GcJson(report));
        else StoreRendering.WriteGc(report);
        return ExitCodes.Ok;
    }

    public static async Task<int> ForgetAsync(Location where, string reference, bool json, CancellationToken ct)
    {
        await using var store = await where.OpenAsync(create: false, ct);
        var forgotten = await store.ForgetAsync(reference, ct);
        if (json) CommandLine.WriteJson(StoreRendering.ForgetJson(forgotten));
        else Console.Out.WriteLine(StoreRendering.ForgetLine(forgotten));
        return ExitCodes.Ok;
    }

    public static Task<int> KeyGenAsync(string file)
    {
        StoreKey.Generate(file);
        Console.Out.WriteLine($"wrote {CommandLine.OneLine(file)}: keep it safe and outside the store; without it the store's snapshots cannot be read");
        return Task.FromResult(ExitCodes.Ok);
    }
}
