using System.Text;

namespace XenIac.Core.SaveFiles;

/// <summary>
/// Everything in a savefile before the image stream: the fixed header and the optional data (stored config and
/// any extension bytes after it). Immutable; derive changed headers with <c>with</c> or
/// <see cref="WithConfig(string?, SaveFileConfigFormat)"/>. Holds exactly the bytes needed to rewrite the file's
/// prefix byte for byte.
/// </summary>
public sealed partial record SaveFileHeader
{
    private readonly byte[]? _configBytes;
    private readonly byte[] _extension = [];

    /// <summary>The header of a legacy (configless) savefile: it has no bytes at all.</summary>
    public static SaveFileHeader Legacy { get; } = new() { Format = SaveFileFormat.Legacy };

    public SaveFileFormat Format { get; init; } = SaveFileFormat.Xl;

    /// <summary>The order of every u32 in the header and optional data. xl writes the host's order (little on x86).</summary>
    public SaveFileByteOrder ByteOrder { get; init; } = SaveFileByteOrder.LittleEndian;

    /// <summary>Raw mandatory flag word. Bits a reader does not know mean "reject".</summary>
    public uint MandatoryFlags { get; init; }

    /// <summary>Raw optional flag word, kept as read (xl never interprets it).</summary>
    public uint OptionalFlags { get; init; }

    /// <summary>
    /// The stored config exactly as in the file (a JSON config includes its trailing NUL). <c>null</c> means the
    /// file has no optional data at all, which differs on disk from an empty config (a zero length field).
    /// </summary>
    /// <remarks>
    /// An array rather than <c>ReadOnlyMemory&lt;byte&gt;?</c>: a null array converts silently to an empty, non-null
    /// memory, which would erase the difference between "no optional data" and "empty config". Copied both ways.
    /// </remarks>
    public byte[]? ConfigBytes
    {
        get => _configBytes?.ToArray();
        init => _configBytes = value?.ToArray();
    }

    /// <summary>Optional-data bytes after the config: an extension this reader does not understand, kept for rewrites.</summary>
    public ReadOnlyMemory<byte> Extension
    {
        get => _extension;
        init => _extension = value.ToArray();
    }

    public bool IsStreamV2 => (MandatoryFlags & (uint)SaveFileMandatoryFlags.StreamV2) != 0;

    public SaveFileConfigFormat ConfigFormat =>
        _configBytes is null || _configBytes.Length == 0 ? SaveFileConfigFormat.None
        : (MandatoryFlags & (uint)SaveFileMandatoryFlags.ConfigJson) != 0 ? SaveFileConfigFormat.Json
        : SaveFileConfigFormat.XlCfg;

    /// <summary>Length of the optional-data area as written in the header.</summary>
    public uint OptionalDataLength =>
        Format == SaveFileFormat.Legacy || _configBytes is null
            ? 0u
            : checked((uint)(SaveFileLayout.ConfigLengthFieldLength + _configBytes.Length + _extension.Length));

    /// <summary>Bytes of the stored config, as written in its length field (0 when absent).</summary>
    public int ConfigLength => _configBytes?.Length ?? 0;

    /// <summary>Where the image stream starts in the file.</summary>
    public long ImageOffset => Format == SaveFileFormat.Legacy ? 0 : SaveFileLayout.HeaderLength + (long)OptionalDataLength;

    /// <summary>
    /// The stored config as text: UTF-8, and for JSON without the trailing NUL that xl stores. <c>null</c> when
    /// there is none.
    /// </summary>
    public string? ConfigText
    {
        get
        {
            if (_configBytes is null || _configBytes.Length == 0) return null;
            var content = StoredConfigContent(_configBytes, ConfigFormat);
            // xl.cfg strings may hold any bytes; XlText keeps those that are not UTF-8 (WithConfig writes them back).
            return ConfigFormat == SaveFileConfigFormat.XlCfg ? Config.XlText.Decode(content) : Encoding.UTF8.GetString(content);
        }
    }

    /// <summary>The stored config content as bytes, without the JSON NUL terminator (what <c>savefile config</c> prints).</summary>
    public ReadOnlyMemory<byte> ConfigContent =>
        _configBytes is null ? ReadOnlyMemory<byte>.Empty : StoredConfigContent(_configBytes, ConfigFormat).ToArray();

    private static ReadOnlySpan<byte> StoredConfigContent(byte[] bytes, SaveFileConfigFormat format)
    {
        ReadOnlySpan<byte> span = bytes;
        // xl stores strlen+1 bytes for JSON; libxl parses it as a C string, so content ends at the first NUL.
        if (format == SaveFileConfigFormat.Json)
        {
            var nul = span.IndexOf((byte)0);
            if (nul >= 0) span = span[..nul];
        }
        return span;
    }

    /// <summary>
    /// A header as today's xl writes it: little-endian, stream v2, config stored as given (JSON gets the trailing
    /// NUL and mandatory flag bit 0).
    /// </summary>
    public static SaveFileHeader Create(string? configText, SaveFileConfigFormat configFormat,
        SaveFileByteOrder byteOrder = SaveFileByteOrder.LittleEndian, bool streamV2 = true)
    {
        var header = new SaveFileHeader
        {
            ByteOrder = byteOrder,
            MandatoryFlags = streamV2 ? (uint)SaveFileMandatoryFlags.StreamV2 : 0,
        };
        return header.WithConfig(configText, configFormat);
    }

    /// <summary>
    /// This header with another stored config (flags, byte order and extension bytes kept). The JSON flag follows
    /// the new format. A <c>null</c> or empty text stores a zero-length config, as xl does when it has none.
    /// </summary>
    public SaveFileHeader WithConfig(string? configText, SaveFileConfigFormat configFormat)
    {
        if (Format == SaveFileFormat.Legacy)
            throw new InvalidOperationException("A legacy savefile has no header to store a config in; convert it to the xl format first.");
        if (configFormat == SaveFileConfigFormat.None && !string.IsNullOrEmpty(configText))
            throw new ArgumentException("A config text needs a format (XlCfg or Json).", nameof(configFormat));

        byte[] bytes;
        uint flags = MandatoryFlags & ~(uint)SaveFileMandatoryFlags.ConfigJson;
        if (string.IsNullOrEmpty(configText))
        {
            bytes = [];
        }
        else if (configFormat == SaveFileConfigFormat.Json)
        {
            if (configText.Contains('\0'))
                throw new ArgumentException("A JSON config cannot contain NUL characters.", nameof(configText));
            bytes = new byte[Encoding.UTF8.GetByteCount(configText) + 1];
            Encoding.UTF8.GetBytes(configText, bytes);
            flags |= (uint)SaveFileMandatoryFlags.ConfigJson;
        }
        else
        {
            bytes = Config.XlText.Encode(configText);
        }

        return this with { MandatoryFlags = flags, ConfigBytes = bytes };
    }

    /// <summary>Names of the set mandatory flag bits, unknown ones as <c>bitN</c>.</summary>
    public static IReadOnlyList<string> DescribeMandatoryFlags(uint flags)
    {
        var names = new List<string>();
        for (var bit = 0; bit < 32; bit++)
        {
            if ((flags & (1u << bit)) == 0) continue;
            names.Add((SaveFileMandatoryFlags)(1u << bit) switch
            {
                SaveFileMandatoryFlags.ConfigJson => "CONFIG_JSON",
                SaveFileMandatoryFlags.StreamV2 => "STREAM_V2",
                _ => $"bit{bit}",
            });
        }
        return names;
    }

    public bool Equals(SaveFileHeader? other) =>
        other is not null
        && Format == other.Format
        && ByteOrder == other.ByteOrder
        && MandatoryFlags == other.MandatoryFlags
        && OptionalFlags == other.OptionalFlags
        && (_configBytes is null ? other._configBytes is null : other._configBytes is not null && _configBytes.AsSpan().SequenceEqual(other._configBytes))
        && _extension.AsSpan().SequenceEqual(other._extension);

    public override int GetHashCode() =>
        HashCode.Combine(Format, ByteOrder, MandatoryFlags, OptionalFlags, _configBytes?.Length ?? -1, _extension.Length);
}
