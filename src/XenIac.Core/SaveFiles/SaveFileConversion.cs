namespace XenIac.Core.SaveFiles;

/// <summary>Why a conversion is refused before anything is read or written.</summary>
public enum SaveFileConversionRefusal
{
    None,
    /// <summary>To legacy from a file that has no xl header: there is nothing to take off.</summary>
    SourceAlreadyLegacy,
    /// <summary>A config was given for a legacy result, which has nowhere to store it.</summary>
    ConfigWithLegacyTarget,
    /// <summary>To xl from a legacy file without a config: an xl header without the domain's config restores nothing.</summary>
    ConfigRequired,
}

/// <summary>
/// The decision of a savefile conversion (xl ⇄ legacy, the header's byte order, a new stored config): what the
/// result's format and byte order are, whether a given config goes into it (and so must be checked against the
/// savefile first), what is refused, and the header to write. It reads no file: the caller knows the source's
/// format (<see cref="SaveFileHeader.LooksLikeXlSavefile"/>) and hands <see cref="HeaderFor"/> to
/// <see cref="SaveFileRewriter"/>, which copies the image unchanged.
/// </summary>
public sealed class SaveFileConversion
{
    private SaveFileConversion(SaveFileFormat source, SaveFileFormat target, bool configGiven, SaveFileByteOrder? byteOrder,
        SaveFileConversionRefusal refusal, bool allowPreV2Image)
    {
        AllowPreV2Image = allowPreV2Image;
        Source = source;
        Target = target;
        StoresConfig = configGiven && target == SaveFileFormat.Xl && refusal == SaveFileConversionRefusal.None;
        ByteOrder = byteOrder;
        Refusal = refusal;
    }

    public SaveFileFormat Source { get; }

    public SaveFileFormat Target { get; }

    /// <summary>The byte order asked for; <c>null</c> keeps an xl source's and makes a legacy source's little-endian.</summary>
    public SaveFileByteOrder? ByteOrder { get; }

    public SaveFileConversionRefusal Refusal { get; }

    /// <summary>
    /// A legacy source whose first bytes are no libxl stream v2 header is converted anyway. Off by default: a
    /// headerless file can be anything (a config, random bytes), and an xl header on it would make a savefile that
    /// cannot restore; only Xen before 4.6 wrote pre-v2 images, and XenIac cannot check those.
    /// </summary>
    public bool AllowPreV2Image { get; }

    public bool IsRefused => Refusal != SaveFileConversionRefusal.None;

    /// <summary>The given config is stored in the result: check it against the savefile before rewriting.</summary>
    public bool StoresConfig { get; }

    /// <summary>The source is read as the configless format (the whole file is the image stream).</summary>
    public bool SourceIsLegacy => Source == SaveFileFormat.Legacy;

    /// <param name="source">The format the source file is in.</param>
    /// <param name="target">The format asked for.</param>
    /// <param name="configGiven">Whether a config to store was given.</param>
    /// <param name="byteOrder">The byte order of the written header; <c>null</c> for the default (see <see cref="ByteOrder"/>).
    /// A legacy result has no header, so it has no byte order.</param>
    /// <param name="allowPreV2Image">See <see cref="AllowPreV2Image"/>.</param>
    public static SaveFileConversion Decide(SaveFileFormat source, SaveFileFormat target, bool configGiven, SaveFileByteOrder? byteOrder,
        bool allowPreV2Image = false)
    {
        var refusal = (source, target) switch
        {
            (SaveFileFormat.Legacy, SaveFileFormat.Legacy) => SaveFileConversionRefusal.SourceAlreadyLegacy,
            (_, SaveFileFormat.Legacy) when configGiven => SaveFileConversionRefusal.ConfigWithLegacyTarget,
            (SaveFileFormat.Legacy, _) when !configGiven => SaveFileConversionRefusal.ConfigRequired,
            _ => SaveFileConversionRefusal.None,
        };
        return new SaveFileConversion(source, target, configGiven, byteOrder, refusal, allowPreV2Image);
    }

    /// <summary>
    /// The header to write for a source whose header is <paramref name="sourceHeader"/> (<see cref="SaveFileHeader.Legacy"/>
    /// for a legacy source) and whose image is a v2 stream or not: the transform <see cref="SaveFileRewriter"/> takes.
    /// </summary>
    /// <param name="config">The config to store when <see cref="StoresConfig"/>; ignored otherwise.</param>
    /// <exception cref="InvalidOperationException">The conversion is refused, or a config it stores is missing.</exception>
    /// <exception cref="XenFormatException">A legacy source's image is no v2 stream and <see cref="AllowPreV2Image"/> is off.</exception>
    public SaveFileHeader HeaderFor(SaveFileHeader sourceHeader, bool streamV2, (string Text, SaveFileConfigFormat Format)? config = null)
    {
        ArgumentNullException.ThrowIfNull(sourceHeader);
        if (IsRefused) throw new InvalidOperationException($"The conversion is refused ({Refusal}); there is no header to write.");
        if (StoresConfig && config is null) throw new InvalidOperationException("This conversion stores a config; pass it.");
        if (Target == SaveFileFormat.Legacy) return SaveFileHeader.Legacy;
        if (SourceIsLegacy && !streamV2 && !AllowPreV2Image)
            throw new XenFormatException(FormatError.InvalidImage,
                "the file does not start with a libxl stream v2 header (\"LibxlFmt\"), so it is no image xl saved since Xen 4.6 " +
                "and XenIac cannot check it (use --force to convert it anyway)", 0);
        if (SourceIsLegacy)
            return SaveFileHeader.Create(config!.Value.Text, config.Value.Format, ByteOrder ?? SaveFileByteOrder.LittleEndian, streamV2);
        var result = StoresConfig ? sourceHeader.WithConfig(config!.Value.Text, config.Value.Format) : sourceHeader;
        // The image is copied unchanged, so an integrity record stays true; WithByteOrder rewrites it in the new order.
        return ByteOrder is { } order ? result.WithByteOrder(order) : result;
    }
}
