namespace XenIac.Core.SaveFiles;

/// <summary>Which generation of savefile: today's xl format with header, or the old configless one (image only).</summary>
public enum SaveFileFormat
{
    /// <summary>"Xen saved domain, xl format" header, optional data, then the image stream.</summary>
    Xl,
    /// <summary>The pre-2010 configless format: the whole file is the image stream; the config comes from the caller.</summary>
    Legacy,
}

public enum SaveFileByteOrder
{
    LittleEndian,
    BigEndian,
}

/// <summary>How the config stored in the optional data is written.</summary>
public enum SaveFileConfigFormat
{
    /// <summary>No config stored (no optional data, or a zero-length config).</summary>
    None,
    /// <summary>xl.cfg text, as 2010-era xl stored it.</summary>
    XlCfg,
    /// <summary>libxl JSON domain config with a trailing NUL, as today's xl stores it (mandatory flag bit 0).</summary>
    Json,
}

[Flags]
public enum SaveFileMandatoryFlags : uint
{
    None = 0,
    /// <summary>Bit 0: the stored config is libxl JSON.</summary>
    ConfigJson = 1u << 0,
    /// <summary>Bit 1: the image is a migration stream v2.</summary>
    StreamV2 = 1u << 1,
}
