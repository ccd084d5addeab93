using System.Globalization;
using System.Net;
using Prometheus;
using XenIac.Reconciler.Applying;
using XenIac.Reconciler.Reconciling;

namespace XenIac.Cli.Commands.Loop;

/// <summary>
/// The Prometheus metrics of <c>xen-iac reconcile --metrics ADDR</c>, served by prometheus-net's stand-alone
/// <see cref="MetricServer"/> (HttpListener; no ASP.NET Core framework reference) at <c>http://ADDR/metrics</c>.
/// They live in the CLI, not the Reconciler: only this long-running command serves metrics, and the library (which
/// the MSBuild tasks load into a build) stays free of an HTTP server and a metrics registry.
/// A registry of its own, so only these series are served (no process or runtime collectors).
/// </summary>
internal sealed class LoopMetrics : IReconcileObserver, IDisposable
{
    private static readonly string[] Conditions = [.. Enum.GetNames<DomainCondition>()];

    private readonly MetricServer _server;
    private readonly Counter _runs;
    private readonly Counter _applies;
    private readonly Counter _errors;
    private readonly Gauge _condition;
    private readonly Gauge _lastSuccess;
    private readonly Histogram _duration;
    private readonly HashSet<string> _domains = new(StringComparer.Ordinal);

    private LoopMetrics(MetricServer server, CollectorRegistry registry)
    {
        _server = server;
        var factory = Metrics.WithCustomRegistry(registry);
        _runs = factory.CreateCounter("xeniac_reconcile_runs_total", "Reconcile runs, by result (succeeded, drift, failed, stopped).", ["result"]);
        _applies = factory.CreateCounter("xeniac_reconcile_applies_total", "Domain changes applied, by action and result (succeeded, failed).", ["action", "result"]);
        _errors = factory.CreateCounter("xeniac_reconcile_errors_total", "Errors: failed domains, or a run that failed as a whole (manifest, host, lock).");
        _condition = factory.CreateGauge("xeniac_reconcile_domain_condition", "1 for each domain's current condition (Ready, Progressing, Degraded), else 0.", ["domain", "condition"]);
        _lastSuccess = factory.CreateGauge("xeniac_reconcile_last_success_timestamp_seconds", "Unix time of the last run that succeeded (or found drift under --drift warn).");
        _duration = factory.CreateHistogram("xeniac_reconcile_run_duration_seconds", "How long a reconcile run took.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.05, 2, 16) });
    }

    /// <summary>
    /// Starts serving on <paramref name="address"/> (host:port). Only loopback addresses: the metrics name every
    /// domain, and the server has no authentication; to scrape from elsewhere, put a proxy of your choosing in front.
    /// </summary>
    /// <exception cref="ArgumentException">Not a loopback host:port, or the port cannot be listened on.</exception>
    public static LoopMetrics Start(string address)
    {
        var hostname = LoopbackHost(address, out var port);
        var registry = Metrics.NewCustomRegistry();
        var server = new MetricServer(hostname, port, "metrics/", registry);
        try
        {
            server.Start();
        }
        catch (HttpListenerException e)
        {
            throw new ArgumentException($"--metrics {address}: cannot listen there ({e.Message})", e);
        }
        return new LoopMetrics(server, registry);
    }

    /// <summary>The host part as HttpListener wants it (IPv6 in brackets), checked to be loopback.</summary>
    internal static string LoopbackHost(string address, out int port)
    {
        port = 0;
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
            throw new ArgumentException($"--metrics '{address}' is not host:port with a port from 1 to 65535 (e.g. 127.0.0.1:9464)");
        var host = address[..colon];
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) return "localhost";
        var bare = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        if (!IPAddress.TryParse(bare, out var ip) || !IPAddress.IsLoopback(ip))
            throw new ArgumentException($"--metrics '{address}': only a loopback address is served (127.0.0.1 or localhost, with a port: 127.0.0.1:9464); the metrics name every domain and the server has no authentication");
        // .NET's HttpListener on Linux cannot parse an IPv6 prefix ("Invalid port in prefix"): said here, plainly.
        if (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
            throw new ArgumentException($"--metrics '{address}': IPv6 addresses cannot be served here; use 127.0.0.1:{port} or localhost:{port}");
        return bare;
    }

    public void RunFinished(ReconcileRun run)
    {
        _runs.WithLabels(run.Status.Result.ToString().ToLowerInvariant()).Inc();
        _duration.Observe(run.Duration.TotalSeconds);
        _errors.Inc(Math.Max(run.Status.Failures, run.Status.Result == RunResult.Failed ? 1 : 0));
        foreach (var r in run.Applied.Where(r => r.Error != Applier.NotStartedError))
            _applies.WithLabels(ApplyEventText.ActionName(r.Action), r.Succeeded ? "succeeded" : "failed").Inc();
        if (run.Status.Result is RunResult.Succeeded or RunResult.Drift) _lastSuccess.SetToTimeUtc(run.Status.Finished);

        foreach (var gone in _domains.Where(d => !run.Domains.ContainsKey(d)).ToList())
        {
            foreach (var c in Conditions) _condition.RemoveLabelled(gone, c);
            _domains.Remove(gone);
        }
        foreach (var (name, status) in run.Domains)
        {
            _domains.Add(name);
            foreach (var c in Conditions) _condition.WithLabels(name, c).Set(c == status.Condition.ToString() ? 1 : 0);
        }
    }

    public void Dispose() => _server.Dispose();
}
