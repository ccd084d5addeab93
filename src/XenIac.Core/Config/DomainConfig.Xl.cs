using XenIac.Core.SaveFiles;

namespace XenIac.Core.Config;

public sealed partial class DomainConfig
{
    private static readonly HashSet<string> ModelledXlKeys =
    [
        "name", "type", "builder", "memory", "maxmem", "vcpus", "maxvcpus", "kernel", "ramdisk", "bootloader", "cmdline",
        "root", "extra", "disk", "vif", .. DeviceKeys, .. BooleanDeviceModelKeys, .. TextDeviceModelKeys, .. ActionKeys,
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
        var type = XlGuestType(xl);
        var cmdline = XlCmdline(xl);
        var disks = XlDisks(xl);
        var nics = Strings(xl, "vif").Select(NicConfig.Parse).ToList();
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

    private static SortedDictionary<string, IReadOnlyList<string>> XlDevices(XlConfig xl)
    {
        var devices = new SortedDictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var key in DeviceKeys)
            if (xl.Contains(key))
                devices[key] = xl.Get(key) is XlList ? Strings(xl, key) : [xl.GetString(key)!];

        return devices;
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
    private static void CheckXlWords(XlConfig xl, IReadOnlyDictionary<string, string> dm, string type)
    {
        if (type == "pv" && dm.ContainsKey("timer_mode")) throw xl.SettingError("timer_mode", "is not supported for PV guests (xl refuses it)");
        foreach (var rule in PlatformWords)
        {
            if (!dm.TryGetValue(rule.Key, out var value) || (rule.HvmOnly && type != "hvm")) continue;
            if (rule.MaxNumber is { } max && long.TryParse(value, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var n))
            {
                if (n < 0 || n > max) throw xl.SettingError(rule.Key, $"= {n} is out of range (0 to {max}, or one of {string.Join(", ", rule.Words)})");
                continue;
            }
            if (!rule.Accepts(value)) throw xl.SettingError(rule.Key, $"'{value}' is not one of {string.Join(", ", rule.Words)}");
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
