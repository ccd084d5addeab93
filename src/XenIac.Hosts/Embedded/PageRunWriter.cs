using XenIac.Core.IO;

namespace XenIac.Hosts.Embedded;

/// <summary>
/// Writes restored pages into a memory file in runs: pages arrive one by one (4 KiB each) but mostly in ascending,
/// contiguous order, so consecutive ones are gathered and written with one positioned write per run (up to
/// <see cref="RunBytes"/>). One write per page was 65,536 system calls for 256 MiB, most of a restore's time.
/// Runs go to the disk directly from aligned blocks while the next run is gathered (<see cref="DirectBlockWriter"/>)
/// where the file system allows it, else through the memory file's stream.
/// </summary>
internal sealed class PageRunWriter : IDisposable
{
    private const int RunBytes = DirectBlockWriter.BlockBytes;

    private readonly FileStream _file;
    private readonly DirectBlockWriter? _direct;
    private readonly byte[]? _run;
    private DirectBlockWriter.Block? _block;
    private long _runStart = -1;
    private int _runLength;

    /// <param name="allowDirect">False keeps the writes in the page cache (tests compare both ways).</param>
    public PageRunWriter(FileStream file, bool allowDirect = true)
    {
        _file = file;
        _direct = allowDirect ? DirectBlockWriter.TryOpen(file.SafeFileHandle) : null;
        if (_direct is null) _run = System.Buffers.ArrayPool<byte>.Shared.Rent(RunBytes);
    }

    public void Write(ulong pfn, ReadOnlySpan<byte> contents)
    {
        var offset = (long)pfn * GuestMemory.PageSize;
        if (_runStart < 0 || offset != _runStart + _runLength || _runLength + contents.Length > RunBytes)
        {
            EndRun();
            _runStart = offset;
        }
        var buffer = _direct is null ? _run.AsSpan() : (_block ??= _direct.Rent()).Span;
        contents.CopyTo(buffer[_runLength..]);
        _runLength += contents.Length;
    }

    /// <summary>Writes what is gathered and waits until every run is in the file (call before syncing it).</summary>
    public void Flush()
    {
        EndRun();
        _direct?.Complete();
    }

    private void EndRun()
    {
        if (_runLength > 0)
        {
            if (_direct is not null)
            {
                _direct.Submit(_block!, _runLength, _runStart);
                _block = null;
            }
            else
            {
                // Through the stream, not a positioned write on its handle: the memory file's stream starts the
                // disk writing as the bytes arrive (see AtomicFile), so the closing fsync has little left to wait for.
                _file.Position = _runStart;
                _file.Write(_run.AsSpan(0, _runLength));
            }
        }
        _runStart = -1;
        _runLength = 0;
    }

    public void Dispose()
    {
        if (_direct is not null)
        {
            if (_block is not null) _direct.Return(_block);
            _direct.Dispose();
        }
        else
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(_run!);
        }
    }
}
