using System.Runtime.InteropServices;
using System.Runtime.InteropServices.Marshalling;

namespace XenIac.Hosts.Libxl;

/// <summary>
/// The libxenlight functions XenIac calls, all synchronous (NULL ao_how). Declarations follow the installed
/// libxl.h (Xen 4.17, unchanged up to 4.22). Structs laid out here are checked against the C headers by
/// LibxlLayoutTests; libxl_domain_config stays opaque (a buffer only libxl reads and writes).
/// </summary>
internal static unsafe partial class LibxlNative
{
    private const string Lib = LibxlLibrary.ImportName;

    public const int LIBXL_VERSION = 0;
    public const uint INVALID_DOMID = 0xFFFFFFFF;

    /// <summary>sizeof(libxl_domain_config) is 1288 on 4.17 x86_64; the slack absorbs growth in later versions.</summary>
    public const int DomainConfigBufferSize = 16 * 1024;

    public const int LIBXL_SHUTDOWN_REASON_CRASH = 3;
    public const int LIBXL_CHECKPOINTED_STREAM_NONE = 0;
    public const int libxl_sigchld_owner_mainloop = 1;

    public const int ERROR_FAIL = -3;
    public const int ERROR_INVAL = -6;
    public const int ERROR_DOMAIN_NOTFOUND = -21;

    [LibraryImport(Lib)]
    public static partial int libxl_ctx_alloc(out LibxlContextHandle ctx, int version, uint flags, XentoollogLogger* logger);

    [LibraryImport(Lib)]
    public static partial int libxl_ctx_free(nint ctx);

    [LibraryImport(Lib)]
    public static partial void libxl_childproc_setmode(LibxlContextHandle ctx, LibxlChildprocHooks* hooks, nint user);

    [LibraryImport(Lib)]
    public static partial void libxl_childproc_sigchld_occurred(LibxlContextHandle ctx);

    [LibraryImport(Lib)]
    public static partial LibxlDomInfo* libxl_list_domain(LibxlContextHandle ctx, out int count);

    [LibraryImport(Lib)]
    public static partial void libxl_dominfo_list_free(LibxlDomInfo* list, int count);

    [LibraryImport(Lib)]
    public static partial byte* libxl_domid_to_name(LibxlContextHandle ctx, uint domid);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int libxl_name_to_domid(LibxlContextHandle ctx, string name, out uint domid);

    [LibraryImport(Lib)]
    public static partial void libxl_domain_config_init(byte* config);

    [LibraryImport(Lib)]
    public static partial void libxl_domain_config_dispose(byte* config);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int libxl_domain_config_from_json(LibxlContextHandle ctx, byte* config, string json);

    [LibraryImport(Lib)]
    public static partial byte* libxl_domain_config_to_json(LibxlContextHandle ctx, byte* config);

    [LibraryImport(Lib)]
    public static partial int libxl_retrieve_domain_configuration(LibxlContextHandle ctx, uint domid, byte* config, nint aoHow);

    [LibraryImport(Lib)]
    public static partial int libxl_domain_suspend(LibxlContextHandle ctx, uint domid, int fd, int flags, nint aoHow);

    [LibraryImport(Lib)]
    public static partial int libxl_domain_resume(LibxlContextHandle ctx, uint domid, int suspendCancel, nint aoHow);

    [LibraryImport(Lib)]
    public static partial int libxl_domain_destroy(LibxlContextHandle ctx, uint domid, nint aoHow);

    [LibraryImport(Lib)]
    public static partial int libxl_domain_pause(LibxlContextHandle ctx, uint domid, nint aoHow);

    [LibraryImport(Lib)]
    public static partial int libxl_domain_unpause(LibxlContextHandle ctx, uint domid, nint aoHow);

    [LibraryImport(Lib)]
    public static partial int libxl_domain_create_new(LibxlContextHandle ctx, byte* config, out uint domid, nint aoHow, nint aopConsoleHow);

    [LibraryImport(Lib)]
    public static partial int libxl_domain_create_restore(LibxlContextHandle ctx, byte* config, out uint domid, int restoreFd,
        int sendBackFd, LibxlDomainRestoreParams* parameters, nint aoHow, nint aopConsoleHow);

    /// <summary>A pointer into the context, valid while it lives; never freed here.</summary>
    [LibraryImport(Lib)]
    public static partial LibxlVersionInfoHead* libxl_get_version_info(LibxlContextHandle ctx);

    [LibraryImport(Lib)]
    public static partial int libxl_get_free_memory(LibxlContextHandle ctx, out ulong memKb);

    [LibraryImport(Lib)]
    public static partial void libxl_domain_restore_params_init(LibxlDomainRestoreParams* parameters);

    [LibraryImport(Lib)]
    public static partial void libxl_domain_restore_params_dispose(LibxlDomainRestoreParams* parameters);

    /// <summary>libxl's strings are malloc'd and must go back to the same allocator.</summary>
    [LibraryImport("libc")]
    public static partial void free(void* pointer);

    /// <summary>Takes and frees a malloc'd C string.</summary>
    public static string? TakeString(byte* value)
    {
        if (value is null) return null;
        try { return Utf8StringMarshaller.ConvertToManaged(value); }
        finally { free(value); }
    }
}

/// <summary>libxl_uuid: 16 octets, big-endian.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct LibxlUuid
{
    public fixed byte Bytes[16];
}

/// <summary>libxl_dominfo (_libxl_types.h); C bool is one byte.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LibxlDomInfo
{
    public LibxlUuid Uuid;
    public uint DomId;
    public uint SsidRef;
    public nint SsidLabel;
    public byte Running;
    public byte Blocked;
    public byte Paused;
    public byte Shutdown;
    public byte Dying;
    public byte NeverStop;
    public int ShutdownReason;
    public ulong OutstandingMemKb;
    public ulong CurrentMemKb;
    public ulong SharedMemKb;
    public ulong PagedMemKb;
    public ulong MaxMemKb;
    public ulong CpuTime;
    public uint VcpuMaxId;
    public uint VcpuOnline;
    public uint Cpupool;
    public byte GpaddrBits;
    public int DomainType;
}

/// <summary>The leading fields of libxl_version_info, read through the pointer libxl_get_version_info returns (libxl owns it).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LibxlVersionInfoHead
{
    public int XenVersionMajor;
    public int XenVersionMinor;
    public nint XenVersionExtra;
    public nint Compiler;
    public nint CompileBy;
    public nint CompileDomain;
    public nint CompileDate;
    public nint Capabilities;
    public nint Changeset;
    public ulong VirtStart;
    public int PageSize;
    public nint CommandLine;
}

/// <summary>libxl_domain_restore_params; libxl_defbool is a struct holding one int.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LibxlDomainRestoreParams
{
    public int CheckpointedStream;
    public uint StreamVersion;
    public nint ColoProxyScript;
    public int UserspaceColoProxy;
}

/// <summary>libxl_childproc_hooks (libxl_event.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LibxlChildprocHooks
{
    public int ChldOwner;
    public nint ForkReplacement;
    public nint ReapedCallback;
}

/// <summary>struct xentoollog_logger (xentoollog.h): the vtable libxl calls to log.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct XentoollogLogger
{
    public nint VMessage;
    public nint Progress;
    public nint Destroy;
}
