namespace XenIac.Core.Streams;

/// <summary>
/// One record header as read from the image: its layer, raw type (optional bit included), body length, the
/// absolute byte offset of its header and its index among all records of the image (both layers, from 0).
/// </summary>
public readonly record struct ImageRecord(ImageLayer Layer, uint Type, uint Length, long Offset, long Index)
{
    /// <summary>Bit 31 of the type: a restorer that does not know the record may ignore it.</summary>
    public bool IsOptional => (Type & StreamLayout.OptionalRecordBit) != 0;

    /// <summary>The spec's name (PAGE_DATA, LIBXC_CONTEXT, ...), or UNKNOWN_/OPTIONAL_0x... for undefined types.</summary>
    public string Name => ImageRecordNames.Name(Layer, Type);

    /// <summary>Name with its layer, unique across both specs: "libxl:END", "libxc:PAGE_DATA".</summary>
    public string QualifiedName => ImageRecordNames.Qualified(Layer, Type);

    public bool IsKnown => ImageRecordNames.IsKnown(Layer, Type);

    public bool Is(LibxlRecordType type) => Layer == ImageLayer.Libxl && Type == (uint)type;

    public bool Is(LibxcRecordType type) => Layer == ImageLayer.Libxc && Type == (uint)type;

    /// <summary>Body plus zero padding to the 8-byte boundary.</summary>
    public long PaddedLength => Length + StreamLayout.Padding(Length);

    public override string ToString() => $"{QualifiedName} #{Index} at {Offset}, length {Length}";
}
