namespace XenIac.Core.SaveFiles;

/// <summary>
/// Offsets, sizes and constant values of the xl savefile header, in one place so the reader and the writer
/// cannot disagree. The layout is xl's <c>struct save_file_header</c> followed by the optional data area.
/// </summary>
internal static class SaveFileLayout
{
    public const int MagicOffset = 0;
    public const int MagicLength = 32;
    public const int ByteOrderOffset = 32;
    public const int MandatoryFlagsOffset = 36;
    public const int OptionalFlagsOffset = 40;
    public const int OptionalDataLengthOffset = 44;
    public const int HeaderLength = 48;

    /// <summary>Inside the optional data: the u32 length of the stored config precedes the config bytes.</summary>
    public const int ConfigLengthFieldLength = 4;

    public const uint ByteOrderValue = 0x01020304;

    /// <summary>"Xen saved domain, xl format\n \0 \r" — the NUL and CR make text-mode transfers corrupt it visibly.</summary>
    public static ReadOnlySpan<byte> Magic => "Xen saved domain, xl format\n \0 \r"u8;

    public const uint KnownMandatoryFlags = (uint)(SaveFileMandatoryFlags.ConfigJson | SaveFileMandatoryFlags.StreamV2);
    public const uint KnownOptionalFlags = 0;

    /// <summary>First bytes of a bare libxl migration stream v2 (what follows the xl header).</summary>
    public static ReadOnlySpan<byte> LibxlStreamIdent => "LibxlFmt"u8;
}
