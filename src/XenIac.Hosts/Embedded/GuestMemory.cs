using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using XenIac.Core.IO;

namespace XenIac.Hosts.Embedded;

/// <summary>
/// The memory of an embedded domain. A freshly created domain's pages are a pure function of a seed (the name it
/// was created with) and the page number, so creating a 4 GiB domain costs nothing; once a domain is restored or
/// written to, its memory lives in a file beside its record.
/// </summary>
internal sealed class GuestMemory
{
    public const int PageSize = 4096;

    private readonly string _file;
    private readonly ulong _seed;
    private readonly CloneMemory? _clone;

    /// <param name="clone">A clone's shared base and own overlay; then <paramref name="file"/> is unused.</param>
    /// <param name="fileExpected">The record says the memory is in <paramref name="file"/>: its absence is an error.</param>
    public GuestMemory(string file, string seed, long pages, CloneMemory? clone = null, bool fileExpected = false)
    {
        _file = file;
        _seed = SeedOf(seed);
        Pages = pages;
        _clone = clone;
        _fileExpected = fileExpected && clone is null;
    }

    private readonly bool _fileExpected;

    /// <exception cref="XenHostException">The memory file the record promises is gone.</exception>
    private void CheckFileThere()
    {
        if (_fileExpected && !Path.Exists(_file))
            throw new XenHostException(XenHostError.OperationFailed,
                $"the memory file {_file} is missing (removed outside XenIac): the domain's memory is lost; destroy the domain and restore it from its savefile");
    }

    public long Pages { get; }

    /// <remarks>Anything at the memory file's path counts: a folder there is damage to report when it is read, not
    /// a sign that the memory is still the generated one (a save would have written generated pages).</remarks>
    public bool IsMaterialized => _clone is not null || Path.Exists(_file);

    /// <summary>FNV-1a: stable across processes and runtimes, unlike string.GetHashCode.</summary>
    public static ulong SeedOf(string seed)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(seed))
            hash = (hash ^ b) * 1099511628211UL;
        return hash;
    }

    /// <summary>Fills <paramref name="page"/> with the generated contents of page <paramref name="pfn"/>.</summary>
    /// <remarks>
    /// One splitmix64 step per page gives each page its own start; the words after it step by an odd constant,
    /// which vectorises, so generating memory is far faster than the disk it is saved to.
    /// </remarks>
    public static void Generate(ulong seed, ulong pfn, Span<byte> page)
    {
        var z = seed ^ (pfn * 0x9E3779B97F4A7C15UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;

        var words = MemoryMarshal.Cast<byte, ulong>(page);
        const ulong step = 0xD1B54A32D192ED03UL;
        var lanes = Vector<ulong>.Count;
        Span<ulong> first = stackalloc ulong[lanes];
        for (var l = 0; l < lanes; l++) first[l] = z + (ulong)l * step;
        var current = new Vector<ulong>(first);
        var stride = new Vector<ulong>((ulong)lanes * step);
        var i = 0;
        for (; i <= words.Length - lanes; i += lanes)
        {
            current.CopyTo(words[i..]);
            current += stride;
        }
        for (; i < words.Length; i++) words[i] = z + (ulong)i * step;
        // A readable stamp helps when looking at a savefile with a hex viewer.
        BinaryPrimitives.WriteUInt64LittleEndian(page, pfn);
    }

    /// <summary>Reads pages [<paramref name="firstPfn"/>, +count) into <paramref name="buffer"/>.</summary>
    public void Read(Stream? file, ulong firstPfn, int count, Span<byte> buffer)
    {
        if (file is not null)
        {
            file.Position = (long)firstPfn * PageSize;
            file.ReadExactly(buffer[..(count * PageSize)]);
            return;
        }
        for (var i = 0; i < count; i++)
            Generate(_seed, firstPfn + (ulong)i, buffer.Slice(i * PageSize, PageSize));
    }

    /// <summary>Opens the memory file for reading, or null when the memory is still the generated one.</summary>
    /// <exception cref="XenHostException">The file holds fewer bytes than the domain has pages (cut outside XenIac).</exception>
    public Stream? OpenRead()
    {
        if (_clone is not null) return _clone.OpenRead();
        CheckFileThere();
        if (!IsMaterialized) return null;
        var stream = DirectReadStream.Open(_file);
        // Said here, of the file: found by the image writer, it was "The memory stream ended … (Parameter 'd')".
        if (stream.Length < Pages * PageSize)
        {
            var length = stream.Length;
            stream.Dispose();
            throw new XenHostException(XenHostError.OperationFailed,
                $"the memory file {_file} holds {length:N0} bytes, fewer than the {Pages * PageSize:N0} of the domain's {Pages:N0} pages (it was cut or changed outside XenIac)");
        }
        return stream;
    }

    /// <summary>Copies the whole memory, from the file or generated, to <paramref name="destination"/>.</summary>
    public async Task CopyToAsync(Stream destination, CancellationToken cancellationToken)
    {
        await using var file = OpenRead();
        var buffer = new byte[256 * PageSize];
        for (long pfn = 0; pfn < Pages; pfn += 256)
        {
            var n = (int)Math.Min(256, Pages - pfn);
            Read(file, (ulong)pfn, n, buffer);
            await destination.WriteAsync(buffer.AsMemory(0, n * PageSize), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Writes the generated memory to the file so that it can be changed in place.</summary>
    public async Task MaterializeAsync(CancellationToken cancellationToken)
    {
        CheckFileThere();
        if (IsMaterialized) return;
        var temp = Core.IO.AtomicFile.TempPathFor(_file);
        await using (var output = Core.IO.AtomicFile.CreatePrivateOverwrite(temp))
        {
            await CopyToAsync(output, cancellationToken).ConfigureAwait(false);
            await output.FlushAsync(cancellationToken).ConfigureAwait(false);
            output.Flush(flushToDisk: true);
        }
        File.Move(temp, _file, overwrite: true);
    }

    /// <summary>Writes into the memory as a running guest would: a clone into its overlay, any other domain into its (materialized) file.</summary>
    public async Task WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (_clone is not null)
        {
            await _clone.WriteAsync(offset, data, cancellationToken).ConfigureAwait(false);
            return;
        }
        await MaterializeAsync(cancellationToken).ConfigureAwait(false);
        await using var file = new FileStream(_file, FileMode.Open, FileAccess.Write, FileShare.None);
        file.Position = offset;
        await file.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        file.Flush(flushToDisk: true);
    }
}
