namespace XenIac.Core;

/// <summary>What kind of problem a savefile or the image stream inside it has.</summary>
public enum FormatError
{
    WrongMagic,
    WrongByteOrder,
    UnsupportedMandatoryFlags,
    UnknownOptionalFlags,
    Truncated,
    OptionalDataTooLarge,
    InvalidConfig,
    InvalidImage,
    /// <summary>The integrity record in the optional data is malformed, or the image does not match it.</summary>
    InvalidIntegrity,
}

/// <summary>
/// The data is not a savefile XenIac can read. <see cref="Offset"/> is the byte offset in the file where the
/// problem was found (when known); <see cref="RecordIndex"/> the image-stream record it belongs to (when known).
/// </summary>
public sealed class XenFormatException : XenIacException
{
    public XenFormatException(FormatError error, string message, long? offset = null, Exception? inner = null)
        : base(message, inner)
    {
        Error = error;
        Offset = offset;
    }

    public FormatError Error { get; }
    public long? Offset { get; }

    /// <summary>Index of the image-stream record (both layers counted from 0) the problem was found in.</summary>
    public long? RecordIndex { get; init; }
}
