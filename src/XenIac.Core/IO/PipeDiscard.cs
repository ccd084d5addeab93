using System.Runtime.InteropServices;

namespace XenIac.Core.IO;

/// <summary>
/// Drops bytes of a pipe without handing them to user space: splice from the pipe into /dev/null, which takes the
/// pages and copies nothing. Skipping guest pages a verification does not read (most of a savefile) from a pipe used
/// to read them into a scratch buffer, one more copy of every byte than `cat` makes.
/// </summary>
internal static partial class PipeDiscard
{
    private const long MaxPerCall = 1L << 30;
    private static SafeHandle? s_null;

    /// <summary>
    /// Drops up to <paramref name="count"/> bytes of <paramref name="stream"/> where it is (or ends in) an
    /// <see cref="UnbufferedPipe"/>; returns how many were dropped: 0 at the end of the stream, and 0 where this stream
    /// cannot drop bytes (then the caller reads them).
    /// </summary>
    public static long TryDiscard(Stream stream, long count)
    {
        if (count <= 0 || !OperatingSystem.IsLinux()) return 0;
        switch (stream)
        {
            case IDiscardingStream view:
                return view.Discard(count);
            case UnbufferedPipe pipe:
            {
                var sink = NullDevice();
                if (sink is null) return 0;
                pipe.WaitUntilReadable(); // splice waits in the kernel as a read does
                var n = Libc.Splice((int)pipe.SafeFileHandle.DangerousGetHandle(), 0, (int)sink.DangerousGetHandle(), 0,
                    (nuint)Math.Min(count, MaxPerCall), 0);
                return n > 0 ? n : 0;
            }
            default:
                return 0;
        }
    }

    private static SafeHandle? NullDevice()
    {
        if (s_null is { } open) return open;
        try
        {
            var handle = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Write);
            if (Interlocked.CompareExchange(ref s_null, handle, null) is { } other) { handle.Dispose(); return other; }
            return handle;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

}

/// <summary>A view over another stream (a savefile's image) that passes <see cref="PipeDiscard.TryDiscard"/> on to it.</summary>
internal interface IDiscardingStream
{
    /// <summary>Drops up to <paramref name="count"/> bytes as <see cref="PipeDiscard.TryDiscard"/> does; 0 where it cannot.</summary>
    long Discard(long count);
}
