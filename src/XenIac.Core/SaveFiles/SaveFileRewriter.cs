using XenIac.Core.IO;
using XenIac.Core.Streams;

namespace XenIac.Core.SaveFiles;

/// <summary>
/// Whole-file savefile operations: replace the stored config, convert between the xl and the legacy format.
/// The image is streamed from the source into a temp file beside the destination which then replaces it
/// atomically (mode 0600), so a failure never leaves a torn file where a good one was.
/// </summary>
public static class SaveFileRewriter
{
    /// <summary>
    /// Copies <paramref name="sourcePath"/> to <paramref name="destinationPath"/> (which may be the same file)
    /// with the header <paramref name="transform"/> returns. The transform also learns whether the image is a
    /// stream v2 (it starts with "LibxlFmt"), which matters when a legacy file gains a header.
    /// </summary>
    public static Task<SaveFileHeader> RewriteAsync(string sourcePath, string destinationPath, bool sourceIsLegacy,
        Func<SaveFileHeader, bool, SaveFileHeader> transform, SaveFileReaderOptions? options = null,
        IProgress<long>? progress = null, CancellationToken cancellationToken = default) =>
        RewriteCoreAsync(sourcePath, sourceIsLegacy, transform, options, progress,
            (write, ct) => AtomicFile.WriteAsync(destinationPath, write, ct), cancellationToken);

    /// <summary>
    /// As the path overload, but streams the result into <paramref name="destination"/> (standard output, a pipe);
    /// a failure part way leaves what was written so far, so the reader must check the exit status.
    /// </summary>
    public static Task<SaveFileHeader> RewriteAsync(string sourcePath, Stream destination, bool sourceIsLegacy,
        Func<SaveFileHeader, bool, SaveFileHeader> transform, SaveFileReaderOptions? options = null,
        IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        return RewriteCoreAsync(sourcePath, sourceIsLegacy, transform, options, progress, async (write, ct) =>
        {
            await write(destination, ct).ConfigureAwait(false);
            await destination.FlushAsync(ct).ConfigureAwait(false);
        }, cancellationToken, checkAlongside: false);
    }

    private static async Task<SaveFileHeader> RewriteCoreAsync(string sourcePath, bool sourceIsLegacy,
        Func<SaveFileHeader, bool, SaveFileHeader> transform, SaveFileReaderOptions? options, IProgress<long>? progress,
        Func<Func<Stream, CancellationToken, Task>, CancellationToken, Task> sink, CancellationToken cancellationToken, bool seal = false,
        bool checkAlongside = true)
    {
        ArgumentNullException.ThrowIfNull(transform);
        await using var reader = sourceIsLegacy
            ? SaveFileReader.OpenLegacy(sourcePath)
            : await SaveFileReader.OpenAsync(SaveFileReader.OpenFile(sourcePath), options, cancellationToken: cancellationToken).ConfigureAwait(false);

        var peek = new byte[SaveFileLayout.LibxlStreamIdent.Length];
        var peeked = await reader.Image.ReadAtLeastAsync(peek, peek.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (sourceIsLegacy && SaveFileHeader.LooksLikeXlSavefile(peek.AsSpan(0, peeked)))
            throw new XenFormatException(FormatError.InvalidImage,
                $"'{sourcePath}' already has an xl savefile header; it is not a legacy (configless) savefile", 0);
        var isV2 = peek.AsSpan(0, peeked).SequenceEqual(SaveFileLayout.LibxlStreamIdent);
        // Into a file (replaced only once the write succeeded) the check runs beside the copy and the replace waits for
        // it: its reads then cost no time of their own. Onto a stream, whatever is written stays written: checked first.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task check;
        if (checkAlongside)
            check = Task.Run(() =>
            {
                try { RequireSoundImage(sourcePath, sourceIsLegacy, options); }
                catch
                {
                    try { stop.Cancel(); } catch (ObjectDisposedException) { }
                    throw;
                }
            }, CancellationToken.None);
        else
        {
            RequireSoundImage(sourcePath, sourceIsLegacy, options);
            check = Task.CompletedTask;
        }

        var header = transform(reader.Header, isV2);
        try
        {
            await sink(async (output, ct) =>
            {
                if (seal)
                {
                    header = await SaveFileWriter.WriteSealedAsync(output, header, async (hashing, ct2) =>
                    {
                        await hashing.WriteAsync(peek.AsMemory(0, peeked), ct2).ConfigureAwait(false);
                        await SaveFileWriter.CopyAsync(reader.Image, hashing, progress is null ? null : new OffsetProgress(progress, peeked), ct2).ConfigureAwait(false);
                        await check.ConfigureAwait(false); // before the record is patched and the file replaces the old one
                    }, ct).ConfigureAwait(false);
                    return;
                }
                await header.WriteToAsync(output, ct).ConfigureAwait(false);
                await output.WriteAsync(peek.AsMemory(0, peeked), ct).ConfigureAwait(false);
                await SaveFileWriter.CopyAsync(reader.Image, output, progress is null ? null : new OffsetProgress(progress, peeked), ct).ConfigureAwait(false);
                await check.ConfigureAwait(false);
            }, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (check.IsFaulted)
        {
            await check.ConfigureAwait(false); // the damaged image stopped the copy: that is the error to report
            throw;
        }
        finally
        {
            // A copy that failed on its own leaves the check running; its outcome no longer matters.
            if (!check.IsCompleted) _ = check.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
        return header;
    }

    /// <summary>
    /// The image is copied as bytes (in the kernel where it can be), so nothing on that path reads its records: a cut
    /// or damaged image would come out under a fresh header, or sealed with a digest that vouches for it. One pass
    /// over its record headers (page contents are skipped by seeking: a few hundred small reads per GiB) refuses it,
    /// naming the problem, before any result replaces anything. A pre-v2 image cannot be checked and passes (the
    /// conversion rules decide whether it may be rewritten at all).
    /// </summary>
    private static void RequireSoundImage(string sourcePath, bool sourceIsLegacy, SaveFileReaderOptions? options)
    {
        using var reader = sourceIsLegacy
            ? SaveFileReader.OpenLegacy(SaveFileReader.OpenFile(sourcePath, 4096))
            : SaveFileReader.Open(SaveFileReader.OpenFile(sourcePath, 4096), options);
        var verification = reader.VerifyImage();
        if (verification.Status != ImageVerificationStatus.Invalid) return;
        var problem = verification.Problem!;
        throw new XenFormatException(problem.Error,
            $"the image of '{sourcePath}' is damaged, nothing was written: {problem.Message} (`savefile verify` checks a file)", problem.Offset)
        { RecordIndex = problem.RecordIndex };
    }

    /// <summary>Replaces the config stored in an xl savefile, in place. Flags, byte order and extension bytes are kept.</summary>
    public static Task<SaveFileHeader> ReplaceConfigAsync(string path, string configText, SaveFileConfigFormat format,
        IProgress<long>? progress = null, CancellationToken cancellationToken = default) =>
        RewriteAsync(path, path, sourceIsLegacy: false, (h, _) => h.WithConfig(configText, format), null, progress, cancellationToken);

    /// <summary>
    /// Adds or refreshes the integrity record of an xl savefile in place: one read pass hashes the image while it
    /// is copied into the temp file, whose record is then patched before the atomic replace. Everything else in
    /// the header and optional data is kept.
    /// </summary>
    public static Task<SaveFileHeader> SealAsync(string path, IProgress<long>? progress = null, CancellationToken cancellationToken = default) =>
        RewriteCoreAsync(path, sourceIsLegacy: false, (h, _) => h, null, progress,
            (write, ct) => AtomicFile.WriteAsync(path, write, ct), cancellationToken, seal: true);

    /// <summary>Strips the xl header: the result is the bare image, as the old configless format was. The config is lost.</summary>
    public static Task<SaveFileHeader> ConvertToLegacyAsync(string sourcePath, string destinationPath,
        IProgress<long>? progress = null, CancellationToken cancellationToken = default) =>
        RewriteAsync(sourcePath, destinationPath, sourceIsLegacy: false, (_, _) => SaveFileHeader.Legacy, null, progress, cancellationToken);

    /// <summary>
    /// Gives a legacy savefile an xl header holding <paramref name="configText"/>. The stream-v2 flag is set
    /// when the image is a v2 stream, as xl would.
    /// </summary>
    public static Task<SaveFileHeader> ConvertFromLegacyAsync(string sourcePath, string destinationPath, string configText,
        SaveFileConfigFormat format, SaveFileByteOrder byteOrder = SaveFileByteOrder.LittleEndian,
        IProgress<long>? progress = null, CancellationToken cancellationToken = default) =>
        RewriteAsync(sourcePath, destinationPath, sourceIsLegacy: true,
            (_, isV2) => SaveFileHeader.Create(configText, format, byteOrder, streamV2: isV2), null, progress, cancellationToken);

    private sealed class OffsetProgress(IProgress<long> inner, long offset) : IProgress<long>
    {
        public void Report(long value) => inner.Report(value + offset);
    }
}
