using Microsoft.Build.Framework;
using XenIac.Reconciler.Manifests;

namespace XenIac.MSBuild;

/// <summary>
/// Brings the host in line with a YAML manifest (what <c>xen-iac apply</c> does), optionally for some domains only.
/// The manifest is loaded and validated here, so its errors show as XIAC0011 at their file, line and column.
/// </summary>
public sealed class XenIacApplyManifest : XenIacTask
{
    [Required] public string Manifest { get; set; } = "";

    /// <summary>Names of the manifest's domains to apply; all of them when empty.</summary>
    public string[]? Targets { get; set; }

    /// <summary>How many domains to work on at once; 0 lets the reconciler choose.</summary>
    public int Parallelism { get; set; }

    internal IManifestApplier Applier { get; set; } = new ReconcilerApplier();

    private protected override async Task ExecuteAsync(CancellationToken cancellationToken)
    {
        var path = FullPath(Manifest);
        Operation = $"Applying manifest '{path}'";
        if (Parallelism < 0)
        {
            LogCodedError(Strings.InvalidParameter, nameof(Parallelism), $"{Parallelism} is negative; use 0 (default) or more");
            return;
        }

        var manifest = ManifestLoader.Load(path);
        var targets = (Targets ?? []).Where(t => !string.IsNullOrWhiteSpace(t)).Select(t => t.Trim()).ToList();
        var known = manifest.Domains.Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var unknown in targets.Where(t => !known.Contains(t)))
            LogCodedError(Strings.InvalidParameter, nameof(Targets),
                $"'{unknown}' is not a domain of {path} (it has: {string.Join(", ", known.Order(StringComparer.Ordinal))})");
        if (Log.HasLoggedErrors) return;

        Log.LogMessage(MessageImportance.Normal, "XenIac: applying {0} ({1})", path,
            targets.Count == 0 ? $"all {manifest.Domains.Count} domains" : string.Join(", ", targets));
        try
        {
            await Applier.ApplyAsync(manifest, targets, Parallelism,
                (importance, message) => Log.LogMessage(importance, "XenIac: {0}", message), cancellationToken).ConfigureAwait(false);
        }
        catch (NotSupportedException e)
        {
            LogCodedError(Strings.ApplyUnavailable, e.Message);
        }
    }
}

/// <summary>The seam between the task and the reconciler's apply, so the task can be tested without a host.</summary>
internal interface IManifestApplier
{
    /// <param name="targets">Domains to apply; empty for all.</param>
    /// <param name="log">Progress lines for the build log.</param>
    Task ApplyAsync(Manifest manifest, IReadOnlyList<string> targets, int parallelism,
        Action<MessageImportance, string> log, CancellationToken cancellationToken);
}

internal sealed class ReconcilerApplier : IManifestApplier
{
    public Task ApplyAsync(Manifest manifest, IReadOnlyList<string> targets, int parallelism,
        Action<MessageImportance, string> log, CancellationToken cancellationToken) =>
        // TODO(merge): the reconciler's apply lives on main (Reconciler.Applying.Applier), not in this branch yet. Wire it:
        //   await using var hosts = new HostProvider();
        //   var result = await Applier.ApplyAsync(manifest, hosts, new ApplyOptions
        //   {
        //       Parallelism = parallelism > 0 ? parallelism : ApplyOptions.DefaultParallelism,
        //       Targets = targets.Count > 0 ? targets : null,
        //       Progress = a synchronous IProgress<ApplyEvent> that calls `log` (High per finished action, Low for bytes),
        //   }, cancellationToken);
        // then log one XIAC0009 per failed domain in `result` (so the task returns false), and map
        // ApplyCancelledException to XIAC0010. XenHostException and ManifestException may propagate: XenIacTask maps them.
        throw new NotSupportedException("the reconciler's apply is not wired into the MSBuild task yet");
}
