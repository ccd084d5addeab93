using System.Security.Cryptography;
using System.Text;
using XenIac.Core;
using XenIac.Core.Config;
using XenIac.Hosts;
using XenIac.Reconciler.Manifests;

namespace XenIac.Reconciler.Planning;

/// <summary>
/// One host as a plan run sees it: opened once, its domains listed once, what it says about itself asked once
/// (beside the list), and the memory the plan has already promised to domains placed there. A host that cannot be opened or
/// listed carries its error, and only the domains that need it fail with it.
/// </summary>
internal sealed class FleetHost
{
    private HostInfo? _info;
    private string? _infoError;
    private long _promisedKiB;

    public required HostSpec Spec { get; init; }
    /// <summary>Its name in <c>hosts:</c>, else its spec as written.</summary>
    public required string Name { get; init; }
    /// <summary>Its name in <c>hosts:</c>, or null.</summary>
    public string? ManifestName { get; init; }
    public IXenHost? Host { get; init; }
    public string? Error { get; init; }
    public IReadOnlyDictionary<string, DomainInfo> Domains { get; init; } = new Dictionary<string, DomainInfo>(StringComparer.Ordinal);
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// What the host says about itself, asked when the host was opened, beside its list: the plan decides domains
    /// one after another, and asking each host only when its first domain is placed was a round trip per remote
    /// host in a row (ten ssh hosts: ten waits). Null: asked on first use.
    /// </summary>
    public Task<(HostInfo? Info, string? Error)>? InfoAsked { get; init; }

    /// <summary>The host's facts as placement reads them, less what this plan already placed there; null with the reason when it would not say.</summary>
    public async Task<(PlacementTarget? Target, string? Error)> TargetAsync(CancellationToken cancellationToken)
    {
        if (Host is null) return (null, Error);
        if (_info is null && _infoError is null)
            (_info, _infoError) = await (InfoAsked ?? AskInfoAsync(Host, cancellationToken)).ConfigureAwait(false);
        if (_info is not { } info) return (null, _infoError);
        return (RestorePlacement.Target(Name, info, _promisedKiB), null);
    }

    /// <summary>The host's info, or why it would not say (never a failed task, except for cancellation).</summary>
    internal static async Task<(HostInfo? Info, string? Error)> AskInfoAsync(IXenHost host, CancellationToken cancellationToken)
    {
        try { return (await host.GetHostInfoAsync(cancellationToken).ConfigureAwait(false), null); }
        catch (Exception e) when (e is XenIacException or IOException or UnauthorizedAccessException) { return (null, e.Message); }
    }

    /// <summary>The vendor of the CPU the host runs on (what a domain running there was given), or null.</summary>
    public async Task<string?> CpuVendorAsync(CancellationToken cancellationToken) => (await TargetAsync(cancellationToken).ConfigureAwait(false)).Target?.CpuVendor;

    /// <summary>A restore or create placed here takes this much of the host's free memory for the rest of the plan.</summary>
    public void Promise(long kib) => _promisedKiB += Math.Max(0, kib);
}

/// <summary>Every host a plan run may touch: the manifest's <c>hosts:</c> and the hosts its selected domains name.</summary>
internal sealed class Fleet
{
    private readonly Dictionary<HostSpec, FleetHost> _bySpec;

    private Fleet(Dictionary<HostSpec, FleetHost> bySpec, IReadOnlyList<FleetHost> labelled) => (_bySpec, Labelled) = (bySpec, labelled);

    /// <summary>The hosts of <c>hosts:</c>, in the order written (what a selector chooses among).</summary>
    public IReadOnlyList<FleetHost> Labelled { get; }

    public IEnumerable<FleetHost> All => _bySpec.Values;

    /// <summary>The host <paramref name="spec"/> resolves to.</summary>
    public FleetHost this[HostSpec spec] => _bySpec[spec];

    /// <summary>The host of a resolved spec, when this plan run opened it.</summary>
    public FleetHost? Find(HostSpec spec) => _bySpec.GetValueOrDefault(spec);

    /// <summary>Opens and lists every host at once: hosts answer in parallel, each in its own time.</summary>
    public static async Task<Fleet> OpenAsync(Manifest manifest, IReadOnlyList<DomainSpec> selected, IHostProvider hosts, CancellationToken cancellationToken)
    {
        var specs = manifest.Hosts.Select(h => (Spec: h.Spec, Name: (string?)h.Name, Labels: (IReadOnlyDictionary<string, string>?)h.Labels))
            .Concat(selected.Where(d => d.HostSelector is null).Select(d => (Spec: d.Host, Name: d.HostName ?? manifest.NameOf(d.Host), Labels: (IReadOnlyDictionary<string, string>?)null)))
            .Select(x => (Resolved: hosts.Resolve(x.Spec), x.Name, x.Labels))
            .GroupBy(x => x.Resolved)
            .Select(g => (Spec: g.Key, Name: g.Select(x => x.Name).FirstOrDefault(n => n is not null), Labels: g.Select(x => x.Labels).FirstOrDefault(l => l is not null)))
            .ToList();
        var opened = await Task.WhenAll(specs.Select(s => OpenOneAsync(s.Spec, s.Name, s.Labels, hosts, cancellationToken))).ConfigureAwait(false);
        var bySpec = opened.ToDictionary(h => h.Spec);
        var labelled = manifest.Hosts.Select(h => bySpec[hosts.Resolve(h.Spec)]).ToList();
        return new Fleet(bySpec, labelled);
    }

    private static async Task<FleetHost> OpenOneAsync(HostSpec spec, string? name, IReadOnlyDictionary<string, string>? labels, IHostProvider hosts,
        CancellationToken cancellationToken)
    {
        var shown = name ?? (spec.IsDefault ? "the default host" : spec.ToString());
        labels ??= new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            await Task.Yield();
            var host = hosts.Get(spec);
            // Both questions at once: a remote host answers them over one connection, in one round trip's time. On the
            // pool, because a local host answers synchronously: the embedded host reads every domain record for its free
            // memory, and would do so before the listing started (1,000 domains: two reads of every record in a row).
            var info = Task.Run(() => FleetHost.AskInfoAsync(host, cancellationToken), CancellationToken.None);
            var domains = await host.ListDomainsAsync(cancellationToken).ConfigureAwait(false);
            return new FleetHost
            {
                Spec = spec, Name = shown, ManifestName = name, Host = host, Labels = labels, InfoAsked = info,
                Domains = domains.GroupBy(d => d.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal),
            };
        }
        // Whatever a host answers with stays with that host: its domains fail with it, the others are planned.
        catch (Exception e) when (e is XenIacException or IOException or UnauthorizedAccessException)
        {
            return new FleetHost { Spec = spec, Name = shown, ManifestName = name, Error = e.Message, Labels = labels };
        }
    }

    /// <summary>
    /// The hosts a selector matches, in the domain's own order: rendezvous hashing of (host name, domain name), so a
    /// domain's first choice stays the same across runs and adding or removing a host moves only the domains that
    /// ranked it first.
    /// </summary>
    public IReadOnlyList<FleetHost> Candidates(DomainSpec spec) =>
        Labelled.Where(h => spec.HostSelector!.Matches(h.Labels))
            .OrderByDescending(h => Score(h.Name, spec.Name)).ThenBy(h => h.Name, StringComparer.Ordinal).ToList();

    internal static ulong Score(string host, string domain)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(host + "\n" + domain), hash);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(hash);
    }
}
