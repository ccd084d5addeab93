using System.Diagnostics;
using System.Globalization;

namespace XenIac.Hosts;

/// <summary>
/// Optional speed limit for the embedded host's savefile I/O, set with XENIAC_EMBEDDED_THROTTLE_MIBS (MiB/s).
/// The embedded host is otherwise as fast as the disk, which makes demos of progress bars, and tests that must
/// interrupt a save half-way, impossible to watch.
/// </summary>
internal sealed class Throttle
{
    public const string Variable = "XENIAC_EMBEDDED_THROTTLE_MIBS";

    private readonly double _bytesPerSecond;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _bytes;

    private Throttle(double bytesPerSecond) => _bytesPerSecond = bytesPerSecond;

    /// <summary>The throttle the environment asks for, or null for full speed.</summary>
    public static Throttle? FromEnvironment() =>
        double.TryParse(Environment.GetEnvironmentVariable(Variable), NumberStyles.Float, CultureInfo.InvariantCulture, out var mibs) && mibs > 0
            ? new Throttle(mibs * (1 << 20))
            : null;

    public void Account(long bytes, CancellationToken cancellationToken)
    {
        _bytes += bytes;
        var ahead = _bytes / _bytesPerSecond - _clock.Elapsed.TotalSeconds;
        if (ahead > 0) cancellationToken.WaitHandle.WaitOne(TimeSpan.FromSeconds(ahead));
        cancellationToken.ThrowIfCancellationRequested();
    }
}
