namespace XenIac.Core.Streams;

/// <summary>emulator_id of the libxl EMULATOR_* records.</summary>
public enum EmulatorId : uint
{
    /// <summary>Written by the legacy conversion tool.</summary>
    Unknown = 0,
    QemuTraditional = 1,
    QemuUpstream = 2,
}
