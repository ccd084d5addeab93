namespace XenIac.Core.SaveFiles;

/// <summary>Writes savefiles: the header and optional data, then an image stream copied through in chunks.</summary>
public static class SaveFileWriter
{
    internal const int CopyBufferSize = 1024 * 1024;

    /// <summary>Writes the header and optional data only; the caller writes the image after it.</summary>
    public static void WriteHeader(Stream destination, SaveFileHeader header)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(header);
        header.WriteTo(destination);
    }

    /// <summary>
    /// Writes <paramref name="header"/> and then copies <paramref name="image"/> to its end. Progress reports the
    /// image bytes copied so far.
    /// </summary>
    public static async Task<long> WriteAsync(Stream destination, SaveFileHeader header, Stream image,
        IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(image);
        await header.WriteToAsync(destination, cancellationToken).ConfigureAwait(false);
        return await CopyAsync(image, destination, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The in-kernel part of a copy when both ends are files (a savefile's image read from a file counts: its file
    /// and offset are known here, where <see cref="ImageStream"/> lives). Leaves the source positioned after what
    /// was copied.
    /// </summary>
    private static long CopyInKernel(Stream source, Stream destination, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        if (destination is not FileStream output) return 0;
        switch (source)
        {
            case ImageStream { Inner: FileStream { CanSeek: true } file } image:
            {
                var copied = IO.FileRangeCopy.Copy(file, file.Position, output, progress, cancellationToken);
                if (copied > 0) image.Seek(image.Position + copied, SeekOrigin.Begin);
                return copied;
            }
            case FileStream { CanSeek: true } file:
            {
                var copied = IO.FileRangeCopy.Copy(file, file.Position, output, progress, cancellationToken);
                if (copied > 0) file.Seek(copied, SeekOrigin.Current);
                return copied;
            }
            default:
                return 0;
        }
    }

    /// <summary>Copies a stream in large chunks with progress and cancellation; returns the bytes copied.</summary>
    public static async Task<long> CopyAsync(Stream source, Stream destination, IProgress<long>? progress,
        CancellationToken cancellationToken)
    {
        long total = CopyInKernel(source, destination, progress, cancellationToken);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            int n;
            while ((n = await source.ReadAsync(buffer.AsMemory(0, CopyBufferSize), cancellationToken).ConfigureAwait(false)) > 0)
            {
                await destination.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                total += n;
                progress?.Report(total);
            }
            return total;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
