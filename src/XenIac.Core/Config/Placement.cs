using System.Buffers.Binary;
using System.Globalization;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;

namespace XenIac.Core.Config;

/// <summary>
/// What placement needs to know about a host, without knowing hosts: the Xen release it runs (major.minor), its
/// CPU vendor (the CPUID vendor string) and the memory free for a new domain.
/// </summary>
/// <param name="Name">How the host is named in findings (the manifest's host name or its spec).</param>
/// <param name="XenRelease">Major and minor; null when the host's version did not say (then no version rule applies).</param>
/// <param name="CpuVendor"><c>GenuineIntel</c>, <c>AuthenticAMD</c>, ...; <see cref="Placement.UnknownVendor"/> skips the vendor rule.</param>
/// <param name="FreeMemoryKiB">Free memory in KiB; negative when unknown (then no memory rule applies).</param>
public sealed record PlacementTarget(string Name, Version? XenRelease, string CpuVendor, long FreeMemoryKiB);

/// <summary>
/// What placement needs to know about the domain going to a host: the CPU vendor its CPUID policy was made on (from
/// the savefile's X86_CPUID_POLICY record, or the host it runs on now), the config the restore or create uses, and
/// the memory it takes (null: the config's).
/// </summary>
public sealed record PlacementSubject(string? CpuVendor, DomainConfig? Config, long? MemoryKiB = null)
{
    /// <summary>The savefile's image: the Xen release that wrote it and whether it is an HVM guest's (null: not a restore, or unknown).</summary>
    public SavedImage? Image { get; init; }

    /// <summary>The memory a restore asks the host for: libxl reserves the maximum (maxmem, else memory) before it builds the domain.</summary>
    public long? RequiredKiB => MemoryKiB ?? (Config?.MaxMemMiB ?? Config?.MemoryMiB) * 1024;
}

/// <summary>What a savefile's image stream says of where it was made: its CPUID policy's vendor, the Xen release that wrote it, and its guest type.</summary>
public sealed record SavedImage(string? CpuVendor, Version? XenRelease, bool Hvm);

/// <summary>A config key that an older libxl does not know: it reads past it silently, and the domain loses the setting.</summary>
/// <param name="XlKey">The xl.cfg key (also the prefix of its flattened settings, <c>virtio</c> → <c>virtio[0]</c>).</param>
/// <param name="JsonField">The key's last name in libxl's JSON (<c>b_info.type.hvm.pirq</c> → <c>pirq</c>) with its parent, as it appears in a stored config.</param>
/// <param name="Since">The first Xen release whose libxl reads it.</param>
/// <param name="JsonDefault">A value libxl writes into JSON when the key was never set; not named then.</param>
public sealed record NewConfigKey(string XlKey, string JsonField, Version Since, string? JsonDefault = null);

/// <summary>
/// Whether a domain can go to a host: pure rules over <see cref="PlacementSubject"/> and <see cref="PlacementTarget"/>
/// that give <see cref="CompatibilityFinding"/>s with the config check's severities (an error blocks unless forced).
/// The savefile's CPU vendor is read by a streaming pass that stops at the policy record and reads no page data.
/// </summary>
public static class Placement
{
    public const string UnknownVendor = "unknown";

    /// <summary>The release that removed the qemu-xen-traditional device model (xl.cfg and libxl no longer build it).</summary>
    public static readonly Version TraditionalDeviceModelRemoved = new(4, 21);

    /// <summary>The release placement assumes a stored config was written for when nothing says otherwise (XenIac's baseline).</summary>
    public static readonly Version Baseline = new(4, 17);

    /// <summary>
    /// xl.cfg keys added after 4.17, each with the release whose libxl first reads it (from the xl.cfg manual and
    /// libxl's type definitions of each release). xl and libxl skip keys they do not know without a word, so a config
    /// that sets one loses it on an older target. Architecture-specific keys (Arm's sve, nr_spis, arm_sci) are left
    /// out: a savefile here is x86.
    /// </summary>
    public static IReadOnlyList<NewConfigKey> NewConfigKeys { get; } =
    [
        new("smbios", "hvm.smbios", new(4, 18)),
        new("bootloader_restrict", "b_info.bootloader_restrict", new(4, 18)),
        new("bootloader_user", "b_info.bootloader_user", new(4, 18)),
        new("virtio", "virtios", new(4, 18)),
        new("hvm_pirq", "hvm.pirq", new(4, 19)),
        new("vif.vlan", "nics.vlan", new(4, 19)),
        new("llc_colors", "b_info.llc_colors", new(4, 20)),
        new("xenstore_feature_mask", "b_info.xenstore_feature_mask", new(4, 21), "4294967295"),
        new("altp2m_count", "b_info.altp2m_count", new(4, 21), "4294967295"),
        new("xen_platform_pci_bar_uc", "hvm.xen_platform_pci_bar_uc", new(4, 21)),
        new("trap_unmapped_accesses", "b_info.trap_unmapped_accesses", new(4, 21)),
        new("xenstore_quota", "b_info.xenstore_quota", new(4, 22)),
    ];

    /// <summary>Every finding for <paramref name="subject"/> on <paramref name="target"/>; none when it fits.</summary>
    public static IReadOnlyList<CompatibilityFinding> Check(PlacementSubject subject, PlacementTarget target)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentNullException.ThrowIfNull(target);
        var findings = new List<CompatibilityFinding>();

        // Xen refuses a CPUID policy of another vendor (4.22 says so outright; earlier ones crash the guest later).
        if (subject.CpuVendor is { } from && from != UnknownVendor && target.CpuVendor != UnknownVendor && from != target.CpuVendor)
            findings.Add(new CompatibilityFinding(FindingSeverity.Error, "cpu.vendor", from, target.CpuVendor,
                $"the savefile's CPUID policy is {from}'s and {target.Name} is {target.CpuVendor}: a guest cannot move between CPU vendors"));

        // An HVM guest's state records (local APIC, and more over time) grow with Xen; an older hypervisor refuses the
        // longer record ("HVM restore mismatch", libxl's ERROR_FAIL). Seen in the lab: 4.20's HVM savefiles on 4.17.
        // PV images carry no such records and moved both ways there.
        if (subject.Image is { Hvm: true, XenRelease: { } written } && target.XenRelease is { } runs && written > runs)
            findings.Add(new CompatibilityFinding(FindingSeverity.Error, "image.xen_version", $"Xen {Show(written)}", $"Xen {Show(runs)}",
                $"the HVM guest state in the savefile was written by Xen {Show(written)} and {target.Name} runs Xen {Show(runs)}, whose hypervisor refuses HVM state from a newer Xen"));

        var settings = subject.Config?.ToSettings();
        if (settings is not null && target.XenRelease is { } release)
        {
            if (settings.TryGetValue("device_model_version", out var dm) && dm == "qemu-xen-traditional" && release >= TraditionalDeviceModelRemoved)
                findings.Add(new CompatibilityFinding(FindingSeverity.Error, "device_model_version", dm, $"Xen {Show(release)}",
                    $"qemu-xen-traditional was removed in Xen {Show(TraditionalDeviceModelRemoved)}; {target.Name} runs {Show(release)} and cannot start its device model"));
            foreach (var (key, value, needs) in NewKeysIn(settings))
                if (release < needs.Since)
                    findings.Add(new CompatibilityFinding(FindingSeverity.Warning, key, value, null,
                        $"{needs.XlKey} came in Xen {Show(needs.Since)}; libxl {Show(release)} on {target.Name} drops it without a word"));
        }

        if (subject.RequiredKiB is { } need && target.FreeMemoryKiB >= 0 && need > target.FreeMemoryKiB)
            findings.Add(new CompatibilityFinding(FindingSeverity.Error, "memory", MiB(need, up: true), MiB(target.FreeMemoryKiB, up: false) + " free",
                $"the domain needs {MiB(need, up: true)} and {target.Name} has {MiB(target.FreeMemoryKiB, up: false)} free"));
        return findings;
    }

    /// <summary>The settings of <paramref name="settings"/> that come from a key in <see cref="NewConfigKeys"/>, with that key.</summary>
    private static IEnumerable<(string Setting, string Value, NewConfigKey Key)> NewKeysIn(SortedDictionary<string, string> settings)
    {
        foreach (var (setting, value) in settings)
        {
            foreach (var key in NewConfigKeys)
            {
                if (MatchesXl(setting, key.XlKey) || (setting.StartsWith("json:", StringComparison.Ordinal) && MatchesJson(setting[5..], key.JsonField)
                    && value != key.JsonDefault && value != "null"))
                {
                    yield return (setting, value, key);
                    break;
                }
            }
        }
    }

    // xl settings: the key itself, each of its list entries (virtio[0]; not their count), or a field of each device (vif[0].vlan).
    private static bool MatchesXl(string setting, string xlKey)
    {
        var dot = xlKey.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0)
            return setting == xlKey || (setting.StartsWith(xlKey, StringComparison.Ordinal) && setting.Length > xlKey.Length && setting[xlKey.Length] is '[' or '.')
                && setting != xlKey + ".count";
        var (device, field) = (xlKey[..dot], xlKey[(dot + 1)..]);
        return setting.StartsWith(device + "[", StringComparison.Ordinal) && setting.EndsWith("]." + field, StringComparison.Ordinal);
    }

    // JSON leaves: the field's parent and name appear in the path, array indexes aside (nics[0].vlan matches nics.vlan).
    private static bool MatchesJson(string path, string field)
    {
        var names = path.Split('.').Select(n => n.IndexOf('[', StringComparison.Ordinal) is var i and >= 0 ? n[..i] : n).ToArray();
        var wanted = field.Split('.');
        for (var i = 0; i + wanted.Length <= names.Length; i++)
            if (names.AsSpan(i, wanted.Length).SequenceEqual(wanted)) return true;
        return false;
    }

    /// <summary>
    /// The CPU vendor of an xl savefile's CPUID policy, or null when the image has none (streams before Xen 4.14, or
    /// a writer that left it out). Reads record headers up to the policy and skips every body it does not need.
    /// </summary>
    public static string? ReadCpuVendor(string savefilePath) => ReadImage(savefilePath).CpuVendor;

    /// <inheritdoc cref="ReadCpuVendor(string)"/>
    public static string? ReadCpuVendor(SaveFileReader savefile) => ReadImage(savefile).CpuVendor;

    /// <summary>As <see cref="ReadCpuVendor(string)"/>, from an image reader positioned before its first record.</summary>
    public static string? ReadCpuVendor(ImageStreamReader image) => ReadImage(image).CpuVendor;

    /// <summary>Where a savefile's image was made (<see cref="SavedImage"/>): one streaming pass over record headers, no page data.</summary>
    public static SavedImage ReadImage(string savefilePath)
    {
        using var reader = SaveFileReader.Open(savefilePath, SaveFileReaderOptions.Inspection);
        return ReadImage(reader);
    }

    /// <inheritdoc cref="ReadImage(string)"/>
    public static SavedImage ReadImage(SaveFileReader savefile)
    {
        ArgumentNullException.ThrowIfNull(savefile);
        if (savefile.Header.Format == SaveFileFormat.Xl && !savefile.Header.IsStreamV2) return new SavedImage(null, null, false);
        using var image = savefile.OpenImage();
        return ReadImage(image);
    }

    /// <inheritdoc cref="ReadImage(string)"/>
    public static SavedImage ReadImage(ImageStreamReader image)
    {
        ArgumentNullException.ThrowIfNull(image);
        Span<byte> leaf = stackalloc byte[StreamLayout.X86CpuidLeafLength];
        string? vendor = null;
        while (image.MoveNext())
        {
            var record = image.Current;
            // The policy is static data: it comes before STATIC_DATA_END and the first page, so stop there.
            if (record.Is(LibxcRecordType.PageData) || record.Is(LibxcRecordType.StaticDataEnd)) break;
            if (!record.Is(LibxcRecordType.X86CpuidPolicy)) continue;
            while (image.ReadBody(leaf) == leaf.Length)
            {
                if (VendorOf(leaf) is { } found) { vendor = found; break; }
            }
            break;
        }
        var header = image.LibxcHeader;
        var release = header is { IsLegacyConverted: false } h && h.XenMajor <= int.MaxValue && h.XenMinor <= int.MaxValue
            ? new Version((int)h.XenMajor, (int)h.XenMinor) : null;
        return new SavedImage(vendor, release, header?.DomainType == LibxcDomainType.X86Hvm);
    }

    /// <summary>The vendor string of one xen_cpuid_leaf (leaf, subleaf, a, b, c, d; little-endian u32s) when it is leaf 0.</summary>
    internal static string? VendorOf(ReadOnlySpan<byte> leaf)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(leaf) != 0) return null;
        // Leaf 0 spells the vendor in EBX, EDX, ECX, in that order.
        Span<byte> text = stackalloc byte[12];
        leaf.Slice(12, 4).CopyTo(text);
        leaf.Slice(20, 4).CopyTo(text[4..]);
        leaf.Slice(16, 4).CopyTo(text[8..]);
        var vendor = System.Text.Encoding.ASCII.GetString(text).TrimEnd('\0');
        return vendor.Length > 0 && vendor.All(c => c is >= ' ' and <= '~') ? vendor : UnknownVendor;
    }

    /// <summary>A CPUID policy leaf 0 that names <paramref name="vendor"/> (12 ASCII characters), for writers and tests.</summary>
    public static byte[] VendorLeaf(string vendor, uint maxLeaf = 0xd)
    {
        var text = System.Text.Encoding.ASCII.GetBytes(vendor.PadRight(12, '\0'));
        if (text.Length != 12) throw new ArgumentException("a CPUID vendor string is 12 ASCII characters", nameof(vendor));
        var leaf = new byte[StreamLayout.X86CpuidLeafLength];
        BinaryPrimitives.WriteUInt32LittleEndian(leaf.AsSpan(4), 0xffffffff); // XEN_CPUID_NO_SUBLEAF
        BinaryPrimitives.WriteUInt32LittleEndian(leaf.AsSpan(8), maxLeaf);
        text.AsSpan(0, 4).CopyTo(leaf.AsSpan(12));
        text.AsSpan(4, 4).CopyTo(leaf.AsSpan(20));
        text.AsSpan(8, 4).CopyTo(leaf.AsSpan(16));
        return leaf;
    }

    /// <summary>Whether <paramref name="findings"/> let the domain go there (no error).</summary>
    public static bool Fits(IEnumerable<CompatibilityFinding> findings) => ConfigCompatibility.IsCompatible(findings);

    private static string Show(Version v) => v.ToString(2);

    // What is needed rounds up and what is free rounds down, so a shown shortfall is never hidden by rounding.
    private static string MiB(long kib, bool up) => string.Create(CultureInfo.InvariantCulture, $"{(up ? kib + 1023 : kib) / 1024} MiB");
}
