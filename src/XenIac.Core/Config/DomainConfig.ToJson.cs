using System.Globalization;
using System.Text.Json.Nodes;
using XenIac.Core.Streams;

namespace XenIac.Core.Config;

public sealed partial class DomainConfig
{
    private static readonly Dictionary<string, string> DeviceModelJsonPaths = JsonDeviceModel
        .GroupBy(m => m.Key).ToDictionary(g => g.Key, g => g.Last().Path, StringComparer.Ordinal);

    /// <summary>
    /// libxl's JSON domain config for what the model covers, as a host with today's libxl wants it (xl restore
    /// reads it with <c>libxl_domain_config_from_json</c>). <paramref name="notConverted"/> names every
    /// setting that has no JSON form here and was left out.
    /// </summary>
    public JsonObject ToLibxlJson(out IReadOnlyList<string> notConverted)
    {
        var skipped = new List<string>();
        var cInfo = new JsonObject { ["type"] = TypeName };
        if (Name is not null) cInfo["name"] = Name;

        var bInfo = new JsonObject();
        var vcpus = Vcpus ?? MaxVcpus;
        if ((MaxVcpus ?? Vcpus) is { } max) bInfo["max_vcpus"] = max;
        if (vcpus is { } n) bInfo["avail_vcpus"] = new JsonArray([.. Enumerable.Range(0, (int)n).Select(i => (JsonNode)i)]);
        if (MaxMemMiB is { } maxMem) bInfo["max_memkb"] = maxMem * 1024 + MaxMemRemainderKiB;
        else if (MemoryMiB is { } sameAsMemory) bInfo["max_memkb"] = sameAsMemory * 1024 + MemoryRemainderKiB;
        if (MemoryMiB is { } mem) bInfo["target_memkb"] = mem * 1024 + MemoryRemainderKiB;
        if (Kernel is not null) bInfo["kernel"] = Kernel;
        if (Cmdline is not null) bInfo["cmdline"] = Cmdline;
        if (Ramdisk is not null) bInfo["ramdisk"] = Ramdisk;
        if (Bootloader is not null) bInfo["bootloader"] = Bootloader;

        // hap is the one device-model setting that libxl keeps in c_info.
        if (DeviceModel.TryGetValue("hap", out var hap)) cInfo["hap"] = hap == "1" ? "True" : "False";
        AddDeviceModel(bInfo, skipped);
        if (Type == GuestType.HVM && bInfo["type.hvm"] is null) bInfo["type.hvm"] = new JsonObject();

        var root = new JsonObject { ["c_info"] = cInfo, ["b_info"] = bInfo };
        if (Disks.Count > 0)
            root["disks"] = new JsonArray([.. Disks.Select(DiskJson)]);
        if (Nics.Count > 0)
            root["nics"] = new JsonArray([.. Nics.Select((nic, i) => NicJson(nic, i, skipped))]);
        foreach (var (key, action) in Actions)
            root[key] = action == "rename-restart" ? "restart_rename" : action.Replace('-', '_');
        // PCI specs are in their one spelling, which reads as libxl's device; the other device kinds are not modelled.
        if (Devices.TryGetValue("pci", out var pci))
            root["pcidevs"] = new JsonArray([.. pci.Select(spec => (JsonNode)PciDevice.Parse(spec, PciDevice.NoDefaults).ToJson())]);
        skipped.AddRange(Devices.Keys.Where(k => k != "pci"));
        skipped.AddRange(Other.Keys);
        notConverted = skipped;
        return root;
    }

    /// <summary>The device-model settings that have a b_info path; the others are named in <paramref name="skipped"/>.</summary>
    private void AddDeviceModel(JsonObject bInfo, List<string> skipped)
    {
        foreach (var (key, value) in DeviceModel)
        {
            if (key == "hap") continue;
            // xl reads these for HVM guests only (a PV config may say anything there); libxl's JSON keeps them under
            // type.hvm, where another guest type has no place for them.
            if (Type != GuestType.HVM && PlatformWords.Any(w => w.Key == key && w.HvmOnly))
            {
                skipped.Add(key);
                continue;
            }
            if (key == "cpuid" && value.StartsWith("json:", StringComparison.Ordinal))
            {
                bInfo["cpuid"] = JsonNode.Parse(value["json:".Length..]);
                continue;
            }
            if (key == "mmio_hole" && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var holeMib) && holeMib <= MaxMemoryMiB)
            {
                Set(bInfo, "type.hvm.mmio_hole_memkb", holeMib * 1024);
                continue;
            }
            if (key == "vga")
            {
                Set(bInfo, "type.hvm.vga.kind", value == "stdvga" ? "std" : value);
                continue;
            }
            // Only a size FromJson reads back (the readers enforce it; a model built in code may not).
            if (key == "videoram" && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var mib) && mib <= MaxMemoryMiB)
            {
                bInfo["video_memkb"] = mib * 1024;
                continue;
            }
            if (!DeviceModelJsonPaths.TryGetValue(key, out var path))
            {
                skipped.Add(key);
                continue;
            }
            var isBool = JsonDeviceModel.First(m => m.Key == key).Boolean;
            // viridian = ["base", "freq"] names enlightenment groups (libxl's viridian_enable bitmap), not a yes or
            // no: written as a boolean it became "False" without a word.
            if (isBool && value is not ("0" or "1"))
            {
                skipped.Add(key);
                continue;
            }
            JsonNode node = isBool ? (value == "1" ? "True" : "False")
                : key == "device_model_version" ? value.Replace('-', '_')
                : long.TryParse(value, CultureInfo.InvariantCulture, out var l) && key is not ("serial" or "boot") ? l : value;
            Set(bInfo, path["b_info.".Length..], node);
        }
    }

    private static JsonNode DiskJson(DiskConfig d)
    {
        var o = new JsonObject { ["pdev_path"] = d.Target, ["vdev"] = d.Vdev, ["format"] = d.Format, ["readwrite"] = d.Access == "rw" ? 1 : 0 };
        if (d.IsCdrom) { o["is_cdrom"] = 1; o["removable"] = 1; }
        if (d.Script is not null) o["script"] = d.Script;
        if (d.BackendType is not null) o["backend"] = d.BackendType;
        if (d.Backend is not null) o["backend_domname"] = d.Backend;
        if (d.Specification is not null) o["specification"] = d.Specification;
        return o;
    }

    private JsonNode NicJson(NicConfig nic, int i, List<string> skipped)
    {
        var o = new JsonObject { ["devid"] = nic.Devid is null ? i : WholeSetting($"vif[{i}].devid", nic.Devid) };
        if (nic.Mac is not null) o["mac"] = nic.Mac;
        if (nic.Bridge is not null) o["bridge"] = nic.Bridge;
        if (nic.Ip is not null) o["ip"] = nic.Ip;
        if (nic.Script is not null) o["script"] = nic.Script;
        if (nic.Model is not null) o["model"] = nic.Model;
        if (nic.VifName is not null) o["ifname"] = nic.VifName;
        if (nic.Backend is not null) o["backend_domname"] = nic.Backend;
        if (nic.Mtu is not null) o["mtu"] = WholeSetting($"vif[{i}].mtu", nic.Mtu);
        o["nictype"] = nic.Type switch { null => Type == GuestType.HVM ? "vif_ioemu" : "vif", "ioemu" => "vif_ioemu", var t => t };
        if (nic.Rate is not null) skipped.Add($"vif[{i}].rate");
        skipped.AddRange(nic.Other.Keys.Select(k => $"vif[{i}].{k}"));
        return o;
    }

    // Device specs keep their values as text; libxl wants numbers, and text that is none is the config's error.
    private long WholeSetting(string key, string value) =>
        long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n is >= 0 and <= int.MaxValue
            ? n
            : throw new XlConfigException(Name is null ? "config" : Name + ".cfg", 1, 1, $"{key} = {value} is not a whole number from 0 to {int.MaxValue}");

    private static void Set(JsonObject root, string path, JsonNode value)
    {
        var parts = path.Replace("type.hvm", "type\u0001hvm").Replace("type.pv", "type\u0001pv").Split('.').Select(p => p.Replace('\u0001', '.')).ToArray();
        var o = root;
        foreach (var part in parts[..^1])
        {
            if (o[part] is not JsonObject next) o[part] = next = new JsonObject();
            o = next;
        }
        o[parts[^1]] = value;
    }
}
