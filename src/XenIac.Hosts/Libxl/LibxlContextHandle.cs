using System.Runtime.InteropServices;

namespace XenIac.Hosts.Libxl;

/// <summary>A libxl_ctx*; freed once no call is using it (the marshaller holds a reference during each call).</summary>
internal sealed class LibxlContextHandle : SafeHandle
{
    public LibxlContextHandle() : base(0, ownsHandle: true) { }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => LibxlNative.libxl_ctx_free(handle) == 0;
}
