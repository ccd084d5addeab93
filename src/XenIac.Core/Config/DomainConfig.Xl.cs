using XenIac.Core.SaveFiles;

namespace XenIac.Core.Config;

public sealed partial class DomainConfig
{
    private static readonly HashSet<string> ModelledXlKeys =
    [
        "name", "type", "builder", "memory", "maxmem", "vcpus", "maxvcpus", "kernel", "ramdisk", "bootloader", "cmdline",
        "root", "extra", "disk", "vif", .. DeviceKeys, "pci_msitranslate", "pci_power_mgmt", "pci_permissive", "pci_seize", .. BooleanDeviceModelKeys, .. TextDeviceModelKeys, .. ActionKeys,
    ];

    private static readonly string[] XlActions = ["destroy", "restart", "rename-restart", "preserve", "coredump-destroy", "coredump-restart", "soft-reset"];

    /// <summary>
    /// Maps xl.cfg settings the way xl's parser does (type/builder, cmdline from root and extra, maxmem and
    /// maxvcpus defaulting to memory and vcpus). A value xl would refuse is an <see cref="XlConfigException"/>.
    /// </summary>
    public static DomainConfig FromXl(XlConfig xl)
    {
        ArgumentNullException.ThrowIfNull(xl);
        // The reading order is the reporting order: the first bad setting in this order is the one the error names.
        ConfigLimits.CheckSpecParts(xl, ["disk", "vif", .. DeviceKeys]);
        var type = XlGuestType(xl);
        var cmdline = XlCmdline(xl);
        var disks = XlDisks(xl);
        var nics = XlNics(xl, type);
        var devices = XlDevices(xl);
        var dm = XlDeviceModel(xl);
        CheckXlWords(xl, dm, type);
        var actions = XlShutdownActions(xl);
        var other = XlOther(xl);

        return new DomainConfig
        {
            SourceFormat = SaveFileConfigFormat.XlCfg,
            Name = xl.GetString("name"),
            Type = GuestTypeNamed(type),
            MemoryMiB = xl.GetLong("memory"),
            MaxMemMiB = xl.GetLong("maxmem"),
            Vcpus = xl.GetLong("vcpus"),
            MaxVcpus = xl.GetLong("maxvcpus"),
            Kernel = xl.GetString("kernel"),
            Ramdisk = xl.GetString("ramdisk"),
            Bootloader = xl.GetString("bootloader"),
            Cmdline = cmdline,
            Disks = disks,
            Nics = nics,
            Devices = devices,
            DeviceModel = dm,
            Actions = actions,
            Other = other,
        }.Validated(xl.FileName, xl.Where);
    }

    /// <summary>
    /// type, or the deprecated builder, as xl reads them: a word is any prefix of the name (so "h" is hvm, and an
    /// empty one too, as xl compares only the given length); both given and naming different types is an error.
    /// </summary>
    private static string XlGuestType(XlConfig xl)
    {
        static bool Prefix(string given, string name) => name.StartsWith(given, StringComparison.Ordinal);
        var typeText = xl.GetString("type");
        string? type = typeText is null ? null
            : Prefix(typeText, "hvm") ? "hvm" : Prefix(typeText, "pv") ? "pv" : Prefix(typeText, "pvh") ? "pvh"
            : throw xl.SettingError("type", $"'{typeText}' is not pv, pvh or hvm");
        if (xl.GetString("builder") is { } builderText)
        {
            var builder = Prefix(builderText, "hvm") ? "hvm" : Prefix(builderText, "generic") ? "pv"
                : throw xl.SettingError("builder", $"'{builderText}' is not hvm or generic");
            if (type is not null && type != builder)
                throw xl.SettingError("builder", $"builder '{builderText}' and type '{typeText}' name different guest types");
            type = builder;
        }
        return type ?? "pv";
    }

    /// <summary>cmdline, or root= and extra= joined as xl joins them.</summary>
    private static string? XlCmdline(XlConfig xl)
    {
        var cmdline = xl.GetString("cmdline");
        if (cmdline is null)
        {
            var root = xl.GetString("root");
            var extra = xl.GetString("extra");
            cmdline = (root, extra) switch
            {
                (null, null) => null,
                (not null, not null) => $"root={root} {extra}",
                (not null, null) => $"root={root}",
                _ => extra,
            };
        }

        return cmdline;
    }

    private static List<DiskConfig> XlDisks(XlConfig xl)
    {
        var disks = new List<DiskConfig>();
        foreach (var spec in Strings(xl, "disk"))
        {
            try { disks.Add(DiskConfig.Parse(spec)); }
            catch (XlConfigException e) { throw xl.SettingError("disk", $"entry '{spec}': {e.Reason}"); }
        }
        return disks;
    }

    /// <summary>
    /// The vif entries as xl reads them, in the form libxl's JSON gives them back: a type that is the guest type's
    /// default and a devid equal to the NIC's position are not set (so both spellings compare equal).
    /// </summary>
    private static List<NicConfig> XlNics(XlConfig xl, string type)
    {
        var nics = new List<NicConfig>();
        foreach (var spec in Strings(xl, "vif"))
        {
            NicConfig nic;
            try { nic = NicConfig.Parse(spec); }
            catch (XlConfigException e) { throw xl.SettingError("vif", $"entry '{(spec.Length <= 80 ? spec : spec[..77] + "…")}': {e.Reason}"); }
            // libxl refuses an emulated NIC for a PV or PVH guest ("trying to create PV or PVH guest with an emulated interface").
            if (nic.Type == "ioemu" && type != "hvm") throw xl.SettingError("vif", $"entry '{spec}': type=ioemu is an emulated NIC, which a {type} guest cannot have");
            if (nic.Type == (type == "hvm" ? "ioemu" : "vif")) nic = nic with { Type = null };
            if (nic.Devid == nics.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)) nic = nic with { Devid = null };
            nics.Add(nic);
        }
        return nics;
    }

    private static SortedDictionary<string, IReadOnlyList<string>> XlDevices(XlConfig xl)
    {
        var devices = new SortedDictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var key in DeviceKeys)
        {
            if (!xl.Contains(key)) continue;
            // xl reads device lists with xlu_cfg_get_list, which skips a single value with a warning: the guest got no
            // device where XenIac counted one, and an override that made it a list was "compatible".
            if (xl.Get(key) is not XlList) throw xl.SettingError(key, "is a single value but should be a list (xl skips it: the guest would get no device)");
            devices[key] = key == "pci" ? XlPciDevices(xl) : DeviceSpecs.IsKeyed(key) ? XlKeyedDevices(xl, key) : Strings(xl, key);
        }

        return devices;
    }

    private static List<string> XlKeyedDevices(XlConfig xl, string key)
    {
        var specs = new List<string>();
        foreach (var spec in Strings(xl, key))
        {
            try { specs.Add(DeviceSpecs.Canonical(key, spec)); }
            catch (XlConfigException e) { throw xl.SettingError(key, $"entry: {e.Reason}"); }
        }
        return specs;
    }

    /// <summary>The config's PCI_SPEC_STRINGs as xl reads them (the pci_* settings are each device's defaults), in one spelling each.</summary>
    private static List<string> XlPciDevices(XlConfig xl)
    {
        // xl keeps each in an int before it becomes the device's bool.
        bool Default(string key) => xl.Contains(key) && unchecked((int)(xl.GetLong(key) ?? 0)) != 0;
        var defaults = new PciDevice.Defaults(Default("pci_msitranslate"), Default("pci_power_mgmt"), Default("pci_permissive"), Default("pci_seize"));
        var specs = new List<string>();
        foreach (var spec in Strings(xl, "pci"))
        {
            try { specs.Add(PciDevice.Parse(spec, defaults).ToSpec()); }
            catch (XlConfigException e) { throw xl.SettingError("pci", $"entry {e.Reason}"); }
        }
        return specs;
    }

    private static SortedDictionary<string, string> XlDeviceModel(XlConfig xl)
    {
        var dm = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in BooleanDeviceModelKeys)
            if (xl.Contains(key))
                dm[key] = xl.GetLong(key) != 0 ? "1" : "0"; // a list or a word here is an error, as xlu_cfg_get_long reports
        foreach (var key in TextDeviceModelKeys)
            if (xl.Get(key) is { } v)
                dm[key] = v is XlString s ? s.Text : v.ToXl();
        // xl makes it video_memkb = videoram * 1024: a number, and one that fits a domain (as memory must).
        if (xl.GetLong("videoram") is { } videoram)
            dm["videoram"] = videoram is >= 0 and <= MaxMemoryMiB
                ? videoram.ToString(System.Globalization.CultureInfo.InvariantCulture)
                : throw xl.SettingError("videoram", $"= {videoram} MiB is out of range (0 to {MaxMemoryMiB})");
        if (dm.Remove("stdvga", out var std) && !dm.ContainsKey("vga")) dm["vga"] = std == "1" ? "stdvga" : "cirrus";
        // Read as xl reads them: 010 is 8 and 0x10 is 16 (a decimal reading made rtc_timeoffset=010 ten seconds, and
        // mmio_hole=0400 400 MiB instead of 256); a word is an error, which xl would warn about and skip.
        foreach (var key in NumericDeviceModelKeys)
            if (xl.Contains(key))
                dm[key] = xl.GetLong(key)!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // The fixed-list settings xl first tries as numbers ("0x2", " 2"), then as words.
        foreach (var rule in PlatformWords)
            if (rule.MaxNumber is not null && xl.TryGetLong(rule.Key, out var number, out _))
                dm[rule.Key] = number.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // xl reads these as numbers from 0 to INT_MAX and stops at anything else; a word stored here reached the
        // savefile's JSON, which libxl's own reader then refused at restore.
        foreach (var key in (string[])["max_grant_frames", "max_maptrack_frames"])
            if (xl.Contains(key))
                dm[key] = xl.GetLong(key) is { } n and >= 0 and <= int.MaxValue
                    ? n.ToString(System.Globalization.CultureInfo.InvariantCulture)
                    : throw xl.SettingError(key, $"must be a number from 0 to {int.MaxValue}");

        return dm;
    }

    /// <summary>
    /// The words (and, where xl takes them, numbers) xl accepts for the platform settings it parses with a fixed list,
    /// for the guest types it reads them; any other value stops xl, so it is an error here (it was stored into the
    /// domain's config and found only by xl restore).
    /// </summary>
    private static void CheckXlWords(XlConfig xl, SortedDictionary<string, string> dm, string type)
    {
        if (type == "pv" && dm.ContainsKey("timer_mode")) throw xl.SettingError("timer_mode", "is not supported for PV guests (xl refuses it)");
        // xl's bounds for an HVM guest's MMIO hole below 4 GiB: at least 256 MiB, at most up to 0xF0000000.
        if (type == "hvm" && dm.TryGetValue("mmio_hole", out var hole) && long.Parse(hole, System.Globalization.CultureInfo.InvariantCulture) is < 256 or > 3840)
            throw xl.SettingError("mmio_hole", $"= {hole} MiB is out of range (256 to 3840, as xl requires)");
        foreach (var rule in PlatformWords)
        {
            if (!dm.TryGetValue(rule.Key, out var value) || (rule.HvmOnly && type != "hvm")) continue;
            if (rule.MaxNumber is { } max && long.TryParse(value, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var n))
            {
                if (n < 0 || n > max) throw xl.SettingError(rule.Key, $"= {n} is out of range (0 to {max}, or one of {string.Join(", ", rule.Words)})");
                dm[rule.Key] = rule.Canonical(value);
                continue;
            }
            if (!rule.Accepts(value)) throw xl.SettingError(rule.Key, $"'{value}' is not one of {string.Join(", ", rule.Words)}");
            dm[rule.Key] = rule.Canonical(value);
        }
    }

    private static SortedDictionary<string, string> XlShutdownActions(XlConfig xl)
    {
        var actions = DefaultActions();
        foreach (var key in ActionKeys)
            if (xl.GetString(key) is { } a)
            {
                if (!XlActions.Contains(a)) throw xl.SettingError(key, $"'{a}' is not one of {string.Join(", ", XlActions)}");
                actions[key] = a;
            }

        return actions;
    }

    /// <summary>Settings the model does not name, kept as xl.cfg text so nothing is lost.</summary>
    private static SortedDictionary<string, string> XlOther(XlConfig xl)
    {
        var other = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in xl.Keys)
            if (!ModelledXlKeys.Contains(key))
                other[key] = xl.Get(key) is XlString s ? s.Text : xl.Get(key)!.ToXl();

        return other;
    }

    private static List<string> Strings(XlConfig xl, string key)
    {
        var list = xl.GetList(key);
        if (list is null) return [];
        var result = new List<string>();
        foreach (var item in list.Items)
            result.Add(item is XlString s ? s.Text : throw xl.SettingError(key, "holds a nested list; xl expects strings"));
        return result;
    }
}
