using System.Globalization;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;

namespace XenIac.Core.Config;

/// <summary>
/// What of a domain's config matters for save and restore, whether it came from xl.cfg text or libxl's JSON:
/// identity, guest type, memory and vCPUs, boot files, devices in order, device-model features and the
/// shutdown actions. Names and units follow xl.cfg (MiB, xl's spellings); <see cref="ToSettings"/> flattens it
/// into the setting names the compatibility check and <c>config show</c> use.
/// </summary>
public sealed partial class DomainConfig
{
    public SaveFileConfigFormat SourceFormat { get; init; }
    public string? Name { get; init; }
    /// <summary>PV, PVH or HVM (xl's type setting, libxl's c_info.type).</summary>
    public GuestType Type { get; init; } = GuestType.PV;

    /// <summary>The guest type as xl.cfg and libxl spell it: pv, pvh or hvm.</summary>
    public string TypeName => Type.ToString().ToLowerInvariant();

    /// <summary>xl's and libxl's spelling of a guest type (pv, pvh, hvm), or <see cref="GuestType.Unknown"/>.</summary>
    internal static GuestType GuestTypeNamed(string name) => name switch
    {
        "pv" => GuestType.PV,
        "pvh" => GuestType.PVH,
        "hvm" => GuestType.HVM,
        _ => GuestType.Unknown,
    };
    public long? MemoryMiB { get; init; }
    /// <summary>Defaults to <see cref="MemoryMiB"/>, as in xl.</summary>
    public long? MaxMemMiB { get; init; }
    /// <summary>
    /// KiB beyond <see cref="MemoryMiB"/> and <see cref="MaxMemMiB"/> that libxl JSON may give (its unit is KiB; xl.cfg's
    /// is MiB). Floored away, a saved 1 GiB and an override of 1 GiB + 1023 KiB compared equal.
    /// </summary>
    internal int MemoryRemainderKiB { get; init; }

    /// <inheritdoc cref="MemoryRemainderKiB"/>
    internal int MaxMemRemainderKiB { get; init; }

    public long? Vcpus { get; init; }
    /// <summary>Defaults to <see cref="Vcpus"/>, as in xl.</summary>
    public long? MaxVcpus { get; init; }
    public string? Kernel { get; init; }
    public string? Ramdisk { get; init; }
    public string? Bootloader { get; init; }
    public string? Cmdline { get; init; }
    public IReadOnlyList<DiskConfig> Disks { get; init; } = [];
    public IReadOnlyList<NicConfig> Nics { get; init; } = [];

    /// <summary>Other device lists by xl key (vfb, vkb, pci, usbctrl, usbdev, channel, vtpm, ...), specs as written.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Devices { get; init; } = new SortedDictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);

    /// <summary>Device-model and platform settings by xl key (vga, vnc, serial, boot, acpi, viridian, ...), booleans as 0/1.</summary>
    public IReadOnlyDictionary<string, string> DeviceModel { get; init; } = new SortedDictionary<string, string>(StringComparer.Ordinal);

    /// <summary>on_poweroff, on_reboot, on_crash, on_watchdog, on_soft_reset with xl's defaults filled in.</summary>
    public IReadOnlyDictionary<string, string> Actions { get; init; } = DefaultActions();

    /// <summary>
    /// Settings the model does not cover: xl keys with their value as xl.cfg text, or for JSON the path of each
    /// leaf prefixed <c>json:</c>. They are still compared (a change is a warning).
    /// </summary>
    public IReadOnlyDictionary<string, string> Other { get; init; } = new SortedDictionary<string, string>(StringComparer.Ordinal);

    internal static readonly string[] DeviceKeys = ["vfb", "vkb", "pci", "usbctrl", "usbdev", "channel", "vtpm", "p9", "vdispl", "vsnd", "virtio", "dtdev", "iomem", "ioports", "irqs"];

    internal static readonly string[] BooleanDeviceModelKeys =
        ["stdvga", "vnc", "vncunused", "sdl", "opengl", "nographic", "usb", "acpi", "acpi_s3", "acpi_s4", "apic", "pae", "hap", "nestedhvm",
         "hpet", "nx", "localtime", "xen_platform_pci", "vpt_align", "nomigrate", "e820_host", "msr_relaxed", "spice", "altp2mhvm"];

    internal static readonly string[] TextDeviceModelKeys =
        ["vga", "videoram", "vnclisten", "vncdisplay", "vncpasswd", "keymap", "serial", "boot", "usbdevice", "usbversion", "soundhw",
         "viridian", "timer_mode", "rtc_timeoffset", "device_model_version", "device_model_override", "device_model_stubdomain_override",
         "bios", "firmware", "cpuid", "tsc_mode", "max_grant_frames", "max_maptrack_frames", "altp2m", "monitor", "shadow_memory", "mmio_hole", "hdtype", "vendor_device"];

    /// <summary>A platform setting xl and libxl take from a fixed list (libxl's enums: its parsers compare without case, xl's own lists with).</summary>
    internal sealed record PlatformWord(string Key, string[] Words, bool IgnoreCase = true, int? MaxNumber = null, bool HvmOnly = false)
    {
        public bool Accepts(string value) => Words.Contains(value, IgnoreCase ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);

        /// <summary>
        /// The value in one spelling, so that spellings xl and libxl read alike compare equal: a number xl takes in
        /// place of a word (the words are listed in libxl's enum order) becomes the word, a word its listed case.
        /// </summary>
        public string Canonical(string value)
        {
            if (MaxNumber is { } max && long.TryParse(value, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var n)
                && n >= 0 && n <= max && n < Words.Length)
                return Words[n];
            return Words.FirstOrDefault(w => string.Equals(w, value, IgnoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal)) ?? value;
        }
    }

    /// <summary>Device-model settings xl reads as numbers (xlu_cfg_get_long: 0x is hex, a leading 0 octal), kept in decimal.</summary>
    internal static readonly string[] NumericDeviceModelKeys = ["vncdisplay", "usbversion", "rtc_timeoffset", "shadow_memory", "mmio_hole"];

    /// <summary>One list for both languages: a value one side refuses must not reach the other through a conversion.</summary>
    internal static readonly PlatformWord[] PlatformWords =
    [
        new("tsc_mode", ["default", "always_emulate", "native", "native_paravirt"], MaxNumber: 3),
        new("timer_mode", ["delay_for_missed_ticks", "no_delay_for_missed_ticks", "no_missed_ticks_pending", "one_missed_tick_pending"], MaxNumber: 3),
        new("bios", ["rombios", "seabios", "ovmf"], HvmOnly: true),
        new("altp2m", ["disabled", "mixed", "external", "limited"], MaxNumber: 3),
        new("device_model_version", ["qemu-xen", "qemu-xen-traditional"], IgnoreCase: false),
        new("vga", ["stdvga", "cirrus", "none", "qxl"], IgnoreCase: false, HvmOnly: true),
        new("hdtype", ["ide", "ahci"], HvmOnly: true),
        new("vendor_device", ["none", "xenserver"], HvmOnly: true),
    ];

    internal static readonly string[] ActionKeys = ["on_poweroff", "on_reboot", "on_crash", "on_watchdog", "on_soft_reset"];

    internal static SortedDictionary<string, string> DefaultActions() => new(StringComparer.Ordinal)
    {
        ["on_poweroff"] = "destroy",
        ["on_reboot"] = "restart",
        ["on_crash"] = "destroy",
        ["on_watchdog"] = "destroy",
        ["on_soft_reset"] = "soft-reset",
    };

    /// <summary>
    /// Reads a config in the language <see cref="ConfigText.Detect"/> tells. Errors in either language are
    /// <see cref="XlConfigException"/>s located in <paramref name="file"/>.
    /// </summary>
    public static DomainConfig Parse(string text, string file = "config") => ConfigText.FromText(text, file).ToModel();

    // Far beyond any real domain, and small enough that JSON conversion (one entry per vCPU, memory in KiB)
    // can neither overflow nor allocate without bound.
    private const long MaxVcpuCount = 4096;
    private const long MaxMemoryMiB = 1L << 30;

    /// <summary>Rejects vCPU and memory values no domain can have (negative, zero vCPUs, astronomically large).</summary>
    /// <param name="where">The line and column of a setting, so the error points at it (1:1 when unknown).</param>
    private DomainConfig Validated(string file, Func<string, (int Line, int Column)>? where = null)
    {
        XlConfigException OutOfRange(string key, string reason)
        {
            var (line, column) = where?.Invoke(key) ?? (1, 1);
            return new XlConfigException(file, line, column, reason);
        }
        foreach (var (key, value) in new[] { ("vcpus", Vcpus), ("maxvcpus", MaxVcpus) })
            if (value is { } n && n is < 1 or > MaxVcpuCount)
                throw OutOfRange(key, $"{key} = {n} is out of range (1 to {MaxVcpuCount})");
        if (MaxVcpus is { } max && Vcpus is { } vcpus && max < vcpus)
            throw OutOfRange("maxvcpus", $"maxvcpus = {max} is less than vcpus = {vcpus} (xl refuses it)");
        foreach (var (key, value) in new[] { ("memory", MemoryMiB), ("maxmem", MaxMemMiB) })
            if (value is { } m && m is < 0 or > MaxMemoryMiB)
                throw OutOfRange(key, $"{key} = {m} MiB is out of range (0 to {MaxMemoryMiB})");
        return this;
    }

    /// <summary>The model as flat settings: xl names, list entries as <c>disk[0].vdev</c>, counts as <c>disk.count</c>.</summary>
    public SortedDictionary<string, string> ToSettings()
    {
        var s = new SortedDictionary<string, string>(StringComparer.Ordinal);
        void Add(string key, string? value) { if (value is not null) s[key] = value; }
        static string? N(long? v) => v?.ToString(CultureInfo.InvariantCulture);

        Add("name", Name);
        Add("type", TypeName);
        // Whole MiB as xl.cfg writes them; KiB where JSON gave a size xl.cfg cannot write.
        static string? Size(long? mib, int kib) => mib is null ? null : kib == 0 ? N(mib) : $"{mib * 1024 + kib} KiB";
        Add("memory", Size(MemoryMiB, MemoryRemainderKiB));
        Add("maxmem", MaxMemMiB is null ? Size(MemoryMiB, MemoryRemainderKiB) : Size(MaxMemMiB, MaxMemRemainderKiB));
        Add("vcpus", N(Vcpus));
        Add("maxvcpus", N(MaxVcpus ?? Vcpus));
        Add("kernel", Kernel);
        Add("ramdisk", Ramdisk);
        Add("bootloader", Bootloader);
        Add("cmdline", Cmdline);
        Add("disk.count", N(Disks.Count));
        for (var i = 0; i < Disks.Count; i++)
        {
            var d = Disks[i];
            Add($"disk[{i}].target", d.Target);
            Add($"disk[{i}].vdev", d.Vdev);
            Add($"disk[{i}].format", d.Format);
            Add($"disk[{i}].access", d.Access);
            Add($"disk[{i}].devtype", d.IsCdrom ? "cdrom" : "disk");
            Add($"disk[{i}].script", d.Script);
            Add($"disk[{i}].backendtype", d.BackendType);
            Add($"disk[{i}].backend", d.Backend);
            Add($"disk[{i}].specification", d.Specification is "xen" ? null : d.Specification);
        }
        Add("vif.count", N(Nics.Count));
        for (var i = 0; i < Nics.Count; i++)
        {
            var n = Nics[i];
            Add($"vif[{i}].mac", n.Mac);
            Add($"vif[{i}].bridge", n.Bridge);
            Add($"vif[{i}].script", n.Script);
            Add($"vif[{i}].ip", n.Ip);
            Add($"vif[{i}].model", n.Model);
            Add($"vif[{i}].type", n.Type);
            Add($"vif[{i}].vifname", n.VifName);
            Add($"vif[{i}].backend", n.Backend);
            Add($"vif[{i}].mtu", n.Mtu);
            Add($"vif[{i}].rate", n.Rate);
            Add($"vif[{i}].devid", n.Devid);
            foreach (var (k, v) in n.Other) Add($"vif[{i}].{k}", v);
        }
        foreach (var (kind, specs) in Devices)
        {
            Add($"{kind}.count", N(specs.Count));
            for (var i = 0; i < specs.Count; i++)
            {
                // The keyed kinds read from xl.cfg are in their one spelling (DeviceSpecs): compared key by key.
                if (DeviceSpecs.IsKeyed(kind) && SourceFormat == SaveFiles.SaveFileConfigFormat.XlCfg)
                {
                    foreach (var part in specs[i].Split(',', StringSplitOptions.RemoveEmptyEntries))
                        Add($"{kind}[{i}].{part[..part.IndexOf('=')]}", part[(part.IndexOf('=') + 1)..]);
                    continue;
                }
                if (kind != "pci")
                {
                    Add($"{kind}[{i}]", specs[i]);
                    continue;
                }
                // A PCI spec is kept in its one spelling (PciDevice.ToSpec): the device, then option=value pairs,
                // compared one by one (seize is dom0's business, the others the guest's).
                var parts = specs[i].Split(',');
                Add($"pci[{i}]", parts[0].StartsWith("name=", StringComparison.Ordinal) && parts.Length > 1 && parts[1].StartsWith("vslot=", StringComparison.Ordinal)
                    ? parts[0] + "," + parts[1] : parts[0]);
                foreach (var part in parts.Skip(1).Where(p => !p.StartsWith("vslot=", StringComparison.Ordinal)))
                    Add($"pci[{i}].{part[..part.IndexOf('=')]}", part[(part.IndexOf('=') + 1)..]);
            }
        }
        foreach (var (k, v) in DeviceModel)
            if (!(DeviceModelDefaults.TryGetValue(k, out var d) && d == v)) Add(k, v);
        foreach (var (k, v) in Actions) Add(k, v);
        foreach (var (k, v) in Other) Add(k, v);
        return s;
    }
}
