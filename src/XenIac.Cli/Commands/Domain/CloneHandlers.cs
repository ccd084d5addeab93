using System.Text.Json.Nodes;
using XenIac.Cli.Commands.Config;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;
using XenIac.Reconciler.Cloning;

namespace XenIac.Cli.Commands.Domain;

/// <summary>What <c>domain clone</c> does: all checks first, then N restores in parallel; a failure undoes the whole batch.</summary>
internal static class CloneHandlers
{
    /// <param name="DiskCopy">Null when --disk-copy was not given (cp, unless a copy command says otherwise).</param>
    public sealed record CloneRequest(int Count, string? Prefix, int Parallelism, CloneDiskCopy? DiskCopy, bool Json, bool TrustConfig)
    {
        /// <summary>--disk-copy-command: makes each copy instead of cp.</summary>
        public string? DiskCopyCommand { get; init; }

        /// <summary>What each clone must pass before the batch counts as made; null: none.</summary>
        public ReadinessGate? Gate { get; init; }
    }

    /// <summary>The command line was understood but asks for something that makes no sense (one <c>error:</c> line).</summary>
    private sealed class CloneUsageException(string message) : ArgumentException(message);

    public static async Task<int> CloneAsync(string? host, string? savefile, CloneRequest request, CancellationToken ct)
    {
        if (savefile is null) throw new CloneUsageException("domain clone needs a SAVEFILE (or --teardown --name-prefix P)");
        if (request.Count == 0) throw new CloneUsageException("domain clone needs --count N");
        if (request.Prefix is { } given) CheckPrefix(given);
        if (request.DiskCopyCommand is not null && request.DiskCopy is { } mode and not CloneDiskCopy.Copy)
            throw new CloneUsageException($"--disk-copy-command makes the copies of --disk-copy cp; it does not go with --disk-copy {CloneDiskCopyWords.Word(mode)}");
        if (request.DiskCopyCommand is { } command && string.IsNullOrWhiteSpace(command))
            throw new CloneUsageException("--disk-copy-command is empty");
        if (!request.TrustConfig)
            await CommandLine.OnSavefileAsync(savefile, () => Task.FromResult(DomainHandlers.RefuseUntrustedStoredConfig(savefile,
                "or give the savefile a config you trust first (xen-iac savefile set-config)")));

        await using var h = CommandLine.HostSpec(host).Open();
        var made = await CommandLine.OnSavefileAsync(savefile, () => CloneBatch.RestoreAsync(h, savefile, new CloneBatchOptions
        {
            Count = request.Count,
            Prefix = request.Prefix,
            Parallelism = request.Parallelism,
            DiskCopy = request.DiskCopy ?? CloneDiskCopy.Copy,
            DiskCopyCommand = request.DiskCopyCommand,
            Ready = request.Gate is { } gate ? (clone, token) => gate.WaitAsync(clone.Name, clone.Number, clone.Result, token) : null,
            Warn = message => Console.Error.WriteLine($"warning: {CommandLine.OneLine(message)}"),
        }, ct));

        ConfigRendering.WriteFindings(made[0].Result.Findings.Where(f => f.Severity != FindingSeverity.Ok), Console.Error);
        if (request.Json)
            CommandLine.WriteJson(new JsonArray([.. made.Select(m => (JsonNode)new JsonObject
            {
                ["name"] = m.Name,
                ["domid"] = m.Result.Domain.DomId,
                ["macs"] = new JsonArray([.. m.Result.Cloned!.Macs.Select(x => (JsonNode)x)]),
                ["disks"] = new JsonArray([.. m.Result.Cloned.Disks.Select(d => (JsonNode)new JsonObject { ["vdev"] = d.Vdev, ["target"] = d.To })]),
            })]));
        else
            foreach (var m in made)
                Console.Out.WriteLine($"{m.Name} domain {m.Result.Domain.DomId} mac {string.Join(",", m.Result.Cloned!.Macs)}");
        return ExitCodes.Ok;
    }

    public static async Task<int> TeardownAsync(string? host, string? savefile, int count, string? prefix, bool json, CancellationToken ct)
    {
        if (savefile is not null || count != 0) throw new CloneUsageException("--teardown takes only --name-prefix (and --host), not a SAVEFILE or --count");
        if (prefix is null) throw new CloneUsageException("--teardown needs --name-prefix P (the clones P-1, P-2, ...)");
        CheckPrefix(prefix);
        await using var h = CommandLine.HostSpec(host).Open();
        var clones = await CloneBatch.TeardownAsync(h, prefix, ct);
        if (json) CommandLine.WriteJson(new JsonArray([.. clones.Select(c => (JsonNode)c)]));
        else if (clones.Count == 0) Console.Error.WriteLine($"note: no clones named {prefix}-N on {h.Spec}");
        else foreach (var c in clones) Console.Out.WriteLine($"destroyed {c}");
        return ExitCodes.Ok;
    }

    private static void CheckPrefix(string prefix)
    {
        if (!CloneBatch.IsValidPrefix(prefix))
            throw new CloneUsageException($"--name-prefix '{prefix}' is not a domain name (letters, digits, '-', '_', '.'; up to 60)");
    }
}

