namespace XenIac.Fuzz;

/// <summary>
/// One fuzz target: feeds untrusted bytes to a parser the way the tool does and checks what may come out. Shared
/// by the AFL harness (tests/XenIac.Fuzz) and the deterministic mutation tests (compiled into the test projects).
/// </summary>
/// <remarks>
/// A target lets through only the exception types the parser documents for bad input (<see cref="Documented"/>,
/// all <see cref="XenIac.Core.XenIacException"/> subclasses); anything else, and any broken invariant
/// (<see cref="FuzzInvariantException"/>), is a finding. Work is counted, never timed: binary targets count the
/// bytes and calls that reach their <see cref="CountingStream"/>, text targets the characters their serializers
/// produce and the items they walk (<see cref="WorkMeter"/>).
/// </remarks>
public abstract class FuzzTarget
{
    /// <summary>The name used on the command line, in the corpus folders and in findings.</summary>
    public abstract string Name { get; }

    /// <summary>Exception types bad input may raise (exact types: subclasses of these count too).</summary>
    public abstract IReadOnlyList<Type> Documented { get; }

    /// <summary>Tokens the mutator splices in (the format's punctuation and keywords); empty for binary formats.</summary>
    public virtual IReadOnlyList<byte[]> Tokens => [];

    /// <summary>Parses <paramref name="input"/> and checks the target's invariants; counts its work on <paramref name="meter"/>.</summary>
    public abstract void Run(byte[] input, WorkMeter meter);

    /// <summary>Small valid inputs, run before anything is measured so one-time static setup is not charged to an input.</summary>
    public abstract IEnumerable<byte[]> WarmUpInputs();

    public bool IsDocumented(Exception e) => Documented.Any(t => t.IsInstanceOfType(e));

    /// <summary>
    /// Runs one independent pass (e.g. the seekable one) so that its documented rejection does not keep the next
    /// pass (e.g. the unseekable one, which takes other code paths) from running.
    /// </summary>
    protected void Pass(Action pass)
    {
        try { pass(); }
        catch (Exception e) when (IsDocumented(e)) { }
    }

    public static IReadOnlyList<FuzzTarget> CoreTargets { get; } =
        [new SavefileTarget(), new ImageTarget(), new XlCfgTarget(), new JsonConfigTarget()];
}

/// <summary>A target's own check failed: its output did not read back, a round trip changed something, and so on.</summary>
public sealed class FuzzInvariantException(string message) : Exception(message);

/// <summary>An input cost more than <see cref="FuzzBounds"/> allows (allocation or counted work).</summary>
public sealed class FuzzBoundException(string message) : Exception(message);

/// <summary>Work units an input cost; see <see cref="FuzzTarget"/> for what each target counts.</summary>
public sealed class WorkMeter
{
    public long Units { get; private set; }

    public void Add(long units) => Units += units;
}

/// <summary>
/// The per-input limits every target must stay within, for input of n bytes:
/// allocated bytes (GC.GetAllocatedBytesForCurrentThread) at most <see cref="AllocPerByte"/> * n + <see cref="AllocFixed"/>,
/// work units at most <see cref="WorkPerByte"/> * n + <see cref="WorkFixed"/>.
/// </summary>
/// <remarks>
/// Why these numbers: a target runs its parser several times per input (savefile and image: seekable and unseekable
/// sources, strict and lenient; configs: parse, model, two serializers, re-parse), each pass holding a few UTF-16 or
/// node copies of the input, hence 256 bytes per input byte. The fixed part covers buffers whose size does not
/// depend on the input at all: the image reader's 1 MiB skip buffer (unseekable passes), its pfn array, the
/// verifier's page buffer, a domain's JSON with up to 4096 vCPU entries. Anything that allocates in proportion to
/// a length FIELD (a lying header) rather than to the bytes actually present breaks the bound at once, since the
/// largest field values are gigabytes. Work: each pass may touch each byte a small constant number of times.
/// </remarks>
public static class FuzzBounds
{
    public const long AllocPerByte = 256;
    public const long AllocFixed = 8L << 20;
    public const long WorkPerByte = 64;
    public const long WorkFixed = 1L << 20;

    public static long MaxAllocation(int inputLength) => AllocPerByte * inputLength + AllocFixed;

    public static long MaxWork(int inputLength) => WorkPerByte * inputLength + WorkFixed;
}

/// <summary>Runs one input through a target and enforces the documented exceptions and the bounds.</summary>
public static class FuzzRunner
{
    /// <summary>
    /// The outcome of one input: null when it passed (parsed, or rejected with a documented exception), otherwise
    /// the finding. Never throws for a finding, so callers decide (AFL rethrows, the tests collect).
    /// </summary>
    public static Exception? Check(FuzzTarget target, byte[] input, out long allocated, out long work)
    {
        var meter = new WorkMeter();
        Exception? finding = null;
        var before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            target.Run(input, meter);
        }
        catch (Exception e) when (target.IsDocumented(e))
        {
            // Bad input, reported as documented.
        }
        catch (Exception e)
        {
            finding = e;
        }
        allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        work = meter.Units;
        if (finding is not null) return finding;
        if (allocated > FuzzBounds.MaxAllocation(input.Length))
            return new FuzzBoundException($"{target.Name}: input of {input.Length} bytes allocated {allocated} bytes " +
                                          $"(bound {FuzzBounds.MaxAllocation(input.Length)})");
        if (work > FuzzBounds.MaxWork(input.Length))
            return new FuzzBoundException($"{target.Name}: input of {input.Length} bytes cost {work} work units " +
                                          $"(bound {FuzzBounds.MaxWork(input.Length)})");
        return null;
    }

    public static void WarmUp(FuzzTarget target)
    {
        foreach (var input in target.WarmUpInputs())
            Check(target, input, out _, out _);
    }
}

/// <summary>
/// A read-only stream over the input that counts every byte handed out and every call (reads, seeks, length
/// queries) on a <see cref="WorkMeter"/>. Unseekable on request, like a pipe (stdin), which takes the readers'
/// other code path.
/// </summary>
public sealed class CountingStream(byte[] data, bool seekable, WorkMeter meter) : Stream
{
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => seekable;
    public override bool CanWrite => false;

    public override long Length
    {
        get
        {
            if (!seekable) throw new NotSupportedException();
            meter.Add(1);
            return data.Length;
        }
    }

    public override long Position
    {
        get => seekable ? _position : throw new NotSupportedException();
        set => Seek(value, SeekOrigin.Begin);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        meter.Add(1);
        if (_position >= data.Length) return 0;
        var n = (int)Math.Min(buffer.Length, data.Length - _position);
        data.AsSpan((int)_position, n).CopyTo(buffer);
        _position += n;
        meter.Add(n);
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override long Seek(long offset, SeekOrigin origin)
    {
        if (!seekable) throw new NotSupportedException();
        meter.Add(1);
        var target = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => data.Length + offset,
        };
        if (target < 0) throw new IOException("seek before the start");
        return _position = target;
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
