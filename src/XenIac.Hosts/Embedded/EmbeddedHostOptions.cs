using System.Diagnostics;
using System.Globalization;

namespace XenIac.Hosts.Embedded;

/// <summary>How an embedded host is opened.</summary>
public sealed record EmbeddedHostOptions
{
    /// <summary>The environment variable <see cref="FromEnvironment"/> reads the throttle from (MiB/s).</summary>
    public const string ThrottleVariable = "XENIAC_EMBEDDED_THROTTLE_MIBS";

    public static EmbeddedHostOptions Default { get; } = new();

    /// <summary>
    /// Speed limit for savefile reads and writes in MiB/s; null (or not above zero) is full speed. The embedded host
    /// is otherwise as fast as the disk, which makes demos of progress bars, and tests that must interrupt a save
    /// half-way, impossible to watch.
    /// </summary>
    public double? ThrottleMiBs { get; init; }

    /// <summary>The options the environment asks for: $XENIAC_EMBEDDED_THROTTLE_MIBS, when it is a positive number.</summary>
    public static EmbeddedHostOptions FromEnvironment() =>
        double.TryParse(Environment.GetEnvironmentVariable(ThrottleVariable), NumberStyles.Float, CultureInfo.InvariantCulture, out var mibs) && mibs > 0
            ? new EmbeddedHostOptions { ThrottleMiBs = mibs }
            : Default;
}

/// <summary>Holds one save's or restore's I/O to <see cref="EmbeddedHostOptions.ThrottleMiBs"/>.</summary>
internal sealed class Throttle
{
    private readonly double _bytesPerSecond;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _bytes;

    private Throttle(double bytesPerSecond) => _bytesPerSecond = bytesPerSecond;

    /// <summary>A new throttle (its clock starts now) for the limit in <paramref name="options"/>, or null for full speed.</summary>
    public static Throttle? For(EmbeddedHostOptions options) =>
        options.ThrottleMiBs is > 0 and var mibs ? new Throttle(mibs * (1 << 20)) : null;

    public void Account(long bytes, CancellationToken cancellationToken)
    {
        _bytes += bytes;
        var ahead = _bytes / _bytesPerSecond - _clock.Elapsed.TotalSeconds;
        if (ahead > 0) cancellationToken.WaitHandle.WaitOne(TimeSpan.FromSeconds(ahead));
        cancellationToken.ThrowIfCancellationRequested();
    }
}
