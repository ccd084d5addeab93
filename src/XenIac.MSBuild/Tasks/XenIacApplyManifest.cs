using Microsoft.Build.Framework;
using XenIac.Reconciler.Applying;
using XenIac.Reconciler.Manifests;
using XenIac.Reconciler.Planning;

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
        catch (ManifestApplyException e)
        {
            foreach (var failure in e.Failures) LogCodedError(Strings.ApplyFailed, path, failure);
        }
        catch (XenIac.Hosts.LockBusyException e)
        {
            LogCodedError(Strings.HostBusy, e.LockPath, e.Message);
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

/// <summary>Runs the reconciler's apply and turns its per-domain outcome into build log lines.</summary>
internal sealed class ReconcilerApplier : IManifestApplier
{
    public async Task ApplyAsync(Manifest manifest, IReadOnlyList<string> targets, int parallelism,
        Action<MessageImportance, string> log, CancellationToken cancellationToken)
    {
        await using var hosts = new HostProvider();
        var result = await Applier.ApplyAsync(manifest, hosts, new ApplyOptions
        {
            Parallelism = parallelism > 0 ? parallelism : ApplyOptions.DefaultParallelism,
            Targets = targets.Count > 0 ? targets : null,
            Progress = new LogProgress(log),
        }, cancellationToken).ConfigureAwait(false);

        if (!result.Plan.HasChanges && !result.Plan.HasErrors)
            log(MessageImportance.High, "no changes: reality matches the manifest");
        var failures = ApplyEventText.Failures(result);
        if (failures.Count > 0) throw new ManifestApplyException(failures);
    }

    /// <summary>
    /// Events in the words <c>xen-iac apply</c> uses (<see cref="ApplyEventText"/>), in their short forms: a build log
    /// gets every progress report, so no totals, and a finished step reads as done. Synchronous on purpose:
    /// Progress&lt;T&gt; would log after the task returned, which MSBuild rejects.
    /// </summary>
    private sealed class LogProgress(Action<MessageImportance, string> log) : IProgress<ApplyEvent>
    {
        public void Report(ApplyEvent e)
        {
            switch (e)
            {
                case StepStarted s: log(MessageImportance.Normal, ApplyEventText.Started(s)); break;
                case StepProgress p: log(MessageImportance.Low, ApplyEventText.Progress(p, ofExpected: false)); break;
                case StepCompleted c: log(MessageImportance.High, ApplyEventText.Done(c.Domain, c.Step, c.Elapsed)); break;
                case DomainFailed f: log(MessageImportance.High, ApplyEventText.Failed(f.Domain, f.Step, f.Error)); break;
            }
        }
    }
}

/// <summary>Some domains of the manifest could not be reconciled; each is one line of the message.</summary>
internal sealed class ManifestApplyException(IReadOnlyList<string> failures)
    : XenIac.Core.XenIacException(string.Join("; ", failures))
{
    public IReadOnlyList<string> Failures { get; } = failures;
}
