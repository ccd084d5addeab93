using XenIac.Core.IO;
using XenIac.Core.Streams;

namespace XenIac.Core.SaveFiles;

/// <summary>The config a restore will use, and where it came from.</summary>
/// <param name="Text">Config text (JSON without its NUL terminator).</param>
/// <param name="Format">XlCfg or Json; None when there is no config at all.</param>
/// <param name="IsOverride">True when the caller's config replaced the stored one.</param>
public sealed record EffectiveConfig(string? Text, SaveFileConfigFormat Format, bool IsOverride);

/// <summary>
/// Forward-only reader of a savefile: reads the header and optional data on open and hands out the image stream
/// positioned right after them. Never reads the image itself.
/// </summary>
public sealed class SaveFileReader : IDisposable, IAsyncDisposable
{
    private readonly ImageStream _image;
    // What the image is read through: the image itself, or a hashing view of it during an integrity check.
    private Stream _view;

    private SaveFileReader(SaveFileHeader header, ImageStream image)
    {
        Header = header;
        _image = image;
        _view = image;
    }

    public SaveFileHeader Header { get; }

    /// <summary>The image stream (libxl stream v2, or the pre-v2 format when <see cref="SaveFileHeader.IsStreamV2"/> is false).</summary>
    public Stream Image => _view;

    /// <summary>Byte offset of the image start within the source.</summary>
    public long ImageOffset => _image.Origin;

    public static SaveFileReader Open(Stream stream, SaveFileReaderOptions? options = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        try
        {
            var header = SaveFileHeader.Read(stream, options);
            return new SaveFileReader(header, new ImageStream(stream, header.ImageOffset, leaveOpen));
        }
        catch when (!leaveOpen)
        {
            stream.Dispose();
            throw;
        }
    }

    public static async Task<SaveFileReader> OpenAsync(Stream stream, SaveFileReaderOptions? options = null,
        bool leaveOpen = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        try
        {
            var header = await SaveFileHeader.ReadAsync(stream, options, cancellationToken).ConfigureAwait(false);
            return new SaveFileReader(header, new ImageStream(stream, header.ImageOffset, leaveOpen));
        }
        catch when (!leaveOpen)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Opens a savefile on disk for sequential reading.</summary>
    public static SaveFileReader Open(string path, SaveFileReaderOptions? options = null) =>
        Open(OpenFile(path, (options ?? SaveFileReaderOptions.Default).ReadBufferSize), options, leaveOpen: false);

    /// <summary>
    /// Treats the whole of <paramref name="stream"/> as the image of an old configless savefile. Its config has
    /// to come from the caller (see <see cref="ResolveConfig"/>).
    /// </summary>
    public static SaveFileReader OpenLegacy(Stream stream, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return new SaveFileReader(SaveFileHeader.Legacy, new ImageStream(stream, 0, leaveOpen));
    }

    public static SaveFileReader OpenLegacy(string path) => OpenLegacy(OpenFile(path));

    internal static FileStream OpenFile(string path, int bufferSize = 64 * 1024) =>
        InputFile.Open(path, new FileStreamOptions
        {
            Mode = FileMode.Open,
            Access = FileAccess.Read,
            Share = FileShare.Read,
            // Small record reads stay cheap; reads larger than this bypass the buffer.
            BufferSize = bufferSize,
            Options = FileOptions.SequentialScan,
        });

    /// <summary>
    /// The config a restore uses: the caller's override when given (the result says so), otherwise the stored one.
    /// </summary>
    /// <exception cref="XenFormatException">No override and the file stores no config (always so for legacy files).</exception>
    public EffectiveConfig ResolveConfig(string? overrideText = null, SaveFileConfigFormat overrideFormat = SaveFileConfigFormat.XlCfg)
    {
        if (overrideText is not null)
            return new EffectiveConfig(overrideText, overrideFormat, IsOverride: true);
        if (Header.ConfigFormat == SaveFileConfigFormat.None)
            throw new XenFormatException(FormatError.InvalidConfig,
                Header.Format == SaveFileFormat.Legacy
                    ? "a legacy savefile stores no config: supply one (--config)"
                    : "the savefile stores no config and none was supplied: supply one (--config)");
        return new EffectiveConfig(Header.ConfigText, Header.ConfigFormat, IsOverride: false);
    }

    /// <summary>Reads the image record by record (this reader stays open and owns the stream).</summary>
    /// <exception cref="XenFormatException">The header says the image is a pre-v2 legacy libxc stream.</exception>
    public ImageStreamReader OpenImage()
    {
        if (Header.Format == SaveFileFormat.Xl && !Header.IsStreamV2)
            throw new XenFormatException(FormatError.InvalidImage,
                "the image is a pre-v2 legacy libxc stream (mandatory flag bit 1 clear), which XenIac does not read",
                ImageOffset);
        return new ImageStreamReader(_view, ImageOffset, leaveOpen: true);
    }

    /// <summary>
    /// Verifies the image. A pre-v2 image (mandatory flag bit 1 clear, or a configless legacy file whose image has
    /// no v2 header) is reported as <see cref="ImageVerificationStatus.NotVerified"/>. To also check the image
    /// against the guest type the stored config states, use SaveFileVerification.Verify one floor up, where configs are read.
    /// </summary>
    public ImageVerification VerifyImage(ImageVerifierOptions? options = null)
    {
        if (Header.Format == SaveFileFormat.Xl && !Header.IsStreamV2)
            return new ImageVerification(ImageVerificationStatus.NotVerified, new ImageSummary(),
                new ImageStreamProblem(FormatError.InvalidImage, ImageStreamVerifier.LegacyImageMessage, ImageOffset, null));
        return ImageStreamVerifier.Verify(_view, options ?? ImageVerifierOptions.Default, ImageOffset,
            legacyAllowed: Header.Format == SaveFileFormat.Legacy);
    }

    /// <summary>
    /// Starts an integrity check: from now on every image byte read (or skipped by seeking) is hashed. Call it
    /// before reading the image, then read or verify it, then <see cref="SaveFileIntegrityCheck.CompleteAsync"/>
    /// reads what is left and compares. One pass over the image, also from a pipe.
    /// </summary>
    public SaveFileIntegrityCheck BeginIntegrityCheck()
    {
        if (_image.Position != 0 || !ReferenceEquals(_view, _image))
            throw new InvalidOperationException("An integrity check must start before the image is read.");
        var hashing = IntegrityHashingStream.ForReading(_image);
        _view = hashing;
        return new SaveFileIntegrityCheck(Header, hashing);
    }

    public void Dispose() => _image.Dispose();

    public ValueTask DisposeAsync() => _image.DisposeAsync();
}
