using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using XenIac.Core.SaveFiles;

namespace XenIac.Core.Config;

public sealed partial class DomainConfig
{
    // Chosen by libxl or the host at create time, not by the config's author, and invisible to the guest.
    private static readonly string[] IgnoredJsonPaths =
    [
        "c_info.uuid", "c_info.domid", "c_info.run_hotplug_scripts", "c_info.ssidref", "b_info.claim_mode", "b_info.sched_params",
        "b_info.event_channels", "b_info.shadow_memkb", "b_info.num_vcpu_hard_affinity", "b_info.num_vcpu_soft_affinity",
    ];

    // libxl's default values that xl leaves unset: equal to "not given".
    internal static readonly Dictionary<string, string> DeviceModelDefaults = new(StringComparer.Ordinal)
    {
        ["msr_relaxed"] = "0",
        ["videoram"] = "0",
        ["mmio_hole"] = "0",
        // libxl turns hardware-assisted paging on unless told otherwise, and gives no vendor device.
        ["hap"] = "1",
        ["vendor_device"] = "none",
    };

    private static readonly (string Path, string Key, bool Boolean)[] JsonDeviceModel =
    [
        ("b_info.type.hvm.vnc.enable", "vnc", true), ("b_info.type.hvm.vnc.listen", "vnclisten", false),
        ("b_info.type.hvm.vnc.display", "vncdisplay", false), ("b_info.type.hvm.vnc.findunused", "vncunused", true),
        ("b_info.type.hvm.vnc.passwd", "vncpasswd", false), ("b_info.type.hvm.keymap", "keymap", false),
        ("b_info.type.hvm.sdl.enable", "sdl", true), ("b_info.type.hvm.sdl.opengl", "opengl", true),
        ("b_info.type.hvm.spice.enable", "spice", true), ("b_info.type.hvm.nographic", "nographic", true),
        ("b_info.type.hvm.serial", "serial", false), ("b_info.type.hvm.boot", "boot", false),
        ("b_info.type.hvm.usb", "usb", true), ("b_info.type.hvm.usbdevice", "usbdevice", false),
        ("b_info.type.hvm.usbversion", "usbversion", false), ("b_info.type.hvm.soundhw", "soundhw", false),
        ("b_info.type.hvm.acpi", "acpi", true), ("b_info.acpi", "acpi", true), ("b_info.type.hvm.acpi_s3", "acpi_s3", true),
        ("b_info.type.hvm.acpi_s4", "acpi_s4", true), ("b_info.type.hvm.apic", "apic", true), ("b_info.apic", "apic", true),
        ("b_info.type.hvm.pae", "pae", true), ("b_info.type.hvm.viridian", "viridian", true),
        ("b_info.type.hvm.nested_hvm", "nestedhvm", true), ("b_info.nested_hvm", "nestedhvm", true),
        ("b_info.type.hvm.hpet", "hpet", true), ("b_info.type.hvm.nx", "nx", true),
        ("b_info.type.hvm.timer_mode", "timer_mode", false), ("b_info.type.hvm.vpt_align", "vpt_align", true),
        ("b_info.type.hvm.xen_platform_pci", "xen_platform_pci", true), ("b_info.type.hvm.bios", "bios", false),
        ("b_info.type.hvm.firmware", "firmware", false), ("b_info.localtime", "localtime", true),
        ("b_info.rtc_timeoffset", "rtc_timeoffset", false), ("b_info.device_model_version", "device_model_version", false),
        ("b_info.device_model", "device_model_override", false), ("b_info.tsc_mode", "tsc_mode", false),
        ("b_info.max_grant_frames", "max_grant_frames", false), ("b_info.max_maptrack_frames", "max_maptrack_frames", false),
        ("b_info.arch_x86.msr_relaxed", "msr_relaxed", true), ("b_info.type.pv.e820_host", "e820_host", true),
        ("b_info.altp2m", "altp2m", false), ("c_info.hap", "hap", true),
        ("b_info.type.hvm.hdtype", "hdtype", false), ("b_info.type.hvm.vendor_device", "vendor_device", false),
    ];

    private static readonly (string JsonKey, string XlKey)[] JsonDeviceLists =
    [
        ("vfbs", "vfb"), ("vkbs", "vkb"), ("pcidevs", "pci"), ("usbctrls", "usbctrl"), ("usbdevs", "usbdev"), ("channels", "channel"),
        ("vtpms", "vtpm"), ("p9s", "p9"), ("vdispls", "vdispl"), ("vsnds", "vsnd"), ("virtios", "virtio"), ("dtdevs", "dtdev"),
    ];

    /// <summary>
    /// Reads libxl's JSON domain config (what today's xl stores in savefiles and prints with <c>xl list -l</c>):
    /// c_info, b_info with libxl's names and units (max_memkb, avail_vcpus, ...), disks, nics, on_* actions.
    /// </summary>
    /// <remarks>
    /// Untrusted input: every problem (syntax, nesting deeper than <see cref="MaxJsonDepth"/>, a duplicate key, a NUL
    /// in a string, a node of the wrong kind, a value of the wrong type or out of range) is an
    /// <see cref="XlConfigException"/> whose reason starts with the JSON path (<c>$.b_info.max_memkb: ...</c>) and
    /// whose line and column point at the value. Nothing the model reads is silently dropped.
    /// </remarks>
    public static DomainConfig FromJson(string json, string file = "config.json")
    {
        ArgumentNullException.ThrowIfNull(json);
        var reader = JsonConfigReader.Parse(json, file);
        try
        {
            return FromJsonCore(reader).Validated(file);
        }
        catch (Exception e) when (e is FormatException or OverflowException or InvalidOperationException or ArgumentException)
        {
            // Backstop for the contract: bad data never escapes as a framework exception.
            throw new XlConfigException(file, 1, 1, $"$: {e.Message}");
        }
    }

    /// <summary>libxl's own JSON is at most a handful of levels deep; deeper is an error, never a stack overflow.</summary>
    public const int MaxJsonDepth = 64;

    private static readonly Dictionary<string, string> JsonActions = new(StringComparer.OrdinalIgnoreCase)
    {
        ["destroy"] = "destroy", ["restart"] = "restart", ["restart_rename"] = "rename-restart", ["preserve"] = "preserve",
        ["coredump_destroy"] = "coredump-destroy", ["coredump_restart"] = "coredump-restart", ["soft_reset"] = "soft-reset",
    };

    // The reading order is the reporting order: the first bad value in this order is the one the error names.
    private static DomainConfig FromJsonCore(JsonConfigReader r)
    {
        var typeNode = r.Take("c_info.type", out var typePath);
        var type = r.String(typeNode, typePath)?.ToLowerInvariant() ?? "pv";
        if (type is not ("pv" or "hvm" or "pvh")) throw r.Fail(typePath, $"domain type {JsonConfigReader.Quote(type)} is not pv, hvm or pvh");
        var dm = JsonDeviceModelSettings(r);
        var disks = JsonDisks(r);
        var nics = JsonNics(r, type);
        var devices = JsonDevices(r);
        var actions = JsonShutdownActions(r);
        var vcpus = JsonAvailableVcpus(r);
        var maxVcpus = r.Whole(r.Take("b_info.max_vcpus", out var maxVcpusPath), maxVcpusPath, 1, MaxVcpuCount);
        var name = r.String(r.Take("c_info.name", out var namePath), namePath);
        var memoryKiB = r.Whole(r.Take("b_info.target_memkb", out var memPath), memPath, 0, MaxMemoryMiB * 1024);
        var maxMemoryKiB = r.Whole(r.Take("b_info.max_memkb", out var maxMemPath), maxMemPath, 0, MaxMemoryMiB * 1024);
        var kernel = r.FirstString("b_info.kernel", "b_info.type.pv.kernel");
        var ramdisk = r.FirstString("b_info.ramdisk", "b_info.type.pv.ramdisk");
        var cmdline = r.FirstString("b_info.cmdline", "b_info.type.pv.cmdline");
        var bootloader = r.FirstString("b_info.bootloader", "b_info.type.pv.bootloader");
        foreach (var path in IgnoredJsonPaths) r.Take(path, out _);
        var other = new SortedDictionary<string, string>(StringComparer.Ordinal);
        CollectLeaves(r.Root, "", other);
        return new DomainConfig
        {
            SourceFormat = SaveFileConfigFormat.Json,
            Type = GuestTypeNamed(type),
            Name = name,
            MemoryMiB = memoryKiB / 1024,
            MaxMemMiB = maxMemoryKiB / 1024,
            MemoryRemainderKiB = (int)(memoryKiB % 1024 ?? 0),
            MaxMemRemainderKiB = (int)(maxMemoryKiB % 1024 ?? 0),
            MaxVcpus = maxVcpus,
            Vcpus = vcpus ?? maxVcpus,
            Kernel = kernel,
            Ramdisk = ramdisk,
            Cmdline = cmdline,
            Bootloader = bootloader,
            Disks = disks,
            Nics = nics,
            Devices = devices,
            DeviceModel = dm,
            Actions = actions,
            Other = other,
        };
    }

    private static SortedDictionary<string, string> JsonDeviceModelSettings(JsonConfigReader r)
    {
        var dm = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var vga = r.String(r.Take("b_info.type.hvm.vga.kind", out var vgaPath), vgaPath);
        if (vga is not null) dm["vga"] = vga == "std" ? "stdvga" : vga is "cirrus" or "none" or "qxl" ? vga
            : throw r.Fail(vgaPath, $"{JsonConfigReader.Quote(vga)} is not one of std, cirrus, none, qxl");
        var videoKb = r.Whole(r.Take("b_info.video_memkb", out var videoPath), videoPath, -1, MaxMemoryMiB * 1024);
        if (videoKb is > 0) dm["videoram"] = (videoKb / 1024).Value.ToString(CultureInfo.InvariantCulture);
        var holeKb = r.Whole(r.Take("b_info.type.hvm.mmio_hole_memkb", out var holePath), holePath, 0, MaxMemoryMiB * 1024);
        if (holeKb is > 0) dm["mmio_hole"] = (holeKb / 1024).Value.ToString(CultureInfo.InvariantCulture);
        // A CPUID policy has no xl.cfg form here; kept as its JSON, so any difference (or one across formats) is found.
        if (r.Take("b_info.cpuid", out _) is { } cpuid && cpuid is not JsonArray { Count: 0 }) dm["cpuid"] = "json:" + cpuid.ToJsonString();
        foreach (var (path, key, boolean) in JsonDeviceModel)
        {
            var v = r.Take(path, out var at);
            var value = boolean ? r.Flag(v, at) : r.Scalar(v, at) switch
            {
                "qemu_xen" => "qemu-xen",
                "qemu_xen_traditional" => "qemu-xen-traditional",
                var t => t,
            };
            // libxl reads these as its enums (by name, without case): another word makes it refuse the whole config.
            if (value is not null && !boolean && PlatformWords.FirstOrDefault(w => w.Key == key) is { } rule)
                value = rule.Accepts(value) ? rule.Canonical(value) : throw r.Fail(at, $"{JsonConfigReader.Quote(value)} is not one of {string.Join(", ", rule.Words)}");
            if (value is not null) dm[key] = value;
        }

        return dm;
    }

    private static List<DiskConfig> JsonDisks(JsonConfigReader r)
    {
        var disks = new List<DiskConfig>();
        var jd = r.Array(r.Take("disks", out var disksPath), disksPath);
        for (var i = 0; jd is not null && i < jd.Count; i++)
        {
            var at = $"{disksPath}[{i}]";
            var d = r.Item(jd[i], at);
            var disk = new DiskConfig
            {
                Target = r.String(d["pdev_path"], at + ".pdev_path") ?? "",
                Vdev = DiskWord(r, d["vdev"], at + ".vdev") ?? "",
                Format = r.String(d["format"], at + ".format") is { } f and not "unknown"
                    ? DiskConfig.IsFormat(f) ? f : throw r.Fail(at + ".format", $"{JsonConfigReader.Quote(f)} is not a libxl disk format (raw, qcow, qcow2, vhd, qed, empty)")
                    : "raw",
                // libxl's JSON leaves out every field at its default, and readwrite's is 0: no key is a read-only disk.
                Access = (r.Whole(d["readwrite"], at + ".readwrite", 0, 1) ?? 0) == 0 ? "ro" : "rw",
                IsCdrom = r.Whole(d["is_cdrom"], at + ".is_cdrom", 0, 1) is > 0,
                Script = DiskWord(r, d["script"], at + ".script"),
                BackendType = r.String(d["backend"], at + ".backend") is { } b and not "unknown"
                    ? DiskConfig.IsBackendType(b) ? b : throw r.Fail(at + ".backend", $"{JsonConfigReader.Quote(b)} is not a libxl disk backend (phy, tap, qdisk, standalone)")
                    : null,
                Backend = DiskWord(r, d["backend_domname"], at + ".backend_domname"),
                Specification = r.String(d["specification"], at + ".specification") switch
                {
                    null or "unknown" => null,
                    "xen" => "xen",
                    "virtio" => "virtio",
                    var other => throw r.Fail(at + ".specification", $"{JsonConfigReader.Quote(other)} is not a libxl disk specification (xen, virtio)"),
                },
            };
            // libxl names every disk by its vdev (libxl__device_disk_dev_number): without one, no disk. Checked
            // after the other fields so that a wrong type in one of them is still reported at its own path.
            if (disk.Vdev.Length == 0) throw r.Fail(at + ".vdev", "a disk needs a vdev (e.g. \"xvda\")");
            // The rule the checks above spell out: the disk must have an xl.cfg form that reads back as itself.
            try { DiskConfig.Parse(disk.ToSpec()); }
            catch (XlConfigException e) { throw r.Fail(at, $"has no xl.cfg form: {e.Reason}"); }
            disks.Add(disk);
        }

        return disks;
    }

    private static List<NicConfig> JsonNics(JsonConfigReader r, string type)
    {
        var nics = new List<NicConfig>();
        var jn = r.Array(r.Take("nics", out var nicsPath), nicsPath);
        for (var i = 0; jn is not null && i < jn.Count; i++)
        {
            var at = $"{nicsPath}[{i}]";
            var n = r.Item(jn[i], at);
            // libxl reads its enums without case; another word makes it refuse the config.
            var nictype = r.String(n["nictype"], at + ".nictype")?.ToLowerInvariant();
            if (nictype is not (null or "unknown" or "vif" or "vif_ioemu"))
                throw r.Fail(at + ".nictype", $"{JsonConfigReader.Quote(nictype)} is not a libxl NIC type (vif, vif_ioemu)");
            var defaultType = type == "hvm" ? "vif_ioemu" : "vif";
            var devid = r.Whole(n["devid"], at + ".devid", -1, int.MaxValue);
            // A comma in a value would be a new key=value in the xl.cfg form (a bridge "br0,script=/x" a hotplug script).
            string? Text(string key)
            {
                var value = r.String(n[key], $"{at}.{key}");
                return value is not null && value.Contains(',') ? throw r.Fail($"{at}.{key}", "holds a comma, which xl.cfg's vif syntax cannot hold") : value;
            }
            var mac = Text("mac");
            nics.Add(new NicConfig
            {
                // libxl's own reader wants two hexadecimal digits per octet.
                Mac = mac is null ? null : LibxlMac().IsMatch(mac) ? mac.ToLowerInvariant()
                    : throw r.Fail(at + ".mac", $"{JsonConfigReader.Quote(mac)} is not a MAC as libxl writes one (00:16:3e:00:00:01)"),
                Bridge = Text("bridge"),
                Script = Text("script"),
                Ip = Text("ip"),
                Model = Text("model"),
                Type = nictype is null or "unknown" || nictype == defaultType ? null : nictype == "vif_ioemu" ? "ioemu" : nictype,
                VifName = Text("ifname"),
                Backend = Text("backend_domname"),
                // libxl makes 0 its default MTU, 1500: both are "not set", as in the xl.cfg reader.
                Mtu = r.Whole(n["mtu"], at + ".mtu", 0, int.MaxValue) is > 0 and not 1500 and var m ? m.ToString(CultureInfo.InvariantCulture) : null,
                // xl numbers vifs by position; only a devid that differs from it was chosen by someone.
                Devid = devid is null or < 0 || devid == nics.Count ? null : devid.Value.ToString(CultureInfo.InvariantCulture),
            });
        }

        return nics;
    }

    private static SortedDictionary<string, IReadOnlyList<string>> JsonDevices(JsonConfigReader r)
    {
        var devices = new SortedDictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var (jsonKey, xlKey) in JsonDeviceLists)
            if (r.Array(r.Take(jsonKey, out var at), at) is { Count: > 0 } a)
                devices[xlKey] = xlKey == "pci"
                    ? a.Select((item, n) => JsonPci(r, r.Item(item, $"{at}[{n}]"), $"{at}[{n}]").ToSpec()).ToList()
                    : a.Select(i => i?.ToJsonString() ?? "null").ToList();
        // Passed-through interrupts, memory and ports: the guest's hardware. IRQs are numbers in both languages; the
        // ranges keep their JSON form (a difference, or the other language, is then an error, never a silent match).
        foreach (var (path, xlKey) in (ReadOnlySpan<(string, string)>)[("b_info.irqs", "irqs"), ("b_info.iomem", "iomem"), ("b_info.ioports", "ioports")])
            if (r.Array(r.Take(path, out var at), at) is { Count: > 0 } a)
                devices[xlKey] = xlKey == "irqs"
                    ? a.Select((i, n) => (r.Whole(i, $"{at}[{n}]", 0, uint.MaxValue) ?? throw r.Fail($"{at}[{n}]", "must be a whole number, not null")).ToString(CultureInfo.InvariantCulture)).ToList()
                    : a.Select(i => i?.ToJsonString() ?? "null").ToList();

        return devices;
    }

    [GeneratedRegex("^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")]
    private static partial Regex LibxlMac();

    /// <summary>One entry of libxl's <c>pcidevs</c>: fields at their defaults are left out, as libxl writes them.</summary>
    private static PciDevice JsonPci(JsonConfigReader r, JsonObject item, string at)
    {
        foreach (var (key, _) in item)
            if (key is not ("func" or "dev" or "bus" or "domain" or "vdevfn" or "vfunc_mask" or "msitranslate" or "power_mgmt" or "permissive" or "seize" or "rdm_policy" or "name"))
                // Said at the device, the key quoted (and shortened): any text can be a key, and as part of a path
                // it sent the search for the nearest known position through every '[' it held.
                throw r.Fail(at, $"{JsonConfigReader.Quote(key)} is not a field of a libxl PCI device");
        bool Flag(string key) => r.Flag(item[key], $"{at}.{key}") == "1";
        var vdevfn = (uint)(r.Whole(item["vdevfn"], at + ".vdevfn", 0, 0xFF) ?? 0);
        var policy = r.String(item["rdm_policy"], at + ".rdm_policy");
        var name = r.String(item["name"], at + ".name");
        var device = new PciDevice
        {
            Func = (uint)(r.Whole(item["func"], at + ".func", 0, 7) ?? 0),
            Dev = (uint)(r.Whole(item["dev"], at + ".dev", 0, 0x1F) ?? 0),
            Bus = (uint)(r.Whole(item["bus"], at + ".bus", 0, 0xFF) ?? 0),
            Domain = (uint)(r.Whole(item["domain"], at + ".domain", 0, 0xFFFF) ?? 0),
            VSlot = (vdevfn & 7) == 0 ? vdevfn >> 3 : throw r.Fail(at + ".vdevfn", $"{vdevfn} is not a slot (xl.cfg gives slots only: a multiple of 8)"),
            All = (r.Whole(item["vfunc_mask"], at + ".vfunc_mask", 0, uint.MaxValue) ?? 1) == PciDevice.AllFunctions,
            MsiTranslate = Flag("msitranslate"),
            PowerMgmt = Flag("power_mgmt"),
            Permissive = Flag("permissive"),
            Seize = Flag("seize"),
            RdmPolicy = policy is null ? "strict" : PciDevice.RdmPolicyNamed(policy) ?? throw r.Fail(at + ".rdm_policy", $"{JsonConfigReader.Quote(policy)} is not a libxl RDM policy (strict, relaxed)"),
            Name = name,
        };
        // A name is the whole identity (the BDF fields are then unused, as in xl); the spec must read back as this device.
        if (name is not null && name.Contains(','))
            throw r.Fail(at + ".name", "must be a name without commas (xl.cfg's name= cannot hold one)");
        return device;
    }

    private static SortedDictionary<string, string> JsonShutdownActions(JsonConfigReader r)
    {
        // libxl's JSON leaves out values equal to the type's initial value, which for actions is destroy (xl's
        // own defaults, restart on reboot and soft-reset, are filled in before the JSON is written).
        var actions = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in ActionKeys) actions[key] = "destroy";
        foreach (var key in ActionKeys)
            if (r.String(r.Take(key, out var at), at) is { } a)
                actions[key] = JsonActions.TryGetValue(a, out var action) ? action
                    : throw r.Fail(at, $"{JsonConfigReader.Quote(a)} is not a libxl shutdown action ({string.Join(", ", JsonActions.Keys)})");

        return actions;
    }

    /// <summary>The vCPU count libxl's avail_vcpus bitmap gives (null when absent); every bit index is checked.</summary>
    private static long? JsonAvailableVcpus(JsonConfigReader r)
    {
        var vcpuBits = r.Array(r.Take("b_info.avail_vcpus", out var bitsPath), bitsPath);
        long? vcpus = null;
        if (vcpuBits is not null)
        {
            if (vcpuBits.Count is 0 or > (int)MaxVcpuCount) throw r.Fail(bitsPath, $"lists {vcpuBits.Count} vCPUs (1 to {MaxVcpuCount})");
            for (var i = 0; i < vcpuBits.Count; i++)
                _ = r.Whole(vcpuBits[i], $"{bitsPath}[{i}]", 0, MaxVcpuCount - 1) ?? throw r.Fail($"{bitsPath}[{i}]", "must be a whole number, not null");
            vcpus = vcpuBits.Count;
        }
        return vcpus;
    }

    /// <summary>
    /// A disk setting that xl.cfg writes as one <c>key=value</c> parameter: a comma would end it early, so such
    /// a value (which libxl could not have been given by xl either) is refused. Empty is absent.
    /// </summary>
    private static string? DiskWord(JsonConfigReader r, JsonNode? node, string path)
    {
        var value = r.String(node, path);
        if (string.IsNullOrEmpty(value)) return null;
        return value.Contains(',') ? throw r.Fail(path, $"{JsonConfigReader.Quote(value)} contains a comma, which a disk spec cannot hold") : value;
    }

    private static void CollectLeaves(JsonNode? node, string path, SortedDictionary<string, string> into)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o) CollectLeaves(v, path.Length == 0 ? k : $"{path}.{k}", into);
                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++) CollectLeaves(a[i], $"{path}[{i}]", into);
                break;
            case null:
                break;
            default:
                into["json:" + path] = node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : node.ToJsonString();
                break;
        }
    }

    /// <summary>Bytes the JSON reader stepped over to find lines and columns, counted for the linear-work tests.</summary>
    [ThreadStatic] internal static long JsonColumnSteps;

    /// <summary>
    /// The parsed document with the location of every value by JSON path, and typed reads that fail with that
    /// path and location. A first pass with <see cref="Utf8JsonReader"/> refuses what <see cref="JsonNode"/>
    /// would only trip over later (duplicate keys, depth) or let through (NUL in strings).
    /// </summary>
    private sealed class JsonConfigReader
    {
        private readonly string _file;
        private readonly Dictionary<string, (int Line, int Column)> _positions;
        private readonly string _rootPath;

        private JsonConfigReader(string file, Dictionary<string, (int, int)> positions, JsonObject root, string rootPath)
        {
            _file = file;
            _positions = positions;
            Root = root;
            _rootPath = rootPath;
        }

        public JsonObject Root { get; }

        public static JsonConfigReader Parse(string json, string file)
        {
            var bytes = Encoding.UTF8.GetBytes(json);
            var positions = Scan(bytes, file);
            var node = JsonNode.Parse(bytes, documentOptions: new JsonDocumentOptions { MaxDepth = MaxJsonDepth });
            var rootPath = "$";
            // "xl list -l" wraps the config: [{"domid":..,"config":{...}}] or {"config": {...}}.
            if (node is JsonArray { Count: 1 } list && list[0] is JsonObject only)
            {
                node = only;
                rootPath = "$[0]";
            }
            var locate = new JsonConfigReader(file, positions, new JsonObject(), "$");
            var root = node as JsonObject ?? throw locate.Fail(rootPath, "a libxl JSON config is an object");
            if (root["config"] is JsonObject wrapped && root["c_info"] is null)
            {
                root = wrapped;
                rootPath += ".config";
            }
            return new JsonConfigReader(file, positions, root, rootPath);
        }

        /// <summary>Syntax, depth, duplicate keys and NULs, each at its line and column; the location of every value.</summary>
        private static Dictionary<string, (int, int)> Scan(byte[] bytes, string file)
        {
            var positions = new Dictionary<string, (int, int)>(StringComparer.Ordinal);
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = MaxJsonDepth, CommentHandling = JsonCommentHandling.Disallow });
            var frames = new Stack<(string Path, HashSet<string>? Keys, int Next)>();
            string? property = null;
            var line = 1;
            var column = 1;
            var counted = 0;
            // Line and column advance with the tokens, each byte read once: counting the column from the line's start
            // for every token made a one-line config quadratic (64,000 disks took 13 s; 16 MiB of them never ended).
            (int, int) Locate(long offset)
            {
                for (; counted < offset; counted++)
                {
                    JsonColumnSteps++;
                    var b = bytes[counted];
                    if (b == (byte)'\n') { line++; column = 1; }
                    else if ((b & 0xC0) != 0x80) column++;
                }
                return (line, column);
            }
            string ValuePath()
            {
                if (frames.Count == 0) return "$";
                var (path, keys, next) = frames.Pop();
                frames.Push((path, keys, keys is null ? next + 1 : next));
                return keys is null ? $"{path}[{next}]" : path + Segment(property!);
            }
            try
            {
                while (reader.Read())
                {
                    var at = Locate(reader.TokenStartIndex);
                    switch (reader.TokenType)
                    {
                        case JsonTokenType.PropertyName:
                            var (objectPath, keys, _) = frames.Peek();
                            property = Text(ref reader, file, at, objectPath, "a key");
                            if (property.Contains('\0')) throw Located(file, at, objectPath, "a key contains a NUL character");
                            if (!keys!.Add(property)) throw Located(file, at, objectPath, $"duplicate key {Quote(property)}");
                            continue;
                        case JsonTokenType.EndObject or JsonTokenType.EndArray:
                            frames.Pop();
                            continue;
                    }
                    var path = ValuePath();
                    if (positions.Count == ConfigLimits.MaxValues) // each value has its own path (duplicate keys fail above)
                        throw Located(file, at, path, ConfigLimits.TooMany("JSON config"));
                    positions[path] = at;
                    if (reader.TokenType == JsonTokenType.StartObject) frames.Push((path, new HashSet<string>(StringComparer.Ordinal), 0));
                    else if (reader.TokenType == JsonTokenType.StartArray) frames.Push((path, null, 0));
                    else if (reader.TokenType == JsonTokenType.String && Text(ref reader, file, at, path, "the string").Contains('\0'))
                        throw Located(file, at, path, "the string contains a NUL character");
                }
            }
            catch (JsonException e)
            {
                var where = frames.Count > 0 ? frames.Peek().Path : "$";
                var depth = e.Message.Contains("maximum configured depth", StringComparison.Ordinal) ? $"nested deeper than {MaxJsonDepth} levels" : $"not valid JSON: {IO.JsonProblems.Reason(e)}";
                throw new XlConfigException(file, (int)(e.LineNumber ?? 0) + 1, (int)(e.BytePositionInLine ?? 0) + 1, $"{where}: {depth}");
            }
            return positions;
        }

        // An escape such as \ud800 with no partner decodes to no string at all: said here, at its place, rather than
        // by whichever later read trips over it first.
        private static string Text(ref Utf8JsonReader reader, string file, (int Line, int Column) at, string path, string what)
        {
            try { return reader.GetString()!; }
            catch (InvalidOperationException) { throw Located(file, at, path, $"{what} holds a lone surrogate escape (\\uD800-\\uDFFF without its pair), which is no text"); }
        }

        private static XlConfigException Located(string file, (int Line, int Column) at, string path, string reason) =>
            new(file, at.Line, at.Column, $"{path}: {reason}");

        private static string Segment(string key) =>
            key.Length > 0 && key.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') ? "." + key
            : key.All(c => c is >= ' ' and < '\u007f' and not '\'' and not '\\') ? $"['{key}']" : $"[{Quote(key)}]";

        public XlConfigException Fail(string path, string reason)
        {
            // A missing position means the node is absent: point at the nearest ancestor that exists.
            var p = path;
            while (!_positions.ContainsKey(p) && p.Length > 1)
            {
                var cut = Math.Max(p.LastIndexOf('.'), p.LastIndexOf('['));
                p = cut > 0 ? p[..cut] : "$";
            }
            return Located(_file, _positions.GetValueOrDefault(p, (1, 1)), path, reason);
        }

        /// <summary>Removes and returns the node at a dotted path (libxl's "type.hvm" key contains a dot itself).</summary>
        public JsonNode? Take(string dotted, out string path)
        {
            var at = DottedPath.Of(_rootPath, dotted);
            path = at.Paths[^1];
            var parent = Root;
            for (var i = 0; i < at.Parts.Length - 1; i++)
            {
                var next = parent[at.Parts[i]];
                if (next is null) return null;
                parent = next as JsonObject ?? throw Fail(at.Paths[i], $"must be an object, not {Kind(next)}");
            }
            if (!parent.TryGetPropertyValue(at.Parts[^1], out var node)) return null;
            parent.Remove(at.Parts[^1]);
            return node;
        }

        /// <summary>
        /// A dotted path split into keys, with the JSON path of each prefix. Made once per root and path: a config
        /// is read through about a hundred paths, most of them absent, and plan reads a thousand configs. The paths
        /// are the fixed ones of this file's tables, so the cache stays small.
        /// </summary>
        private sealed record DottedPath(string[] Parts, string[] Paths)
        {
            private static readonly ConcurrentDictionary<(string Root, string Dotted), DottedPath> Known = new();

            public static DottedPath Of(string root, string dotted) => Known.GetOrAdd((root, dotted), static key =>
            {
                var parts = key.Dotted.Replace("type.hvm", "type\u0001hvm").Replace("type.pv", "type\u0001pv").Split('.')
                    .Select(p => p.Replace('\u0001', '.')).ToArray();
                var paths = new string[parts.Length];
                var path = key.Root;
                for (var i = 0; i < parts.Length; i++) paths[i] = path += Segment(parts[i]);
                return new DottedPath(parts, paths);
            });
        }

        public string? FirstString(string dotted, string fallback)
        {
            var value = String(Take(dotted, out var path), path);
            var other = String(Take(fallback, out var otherPath), otherPath);
            return value ?? other;
        }

        public string? String(JsonNode? node, string path) => node switch
        {
            null => null,
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            _ => throw Fail(path, $"must be a string, not {Kind(node)}"),
        };

        /// <summary>A string, number or boolean as text (libxl writes some device-model settings either way).</summary>
        public string? Scalar(JsonNode? node, string path) => node switch
        {
            null => null,
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            JsonValue v when v.GetValueKind() is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => v.ToJsonString(),
            _ => throw Fail(path, $"must be a string, number or boolean, not {Kind(node)}"),
        };

        /// <summary>A whole number in [min, max]; libxl also writes some as decimal strings.</summary>
        public long? Whole(JsonNode? node, string path, long min, long max)
        {
            long value;
            switch (node)
            {
                case null:
                    return null;
                case JsonValue v when v.GetValueKind() == JsonValueKind.Number:
                    if (!v.TryGetValue(out value)) throw Fail(path, $"{Shorten(v.ToJsonString())} is not a whole number in range ({min} to {max})");
                    break;
                case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                    if (!long.TryParse(v.GetValue<string>(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
                        throw Fail(path, $"{Quote(v.GetValue<string>())} is not a whole number");
                    break;
                default:
                    throw Fail(path, $"must be a whole number, not {Kind(node)}");
            }
            if (value < min || value > max) throw Fail(path, $"{value} is out of range ({min} to {max})");
            return value;
        }

        /// <summary>libxl's booleans and defbools: true/false, "True"/"False", 1/0; "&lt;default&gt;" is not set.</summary>
        public string? Flag(JsonNode? node, string path)
        {
            if (node is null) return null;
            if (node is JsonValue v)
            {
                var kind = v.GetValueKind();
                if (kind == JsonValueKind.True) return "1";
                if (kind == JsonValueKind.False) return "0";
                var text = kind is JsonValueKind.String ? v.GetValue<string>() : kind is JsonValueKind.Number ? v.ToJsonString() : null;
                switch (text?.ToLowerInvariant())
                {
                    case "true" or "1": return "1";
                    case "false" or "0": return "0";
                    case "<default>" or "default": return null;
                }
            }
            throw Fail(path, $"must be a boolean (true, false, \"True\", \"False\", 1 or 0), not {Shorten(node.ToJsonString())}");
        }

        public JsonObject? Object(JsonNode? node, string path) =>
            node is null ? null : node as JsonObject ?? throw Fail(path, $"must be an object, not {Kind(node)}");

        /// <summary>An array item: null there is no "absent field" but a hole libxl's parser refuses.</summary>
        public JsonObject Item(JsonNode? node, string path) =>
            Object(node, path) ?? throw Fail(path, "must be an object, not null");

        public JsonArray? Array(JsonNode? node, string path) =>
            node is null ? null : node as JsonArray ?? throw Fail(path, $"must be an array, not {Kind(node)}");

        private static string Kind(JsonNode node) => node switch
        {
            JsonObject => "an object",
            JsonArray => "an array",
            _ => node.GetValueKind() switch
            {
                JsonValueKind.String => "a string",
                JsonValueKind.Number => $"the number {Shorten(node.ToJsonString())}",
                JsonValueKind.True or JsonValueKind.False => "a boolean",
                _ => Shorten(node.ToJsonString()),
            },
        };

        /// <summary>Key and value text from the document, JSON-quoted: control characters cannot break a one-line message.</summary>
        public static string Quote(string text) => Shorten($"\"{JsonEncodedText.Encode(text).Value}\"");

        private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "...";
    }
}
