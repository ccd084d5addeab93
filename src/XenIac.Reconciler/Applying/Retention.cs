using System.Globalization;
using System.Text.RegularExpressions;
using XenIac.Core;
using XenIac.Core.IO;
using XenIac.Core.SaveFiles;
using XenIac.Reconciler.Manifests;
using XenIac.Store;

namespace XenIac.Reconciler.Applying;

/// <summary>
/// <c>keep: N</c>: after a save or checkpoint, the savefile is verified and kept, and only then are the oldest
/// beyond N pruned — a new savefile that does not verify prunes nothing.
/// <para>
/// A domain with a savefile path keeps its history in the folder <c>&lt;savefile&gt;.history/</c> beside it, one copy
/// per save named by its UTC time, <c>yyyyMMddTHHmmssfffZ</c> and the savefile's extension (a <c>-2</c>, <c>-3</c>
/// … before the extension when two fall in the same millisecond), e.g. <c>saves/web.xlsave.history/20261203T154012345Z.xlsave</c>.
/// The newest copy is the same savefile as <c>saves/web.xlsave</c>, which plan and restore keep using. A folder,
/// rather than names beside the savefile, so that no history copy looks like a savefile of another domain.
/// </para>
/// <para>A domain kept in a store under a snapshot tag keeps the tag's newest N snapshots (the store's own gc rule).</para>
/// </summary>
public static partial class Retention
{
    public const string HistorySuffix = ".history";

    /// <summary>The folder holding the kept copies of <paramref name="savefilePath"/>.</summary>
    public static string HistoryFolder(string savefilePath) => Path.GetFullPath(savefilePath) + HistorySuffix;

    /// <summary>The kept copies of <paramref name="savefilePath"/>, oldest first; files of other names are ignored.</summary>
    public static IReadOnlyList<string> History(string savefilePath)
    {
        var folder = HistoryFolder(savefilePath);
        if (!Directory.Exists(folder)) return [];
        var extension = Path.GetExtension(savefilePath);
        var kept = new List<(string Stamp, int Sequence, string Path)>();
        foreach (var file in Directory.EnumerateFiles(folder))
        {
            var name = Path.GetFileName(file);
            if (!name.EndsWith(extension, StringComparison.Ordinal)) continue;
            var match = HistoryName().Match(name[..^extension.Length]);
            if (!match.Success) continue;
            var sequence = match.Groups[2].Success ? int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture) : 1;
            kept.Add((match.Groups[1].Value, sequence, file));
        }
        return [.. kept.OrderBy(k => k.Stamp, StringComparer.Ordinal).ThenBy(k => k.Sequence).Select(k => k.Path)];
    }

    /// <summary>
    /// Verifies the savefile a save or checkpoint just wrote, copies it into the history and prunes the history to
    /// <see cref="DomainSpec.Keep"/>; for a snapshot domain, verifies the pushed snapshot and gc's the tag.
    /// Adds what it deleted to <paramref name="pruned"/> (history paths, or snapshot ids with their tag) for the journal.
    /// </summary>
    /// <exception cref="RetentionException">The new savefile or snapshot did not verify; nothing was pruned.</exception>
    internal static async Task KeepAsync(DomainSpec spec, SnapshotStore? store, string? snapshotId, ICollection<string> pruned,
        CancellationToken cancellationToken)
    {
        if (spec.Keep is not { } keep) return;
        if (spec.Snapshot is { } tag && store is not null && snapshotId is not null)
        {
            var report = await store.VerifyAsync(snapshotId, null, cancellationToken).ConfigureAwait(false);
            if (!report.Ok)
                throw new RetentionException($"snapshot {snapshotId} ({tag.Tag}) did not verify ({report.Damaged.FirstOrDefault()?.Problem ?? "broken"}); older snapshots are kept");
            var gc = await store.GcTagAsync(tag.Tag, keep, cancellationToken).ConfigureAwait(false);
            foreach (var removed in gc.RemovedSnapshots) pruned.Add($"snapshot {removed.Id} ({tag.Tag})");
            return;
        }
        await VerifyAsync(spec, cancellationToken).ConfigureAwait(false);
        await CopyToHistoryAsync(spec.SavefilePath, DateTimeOffset.UtcNow, cancellationToken).ConfigureAwait(false);
        Prune(spec.SavefilePath, keep, pruned);
    }

    /// <summary>Removes the oldest copies beyond <paramref name="keep"/>, adding each to <paramref name="pruned"/>.</summary>
    internal static void Prune(string savefilePath, int keep, ICollection<string> pruned)
    {
        var history = History(savefilePath);
        foreach (var old in history.Take(Math.Max(0, history.Count - keep)))
        {
            File.Delete(old);
            pruned.Add(old);
        }
    }

    private static async Task CopyToHistoryAsync(string savefilePath, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var folder = HistoryFolder(savefilePath);
        Directory.CreateDirectory(folder);
        var stamp = now.UtcDateTime.ToString("yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture);
        var extension = Path.GetExtension(savefilePath);
        var target = Path.Combine(folder, stamp + extension);
        for (var n = 2; File.Exists(target); n++) target = Path.Combine(folder, $"{stamp}-{n}{extension}");
        // The copy is atomic too: a history entry is a whole savefile or absent, never a torn one.
        await AtomicFile.WriteAsync(target, async (output, ct) =>
        {
            await using var input = new FileStream(savefilePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
            await input.CopyToAsync(output, 1 << 20, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The whole image read back: the stream's framing and, when the file is sealed, its digest.</summary>
    private static async Task VerifyAsync(DomainSpec spec, CancellationToken cancellationToken)
    {
        try
        {
            using var reader = spec.Format == SavefileFormat.Legacy ? SaveFileReader.OpenLegacy(spec.SavefilePath) : SaveFileReader.Open(spec.SavefilePath);
            var integrity = reader.Header.Integrity is not null ? reader.BeginIntegrityCheck() : null;
            var image = await Task.Run(() => reader.VerifyImage(), cancellationToken).ConfigureAwait(false);
            if (image.Status == Core.Streams.ImageVerificationStatus.Invalid)
                throw new RetentionException($"{spec.SavefilePath} did not verify ({image.Problem?.Message}); older savefiles are kept");
            if (integrity is not null && await integrity.CompleteAsync(cancellationToken).ConfigureAwait(false) is { IsValid: false } result)
                throw new RetentionException($"{spec.SavefilePath} did not verify ({result.Problem}); older savefiles are kept");
        }
        catch (XenFormatException e)
        {
            throw new RetentionException($"{spec.SavefilePath} did not verify ({e.Message}); older savefiles are kept");
        }
    }

    [GeneratedRegex(@"^(\d{8}T\d{9}Z)(?:-(\d{1,9}))?$")]
    private static partial Regex HistoryName();
}

/// <summary>A save or checkpoint finished but its result did not verify, so retention pruned nothing.</summary>
public sealed class RetentionException(string message) : XenIacException(message);
