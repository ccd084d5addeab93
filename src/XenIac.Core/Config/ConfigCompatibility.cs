using System.Text.RegularExpressions;

namespace XenIac.Core.Config;

/// <summary>
/// Whether a domain saved with one config can be restored with another. A suspended guest keeps running
/// exactly where it stopped, so anything it can see (memory size, vCPUs, its kernel, which devices exist, in
/// which order, under which names and MAC addresses, platform features) must stay; where a device's data
/// comes from on the host (disk path and format, bridge, scripts) may change.
/// </summary>
public static partial class ConfigCompatibility
{
    private const string GuestVisible = "the guest sees it; resuming with a different value can crash it";

    /// <summary>One finding per setting that differs; none when the configs agree on everything.</summary>
    public static IReadOnlyList<CompatibilityFinding> Check(DomainConfig saved, DomainConfig proposed)
    {
        ArgumentNullException.ThrowIfNull(saved);
        ArgumentNullException.ThrowIfNull(proposed);
        var old = saved.ToSettings();
        var @new = proposed.ToSettings();
        var crossFormat = saved.SourceFormat != proposed.SourceFormat;
        var findings = new List<CompatibilityFinding>();
        var unmatched = new List<string>();
        foreach (var key in old.Keys.Union(@new.Keys).Order(StringComparer.Ordinal))
        {
            old.TryGetValue(key, out var o);
            @new.TryGetValue(key, out var n);
            if (o == n) continue;
            // An unmodelled JSON leaf and an unmodelled xl key live in different name spaces; they cannot match. Nor can
            // the keyed devices (vtpm, p9, channel, usbctrl, usbdev): xl.cfg's are read key by key, libxl JSON's are
            // kept as JSON text; their count is still compared.
            if (crossFormat && (saved.Other.ContainsKey(key) || proposed.Other.ContainsKey(key) || IsKeyedDevice(key)))
            {
                unmatched.Add(key);
                continue;
            }
            var (severity, reason) = Rule(key, o, n);
            findings.Add(new CompatibilityFinding(severity, key, o, n, reason));
        }
        if (unmatched.Count > 0)
            findings.Add(new CompatibilityFinding(FindingSeverity.Warning, "(unmodelled settings)", null, null,
                $"{unmatched.Count} setting(s) XenIac does not model exist in only one of the configs and cannot be compared across xl.cfg and JSON: " +
                string.Join(", ", unmatched.Take(8)) + (unmatched.Count > 8 ? ", …" : "")));
        return findings;
    }

    private static bool IsKeyedDevice(string key) =>
        key.IndexOf('[') is > 0 and var open && DeviceSpecs.IsKeyed(key[..open]);

    public static bool IsCompatible(IEnumerable<CompatibilityFinding> findings) => findings.All(f => f.Severity != FindingSeverity.Error);

    private static (FindingSeverity, string) Rule(string key, string? old, string? @new)
    {
        // A restored domain runs whatever its config names; a new program (device model, bootloader, hotplug script,
        // their arguments) is a decision about dom0, never a compatible detail. Xen's own installed scripts are not new programs.
        if (HostEffects.Classify(key) == HostEffectKind.ExecutesProgram && @new is not null && !HostEffects.IsInstalledScript(key, @new))
            return (FindingSeverity.Error, HostEffects.ExecutesReason + ": dom0 would run a program or arguments the saved config does not name");
        var m = IndexedKey().Match(key);
        var (kind, field) = m.Success ? (m.Groups["kind"].Value, m.Groups["field"].Value) : (key, "");
        if (m.Success && m.Groups["index"].Success && field.Length == 0 && kind is not ("disk" or "vif"))
            return DeviceSpec(kind);
        return (kind, field) switch
        {
            ("name", _) => (FindingSeverity.Ok, "the name is the host's handle for the domain; xl restore accepts a new one"),
            ("type", _) => (FindingSeverity.Error, "the guest type (pv, pvh, hvm) is how the guest runs; a saved guest cannot change it"),
            ("memory" or "maxmem", _) => (FindingSeverity.Error, "the guest's memory layout is in the image; " + GuestVisible),
            ("vcpus" or "maxvcpus", _) => (FindingSeverity.Error, "the vCPU count is in the image; " + GuestVisible),
            ("kernel" or "ramdisk", _) => (FindingSeverity.Error, "the running kernel is in the image; a different one means a different guest"),
            ("cmdline" or "bootloader", _) => (FindingSeverity.Warning, "only used at boot, but a change suggests the config is for another guest"),
            (_, "count") => (FindingSeverity.Error, "the guest sees its devices by number and position; adding or removing one can crash it"),
            ("disk", "target" or "format" or "script" or "backendtype" or "backend") =>
                (FindingSeverity.Ok, "where the disk's data comes from is the host's business; the guest sees the same disk"),
            ("disk", "vdev" or "devtype" or "access" or "specification") => (FindingSeverity.Error, "the disk's name, kind and writability are what the guest sees; " + GuestVisible),
            ("vif", "bridge" or "script" or "ip" or "vifname" or "backend" or "rate" or "gatewaydev") =>
                (FindingSeverity.Ok, "where the NIC is plugged on the host may change; the guest sees the same NIC"),
            ("vif", "mac" or "model" or "type" or "devid" or "mtu") => (FindingSeverity.Error, "the NIC's MAC, model and identity are what the guest sees; " + GuestVisible),
            ("pci", "seize") => (FindingSeverity.Ok, "whether dom0 unbinds the device from its own driver first is dom0's business; the guest sees the same device"),
            ("pci", _) => (FindingSeverity.Error, "a passed-through device's options (config-space writes, MSI translation, power management, reserved memory) are part of its hardware; " + GuestVisible),
            ("vtpm", "uuid") => (FindingSeverity.Error, "the vTPM's UUID says which vTPM (its keys and measurements) the guest has; " + GuestVisible),
            ("p9", "tag") => (FindingSeverity.Error, "the guest mounts the share by its tag; " + GuestVisible),
            ("channel", "name") => (FindingSeverity.Error, "the guest finds the channel by its name; " + GuestVisible),
            ("usbctrl" or "usbdev", _) => (FindingSeverity.Error, "a USB controller or passed-through USB device is guest-visible hardware; " + GuestVisible),
            ("vtpm" or "channel", _) or ("p9", "path" or "backend") =>
                (FindingSeverity.Ok, "where the device is served from on the host may change; the guest sees the same device"),
            ("vif", _) => (FindingSeverity.Warning, "a vif parameter XenIac does not know; it may or may not be visible to the guest"),
            ("on_poweroff" or "on_reboot" or "on_crash" or "on_watchdog" or "on_soft_reset", _) =>
                (FindingSeverity.Ok, "what the host does when the guest stops is host policy"),
            ("vnc" or "vnclisten" or "vncdisplay" or "vncunused" or "vncpasswd" or "keymap" or "sdl" or "opengl" or "spice" or "nographic"
                or "device_model_override" or "device_model_stubdomain_override" or "boot" or "monitor", _) =>
                (FindingSeverity.Ok, "a host-side display or device-model setting; the guest's hardware is unchanged"),
            ("serial" or "localtime" or "rtc_timeoffset" or "max_grant_frames" or "max_maptrack_frames", _) =>
                (FindingSeverity.Warning, "may change what the guest sees after resume; check before relying on it"),
            ("vga" or "videoram" or "usb" or "usbdevice" or "usbversion" or "soundhw" or "acpi" or "acpi_s3" or "acpi_s4" or "apic" or "pae"
                or "hap" or "nestedhvm" or "hpet" or "nx" or "viridian" or "timer_mode" or "vpt_align" or "xen_platform_pci" or "bios"
                or "firmware" or "cpuid" or "tsc_mode" or "msr_relaxed" or "e820_host" or "altp2m" or "altp2mhvm" or "device_model_version"
                or "shadow_memory" or "nomigrate" or "mmio_hole" or "hdtype" or "vendor_device", _) =>
                (FindingSeverity.Error, "a platform or emulated-hardware feature; " + GuestVisible),
            _ => (FindingSeverity.Warning, "XenIac does not know whether changing this setting is safe on restore"),
        };
    }

    private static (FindingSeverity, string) DeviceSpec(string kind) => kind switch
    {
        "pci" or "usbdev" or "dtdev" or "iomem" or "ioports" or "irqs" =>
            (FindingSeverity.Error, "a passed-through device or resource is guest-visible hardware; " + GuestVisible),
        _ => (FindingSeverity.Warning, "a device's parameters changed; XenIac does not know which of them the guest sees"),
    };

    [GeneratedRegex(@"^(?<kind>[a-z0-9_]+)(?<index>\[\d+\])?(\.(?<field>[a-z0-9_.-]+))?$")]
    private static partial Regex IndexedKey();
}
