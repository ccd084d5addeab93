using System.Text.RegularExpressions;

namespace XenIac.Core.Config;

/// <summary>What a setting makes dom0 do with a value the config names.</summary>
public enum HostEffectKind
{
    /// <summary>dom0 runs a program the config names, or passes it arguments (device model, bootloader, hotplug script).</summary>
    ExecutesProgram,
    /// <summary>dom0 opens a host path or hands a host resource to the guest (kernel, disk target, passed-through device).</summary>
    OpensHostPath,
}

/// <summary>One setting of a config, as <see cref="DomainConfig.ToSettings"/> names it, with what it makes dom0 do.</summary>
public sealed record HostEffect(string Setting, string Value, HostEffectKind Kind)
{
    public override string ToString() => $"{Setting} = {Value} ({(Kind == HostEffectKind.ExecutesProgram ? HostEffects.ExecutesReason : HostEffects.OpensReason)})";
}

/// <summary>
/// The one list of config settings that make dom0 execute a program or open a host path the config names. A
/// config from an untrusted place (a savefile's stored config) must not get these past the operator silently:
/// the reconciler and <c>domain restore</c> refuse them unless trusted, and <see cref="ConfigCompatibility"/> rates
/// a change to a program-running setting as an error.
/// </summary>
public static partial class HostEffects
{
    public const string ExecutesReason = "executes on dom0";
    public const string OpensReason = "opens a host path on dom0";

    /// <summary>Where Xen installs its hotplug scripts; libxl resolves a bare script name there.</summary>
    public const string ScriptDirectory = "/etc/xen/scripts/";

    private static readonly HashSet<string> Executes = new(StringComparer.Ordinal)
    {
        "bootloader", "bootloader_args", "device_model_override", "device_model_stubdomain_override", "device_model_args",
        "device_model_args_pv", "device_model_args_hvm", "device_model_user",
    };

    private static readonly HashSet<string> Opens = new(StringComparer.Ordinal)
    {
        "kernel", "ramdisk", "device_tree", "acpi_firmware", "smbios_firmware", "system_firmware", "stubdomain_kernel",
        "stubdomain_ramdisk", "serial", "serial_list",
    };

    // Device lists whose entries name host hardware or host paths: passed-through PCI/USB/DT devices, I/O resources,
    // channels (path=), 9p shares (path=).
    private static readonly HashSet<string> HostDeviceLists = new(StringComparer.Ordinal)
    {
        "pci", "usbdev", "dtdev", "iomem", "ioports", "irqs", "channel", "p9",
    };

    /// <summary>What <paramref name="setting"/> (a <see cref="DomainConfig.ToSettings"/> name) makes dom0 do; null: nothing of note.</summary>
    public static HostEffectKind? Classify(string setting)
    {
        ArgumentNullException.ThrowIfNull(setting);
        if (setting.StartsWith("json:", StringComparison.Ordinal))
        {
            // Unmodelled libxl JSON leaves: b_info.device_model_args[0], b_info.type.pv.bootloader_args[1], nics[0].script ...
            var leaf = JsonLeaf().Match(setting);
            var name = leaf.Success ? leaf.Groups["name"].Value : setting;
            if (Executes.Contains(name) || name == "script" || name.StartsWith("device_model_args", StringComparison.Ordinal)
                || name.StartsWith("device_model_stubdomain", StringComparison.Ordinal)) return HostEffectKind.ExecutesProgram;
            if (Opens.Contains(name) || name == "pdev_path" || name == "path") return HostEffectKind.OpensHostPath;
            return null;
        }
        var m = Indexed().Match(setting);
        if (!m.Success) return null;
        var (kind, index, field) = (m.Groups["kind"].Value, m.Groups["index"].Success, m.Groups["field"].Value);
        if (!index)
            return field.Length > 0 ? null
                : Executes.Contains(kind) ? HostEffectKind.ExecutesProgram
                : Opens.Contains(kind) ? HostEffectKind.OpensHostPath
                : null;
        return field switch
        {
            "script" => HostEffectKind.ExecutesProgram,
            "target" when kind == "disk" => HostEffectKind.OpensHostPath,
            // The keyed device specs (DeviceSpecs) are compared field by field: their host paths and host devices.
            "path" when kind is "p9" or "channel" => HostEffectKind.OpensHostPath,
            "hostbus" or "hostaddr" when kind == "usbdev" => HostEffectKind.OpensHostPath,
            "" when kind == "serial" => HostEffectKind.OpensHostPath, // serial = [ "pty", "file:/x" ]
            "" when HostDeviceLists.Contains(kind) => HostEffectKind.OpensHostPath,
            _ => null,
        };
    }

    /// <summary>
    /// Whether a value of a program-running setting only names a script Xen installed: a bare name (libxl looks
    /// in <see cref="ScriptDirectory"/>) or a path inside it. Such a script is what xl runs by default.
    /// </summary>
    public static bool IsInstalledScript(string setting, string value) =>
        (setting.EndsWith(".script", StringComparison.Ordinal) || setting.EndsWith("script", StringComparison.Ordinal))
        && value.Length > 0
        && (!value.Contains('/') || (value.StartsWith(ScriptDirectory, StringComparison.Ordinal) && !value.Contains("/..", StringComparison.Ordinal)))
        && value != "." && value != "..";

    private static bool IsSerialSetting(string setting) =>
        setting == "serial" || setting.StartsWith("serial[", StringComparison.Ordinal)
        || (setting.StartsWith("json:", StringComparison.Ordinal) && JsonLeaf().Match(setting).Groups["name"].Value is "serial" or "serial_list");

    /// <summary>
    /// A serial port's QEMU character device that opens nothing on dom0: none, a null sink, a pseudo-terminal, QEMU's
    /// own console. What xl itself writes (libxl stores "none" for an HVM guest without one, so every real savefile of
    /// such a guest carried it, and its restore was refused as "opens a host path"). Files, pipes, devices and sockets
    /// stay effects.
    /// </summary>
    private static bool OpensNothing(string serial) =>
        serial is "none" or "null" or "pty" or "vc" || serial.StartsWith("vc:", StringComparison.Ordinal);

    /// <summary>Every setting of <paramref name="config"/> that makes dom0 run or open something, installed scripts left out.</summary>
    public static IReadOnlyList<HostEffect> Find(DomainConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var found = new List<HostEffect>();
        foreach (var (setting, value) in config.ToSettings())
        {
            if (value.Length == 0 || Classify(setting) is not { } kind) continue;
            if (kind == HostEffectKind.ExecutesProgram && IsInstalledScript(setting, value)) continue;
            if (IsSerialSetting(setting) && OpensNothing(value)) continue;
            found.Add(new HostEffect(setting, value, kind));
        }
        // Device specs written as one string (vtpm, vkb, ...) may carry their own script=.
        foreach (var (kind, specs) in config.Devices)
            for (var i = 0; i < specs.Count; i++)
                if (!HostDeviceLists.Contains(kind) && ScriptInSpec().Match(specs[i]) is { Success: true } s
                    && !IsInstalledScript("script", s.Groups["script"].Value))
                    found.Add(new HostEffect($"{kind}[{i}]", specs[i], HostEffectKind.ExecutesProgram));
        return found;
    }

    /// <summary>
    /// The effects of <paramref name="used"/> that <paramref name="consented"/> (a config the operator wrote) does not
    /// name with the same value: what restoring with <paramref name="used"/> would do that nobody agreed to.
    /// </summary>
    public static IReadOnlyList<HostEffect> NotIn(DomainConfig used, DomainConfig? consented)
    {
        var agreed = consented is null ? [] : Find(consented).Select(e => (e.Setting, e.Value)).ToHashSet();
        return Find(used).Where(e => !agreed.Contains((e.Setting, e.Value))).ToList();
    }

    [GeneratedRegex(@"^(?<kind>[a-z0-9_]+)(?<index>\[\d+\])?(\.(?<field>[a-z0-9_.-]+))?$")]
    private static partial Regex Indexed();

    [GeneratedRegex(@"(?<name>[a-z0-9_]+)(\[\d+\])?$")]
    private static partial Regex JsonLeaf();

    [GeneratedRegex(@"(^|[,""])\s*script\s*[=:]\s*""?(?<script>[^,""]*)")]
    private static partial Regex ScriptInSpec();
}

/// <summary>A config from an untrusted place names programs or host paths for dom0 and was not trusted explicitly.</summary>
public sealed class UntrustedConfigException(string message) : XenIacException(message);
