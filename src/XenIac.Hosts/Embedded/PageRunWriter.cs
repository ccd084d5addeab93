using Microsoft.Win32.SafeHandles;

namespace XenIac.Hosts.Embedded;

/// <summary>
/// Writes restored pages into a memory file in runs: pages arrive one by one (4 KiB each) but mostly in ascending,
/// contiguous order, so consecutive ones are gathered and written with one positioned write per run (up to
/// <see cref="RunBytes"/>). One write per page was 65,536 system calls for 256 MiB, most of a restore's time.
/// </summary>
internal sealed class PageRunWriter(SafeFileHandle file) : IDisposable
{
    private const int RunBytes = 4 << 20;

    private readonly byte[] _run = System.Buffers.ArrayPool<byte>.Shared.Rent(RunBytes);
    private long _runStart = -1;
    private int _runLength;

    public void Write(ulong pfn, ReadOnlySpan<byte> contents)
    {
        var offset = (long)pfn * GuestMemory.PageSize;
        if (_runStart < 0 || offset != _runStart + _runLength || _runLength + contents.Length > _run.Length)
        {
            Flush();
            _runStart = offset;
        }
        contents.CopyTo(_run.AsSpan(_runLength));
        _runLength += contents.Length;
    }

    /// <summary>Writes the gathered run (call before syncing the file).</summary>
    public void Flush()
    {
        if (_runLength > 0) RandomAccess.Write(file, _run.AsSpan(0, _runLength), _runStart);
        _runStart = -1;
        _runLength = 0;
    }

    public void Dispose() => System.Buffers.ArrayPool<byte>.Shared.Return(_run);
}
