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
    /// Writes <paramref name="header"/> carrying an integrity record of the image <paramref name="writeImage"/>
    /// writes: a placeholder block first, the image hashed on its way out, then the block patched in place.
    /// <paramref name="destination"/> must be seekable (the temp file of an atomic write). Returns the header as written.
    /// </summary>
    public static SaveFileHeader WriteSealed(Stream destination, SaveFileHeader header, Action<Stream> writeImage)
    {
        ArgumentNullException.ThrowIfNull(writeImage);
        var (start, placeholder) = BeginSealed(destination, header);
        destination.Write(placeholder.ToBytes());
        using var hashing = IntegrityHashingStream.ForWriting(destination);
        writeImage(hashing);
        var (position, block, sealedHeader) = FinishSealed(start, placeholder, hashing);
        var end = destination.Position;
        destination.Position = position;
        destination.Write(block);
        destination.Position = end;
        return sealedHeader;
    }

    /// <inheritdoc cref="WriteSealed"/>
    public static async Task<SaveFileHeader> WriteSealedAsync(Stream destination, SaveFileHeader header,
        Func<Stream, CancellationToken, Task> writeImage, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writeImage);
        var (start, placeholder) = BeginSealed(destination, header);
        await destination.WriteAsync(placeholder.ToBytes(), cancellationToken).ConfigureAwait(false);
        await using var hashing = IntegrityHashingStream.ForWriting(destination);
        await writeImage(hashing, cancellationToken).ConfigureAwait(false);
        var (position, block, sealedHeader) = FinishSealed(start, placeholder, hashing);
        var end = destination.Position;
        destination.Position = position;
        await destination.WriteAsync(block, cancellationToken).ConfigureAwait(false);
        destination.Position = end;
        return sealedHeader;
    }

    private static (long Start, SaveFileHeader Placeholder) BeginSealed(Stream destination, SaveFileHeader header)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(header);
        if (!destination.CanSeek)
            throw new ArgumentException("Sealing patches the integrity record after the image: the destination must be seekable.", nameof(destination));
        return (destination.Position, header.WithIntegrity(SaveFileIntegrity.Placeholder));
    }

    private static (long Position, byte[] Block, SaveFileHeader Sealed) FinishSealed(long start, SaveFileHeader placeholder,
        IntegrityHashingStream hashing)
    {
        var sealedHeader = placeholder.WithIntegrity(hashing.Result());
        // Same length as the placeholder, so only the block's bytes change.
        return (start + sealedHeader.IntegrityBlockOffset!.Value, IntegrityLayout.Encode(sealedHeader.Integrity!, sealedHeader.ByteOrder), sealedHeader);
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
