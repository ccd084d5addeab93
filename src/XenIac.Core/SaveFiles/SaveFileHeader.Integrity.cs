namespace XenIac.Core.SaveFiles;

public sealed partial record SaveFileHeader
{
    /// <summary>
    /// The integrity record in the extension bytes; <c>null</c> when there is none or it is malformed
    /// (then <see cref="IntegrityError"/> says why).
    /// </summary>
    public SaveFileIntegrity? Integrity => FindIntegrity()?.Integrity;

    /// <summary>Why the integrity record present in the extension cannot be read; <c>null</c> when it can or there is none.</summary>
    public XenFormatException? IntegrityError => FindIntegrity() is { Problem: { } problem } found
        ? new XenFormatException(FormatError.InvalidIntegrity, problem, ExtensionOffset + found.Start)
        : null;

    /// <summary>
    /// What the lengths alone say is wrong with a file of <paramref name="fileLength"/> bytes under this header: no
    /// image after it, or (sealed) an image of another length than its integrity record states, as a copy cut short
    /// or a file appended to has. Null when they agree or cannot tell (an unsealed image is only known by reading
    /// it). Costs nothing, so a plan or an import over many large savefiles can ask it of each.
    /// </summary>
    public string? ImageLengthProblem(long fileLength)
    {
        var image = fileLength - ImageOffset;
        if (image <= 0) return "the savefile has no image after its header";
        if (Integrity is not { } integrity || integrity.ImageLength == image) return null;
        return image < integrity.ImageLength
            ? $"the savefile is cut short: its integrity record states {integrity.ImageLength} image bytes, the file has {image}"
            : $"the savefile is longer than it was written: its integrity record states {integrity.ImageLength} image bytes, the file has {image}";
    }

    /// <summary>File offset of the first extension byte.</summary>
    private long ExtensionOffset => SaveFileLayout.HeaderLength + SaveFileLayout.ConfigLengthFieldLength + ConfigLength;

    private IntegrityLayout.Found? FindIntegrity() =>
        Format == SaveFileFormat.Legacy ? null : IntegrityLayout.Find(_extension, ByteOrder);

    /// <summary>File offset of the integrity block, when there is one.</summary>
    internal long? IntegrityBlockOffset => FindIntegrity() is { } found ? ExtensionOffset + found.Start : null;

    /// <summary>
    /// This header carrying <paramref name="integrity"/> (or none, for <c>null</c>). An existing block, readable or
    /// not, is replaced where it stands; a new one goes after the extension bytes. Other extension bytes are kept.
    /// </summary>
    public SaveFileHeader WithIntegrity(SaveFileIntegrity? integrity)
    {
        if (Format == SaveFileFormat.Legacy)
            throw new InvalidOperationException("A legacy savefile has no header to store an integrity record in; convert it to the xl format first.");
        var block = integrity is null ? [] : IntegrityLayout.Encode(integrity, ByteOrder);
        // Every block goes (a second one is malformed by definition); the new one takes the first one's place.
        var rest = ExtensionBlocks.RemoveAll(_extension, IntegrityLayout.Magic, IntegrityLayout.Extent, ByteOrder, out var first);
        var start = first ?? rest.Length;
        byte[] extension = [.. rest.AsSpan(0, start), .. block, .. rest.AsSpan(start)];
        // Optional data exists only with a config length field; a record needs that field in front of it.
        return this with { ConfigBytes = _configBytes ?? [], Extension = extension };
    }

    /// <summary>
    /// This header in another byte order. A readable integrity record is written again in the new order (its
    /// integers follow the header's); other extension bytes are unknown to XenIac and kept as they are.
    /// </summary>
    public SaveFileHeader WithByteOrder(SaveFileByteOrder byteOrder)
    {
        if (byteOrder == ByteOrder) return this;
        // The fingerprint block's integers follow the header's order too: taken out in the old order, put back in the new.
        if (Fingerprint is { } fingerprint) return WithFingerprint(null).WithByteOrder(byteOrder).WithFingerprint(fingerprint);
        var integrity = Integrity;
        return integrity is null ? this with { ByteOrder = byteOrder } : (this with { ByteOrder = byteOrder }).ReplaceIntegrityFrom(this, integrity);
    }

    private SaveFileHeader ReplaceIntegrityFrom(SaveFileHeader original, SaveFileIntegrity integrity)
    {
        var found = original.FindIntegrity()!.Value;
        var block = IntegrityLayout.Encode(integrity, ByteOrder);
        byte[] extension = [.. _extension.AsSpan(0, found.Start), .. block, .. _extension.AsSpan(found.Start + found.Length)];
        return this with { Extension = extension };
    }
}
