using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.InteropServices.Marshalling;

namespace XenIac.Hosts.Libxl;

/// <summary>
/// A xentoollog logger implemented in managed code, so libxl's own explanations ("cannot open libxc handle: No such
/// file or directory") can go into the exception message instead of onto stderr. libxl may log from any thread
/// that drives its event loop (including the SIGCHLD thread), so messages go into one numbered ring and a failed
/// call takes the messages numbered after its start.
/// </summary>
internal static unsafe partial class LibxlLog
{
    private const int XTL_WARN = 7;
    private const int RingSize = 64;
    private const int MessageBufferSize = 2048;

    private static readonly Lock Gate = new();
    private static readonly (long Seq, string Text)[] Ring = new (long, string)[RingSize];
    private static long _next = 1;
    private static XentoollogLogger* _logger;

    /// <summary>The logger to hand to libxl_ctx_alloc; it lives as long as the process.</summary>
    public static XentoollogLogger* Logger
    {
        get
        {
            lock (Gate)
            {
                if (_logger is null)
                {
                    var logger = (XentoollogLogger*)NativeMemory.AllocZeroed((nuint)sizeof(XentoollogLogger));
                    logger->VMessage = (nint)(delegate* unmanaged<nint, int, int, byte*, byte*, nint, void>)&VMessage;
                    logger->Destroy = (nint)(delegate* unmanaged<nint, void>)&Destroy;
                    _logger = logger;
                }
                return _logger;
            }
        }
    }

    /// <summary>A point in the log; <see cref="ErrorsSince"/> returns what was logged after it.</summary>
    public static long Mark()
    {
        lock (Gate) return _next;
    }

    public static IReadOnlyList<string> ErrorsSince(long mark, int max = 3)
    {
        lock (Gate)
        {
            var found = Ring.Where(e => e.Text is not null && e.Seq >= mark).OrderBy(e => e.Seq).Select(e => e.Text).ToList();
            return found.Count <= max ? found : found[^max..];
        }
    }

    internal static void Add(string text)
    {
        lock (Gate)
        {
            var seq = _next++;
            Ring[seq % RingSize] = (seq, text);
        }
    }

    [UnmanagedCallersOnly]
    private static void VMessage(nint logger, int level, int errnoval, byte* context, byte* format, nint args)
    {
        if (level < XTL_WARN) return;
        try
        {
            // On x86_64 and arm64 a va_list parameter arrives as a pointer, which vsnprintf takes as it is.
            var buffer = stackalloc byte[MessageBufferSize];
            var n = vsnprintf(buffer, MessageBufferSize, format, args);
            var text = n < 0 ? "(unformattable message)" : Utf8StringMarshaller.ConvertToManaged(buffer) ?? "";
            var prefix = context is null ? "" : Utf8StringMarshaller.ConvertToManaged(context) + ": ";
            var suffix = errnoval >= 0 ? ": " + Marshal.GetPInvokeErrorMessage(errnoval) : "";
            Add(prefix + text.Trim() + suffix);
        }
        catch (Exception)
        {
            // An exception must not unwind into libxl's C frames; losing one log line is the lesser harm.
        }
    }

    [UnmanagedCallersOnly]
    private static void Destroy(nint logger) { }

    [LibraryImport("libc")]
    private static partial int vsnprintf(byte* buffer, nuint size, byte* format, nint args);
}
