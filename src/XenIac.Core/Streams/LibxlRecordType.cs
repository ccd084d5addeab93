namespace XenIac.Core.Streams;

/// <summary>libxl stream v2 record types. Types with bit 31 set are optional, the rest mandatory.</summary>
public enum LibxlRecordType : uint
{
    End = 0x0000_0000,
    LibxcContext = 0x0000_0001,
    EmulatorXenstoreData = 0x0000_0002,
    EmulatorContext = 0x0000_0003,
    CheckpointEnd = 0x0000_0004,
    CheckpointState = 0x0000_0005,
}
