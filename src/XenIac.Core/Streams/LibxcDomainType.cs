namespace XenIac.Core.Streams;

/// <summary>The type field of the libxc domain header.</summary>
public enum LibxcDomainType : uint
{
    X86Pv = 0x0001,
    X86Hvm = 0x0002,
}
