using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using XenIac.Core;
using XenIac.Core.Config;
using XenIac.Core.IO;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;
using XenIac.Reconciler.Manifests;

namespace XenIac.Reconciler.Planning;

/// <summary>What <c>plan --out</c> was asked for besides the manifest, kept so <c>apply FILE</c> plans the same way.</summary>
public sealed record SavedPlanRequest
{
    public HostSpec DefaultHost { get; init; }
    public IReadOnlyList<string> Targets { get; init; } = [];
    public IReadOnlyList<string> Replace { get; init; } = [];
    public bool Force { get; init; }
    public bool TrustConfig { get; init; }
}

/// <summary>
/// A plan written to a file (Terraform's saved plan): the actions and everything they were decided from — each
/// domain's state on its host, each savefile's identity, the digests of the manifest and of the configs it names.
/// <c>apply FILE</c> plans again under the host locks and runs only when that plan is the saved one and reality
/// is as the saved plan saw it; otherwise <see cref="StalePlanException"/> names the first difference.
/// </summary>
public sealed class SavedPlan
{
    public const string FormatName = "xen-iac-plan";
    public const int FormatVersion = 1;
    /// <summary>Far beyond a 10,000-domain plan; keeps a wrong file (a savefile) from being read whole.</summary>
    public const long MaxBytes = 64L << 20;
    /// <summary>How much of a file without an xl header is digested: enough to tell files apart, cheap to read.</summary>
    private const int HeadBytes = 64 << 10;
    /// <summary>An xl head (header, config, optional data) larger than this is digested only this far.</summary>
    private const long MaxHeadBytes = 16L << 20;

    private readonly SavedPlanDocument _document;
    private readonly string _path;

    private SavedPlan(SavedPlanDocument document, string path)
    {
        _document = document;
        _path = path;
    }

    public string ManifestPath => _document.Manifest!.Path!;
    public DateTimeOffset Created => _document.Created;
    public HostSpec DefaultHost => HostSpec.Parse(_document.Options!.DefaultHost);
    public IReadOnlyList<string> Targets => [.. _document.Options!.Targets!.Select(t => t!)];
    public IReadOnlyList<string> Replace => [.. _document.Options!.Replace!.Select(t => t!)];
    public bool Force => _document.Options!.Force;
    public bool TrustConfig => _document.Options!.TrustConfig;

    /// <summary>Records <paramref name="plan"/> with what it observed; reads the manifest, the configs and each savefile's head.</summary>
    public static SavedPlan Create(Plan plan, SavedPlanRequest request)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(request);
        var manifestPath = Path.GetFullPath(plan.Manifest.Path);
        var document = new SavedPlanDocument
        {
            Format = FormatName,
            Version = FormatVersion,
            Created = DateTimeOffset.UtcNow,
            Tool = "xen-iac " + (typeof(SavedPlan).Assembly.GetName().Version?.ToString(3) ?? "?"),
            Manifest = new SavedFile(manifestPath, Digest(manifestPath)),
            Inputs = [.. InputsOf(plan.Manifest).Select(p => new SavedFile(p, Digest(p)))],
            Options = new SavedOptions
            {
                DefaultHost = request.DefaultHost.ToString(),
                Targets = [.. request.Targets],
                Replace = [.. request.Replace],
                Force = request.Force,
                TrustConfig = request.TrustConfig,
            },
            Domains = [.. plan.Domains.Select(Record)],
        };
        return new SavedPlan(document with { Seal = SealOf(document) }, manifestPath);
    }

    /// <summary>Writes the plan atomically with mode 0600 (it names paths and configs of the operator's domains).</summary>
    public Task WriteAsync(string path, CancellationToken cancellationToken = default)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(_document, SavedPlanJson.Default.SavedPlanDocument);
        return AtomicFile.WriteAsync(path, (stream, ct) => stream.WriteAsync(bytes, ct).AsTask(), cancellationToken);
    }

    /// <summary>
    /// True when the file's first bytes are a JSON object naming this format: how <c>apply FILE</c> tells a saved
    /// plan from a manifest (by content, not by its name). A manifest is YAML and never starts that way.
    /// </summary>
    public static bool IsSavedPlan(string path)
    {
        try
        {
            // A pipe or a device would block or never end; neither is a plan.
            if (!AtomicFile.IsRegularFile(path)) return false;
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            var buffer = new byte[256];
            var read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            var text = Encoding.UTF8.GetString(buffer, 0, read).TrimStart('\uFEFF', ' ', '\t', '\r', '\n');
            return text.StartsWith('{') && text.Contains($"\"{FormatName}\"", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return false;
        }
    }

    /// <summary>Reads and checks a saved plan; anything wrong with it is one <see cref="SavedPlanException"/> naming the file.</summary>
    public static SavedPlan Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (info.Exists && !AtomicFile.IsRegularFile(path)) throw new SavedPlanException($"{path} is not a regular file, so not a saved plan");
            if (info.Exists && info.Length > MaxBytes)
                throw new SavedPlanException($"{path}: {info.Length:N0} bytes is too large for a saved plan (limit {MaxBytes:N0})");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new SavedPlanException($"cannot read the saved plan {path}: {e.Message}");
        }
        SavedPlanDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(bytes, SavedPlanJson.Default.SavedPlanDocument);
        }
        catch (JsonException e)
        {
            throw new SavedPlanException($"{path}: not a valid saved plan (damaged or edited?): {JsonProblems.Describe(e)}");
        }
        if (document is null) throw new SavedPlanException($"{path}: not a valid saved plan: the file holds no object");
        var problem = Check(document);
        if (problem is not null) throw new SavedPlanException($"{path}: not a valid saved plan: {problem}");
        return new SavedPlan(document, path);
    }

    /// <summary>The first thing that keeps <paramref name="d"/> from being a plan this version can apply; null when none.</summary>
    private static string? Check(SavedPlanDocument d)
    {
        if (d.Format != FormatName) return $"\"format\" is not \"{FormatName}\"";
        if (d.Version != FormatVersion)
            return d.Version > FormatVersion ? $"format version {d.Version} is newer than this xen-iac reads ({FormatVersion}); use the xen-iac that made it" : $"unknown format version {d.Version}";
        // Before anything else is believed: apply re-plans from the manifest, but the plan's paths, hosts and options
        // are what it compares with and shows, and an edited plan must not pass as the one that was reviewed.
        if (d.Seal is null) return "it carries no seal (made by an older xen-iac?); make the plan again";
        if (d.Seal != SealOf(d)) return "its contents do not match its seal: it was edited or damaged after it was written; make the plan again";
        if (d.Manifest is not { Path: { Length: > 0 } mp, Sha256: { } ms } || !Path.IsPathFullyQualified(mp) || mp.Contains('\0') || !IsDigest(ms))
            return "\"manifest\" needs an absolute path and a SHA-256";
        if (d.Inputs is null || d.Inputs.Any(i => i is not { Path: { Length: > 0 } p } || !Path.IsPathFullyQualified(p) || p.Contains('\0') || (i.Sha256 is { } s && !IsDigest(s))))
            return "\"inputs\" must list absolute paths with SHA-256 digests";
        if (d.Options is not { Targets: { } targets, Replace: { } replace } options || targets.Any(t => t is null) || replace.Any(t => t is null))
            return "\"options\" is missing or incomplete";
        if (!HostSpec.TryParse(options.DefaultHost, null, out _, out var hostError)) return $"options.defaultHost: {hostError}";
        if (d.Domains is null) return "\"domains\" is missing";
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var domain in d.Domains)
        {
            if (domain is not { Name: { Length: > 0 } name, Savefile: { Length: > 0 }, Reason: { }, Observed: { Savefile: { } } })
                return "a domain lacks its name, savefile, reason or observation";
            if (!names.Add(name)) return $"domain '{Printable(name)}' is listed twice";
            if (!Enum.TryParse<PlanAction>(domain.Action, ignoreCase: true, out _) || !IsName(domain.Action!))
                return $"domain '{Printable(name)}': unknown action '{Printable(domain.Action ?? "")}'";
            if (domain.Steps is null || domain.Steps.Any(s => s is null || !IsName(s) || !Enum.TryParse<PlanAction>(s, ignoreCase: true, out _)))
                return $"domain '{Printable(name)}': unknown steps";
            if (!Enum.TryParse<DesiredState>(domain.DesiredState, ignoreCase: true, out _) || !IsName(domain.DesiredState!))
                return $"domain '{Printable(name)}': unknown desired state";
            if (!HostSpec.TryParse(domain.Host, null, out _, out var error)) return $"domain '{Printable(name)}': {error}";
            if (domain.SourceHost is { } source && !HostSpec.TryParse(source, null, out _, out var sourceError)) return $"domain '{Printable(name)}': sourceHost: {sourceError}";
            if (domain.Observed.Domain is { } state && !Enum.TryParse<DomainState>(state.State, ignoreCase: true, out _))
                return $"domain '{Printable(name)}': unknown domain state";
            if (domain.Findings?.Any(f => f is null || !Enum.TryParse<FindingSeverity>(f.Severity, ignoreCase: true, out _) || f.Setting is null || f.Reason is null) == true)
                return $"domain '{Printable(name)}': a finding is incomplete";
            if (domain.Warnings?.Any(w => w is null) == true) return $"domain '{Printable(name)}': a warning is not text";
            if (domain.Observed.Savefile.HeadSha256 is { } h && !IsDigest(h)) return $"domain '{Printable(name)}': savefile digest is not a SHA-256";
        }
        return null;

        // Enum.TryParse also takes numbers and comma lists ("1", "save,create"); the file holds names only.
        static bool IsName(string s) => s.Length > 0 && s.All(char.IsAsciiLetterLower);
    }

    /// <summary>
    /// Before anything else: the manifest and the configs it names are byte for byte what the plan read.
    /// </summary>
    /// <exception cref="StalePlanException">The manifest or a config changed or went away.</exception>
    public void CheckInputs()
    {
        var manifest = _document.Manifest!;
        var now = Digest(manifest.Path!);
        if (now is null) throw Stale($"the manifest {manifest.Path} is gone (or is no longer a regular file)");
        if (now != manifest.Sha256) throw Stale($"the manifest {manifest.Path} changed since the plan was made");
        foreach (var input in _document.Inputs!)
        {
            var digest = Digest(input!.Path!);
            if (digest == input.Sha256) continue;
            throw Stale(digest is null ? $"{input.Path} is gone (or is no longer a regular file)" : input.Sha256 is null ? $"{input.Path} appeared" : $"{input.Path} changed since the plan was made");
        }
    }

    /// <summary>
    /// Under the apply lock, with the plan made there: the same domains, each observed as before (on its host and on
    /// disk), and the same action for each. Only then is the fresh plan — now known to be the saved one — applied.
    /// </summary>
    /// <exception cref="StalePlanException">The first difference, named.</exception>
    public void CheckCurrent(Plan fresh)
    {
        ArgumentNullException.ThrowIfNull(fresh);
        // The inputs checked before were the plan's own list; it must be the list this manifest names, or an edited
        // plan could leave a config out of the check.
        var inputs = InputsOf(fresh.Manifest).ToList();
        if (!inputs.SequenceEqual(_document.Inputs!.Select(i => i!.Path!).Order(StringComparer.Ordinal)))
            throw Stale($"the config files it records are not the ones the manifest names ({List(inputs)})");
        var saved = _document.Domains!.ToDictionary(d => d!.Name!, StringComparer.Ordinal);
        var added = fresh.Domains.Select(d => d.Name).Where(n => !saved.ContainsKey(n)).ToList();
        var freshNames = fresh.Domains.Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        var removed = saved.Keys.Where(n => !freshNames.Contains(n)).ToList();
        if (added.Count > 0 || removed.Count > 0)
            throw Stale($"the plan now covers other domains (added: {List(added)}; removed: {List(removed)})");
        foreach (var now in fresh.Domains)
        {
            var then = saved[now.Name]!;
            // What 'show FILE' displays of the domain must be what is applied: an edited (and resealed: the seal is a
            // checksum, not a signature) savefile path or host was shown, while the manifest's were written.
            var record = Record(now);
            if (record.Savefile != then.Savefile || record.Host != then.Host || record.HostName != then.HostName
                || record.SourceHost != then.SourceHost || record.DesiredState != then.DesiredState)
                throw Stale($"{now.Name}: the plan says {Where(then)}, the manifest now says {Where(record)}");
            var was = then.Observed!;
            var seen = Observe(now);
            if (Differs(was, seen, now) is { } change) throw Stale($"{now.Name}: {change}");
            var steps = now.Steps.Select(ActionName).ToList();
            if (ActionName(now.Action) != then.Action || !steps.SequenceEqual(then.Steps!.Select(s => s!)) || now.Error != then.Error)
                throw Stale($"{now.Name}: the plan is now '{Describe(ActionName(now.Action), steps, now.Error)}' instead of '{Describe(then.Action!, then.Steps!.Select(s => s!), then.Error)}'");
        }
    }

    private static string Where(SavedDomain d) =>
        $"{d.DesiredState} with savefile {d.Savefile} on {(string.IsNullOrEmpty(d.Host) ? "the default host" : d.HostName ?? d.Host)}" +
        (string.IsNullOrEmpty(d.SourceHost) ? "" : $" (from {d.SourceHost})");

    /// <summary>The saved plan as a <see cref="Plan"/> to show (<c>show FILE</c>): what was decided and seen, not what is now.</summary>
    public Plan ToPlan()
    {
        var manifestPath = ManifestPath;
        var domains = _document.Domains!.Select(d => d!).ToList();
        var specs = new List<DomainSpec>();
        var plans = new List<DomainPlan>();
        foreach (var d in domains)
        {
            var spec = new DomainSpec
            {
                Name = Clean(d.Name)!,
                SavefilePath = Clean(d.Savefile)!,
                State = Enum.Parse<DesiredState>(d.DesiredState!, ignoreCase: true),
                Host = HostSpec.Parse(d.Host),
                HostName = Clean(d.HostName),
                Location = new SourceLocation(manifestPath, 1, 1),
            };
            specs.Add(spec);
            var o = d.Observed!;
            var info = o.Domain is { } s ? new DomainInfo(spec.Name, s.DomId, Enum.Parse<DomainState>(s.State!, ignoreCase: true), s.MemoryKiB, s.VCpus) : null;
            var f = o.Savefile!;
            var savefile = new SavefileStatus(f.Exists, f.Valid, Clean(f.Problem), null, f.Size) { SnapshotId = Clean(f.SnapshotId) };
            plans.Add(new DomainPlan
            {
                Spec = spec,
                Observed = new DomainObservation(info, savefile) { HostError = Clean(o.HostError) },
                Action = Enum.Parse<PlanAction>(d.Action!, ignoreCase: true),
                Steps = [.. d.Steps!.Select(x => Enum.Parse<PlanAction>(x!, ignoreCase: true))],
                SourceHost = string.IsNullOrEmpty(d.SourceHost) ? null : HostSpec.Parse(d.SourceHost),
                Reason = Clean(d.Reason)!,
                Error = Clean(d.Error),
                Warnings = [.. (d.Warnings ?? []).Select(w => Clean(w)!)],
                Findings = [.. (d.Findings ?? []).Select(x => new CompatibilityFinding(Enum.Parse<FindingSeverity>(x!.Severity!, ignoreCase: true),
                    Clean(x.Setting)!, Clean(x.Old), Clean(x.New), Clean(x.Reason)!))],
            });
        }
        return new Plan(new Manifest(manifestPath, specs), plans);
    }

    /// <summary>What the saved plan records beyond the plan itself (for <c>show --json</c>): the file's identity and inputs.</summary>
    public JsonObject SavedJson() => new()
    {
        ["file"] = _path,
        ["format"] = FormatName,
        ["version"] = FormatVersion,
        ["created"] = _document.Created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
        ["tool"] = Clean(_document.Tool),
        ["manifest"] = new JsonObject { ["path"] = ManifestPath, ["sha256"] = _document.Manifest!.Sha256 },
        ["inputs"] = new JsonArray([.. _document.Inputs!.Select(i => (JsonNode)new JsonObject { ["path"] = i!.Path, ["sha256"] = i.Sha256 })]),
        ["options"] = new JsonObject
        {
            ["defaultHost"] = _document.Options!.DefaultHost,
            ["targets"] = new JsonArray([.. Targets.Select(t => (JsonNode)t!)]),
            ["replace"] = new JsonArray([.. Replace.Select(t => (JsonNode)t!)]),
            ["force"] = Force,
            ["trustConfig"] = TrustConfig,
        },
    };

    /// <summary>What the plan observed of domain <paramref name="name"/> (for <c>show --json</c>).</summary>
    public JsonObject ObservedJson(string name)
    {
        var o = _document.Domains!.First(d => d!.Name == name)!.Observed!;
        var f = o.Savefile!;
        return new JsonObject
        {
            ["hostError"] = Clean(o.HostError),
            ["domain"] = o.Domain is { } s ? new JsonObject { ["domid"] = s.DomId, ["state"] = s.State, ["memoryKiB"] = s.MemoryKiB, ["vcpus"] = s.VCpus } : null,
            ["savefile"] = new JsonObject
            {
                ["exists"] = f.Exists,
                ["valid"] = f.Valid,
                ["size"] = f.Size,
                ["modified"] = f.Modified?.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture),
                ["headSha256"] = f.HeadSha256,
                ["snapshotId"] = Clean(f.SnapshotId),
            },
        };
    }

    private static SavedDomain Record(DomainPlan d) => new()
    {
        Name = d.Name,
        Host = d.Spec.Host.ToString(),
        HostName = d.Spec.HostName,
        SourceHost = d.SourceHost?.ToString(),
        DesiredState = d.Spec.State.ToString().ToLowerInvariant(),
        Savefile = d.Spec.SavefilePath,
        Action = ActionName(d.Action),
        Steps = [.. d.Steps.Select(ActionName)],
        Reason = d.Reason,
        Error = d.Error,
        Warnings = [.. d.Warnings],
        Findings = [.. d.Findings.Select(f => new SavedFinding(f.Severity.ToString().ToLowerInvariant(), f.Setting, f.Old, f.New, f.Reason))],
        Observed = Observe(d),
    };

    private static SavedObservation Observe(DomainPlan d) => new()
    {
        HostError = d.Observed.HostError,
        Domain = d.Observed.Domain is { } info
            ? new SavedDomainState(info.DomId, info.State.ToString().ToLowerInvariant(), info.MemoryKiB, info.VCpus) : null,
        Savefile = Identify(d.Spec, d.Observed.Savefile),
    };

    /// <summary>
    /// A savefile's identity without reading guest memory: size, modification time and the head's digest. Every
    /// XenIac save replaces the file by rename (a new modification time); the head holds the stored config, and the
    /// image's own SHA-256 when the file is sealed. A whole-file digest would read every domain's memory on each plan.
    /// </summary>
    private static SavedSavefile Identify(DomainSpec spec, SavefileStatus status)
    {
        var identity = new SavedSavefile { Exists = status.Exists, Valid = status.Valid, Problem = status.Problem, Size = status.Size, SnapshotId = status.SnapshotId };
        // A store's snapshot id names its content; the local working copy is only a cache of it.
        if (spec.Snapshot is not null || !status.Exists) return identity;
        try
        {
            var info = new FileInfo(spec.SavefilePath);
            if (!info.Exists) return identity;
            // A legacy file's header is the placeholder with image offset 0: its first 64 KiB are digested instead.
            var head = status.Header is { ImageOffset: > 0 and var offset } ? Math.Min(offset, MaxHeadBytes) : Math.Min(info.Length, HeadBytes);
            using var stream = new FileStream(spec.SavefilePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var buffer = new byte[head];
            var read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            return identity with
            {
                Size = info.Length,
                Modified = info.LastWriteTimeUtc,
                HeadSha256 = Convert.ToHexStringLower(SHA256.HashData(buffer.AsSpan(0, read))),
            };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return identity with { Problem = identity.Problem ?? e.Message };
        }
    }

    /// <summary>What differs between what the plan saw and what is there now; null when nothing does.</summary>
    private static string? Differs(SavedObservation was, SavedObservation now, DomainPlan plan)
    {
        if (was.HostError != now.HostError)
            return now.HostError is not null ? $"its host cannot be reached now ({now.HostError})" : "its host can be reached now (it could not when the plan was made)";
        switch (was.Domain, now.Domain)
        {
            case (null, { } n): return $"the domain was not running when the plan was made and now runs as domid {n.DomId}";
            case ({ } w, null): return $"the domain ran as domid {w.DomId} when the plan was made and is not running now";
            case ({ } w, { } n) when w.DomId != n.DomId: return $"the domain ran as domid {w.DomId} when the plan was made and runs as domid {n.DomId} now";
            case ({ } w, { } n) when Coarse(w.State) != Coarse(n.State): return $"the domain was {w.State} when the plan was made and is {n.State} now";
        }
        var (a, b) = (was.Savefile!, now.Savefile!);
        var path = plan.Spec.SavefilePath;
        if (a.Exists != b.Exists) return b.Exists ? $"savefile {path} appeared since the plan was made" : $"savefile {path} is gone since the plan was made";
        if (a.SnapshotId != b.SnapshotId) return $"the snapshot tag {plan.Spec.Snapshot?.Tag} now names {b.SnapshotId ?? "nothing"} instead of {a.SnapshotId ?? "nothing"}";
        if (a.Size != b.Size) return $"savefile {path} changed since the plan was made (size {a.Size:N0} -> {b.Size:N0} bytes)";
        if (a.HeadSha256 != b.HeadSha256) return $"savefile {path} changed since the plan was made (its header or stored config differs)";
        if (a.Modified != b.Modified) return $"savefile {path} changed since the plan was made (modified {b.Modified:u})";
        if (a.Valid != b.Valid) return $"savefile {path} is {(b.Valid ? "valid" : "not valid")} now";
        return null;
    }

    /// <summary>
    /// A state as far as a plan cares: a live domain flips between running and blocked many times a second, so
    /// those are one state; paused and the dying states are their own.
    /// </summary>
    private static string? Coarse(string? state) => state is "running" or "blocked" or "unknown" ? "running" : state;

    /// <summary>The config and override config files of the manifest's domains: what a plan reads besides the manifest.</summary>
    private static IEnumerable<string> InputsOf(Manifest manifest) => manifest.Domains
        .SelectMany(d => new[] { d.ConfigPath, d.OverrideConfigPath })
        .OfType<string>()
        .Select(Path.GetFullPath)
        .Distinct(StringComparer.Ordinal)
        .Order(StringComparer.Ordinal);

    /// <summary>
    /// SHA-256 of a whole file (manifests and configs are small); null when it is not there, cannot be read, or is not
    /// a regular file (a path in a damaged plan may name /dev/zero, which has no end to digest).
    /// </summary>
    private static string? Digest(string path)
    {
        try
        {
            if (!AtomicFile.IsRegularFile(path)) return null;
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>
    /// Seals the plan file at <paramref name="path"/> again as it now reads (tests: plans edited on purpose, to
    /// reach the checks behind the seal, which a plan from another writer would meet).
    /// </summary>
    internal static void ResealForTests(string path)
    {
        var document = JsonSerializer.Deserialize(File.ReadAllBytes(path), SavedPlanJson.Default.SavedPlanDocument)!;
        File.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(document with { Seal = SealOf(document) }, SavedPlanJson.Default.SavedPlanDocument));
    }

    /// <summary>The seal of a document: the SHA-256 of its JSON without the seal itself.</summary>
    private static string SealOf(SavedPlanDocument d) =>
        Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(d with { Seal = null }, SavedPlanJson.Default.SavedPlanDocument)));

    private static bool IsDigest(string s) => s.Length == 64 && s.All(char.IsAsciiHexDigitLower);

    private static string ActionName(PlanAction a) => a.ToString().ToLowerInvariant();

    private static string Describe(string action, IEnumerable<string> steps, string? error) =>
        error is not null ? $"error: {error}" : action == "none" ? "none" : string.Join(" + ", steps);

    private static string List(IReadOnlyList<string> names) => names.Count == 0 ? "none" : string.Join(", ", names);

    private StalePlanException Stale(string what) =>
        new($"saved plan {_path} is stale: {what}; make a new one with 'xen-iac plan --out FILE'");

    /// <summary>Text from the file as it may be shown: control characters (a terminal escape, a newline) as U+FFFD.</summary>
    private static string? Clean(string? text) =>
        text is null || !text.Any(char.IsControl) ? text : string.Concat(text.Select(c => char.IsControl(c) ? '\uFFFD' : c));

    private static string Printable(string text) => Clean(text)!.Length > 80 ? Clean(text)![..80] + "..." : Clean(text)!;
}

/// <summary>A saved plan cannot be read: missing, damaged, edited, or of another version.</summary>
public sealed class SavedPlanException(string message) : XenIacException(message);

/// <summary>Reality or the manifest changed since the plan was saved (Terraform's "Saved plan is stale").</summary>
public sealed class StalePlanException(string message) : XenIacException(message);
