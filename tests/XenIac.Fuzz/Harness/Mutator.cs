using System.Buffers.Binary;
using System.Text;

namespace XenIac.Fuzz;

/// <summary>
/// Deterministic input mutator for the mutation tests: from a seed corpus and a fixed <see cref="Random"/> seed it
/// makes the same inputs on every machine. Each input stacks 1 to 4 of: bit flips, interesting bytes and 16/32/64-bit
/// values (0, -1, maxima, sign bits, lengths), byte inserts and deletes, splices of two seeds, a chunk repeated many
/// times, deep nesting of the format's brackets, long runs of one byte, the format's tokens, truncation.
/// </summary>
/// <param name="maxDepth">Deepest bracket nesting made on purpose (lower it to look past a known stack overflow).</param>
public sealed class Mutator(IReadOnlyList<byte[]> seeds, IReadOnlyList<byte[]> tokens, int seed, int maxLength = 256 * 1024, int maxDepth = 20_000)
{
    private static readonly ulong[] Interesting =
    [
        0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 511, 512, 1023, 1024, 4095, 4096, 4097, 65535, 65536,
        0x7fff, 0x8000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x100000000, 0x7fffffffffffffff, 0x8000000000000000,
        ulong.MaxValue, ulong.MaxValue - 1, 0xffffff00, 0x10000000,
        // Lengths and counts just inside the format's own limits (128 MiB records): big enough to break the
        // allocation bound if a reader trusts them before the bytes arrive.
        0x00100000, 0x00800000, 0x01000000, 0x04000000, 0x07fffff8, 0x08000000, 0x00200000,
    ];

    private static readonly byte[][] Openers = [.. new[] { "[", "{", "{\"a\":", "[[", "- ", "a: ", "{a: ", "- [" }.Select(Encoding.ASCII.GetBytes)];
    private static readonly byte[] RunBytes = "a0 \"'\\[{#\n\t-:,\0\u00ff"u8.ToArray();

    private readonly Random _random = new(seed);

    public byte[] Next()
    {
        var input = seeds[_random.Next(seeds.Count)];
        var steps = 1 + _random.Next(4);
        for (var i = 0; i < steps; i++) input = MutateOnce(input);
        return input.Length <= maxLength ? input : input[..maxLength];
    }

    private byte[] MutateOnce(byte[] input)
    {
        var buffer = new List<byte>(input);
        switch (_random.Next(tokens.Count > 0 ? 12 : 11))
        {
            case 0: // bit flips
                for (int i = 0, n = 1 + _random.Next(8); i < n && buffer.Count > 0; i++)
                    buffer[_random.Next(buffer.Count)] ^= (byte)(1 << _random.Next(8));
                break;
            case 1: // an interesting byte
                if (buffer.Count > 0) buffer[_random.Next(buffer.Count)] = (byte)Interesting[_random.Next(Interesting.Length)];
                break;
            case 2: // an interesting 16/32/64-bit value, either byte order, over existing bytes (length fields, counts)
                return OverwriteWord(input);
            case 3: // insert random bytes
            {
                var bytes = new byte[1 + _random.Next(16)];
                _random.NextBytes(bytes);
                buffer.InsertRange(_random.Next(buffer.Count + 1), bytes);
                break;
            }
            case 4: // delete a range
                if (buffer.Count > 0)
                {
                    var at = _random.Next(buffer.Count);
                    buffer.RemoveRange(at, Math.Min(buffer.Count - at, 1 + _random.Next(Math.Max(1, buffer.Count / 8))));
                }
                break;
            case 5: // splice: this input's head, another seed's tail
            {
                var other = seeds[_random.Next(seeds.Count)];
                var head = _random.Next(input.Length + 1);
                var tail = _random.Next(other.Length + 1);
                return [.. input.AsSpan(0, head), .. other.AsSpan(tail)];
            }
            case 6: // repeat a chunk many times
            {
                if (buffer.Count == 0) break;
                var at = _random.Next(buffer.Count);
                var chunk = buffer.GetRange(at, Math.Min(buffer.Count - at, 1 + _random.Next(64)));
                var times = 2 + _random.Next(_random.Next(2) == 0 ? 16 : Math.Min(2048, maxDepth));
                var repeated = new List<byte>(chunk.Count * times);
                for (var i = 0; i < times && repeated.Count < maxLength; i++) repeated.AddRange(chunk);
                buffer.InsertRange(at, repeated);
                break;
            }
            case 7: // deep nesting of brackets (closed or not)
            {
                var opener = Openers[_random.Next(Openers.Length)];
                var depth = 1 + _random.Next(_random.Next(2) == 0 ? Math.Min(64, maxDepth) : maxDepth);
                var nest = new List<byte>(opener.Length * depth);
                for (var i = 0; i < depth && nest.Count < maxLength; i++) nest.AddRange(opener);
                buffer.InsertRange(_random.Next(buffer.Count + 1), nest);
                break;
            }
            case 8: // a long run of one byte
            {
                var b = _random.Next(3) == 0 ? (byte)_random.Next(256) : RunBytes[_random.Next(RunBytes.Length)];
                buffer.InsertRange(_random.Next(buffer.Count + 1), Enumerable.Repeat(b, 1 + _random.Next(_random.Next(2) == 0 ? 256 : 65_536)));
                break;
            }
            case 9: // truncate
                return input.Length > 0 ? input[.._random.Next(input.Length)] : input;
            case 10: // a byte copied from elsewhere (keeps alphabets)
                if (buffer.Count > 1) buffer[_random.Next(buffer.Count)] = buffer[_random.Next(buffer.Count)];
                break;
            default: // a token of the format
            {
                var token = tokens[_random.Next(tokens.Count)];
                var at = _random.Next(buffer.Count + 1);
                if (_random.Next(2) == 0 && at < buffer.Count) buffer.RemoveRange(at, Math.Min(buffer.Count - at, token.Length));
                buffer.InsertRange(at, token);
                break;
            }
        }
        return [.. buffer];
    }

    private byte[] OverwriteWord(byte[] input)
    {
        var size = new[] { 2, 4, 8 }[_random.Next(3)];
        if (input.Length < size) return input;
        var output = (byte[])input.Clone();
        var at = _random.Next(input.Length - size + 1);
        // Savefile and stream fields sit on 4- or 8-byte boundaries most of the time.
        if (_random.Next(2) == 0) at &= ~(size - 1);
        var value = Interesting[_random.Next(Interesting.Length)];
        if (_random.Next(4) == 0) value = (ulong)(input.Length + _random.Next(-8, 9));
        Span<byte> bytes = stackalloc byte[8];
        if (_random.Next(2) == 0) BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        else BinaryPrimitives.WriteUInt64BigEndian(bytes, value << (64 - size * 8));
        bytes[..size].CopyTo(output.AsSpan(at));
        return output;
    }
}
