using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
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
        ("b_info.altp2m", "altp2m", false),
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
    public static DomainConfig FromJson(string json, string file = "config.json")
    {
        try
        {
            return FromJsonCore(json, file).Validated(file);
        }
        catch (FormatException e)
        {
            // A value of the wrong kind (1.5 memory, a number as a name): the JSON parsed, the config is still bad.
            throw new XlConfigException(file, 1, 1, e.Message);
        }
    }

    private static DomainConfig FromJsonCore(string json, string file)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonObject root;
        try
        {
            var node = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = false });
            // "xl list -l DOMAIN" prints a one-element array of {"domid": .., "config": {...}}.
            if (node is JsonArray { Count: 1 } list && list[0] is JsonObject only) node = only;
            root = node as JsonObject ?? throw new XlConfigException(file, 1, 1, "a libxl JSON config is an object");
        }
        catch (JsonException e)
        {
            throw new XlConfigException(file, (int)(e.LineNumber ?? 0) + 1, (int)(e.BytePositionInLine ?? 0) + 1, $"not valid JSON: {FirstSentence(e.Message)}");
        }
        // "xl list -l" wraps the config: [{"domid":..,"config":{...}}] or {"config": {...}}.
        if (root["config"] is JsonObject wrapped && root["c_info"] is null) root = wrapped;

        var type = Take(root, "c_info.type")?.ToString() ?? "pv";
        var dm = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var vga = Take(root, "b_info.type.hvm.vga.kind")?.ToString();
        if (vga is not null) dm["vga"] = vga == "std" ? "stdvga" : vga;
        var videoKb = Long(Take(root, "b_info.video_memkb"));
        if (videoKb is > 0) dm["videoram"] = (videoKb / 1024).Value.ToString(CultureInfo.InvariantCulture);
        foreach (var (path, key, boolean) in JsonDeviceModel)
            if (Take(root, path) is { } v)
                dm[key] = boolean ? Bool(v) : Text(v) switch
                {
                    "qemu_xen" => "qemu-xen",
                    "qemu_xen_traditional" => "qemu-xen-traditional",
                    var t => t ?? "",
                };

        var disks = new List<DiskConfig>();
        if (Take(root, "disks") is JsonArray jd)
            foreach (var d in jd.OfType<JsonObject>())
                disks.Add(new DiskConfig
                {
                    Target = Text(d["pdev_path"]) ?? "",
                    Vdev = Text(d["vdev"]) ?? "",
                    Format = Text(d["format"]) is { } f and not "unknown" ? f : "raw",
                    Access = Long(d["readwrite"]) == 0 ? "ro" : "rw",
                    IsCdrom = Long(d["is_cdrom"]) is > 0,
                    Script = Text(d["script"]),
                    BackendType = Text(d["backend"]) is { } b and not "unknown" ? b : null,
                    Backend = Text(d["backend_domname"]),
                });

        var nics = new List<NicConfig>();
        if (Take(root, "nics") is JsonArray jn)
            foreach (var n in jn.OfType<JsonObject>())
            {
                var nictype = Text(n["nictype"]);
                var defaultType = type == "hvm" ? "vif_ioemu" : "vif";
                var devid = Long(n["devid"]);
                nics.Add(new NicConfig
                {
                    Mac = Text(n["mac"])?.ToLowerInvariant(),
                    Bridge = Text(n["bridge"]),
                    Script = Text(n["script"]),
                    Ip = Text(n["ip"]),
                    Model = Text(n["model"]),
                    Type = nictype is null or "unknown" || nictype == defaultType ? null : nictype == "vif_ioemu" ? "ioemu" : nictype,
                    VifName = Text(n["ifname"]),
                    Backend = Text(n["backend_domname"]),
                    Mtu = Long(n["mtu"]) is > 0 and var m ? m.ToString(CultureInfo.InvariantCulture) : null,
                    // xl numbers vifs by position; only a devid that differs from it was chosen by someone.
                    Devid = devid is null || devid == nics.Count ? null : devid.Value.ToString(CultureInfo.InvariantCulture),
                });
            }

        var devices = new SortedDictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var (jsonKey, xlKey) in JsonDeviceLists)
            if (Take(root, jsonKey) is JsonArray a && a.Count > 0)
                devices[xlKey] = a.Select(i => i?.ToJsonString() ?? "null").ToList();

        // libxl's JSON leaves out values equal to the type's initial value, which for actions is destroy (xl's
        // own defaults, restart on reboot and soft-reset, are filled in before the JSON is written).
        var actions = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in ActionKeys) actions[key] = "destroy";
        foreach (var key in ActionKeys)
            if (Take(root, key) is { } a)
                actions[key] = Text(a)!.ToLowerInvariant() switch
                {
                    "restart_rename" => "rename-restart",
                    var x => x.Replace('_', '-'),
                };

        var vcpuBits = Take(root, "b_info.avail_vcpus") as JsonArray;
        var maxVcpus = Long(Take(root, "b_info.max_vcpus"));
        var name = Text(Take(root, "c_info.name"));
        var memory = Long(Take(root, "b_info.target_memkb")) / 1024;
        var maxMemory = Long(Take(root, "b_info.max_memkb")) / 1024;
        var kernel = Text(Take(root, "b_info.kernel") ?? Take(root, "b_info.type.pv.kernel"));
        var ramdisk = Text(Take(root, "b_info.ramdisk") ?? Take(root, "b_info.type.pv.ramdisk"));
        var cmdline = Text(Take(root, "b_info.cmdline") ?? Take(root, "b_info.type.pv.cmdline"));
        var bootloader = Text(Take(root, "b_info.bootloader") ?? Take(root, "b_info.type.pv.bootloader"));
        foreach (var path in IgnoredJsonPaths) Take(root, path);
        var other = new SortedDictionary<string, string>(StringComparer.Ordinal);
        CollectLeaves(root, "", other);
        return new DomainConfig
        {
            SourceFormat = SaveFileConfigFormat.Json,
            Type = type,
            Name = name,
            MemoryMiB = memory,
            MaxMemMiB = maxMemory,
            MaxVcpus = maxVcpus,
            Vcpus = vcpuBits?.Count ?? maxVcpus,
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

    private static string FirstSentence(string message) => message.Split(". ")[0];

    /// <summary>Removes and returns the node at a dotted path (libxl's "type.hvm" key contains a dot itself).</summary>
    private static JsonNode? Take(JsonObject root, string path)
    {
        var parts = path.Replace("type.hvm", "type\u0001hvm").Replace("type.pv", "type\u0001pv").Split('.').Select(p => p.Replace('\u0001', '.')).ToArray();
        JsonObject? parent = root;
        for (var i = 0; i < parts.Length - 1; i++)
        {
            parent = parent[parts[i]] as JsonObject;
            if (parent is null) return null;
        }
        if (!parent.TryGetPropertyValue(parts[^1], out var node)) return null;
        parent.Remove(parts[^1]);
        return node;
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
                into["json:" + path] = Text(node)!;
                break;
        }
    }

    private static string? Text(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => node.ToJsonString(),
    };

    private static long? Long(JsonNode? node) => node switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.Number =>
            v.TryGetValue<long>(out var n) ? n : throw new FormatException($"{v.ToJsonString()} is not a whole number"),
        JsonValue v when v.GetValueKind() == JsonValueKind.String && long.TryParse(v.GetValue<string>(), CultureInfo.InvariantCulture, out var l) => l,
        _ => null,
    };

    private static string Bool(JsonNode node) => Text(node)?.ToLowerInvariant() switch
    {
        "true" or "1" => "1",
        "false" or "0" => "0",
        var other => other ?? "",
    };
}
