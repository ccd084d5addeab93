using XenIac.Core;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;

namespace XenIac.Reconciler.Planning;

/// <summary>
/// The placement check of one restore outside a manifest (<c>xen-iac domain restore</c>): the savefile's image (CPU
/// vendor, the Xen that wrote it, HVM or PV) and the config it restores with, against what the host says it is —
/// the same rules the planner applies before a restore it plans (<see cref="Placement"/>).
/// </summary>
public static class RestorePlacement
{
    /// <summary>The findings, or the reason the host's facts could not be had (then nothing was checked).</summary>
    public static async Task<(IReadOnlyList<CompatibilityFinding> Findings, string? NotChecked)> CheckAsync(IXenHost host, string savefilePath,
        ConfigText? overrideConfig, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        HostInfo info;
        try { info = await host.GetHostInfoAsync(cancellationToken).ConfigureAwait(false); }
        catch (Exception e) when (e is XenIacException or IOException or UnauthorizedAccessException) { return ([], e.Message); }

        SavedImage? image = null;
        DomainConfig? config = null;
        if (SaveFileHeader.LooksLikeXlSavefile(savefilePath))
        {
            using var reader = SaveFileReader.Open(savefilePath, SaveFileReaderOptions.Inspection);
            var stored = reader.Header.ConfigText is { } text && reader.Header.ConfigFormat != SaveFileConfigFormat.None
                ? new ConfigText(text, reader.Header.ConfigFormat) : null;
            config = (overrideConfig ?? stored)?.ToModel();
            image = Placement.ReadImage(reader);
        }
        else if (overrideConfig is not null)
        {
            config = overrideConfig.ToModel();
        }
        var subject = new PlacementSubject(image?.CpuVendor, config) { Image = image };
        return (Placement.Check(subject, Target(host.Spec, info)), null);
    }

    /// <summary>A host's facts as placement reads them.</summary>
    internal static PlacementTarget Target(string name, HostInfo info, long promisedKiB = 0) =>
        new(name, info.XenRelease, info.CpuVendor, Math.Max(0, info.FreeMemoryKiB - promisedKiB));
}
