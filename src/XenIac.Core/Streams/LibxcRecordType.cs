namespace XenIac.Core.Streams;

/// <summary>libxc stream record types. Types with bit 31 set are optional, the rest mandatory.</summary>
public enum LibxcRecordType : uint
{
    End = 0x0000_0000,
    PageData = 0x0000_0001,
    X86PvInfo = 0x0000_0002,
    X86PvP2mFrames = 0x0000_0003,
    X86PvVcpuBasic = 0x0000_0004,
    X86PvVcpuExtended = 0x0000_0005,
    X86PvVcpuXsave = 0x0000_0006,
    SharedInfo = 0x0000_0007,
    X86TscInfo = 0x0000_0008,
    HvmContext = 0x0000_0009,
    HvmParams = 0x0000_000A,
    /// <summary>Deprecated: only present while the format was developed.</summary>
    Toolstack = 0x0000_000B,
    X86PvVcpuMsrs = 0x0000_000C,
    Verify = 0x0000_000D,
    Checkpoint = 0x0000_000E,
    /// <summary>Only on a COLO back channel (secondary to primary), never in a saved image.</summary>
    CheckpointDirtyPfnList = 0x0000_000F,
    StaticDataEnd = 0x0000_0010,
    X86CpuidPolicy = 0x0000_0011,
    X86MsrPolicy = 0x0000_0012,
}
