using XenIac.Core.IO;
using XenIac.Core.SaveFiles;

namespace XenIac.Hosts;

/// <summary>
/// Saving a domain in the legacy (configless) format, on any host. The legacy format is an xl savefile without
/// its header, and no host writes it itself: the domain is checkpointed beside the target, the header is stripped
/// into place atomically, and only then is the domain stopped (a plain save) or paused (-p). Until the legacy file
/// is in place the domain keeps running, so a failure (full disk, Ctrl+C) costs the staging file and nothing else.
/// </summary>
public static class LegacySave
{
    public static async Task<SaveResult> SaveAsync(IXenHost host, string name, string savefilePath, SaveOptions options,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(options);
        var target = Path.GetFullPath(savefilePath);
        var staging = AtomicFile.TempPathFor(target);
        try
        {
            await host.SaveAsync(name, staging, options with { Mode = SaveMode.Checkpoint, LeavePaused = false }, cancellationToken).ConfigureAwait(false);
            await SaveFileRewriter.ConvertToLegacyAsync(staging, target, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(staging);
        }
        // Past this point the savefile is in place; what follows is what the save mode asks of the domain.
        if (options.LeavePaused) await host.PauseAsync(name, CancellationToken.None).ConfigureAwait(false);
        else if (options.Mode == SaveMode.Plain) await host.DestroyAsync(name, CancellationToken.None).ConfigureAwait(false);
        return new SaveResult(name, target, new FileInfo(target).Length, SaveFileHeader.Legacy);
    }
}
