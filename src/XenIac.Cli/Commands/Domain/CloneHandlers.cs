using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using XenIac.Cli.Commands.Config;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;

namespace XenIac.Cli.Commands.Domain;

/// <summary>What <c>domain clone</c> does: all checks first, then N restores in parallel; a failure undoes the whole batch.</summary>
internal static partial class CloneHandlers
{
    public sealed record CloneRequest(int Count, string? Prefix, int Parallelism, CloneCommand.DiskCopy DiskCopy, bool Json, bool TrustConfig)
    {
        /// <summary>What each clone must pass before the batch counts as made; null: none.</summary>
        public ReadinessGate? Gate { get; init; }
    }

    /// <summary>The command line was understood but asks for something that makes no sense (one <c>error:</c> line).</summary>
    private sealed class CloneUsageException(string message) : ArgumentException(message);

    private sealed record Made(string Name, RestoreResult? Result, List<string> DiskCopies);

    public static async Task<int> CloneAsync(string? host, string? savefile, CloneRequest request, CancellationToken ct)
    {
        if (savefile is null) throw new CloneUsageException("domain clone needs a SAVEFILE (or --teardown --name-prefix P)");
        if (request.Count == 0) throw new CloneUsageException("domain clone needs --count N");
        if (!request.TrustConfig)
            await CommandLine.OnSavefileAsync(savefile, () => Task.FromResult(DomainHandlers.RefuseUntrustedStoredConfig(savefile)));
        var stored = await CommandLine.OnSavefileAsync(savefile, async () =>
        {
            if (!SaveFileHeader.LooksLikeXlSavefile(savefile))
                throw new CloneUsageException($"{savefile} is not an xl savefile with a stored config; clone needs one");
            return await ConfigText.LoadAsync(savefile, ct);
        });
        var source = stored.ToModel();
        var prefix = request.Prefix ?? source.Name ?? throw new CloneUsageException($"the stored config of {savefile} names no domain; give --name-prefix");
        CheckPrefix(prefix);

        await using var h = CommandLine.HostSpec(host).Open();
        var existing = await h.ListDomainsAsync(ct);
        var names = Enumerable.Range(1, request.Count).Select(i => $"{prefix}-{i}").ToList();
        if (names.FirstOrDefault(n => existing.Any(d => d.Name == n)) is { } taken)
            throw new CloneUsageException($"a domain named '{taken}' already runs on {h.Spec}; tear the clones down first (--teardown --name-prefix {prefix})");

        // MACs unique across the batch and unlike the source's and every domain's on the host.
        var pool = MacPool.Avoiding(source);
        foreach (var d in existing)
            foreach (var nic in (await h.GetConfigAsync(d.Name, ct)).ToModel().Nics)
                if (nic.Mac is { } mac) pool.Reserve(mac);

        var fixups = names.Select(n => new CloneFixups
        {
            Name = n,
            DiskPattern = request.DiskCopy == CloneCommand.DiskCopy.Cp ? CloneFixups.DefaultDiskPattern : null,
        }).ToList();
        var copies = fixups.Select(f => f.Apply(stored, new MacPool()).Disks).ToList();
        foreach (var disk in copies.SelectMany(c => c))
        {
            if (!File.Exists(disk.From))
                throw new CloneUsageException($"disk {disk.Vdev} ({disk.From}) is not a file clone can copy; --disk-copy none lets the clones use it as it is");
            if (File.Exists(disk.To) || Directory.Exists(disk.To))
                throw new CloneUsageException($"the disk copy {disk.To} already exists; remove it or tear the old clones down");
        }

        var made = new Made[names.Count];
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var slots = new SemaphoreSlim(request.Parallelism);
        var tasks = names.Select(async (name, i) =>
        {
            await slots.WaitAsync(failed.Token);
            try
            {
                made[i] = new Made(name, null, []);
                foreach (var disk in copies[i])
                {
                    await CopyDiskAsync(disk, failed.Token);
                    made[i].DiskCopies.Add(disk.To);
                }
                var result = await h.RestoreAsync(savefile, new RestoreOptions { Fixups = fixups[i], Macs = pool }, failed.Token);
                made[i] = made[i] with { Result = result };
                if (request.Gate is { } gate) await gate.WaitAsync(name, i + 1, result, failed.Token);
            }
            catch
            {
                // One failed clone stops the others; the whole batch is undone below.
                await failed.CancelAsync();
                throw;
            }
            finally
            {
                slots.Release();
            }
        }).ToList();
        try
        {
            await Task.WhenAll(tasks);
        }
        catch
        {
            var first = tasks.Select(t => t.Exception?.InnerException).FirstOrDefault(e => e is not null and not OperationCanceledException);
            await UndoAsync(h, made);
            if (first is not null) throw new CloneFailedException($"a clone failed and the clones this command made were removed: {first.Message}", first);
            throw;
        }

        var results = made.Select(m => m.Result!).ToList();
        ConfigRendering.WriteFindings(results[0].Findings.Where(f => f.Severity != FindingSeverity.Ok), Console.Error);
        if (request.Json)
            CommandLine.WriteJson(new JsonArray([.. made.Select(m => (JsonNode)new JsonObject
            {
                ["name"] = m.Name,
                ["domid"] = m.Result!.Domain.DomId,
                ["macs"] = new JsonArray([.. m.Result.Cloned!.Macs.Select(x => (JsonNode)x)]),
                ["disks"] = new JsonArray([.. m.Result.Cloned.Disks.Select(d => (JsonNode)new JsonObject { ["vdev"] = d.Vdev, ["target"] = d.To })]),
            })]));
        else
            foreach (var m in made)
                Console.Out.WriteLine($"{m.Name} domain {m.Result!.Domain.DomId} mac {string.Join(",", m.Result.Cloned!.Macs)}");
        return ExitCodes.Ok;
    }

    public static async Task<int> TeardownAsync(string? host, string? savefile, int count, string? prefix, bool json, CancellationToken ct)
    {
        if (savefile is not null || count != 0) throw new CloneUsageException("--teardown takes only --name-prefix (and --host), not a SAVEFILE or --count");
        if (prefix is null) throw new CloneUsageException("--teardown needs --name-prefix P (the clones P-1, P-2, ...)");
        CheckPrefix(prefix);
        await using var h = CommandLine.HostSpec(host).Open();
        var clones = (await h.ListDomainsAsync(ct)).Where(d => IsCloneName(prefix, d.Name)).Select(d => d.Name).ToList();
        foreach (var name in clones)
        {
            var disks = CopiesOf(name, (await h.GetConfigAsync(name, ct)).ToModel());
            await h.DestroyAsync(name, ct);
            foreach (var disk in disks) File.Delete(disk);
        }
        if (json) CommandLine.WriteJson(new JsonArray([.. clones.Select(c => (JsonNode)c)]));
        else if (clones.Count == 0) Console.Error.WriteLine($"note: no clones named {prefix}-N on {h.Spec}");
        else foreach (var c in clones) Console.Out.WriteLine($"destroyed {c}");
        return ExitCodes.Ok;
    }

    /// <summary>Destroys what the batch made (domains, then their disk copies); what fails to go is said, not hidden.</summary>
    private static async Task UndoAsync(IXenHost h, Made?[] made)
    {
        foreach (var m in made.Where(m => m is not null))
        {
            try
            {
                if (m!.Result is not null || await h.FindDomainAsync(m.Name, CancellationToken.None) is not null)
                    await h.DestroyAsync(m.Name, CancellationToken.None);
            }
            catch (XenHostException e)
            {
                await Console.Error.WriteLineAsync($"warning: could not destroy clone {m!.Name}: {CommandLine.OneLine(e.Message)}");
            }
            foreach (var disk in m!.DiskCopies) File.Delete(disk);
        }
    }

    private static async Task CopyDiskAsync(DiskRedirect disk, CancellationToken ct)
    {
        // Into a temp file first: a copy cut short never sits under the clone's disk name.
        var temp = disk.To + ".xeniac-copy";
        try
        {
            await Task.Run(() => File.Copy(disk.From, temp, overwrite: true), ct);
            File.Move(temp, disk.To, overwrite: false);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>The disk copies clone made for <paramref name="name"/>: writable file disks named after the clone by the default pattern.</summary>
    private static List<string> CopiesOf(string name, DomainConfig config) =>
        [.. config.Disks.Where(d => !d.IsCdrom && d.Access != "ro" && d.Target.Length > 0)
            .Where(d => Path.GetFileNameWithoutExtension(d.Target) == $"{name}-{d.Vdev}" || Path.GetFileName(d.Target) == $"{name}-{d.Vdev}")
            .Select(d => d.Target).Where(File.Exists)];

    private static bool IsCloneName(string prefix, string name) =>
        name.Length > prefix.Length + 1 && name.StartsWith(prefix + "-", StringComparison.Ordinal) && CloneNumber().IsMatch(name[(prefix.Length + 1)..]);

    private static void CheckPrefix(string prefix)
    {
        if (!PrefixPattern().IsMatch(prefix))
            throw new CloneUsageException($"--name-prefix '{prefix}' is not a domain name (letters, digits, '-', '_', '.'; up to 60)");
    }

    [GeneratedRegex("^[1-9][0-9]*$")]
    private static partial Regex CloneNumber();

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,59}$")]
    private static partial Regex PrefixPattern();
}

/// <summary>One clone of a batch failed; the message names the cause and says the batch was removed.</summary>
internal sealed class CloneFailedException(string message, Exception inner) : Core.XenIacException(message, inner);
