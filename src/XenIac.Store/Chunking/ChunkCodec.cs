using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using ZstdNet;

namespace XenIac.Store.Chunking;

/// <summary>
/// Names, compresses and (with a key) encrypts chunks, and undoes it. One instance per worker thread: the zstd
/// contexts are not thread-safe.
/// </summary>
/// <remarks>
/// A stored chunk is one byte saying how its payload is coded, then the payload: 0 = stored as is (zstd did not
/// make it smaller), 1 = zstd frame, 0x10 = AES-256-GCM envelope (12-byte nonce, 16-byte tag, then an inner
/// stored chunk encrypted). A chunk's name is the BLAKE3 hash of its raw bytes, or with a key their keyed BLAKE3
/// (a MAC), so a damaged chunk is found by hashing it again. BLAKE3 rather than SHA-256: every byte of a push, pull
/// and verify is named, and on 64 KiB chunks BLAKE3 ran at 6.7 GB/s against SHA-256's 1.6 (with SHA-NI) on this
/// CPU (the store-codecs benchmark prints both). The whole file keeps its SHA-256, which users compare with sha256sum.
/// </remarks>
public sealed class ChunkCodec : IDisposable
{
    public const int DigestLength = 32;
    private const byte Stored = 0, Zstd = 1, Sealed = 0x10;
    private const int NonceLength = 12, TagLength = 16;

    /// <summary>zstd's fastest level: guest memory is mostly incompressible or mostly zeros, and level 1 finds both.</summary>
    /// <remarks>
    /// The native libzstd (ZstdNet, which ships it for linux-x64/arm64) rather than the managed port: warmed up on
    /// 64 KiB chunks it was 1.08× faster on random data and 1.28× on text, slower only on zeros (0.88×), which
    /// both compress at over 16 GB/s anyway (the store-codecs benchmark prints the comparison).
    /// </remarks>
    public const int CompressionLevel = 1;

    private readonly StoreKey? _key;
    private readonly Compressor _compressor;
    private readonly Decompressor _decompressor;
    private readonly AesGcm? _aes;

    /// <exception cref="StoreException">libzstd cannot be loaded (<see cref="StoreError.Unavailable"/>).</exception>
    public ChunkCodec(StoreKey? key)
    {
        ZstdLibrary.EnsureResolver();
        try
        {
            _compressor = new Compressor(new CompressionOptions(CompressionLevel));
            _decompressor = new Decompressor();
        }
        catch (DllNotFoundException e)
        {
            // A copied binary without the libzstd.so the tool ships beside it, on a system without libzstd1.
            throw new StoreException(StoreError.Unavailable,
                $"cannot load the zstd library the store compresses with: neither {ZstdLibrary.Shipped} beside xen-iac nor the system's {ZstdLibrary.SystemCopy} " +
                "(Debian and Ubuntu: apt install libzstd1; or keep the libzstd.so that comes with xen-iac beside it)", e);
        }
        _key = key;
        if (key is not null) _aes = new AesGcm(key.EncryptionKey, TagLength);
    }

    /// <summary>The chunk's name (hex).</summary>
    public string Name(ReadOnlySpan<byte> raw)
    {
        Span<byte> digest = stackalloc byte[DigestLength];
        if (_key is null) Blake3.Hasher.Hash(raw, digest);
        else
        {
            using var keyed = Blake3.Hasher.NewKeyed(_key.NameKey);
            keyed.Update(raw);
            keyed.Finalize(digest);
        }
        return Convert.ToHexStringLower(digest);
    }

    /// <summary>
    /// The stored form of <paramref name="raw"/>: its coding byte, then a body that is <paramref name="raw"/> itself
    /// (stored as is) or lies in this codec's own buffers, valid until its next Encode. No copy and no allocation per
    /// chunk: a push of 4 GiB codes 65,536 chunks, and a fresh 64 KiB array each (plus a copy of every
    /// incompressible one) cost a tenth of its time in the collector and in memcpy.
    /// </summary>
    public EncodedChunk Encode(ReadOnlyMemory<byte> raw)
    {
        var bound = (int)Compressor.GetCompressBoundLong((ulong)raw.Length);
        var packed = Grow(ref _packed, bound);
        var n = LooksIncompressible(raw.Span, packed) ? int.MaxValue : _compressor.Wrap(raw.Span, packed);
        var (coding, body) = n < raw.Length ? (Zstd, packed.AsMemory(0, n)) : (Stored, raw);
        if (_aes is null) return new EncodedChunk(coding, body);
        var plain = Grow(ref _plain, 1 + body.Length);
        plain[0] = coding;
        body.Span.CopyTo(plain.AsSpan(1));
        var envelope = Grow(ref _sealed, NonceLength + TagLength + 1 + body.Length);
        var nonce = envelope.AsSpan(0, NonceLength);
        RandomNumberGenerator.Fill(nonce);
        _aes.Encrypt(nonce, plain.AsSpan(0, 1 + body.Length), envelope.AsSpan(NonceLength + TagLength, 1 + body.Length), envelope.AsSpan(NonceLength, TagLength));
        return new EncodedChunk(Sealed, envelope.AsMemory(0, NonceLength + TagLength + 1 + body.Length));
    }

    /// <summary>The stored form of <paramref name="raw"/> as one new array (recipes, tests).</summary>
    public byte[] EncodeToArray(ReadOnlyMemory<byte> raw)
    {
        var coded = Encode(raw);
        var stored = new byte[coded.Length];
        coded.CopyTo(stored);
        return stored;
    }

    private static byte[] Grow(ref byte[]? buffer, int length) =>
        buffer is { } b && b.Length >= length ? b : buffer = new byte[Math.Max(length, 64 << 10)];

    private byte[]? _packed, _plain, _sealed;

    /// <summary>
    /// An early abort, as file systems that compress do it: when neither the first nor the middle page of a chunk
    /// shrinks by <see cref="ProbeSaving"/>, the chunk is almost surely random (encrypted or already compressed guest
    /// data) and zstd would spend a whole pass to learn the same. Two probe pages cost an eighth of that pass; a
    /// chunk misjudged is stored whole, which costs space, never correctness.
    /// </summary>
    private bool LooksIncompressible(ReadOnlySpan<byte> raw, byte[] scratch)
    {
        if (raw.Length < 4 * ProbeBytes) return false;
        var limit = ProbeBytes - ProbeBytes * ProbeSaving / 100;
        return _compressor.Wrap(raw[..ProbeBytes], scratch) >= limit
               && _compressor.Wrap(raw.Slice(raw.Length / 2 / ProbeBytes * ProbeBytes, ProbeBytes), scratch) >= limit;
    }

    private const int ProbeBytes = 4096;
    private const int ProbeSaving = 3;

    /// <summary>
    /// Decodes a stored chunk into <paramref name="raw"/> (exactly its raw length) and checks its name.
    /// </summary>
    /// <exception cref="StoreException">Damaged (or the wrong key): the message names the chunk.</exception>
    public void Decode(string name, ReadOnlySpan<byte> stored, Span<byte> raw)
    {
        {
            if (stored.IsEmpty) throw Damaged(name, "it is empty");
            byte[]? opened = null;
            if (stored[0] == Sealed)
            {
                if (_aes is null) throw new StoreException(StoreError.Key, $"chunk {name} is encrypted; give the store's key (--key FILE)");
                opened = Open(name, stored);
                stored = opened;
            }
            else if (_aes is not null)
            {
                throw Damaged(name, "it is not encrypted although the store is");
            }
            switch (stored[0])
            {
                case Stored:
                    if (stored.Length - 1 != raw.Length) throw Damaged(name, $"it holds {stored.Length - 1} bytes, the snapshot expects {raw.Length}");
                    stored[1..].CopyTo(raw);
                    break;
                case Zstd:
                    int n;
                    try { n = _decompressor.Unwrap(stored[1..], raw, bufferSizePrecheck: true); }
                    catch (ZstdException e) { throw Damaged(name, $"its zstd data does not decode to the {raw.Length} bytes the snapshot expects ({e.Message})"); }
                    if (n != raw.Length) throw Damaged(name, $"it decompresses to {n} bytes, the snapshot expects {raw.Length}");
                    break;
                default:
                    throw Damaged(name, $"its coding byte is 0x{stored[0]:x2}");
            }
        }
        if (Name(raw) != name) throw Damaged(name, "its contents do not hash to its name");
    }

    private byte[] Open(string name, ReadOnlySpan<byte> stored)
    {
        if (stored.Length < 1 + NonceLength + TagLength + 1) throw Damaged(name, "its encryption envelope is cut short");
        var plain = new byte[stored.Length - 1 - NonceLength - TagLength];
        try
        {
            _aes!.Decrypt(stored.Slice(1, NonceLength), stored[(1 + NonceLength + TagLength)..], stored.Slice(1 + NonceLength, TagLength), plain);
        }
        catch (AuthenticationTagMismatchException)
        {
            throw Damaged(name, "it fails authentication (damaged, or encrypted with another key)");
        }
        return plain;
    }

    private static StoreException Damaged(string name, string why) => new(StoreError.Damaged, $"chunk {name} is damaged: {why}");

    public void Dispose()
    {
        (_compressor as IDisposable)?.Dispose();
        _decompressor.Dispose();
        _aes?.Dispose();
    }
}

/// <summary>A chunk's stored form: <see cref="Coding"/> then <see cref="Body"/>.</summary>
public readonly record struct EncodedChunk(byte Coding, ReadOnlyMemory<byte> Body)
{
    public int Length => 1 + Body.Length;

    public void CopyTo(Span<byte> destination)
    {
        destination[0] = Coding;
        Body.Span.CopyTo(destination[1..]);
    }
}

/// <summary>
/// Where ZstdNet's libzstd comes from: the copy shipped beside the tool (its package's runtimes folder, or beside a
/// NativeAOT binary), else the system's libzstd.so.1, which most Linux systems have (dpkg itself needs it on
/// Debian). Without the second, a NativeAOT binary copied alone to another folder crashed on its first store command.
/// </summary>
internal static class ZstdLibrary
{
    public const string Shipped = "libzstd.so";
    public const string SystemCopy = "libzstd.so.1";

    private static int _set;

    public static void EnsureResolver()
    {
        if (Interlocked.Exchange(ref _set, 1) != 0) return;
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(Compressor).Assembly, Resolve);
        }
        catch (InvalidOperationException)
        {
            // Someone (a host application) set a resolver for ZstdNet first: theirs decides.
        }
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (!name.StartsWith("libzstd", StringComparison.Ordinal)) return 0;
        if (NativeLibrary.TryLoad(name, assembly, path, out var shipped)) return shipped;
        return OperatingSystem.IsLinux() && NativeLibrary.TryLoad(SystemCopy, out var system) ? system : 0;
    }
}
