using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace XenIac.Core.IO;

/// <summary>
/// Writes big files (a restored domain's memory, a savefile being saved or pulled) around the page cache, with
/// O_DIRECT from aligned blocks on a thread of its own. Why: in a guest VM, copying a gigabyte into fresh page-cache
/// pages costs about two seconds of CPU (each new page is a fault on the hypervisor's side: 83% of a restore's
/// profile), while the disk takes the same gigabyte by DMA in 1.7 s; the copy also competes with everything else
/// the two cores do (the ssh channel of a remote restore). Here the caller fills one block while the previous ones
/// go to the disk, and the closing fsync has nothing left but metadata.
/// Where O_DIRECT is refused (tmpfs, another OS or architecture) <see cref="TryOpen"/> gives null and the caller
/// writes as before; a write the file system refuses part way switches the file back to ordinary writes.
/// </summary>
internal sealed unsafe class DirectBlockWriter : IDisposable
{
    /// <summary>Buffer address, file offset and length of every direct write are multiples of this.</summary>
    public const int Alignment = DirectIo.Alignment;

    /// <summary>One block: large writes for the disk, few hand-offs between the threads.</summary>
    public const int BlockBytes = 4 << 20;

    /// <summary>Blocks in use at once: one being filled, the rest queued for or under the write.</summary>
    private const int Blocks = 3;

    private readonly SafeFileHandle _file;
    private readonly BlockingCollection<Block> _free = new(Blocks);
    private readonly BlockingCollection<(Block Block, int Length, long Offset)> _queue = new(Blocks);
    private readonly List<Block> _all = [];
    private readonly Thread _thread;
    private readonly object _gate = new();
    private int _pending;
    private volatile Exception? _failure;
    private volatile bool _direct = true;
    private bool _disposed;

    /// <summary>One aligned buffer of <see cref="BlockBytes"/>.</summary>
    public sealed class Block
    {
        internal Block(byte* memory) => Memory = memory;
        internal byte* Memory { get; }
        public Span<byte> Span => new(Memory, BlockBytes);
    }

    private DirectBlockWriter(SafeFileHandle file)
    {
        _file = file;
        for (var i = 0; i < Blocks; i++)
        {
            var block = new Block((byte*)NativeMemory.AlignedAlloc(BlockBytes, Alignment));
            _all.Add(block);
            _free.Add(block);
        }
        _thread = new Thread(WriteLoop) { IsBackground = true, Name = "xen-iac direct writes" };
        _thread.Start();
    }

    /// <summary>A writer for <paramref name="file"/>, or null when it cannot be written with O_DIRECT here.</summary>
    public static DirectBlockWriter? TryOpen(SafeFileHandle file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return DirectIo.TryEnable(file) ? new DirectBlockWriter(file) : null;
    }

    /// <summary>A free block to fill, waiting while all are queued for the disk; rethrows a failed write.</summary>
    public Block Rent()
    {
        ThrowIfFailed();
        var block = _free.Take();
        ThrowIfFailed();
        return block;
    }

    /// <summary>
    /// Queues <paramref name="length"/> bytes of <paramref name="block"/> for the file at <paramref name="offset"/>;
    /// the block comes back to <see cref="Rent"/> once written. An unaligned length or offset (a file's tail) is
    /// written the ordinary way, and so is everything after it.
    /// </summary>
    public void Submit(Block block, int length, long offset)
    {
        ArgumentNullException.ThrowIfNull(block);
        ThrowIfFailed();
        if (length == 0)
        {
            _free.Add(block);
            return;
        }
        lock (_gate) _pending++;
        _queue.Add((block, length, offset));
    }

    /// <summary>Gives back a block that was rented and will not be submitted.</summary>
    public void Return(Block block) => _free.Add(block);

    /// <summary>
    /// Waits until everything submitted is written and turns O_DIRECT off again, so later ordinary writes to the
    /// file (a header patched in place) and its fsync behave as usual. Rethrows a failed write.
    /// </summary>
    public void Complete()
    {
        lock (_gate)
        {
            while (_pending > 0) Monitor.Wait(_gate);
        }
        if (_direct) EndDirect();
        ThrowIfFailed();
    }

    private void ThrowIfFailed()
    {
        if (_failure is { } failure) throw new IOException(failure.Message, failure);
    }

    private void WriteLoop()
    {
        foreach (var (block, length, offset) in _queue.GetConsumingEnumerable())
        {
            try
            {
                if (_failure is null) Write(new ReadOnlySpan<byte>(block.Memory, length), offset);
            }
#pragma warning disable CA1031 // Any failure is the caller's: kept and rethrown on its thread at its next call.
            catch (Exception e)
#pragma warning restore CA1031
            {
                _failure ??= e;
            }
            _free.Add(block);
            lock (_gate)
            {
                if (--_pending == 0) Monitor.PulseAll(_gate);
            }
        }
    }

    private void Write(ReadOnlySpan<byte> bytes, long offset)
    {
        if (_direct && (bytes.Length % Alignment != 0 || offset % Alignment != 0)) EndDirect();
        try
        {
            RandomAccess.Write(_file, bytes, offset);
        }
        catch (IOException) when (_direct)
        {
            // Some file systems take O_DIRECT at open and refuse the write (EINVAL): the same bytes the ordinary way.
            EndDirect();
            RandomAccess.Write(_file, bytes, offset);
        }
    }

    private void EndDirect()
    {
        _direct = false;
        DirectIo.Disable(_file);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _queue.CompleteAdding();
        _thread.Join();
        if (_direct) EndDirect();
        foreach (var block in _all) NativeMemory.AlignedFree(block.Memory);
        _queue.Dispose();
        _free.Dispose();
    }
}
