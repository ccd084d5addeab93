using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using XenIac.Core.SaveFiles;

namespace XenIac.Core.Config;

/// <summary>
/// The changes a restore makes so one savefile can run as several domains on one host at once: a new name, new
/// MAC addresses, writable disks redirected to per-clone copies, and (HVM) a fresh VM generation ID so a guest that
/// watches it knows it was cloned. Each is declared here and nowhere else, so the compatibility check can tell a
/// declared clone fixup from an accidental change (<see cref="ConfigCompatibility.Check(DomainConfig, DomainConfig, CloneFixups?)"/>).
/// </summary>
public sealed record CloneFixups
{
    /// <summary>The clone's domain name (required: two domains of one name cannot run on one host).</summary>
    public required string Name { get; init; }

    /// <summary>Give every vif a new MAC in Xen's OUI (00:16:3e), unique within the <see cref="MacPool"/>.</summary>
    public bool NewMacs { get; init; } = true;

    /// <summary>
    /// Where each writable disk of the clone lives, as a pattern: <c>{dir}</c> (the source target's folder),
    /// <c>{name}</c> (the clone's name), <c>{disk}</c> (the vdev), <c>{stem}</c> (the source file name without
    /// extension), <c>{ext}</c> (its extension without the dot). Null with no <see cref="DiskTargets"/> leaves disks alone.
    /// </summary>
    public string? DiskPattern { get; init; }

    /// <summary>Explicit new targets by vdev (xvda → /srv/c1-a.img); they win over <see cref="DiskPattern"/>.</summary>
    public IReadOnlyDictionary<string, string>? DiskTargets { get; init; }

    /// <summary>
    /// The format every redirected disk gets: <c>qcow2</c> when the clone's disk is an overlay whose backing file is
    /// the source disk (whatever the source's format); null keeps the source's format (a plain copy).
    /// </summary>
    public string? DiskFormat { get; init; }

    /// <summary>An HVM clone gets <c>ms_vm_genid = "generate"</c> (xl.cfg) or 16 random bytes (libxl JSON); ignored for PV and PVH.</summary>
    public bool NewVmGenId { get; init; } = true;

    /// <summary>The default disk pattern: the copy sits beside the source, named after the clone and the disk.</summary>
    public const string DefaultDiskPattern = "{dir}/{name}-{disk}.{ext}";

    /// <summary>The pattern for qcow2 overlays: beside the source like a copy, named by what the file now is.</summary>
    public const string OverlayDiskPattern = "{dir}/{name}-{disk}.qcow2";

    /// <summary>The setting name the compatibility check and <c>config show</c> use for the generation ID.</summary>
    public const string VmGenIdSetting = "ms_vm_genid";

    /// <summary>
    /// Applies the fixups to <paramref name="config"/>. xl.cfg is edited as text (everything not fixed up stays
    /// byte for byte); libxl JSON is edited as a document. Read-only disks and CD-ROMs are shared, not redirected:
    /// nothing writes to them.
    /// </summary>
    /// <exception cref="CloneFixupException">The config cannot be cloned (no name given, a bad pattern).</exception>
    public ClonedConfig Apply(ConfigText config, MacPool macs)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(macs);
        if (string.IsNullOrWhiteSpace(Name)) throw new CloneFixupException("a clone needs a name");
        var model = config.ToModel();
        List<string?> newMacs = NewMacs ? [.. model.Nics.Select(_ => (string?)macs.Next())] : [.. model.Nics.Select(n => n.Mac)];
        if (DiskFormat is not null && !DiskConfig.IsFormat(DiskFormat))
            throw new CloneFixupException($"'{DiskFormat}' is not a disk format (raw, qcow, qcow2, vhd, qed)");
        var disks = model.Disks.Select(d => TargetFor(d) is var target && target != d.Target
            ? d with { Target = target, Format = DiskFormat ?? d.Format }
            : d).ToList();
        var redirected = model.Disks.Zip(disks).Where(p => p.First.Target != p.Second.Target)
            .Select(p => new DiskRedirect(p.First.Vdev, p.First.Target, p.Second.Target)).ToList();
        var genId = NewVmGenId && model.Type == Streams.GuestType.HVM;
        var text = config.Language == SaveFileConfigFormat.Json
            ? ApplyJson(config, model.Disks, newMacs, disks, genId)
            : ApplyXl(config, model, newMacs, disks, genId);
        return new ClonedConfig(new ConfigText(text, config.Language) { Source = config.Source is null ? Name : $"{config.Source} as {Name}" },
            Name, [.. newMacs.Select(m => m ?? "")], redirected, genId);
    }

    private string TargetFor(DiskConfig disk)
    {
        if (disk.IsCdrom || disk.Access == "ro" || disk.Target.Length == 0) return disk.Target;
        if (DiskTargets is not null && DiskTargets.TryGetValue(disk.Vdev, out var explicitTarget)) return explicitTarget;
        if (DiskPattern is null) return disk.Target;
        var dir = Path.GetDirectoryName(disk.Target) ?? "";
        var file = Path.GetFileName(disk.Target);
        var ext = Path.GetExtension(file).TrimStart('.');
        var pattern = ext.Length == 0 ? DiskPattern.Replace(".{ext}", "", StringComparison.Ordinal) : DiskPattern;
        var target = pattern.Replace("{dir}", dir, StringComparison.Ordinal).Replace("{name}", Name, StringComparison.Ordinal)
            .Replace("{disk}", disk.Vdev, StringComparison.Ordinal).Replace("{stem}", Path.GetFileNameWithoutExtension(file), StringComparison.Ordinal)
            .Replace("{ext}", ext, StringComparison.Ordinal);
        if (target.Contains('{') || target.Contains('}'))
            throw new CloneFixupException($"disk pattern '{DiskPattern}' has an unknown placeholder (known: {{dir}} {{name}} {{disk}} {{stem}} {{ext}})");
        if (target == disk.Target)
            throw new CloneFixupException($"disk pattern '{DiskPattern}' gives clone '{Name}' the source's own disk {disk.Target}");
        return target;
    }

    private string ApplyXl(ConfigText config, DomainConfig model, List<string?> macs, List<DiskConfig> disks, bool genId)
    {
        var xl = XlConfig.Parse(config.Text, config.DisplayName);
        var settings = new List<KeyValuePair<string, XlValue>> { KeyValuePair.Create("name", (XlValue)XlValue.String(Name)) };
        if (model.Nics.Count > 0)
            settings.Add(KeyValuePair.Create("vif", (XlValue)XlValue.List(model.Nics.Select((n, i) => (n with { Mac = macs[i] }).ToSpec()))));
        if (!disks.SequenceEqual(model.Disks))
            settings.Add(KeyValuePair.Create("disk", (XlValue)XlValue.List(disks.Select(d => d.ToSpec()))));
        if (genId) settings.Add(KeyValuePair.Create(VmGenIdSetting, (XlValue)XlValue.String("generate")));
        return xl.Set(settings).ToString();
    }

    private string ApplyJson(ConfigText config, IReadOnlyList<DiskConfig> source, List<string?> macs, List<DiskConfig> disks, bool genId)
    {
        // The model already accepted the text, so it parses and has the shape read here.
        var root = (JsonObject)JsonNode.Parse(config.Text)!;
        ((JsonObject)root["c_info"]!)["name"] = Name;
        if (root["nics"] is JsonArray nics)
            for (var i = 0; i < nics.Count && i < macs.Count; i++)
                if (macs[i] is { } mac) ((JsonObject)nics[i]!)["mac"] = mac;
        if (root["disks"] is JsonArray jsonDisks)
            for (var i = 0; i < jsonDisks.Count && i < disks.Count; i++)
                if (disks[i].Target.Length > 0)
                {
                    ((JsonObject)jsonDisks[i]!)["pdev_path"] = disks[i].Target;
                    // Only a redirect changes the format (an overlay); an untouched disk keeps its JSON as it was.
                    if (DiskFormat is not null && i < source.Count && disks[i].Target != source[i].Target) ((JsonObject)jsonDisks[i]!)["format"] = DiskFormat;
                }
        if (genId)
        {
            // libxl's JSON form of a generation ID is an array of its 16 bytes; xl's "generate" means random ones.
            var bInfo = root["b_info"] as JsonObject ?? (JsonObject)(root["b_info"] = new JsonObject());
            var hvm = bInfo["type.hvm"] as JsonObject ?? (JsonObject)(bInfo["type.hvm"] = new JsonObject());
            hvm[VmGenIdSetting] = new JsonArray([.. RandomNumberGenerator.GetBytes(16).Select(b => (JsonNode)(int)b)]);
        }
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}

/// <summary>A vdev's disk redirected for a clone: the copy (or overlay) at <paramref name="To"/> must exist before it runs.</summary>
public sealed record DiskRedirect(string Vdev, string From, string To);

/// <summary>The config a clone restores with, and what the fixups changed.</summary>
/// <param name="Macs">The clone's MAC per vif, in vif order ("" for a vif without one).</param>
public sealed record ClonedConfig(ConfigText Config, string Name, IReadOnlyList<string> Macs, IReadOnlyList<DiskRedirect> Disks, bool NewVmGenId);

/// <summary>
/// MAC addresses for one batch of clones: random in Xen's OUI 00:16:3e, never one the pool was told is taken
/// (the source's MACs, other domains') and never the same twice. Safe to share between parallel restores.
/// </summary>
public sealed class MacPool
{
    private readonly HashSet<string> _taken = new(StringComparer.OrdinalIgnoreCase);
    private readonly Lock _lock = new();

    public MacPool(IEnumerable<string?>? taken = null)
    {
        foreach (var mac in taken ?? []) if (!string.IsNullOrEmpty(mac)) _taken.Add(mac);
    }

    /// <summary>A pool that avoids the MACs of <paramref name="source"/>.</summary>
    public static MacPool Avoiding(DomainConfig source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new MacPool(source.Nics.Select(n => n.Mac));
    }

    public void Reserve(string mac) { lock (_lock) _taken.Add(mac); }

    public string Next()
    {
        lock (_lock)
        {
            // 2^24 addresses; a pool holding most of them is no use to anyone, so the bound only stops a runaway.
            if (_taken.Count >= 1 << 23) throw new CloneFixupException("no free MAC address left in 00:16:3e");
            Span<byte> b = stackalloc byte[3];
            while (true)
            {
                RandomNumberGenerator.Fill(b);
                // xl's own generated MACs keep the top bit of the fourth octet clear; clones do the same.
                var mac = $"00:16:3e:{b[0] & 0x7f:x2}:{b[1]:x2}:{b[2]:x2}";
                if (_taken.Add(mac)) return mac;
            }
        }
    }
}

/// <summary>A clone cannot be made as asked (no name, a disk pattern that names nothing new).</summary>
public sealed class CloneFixupException(string message) : XenIacException(message);
