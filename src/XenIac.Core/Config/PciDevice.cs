using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace XenIac.Core.Config;

/// <summary>
/// One passed-through PCI device (<c>pci=</c> in xl.cfg, <c>pcidevs</c> in libxl's JSON), read as Xen 4.17's
/// libxlutil reads a PCI_SPEC_STRING (checked against it by XlPciDifferentialTests). Two spellings of one device
/// (<c>01:00.0</c>, <c>0000:01:00.0</c>, <c>bdf=1:0.0</c>, the JSON object) have one <see cref="ToSpec"/>, which
/// is what configs compare; a spec xl refuses is an error here, so it never reaches a savefile.
/// </summary>
internal sealed record PciDevice
{
    /// <summary>libxl's vfunc_mask for "every function of the device" (<c>01:00.*</c>).</summary>
    public const uint AllFunctions = 0xFFFF_FFFF;

    public uint Domain { get; init; }
    public uint Bus { get; init; }
    public uint Dev { get; init; }
    public uint Func { get; init; }
    /// <summary>Every function (<c>*</c>) rather than the one named.</summary>
    public bool All { get; init; }
    /// <summary>The guest's slot (<c>@N</c>, vslot=), 0 when libxl picks one.</summary>
    public uint VSlot { get; init; }
    public bool MsiTranslate { get; init; }
    public bool PowerMgmt { get; init; }
    public bool Permissive { get; init; }
    /// <summary>Unbind the device from its dom0 driver first: dom0's business, not the guest's.</summary>
    public bool Seize { get; init; }
    /// <summary>strict or relaxed; libxl makes an unset policy strict when it adds the device.</summary>
    public string RdmPolicy { get; init; } = "strict";
    /// <summary>A device named with <c>xl pci-assignable-add -n</c> instead of a BDF.</summary>
    public string? Name { get; init; }

    /// <summary>xl.cfg's per-config defaults (pci_msitranslate, pci_power_mgmt, pci_permissive, pci_seize), copied into each device before its spec is read.</summary>
    public sealed record Defaults(bool MsiTranslate, bool PowerMgmt, bool Permissive, bool Seize);

    /// <summary>xl's defaults when the config sets none of the pci_* settings (and for specs already in <see cref="ToSpec"/>'s spelling).</summary>
    public static readonly Defaults NoDefaults = new(false, false, false, false);

    /// <exception cref="XlConfigException">xl refuses the spec (it stops reading the config there).</exception>
    public static PciDevice Parse(string spec, Defaults defaults)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var device = new PciDevice
        {
            MsiTranslate = defaults.MsiTranslate, PowerMgmt = defaults.PowerMgmt, Permissive = defaults.Permissive, Seize = defaults.Seize,
        };
        var at = 0;
        bool hasBdf = false, hasName = false;
        var shown = spec.Length <= 80 ? spec : spec[..77] + "…";
        // The device first, as a positional BDF with an optional @vslot; when that does not read, the whole spec is
        // key=value pairs (bdf= or name=).
        if (TryBdf(spec, 0, out var bdf, out var end))
        {
            device = device.WithBdf(bdf);
            hasBdf = true;
            at = end;
            if (at < spec.Length && spec[at] == '@')
            {
                if (!CNumbers.ScanHex(spec, at + 1, out var slot, out at) || slot > 0x1F)
                    throw Error($"'{shown}': the vslot after '@' must be a hexadecimal slot from 0 to 1f");
                device = device with { VSlot = slot };
            }
            if (at < spec.Length)
            {
                if (spec[at] != ',') throw Error($"'{shown}': unexpected '{Short(spec[at..])}' after the device (a comma and key=value options may follow)");
                at++;
            }
        }
        // No device read and no '=' in the first part: it was meant as a BDF (xl refuses it as a key=value pair).
        var firstEnd = spec.IndexOf(',');
        if (!hasBdf && (firstEnd < 0 ? spec : spec[..firstEnd]) is { Length: > 0 } first && !first.Contains('=', StringComparison.Ordinal))
            throw Error($"'{shown}': '{Short(first)}' is not a PCI device ([DDDD:]BB:DD.F in hexadecimal: bus up to ff, device up to 1f, function up to 7 or *)");
        while (at < spec.Length)
        {
            var eq = spec.IndexOf('=', at);
            if (eq < 0) throw Error($"'{shown}': '{Short(spec[at..])}' is not a key=value option");
            var key = spec[at..eq];
            var comma = spec.IndexOf(',', eq + 1);
            var value = comma < 0 ? spec[(eq + 1)..] : spec[(eq + 1)..comma];
            at = comma < 0 ? spec.Length : comma + 1;
            switch (key)
            {
                case "bdf":
                    if (!TryBdf(value, 0, out var b, out _)) throw Error($"'{shown}': bdf '{value}' is not [DDDD:]BB:DD.F (hexadecimal; F may be *)");
                    device = device.WithBdf(b);
                    hasBdf = true;
                    break;
                case "vslot":
                    if (!CNumbers.ScanHex(value, 0, out var v, out _) || v > 0x1F) throw Error($"'{shown}': vslot '{value}' must be a hexadecimal slot from 0 to 1f");
                    device = device with { VSlot = v };
                    break;
                case "permissive": device = device with { Permissive = CNumbers.Atoi(value) != 0 }; break;
                case "msitranslate": device = device with { MsiTranslate = CNumbers.Atoi(value) != 0 }; break;
                case "seize": device = device with { Seize = CNumbers.Atoi(value) != 0 }; break;
                case "power_mgmt": device = device with { PowerMgmt = CNumbers.Atoi(value) != 0 }; break;
                case "rdm_policy":
                    device = device with { RdmPolicy = RdmPolicyNamed(value) ?? throw Error($"'{shown}': unknown rdm_policy '{value}' (strict or relaxed)") };
                    break;
                case "name":
                    device = device with { Name = value };
                    hasName = true;
                    break;
                default:
                    throw Error($"'{shown}': unknown option '{key}' (bdf, vslot, permissive, msitranslate, seize, power_mgmt, rdm_policy, name)");
            }
        }
        if (hasBdf == hasName)
            throw Error(hasBdf ? $"'{shown}': a device is named by its BDF or by name=, not both" : $"'{shown}': no device (a BDF such as 01:00.0, or name=)");
        return device;
    }

    /// <summary>
    /// The device as an xl.cfg PCI_SPEC_STRING in one canonical spelling (four-digit domain, lower-case hex, options
    /// only where they differ from xl's defaults), which xl reads back as this device.
    /// </summary>
    public string ToSpec()
    {
        var spec = new StringBuilder(Name is not null ? $"name={Name}"
            : string.Create(CultureInfo.InvariantCulture, $"{Domain:x4}:{Bus:x2}:{Dev:x2}.{(All ? "*" : Func.ToString("x", CultureInfo.InvariantCulture))}"));
        if (VSlot != 0) spec.Append(CultureInfo.InvariantCulture, $"{(Name is null ? "@" : ",vslot=")}{VSlot:x2}");
        if (Permissive) spec.Append(",permissive=1");
        if (MsiTranslate) spec.Append(",msitranslate=1");
        if (PowerMgmt) spec.Append(",power_mgmt=1");
        if (Seize) spec.Append(",seize=1");
        if (RdmPolicy != "strict") spec.Append(",rdm_policy=").Append(RdmPolicy);
        return spec.ToString();
    }

    /// <summary>The device as libxl's JSON writes it (fields at their defaults left out).</summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject();
        if (Name is null)
        {
            if (Func != 0) o["func"] = Func;
            if (Dev != 0) o["dev"] = Dev;
            if (Bus != 0) o["bus"] = Bus;
            if (Domain != 0) o["domain"] = Domain;
        }
        if (VSlot != 0) o["vdevfn"] = VSlot << 3;
        if (Name is null) o["vfunc_mask"] = All ? AllFunctions : 1u;
        if (MsiTranslate) o["msitranslate"] = true;
        if (PowerMgmt) o["power_mgmt"] = true;
        if (Permissive) o["permissive"] = true;
        if (Seize) o["seize"] = true;
        o["rdm_policy"] = RdmPolicy;
        if (Name is not null) o["name"] = Name;
        return o;
    }

    private PciDevice WithBdf((uint Domain, uint Bus, uint Dev, uint Func, bool All) b) =>
        this with { Domain = b.Domain, Bus = b.Bus, Dev = b.Dev, Func = b.Func, All = b.All };

    /// <summary>libxl's policy names, compared without case as its enum reader does; its "invalid" is the unset policy, which libxl makes strict.</summary>
    internal static string? RdmPolicyNamed(string value) => value.ToLowerInvariant() switch
    {
        "strict" or "invalid" => "strict",
        "relaxed" => "relaxed",
        _ => null,
    };

    private static string Short(string text) => text.Length <= 40 ? text : text[..37] + "…";

    private static XlConfigException Error(string reason) => new("pci", 1, 1, reason);

    /// <summary>
    /// [DDDD:]BB:DD.F at <paramref name="start"/>: whether there is a domain is decided by the colons in the leading
    /// run of hex digits and colons; each number is then read as C's scanf %x reads it (leading white space, a sign,
    /// an optional 0x, truncated to 32 bits), and must fit (domain ffff, bus ff, device 1f, function 7 or *).
    /// </summary>
    private static bool TryBdf(string s, int start, out (uint Domain, uint Bus, uint Dev, uint Func, bool All) bdf, out int end)
    {
        bdf = default;
        end = start;
        var colons = 0;
        for (var i = start; i < s.Length && (char.IsAsciiHexDigit(s[i]) || s[i] == ':'); i++)
            if (s[i] == ':') colons++;
        if (colons is not (1 or 2)) return false;
        uint domain = 0;
        var at = start;
        if (colons == 2 && !(CNumbers.ScanHex(s, at, out domain, out at) && Expect(s, ref at, ':'))) return false;
        if (!(CNumbers.ScanHex(s, at, out var bus, out at) && Expect(s, ref at, ':') && CNumbers.ScanHex(s, at, out var dev, out at) && Expect(s, ref at, '.')))
            return false;
        if (domain > 0xFFFF || bus > 0xFF || dev > 0x1F) return false;
        uint func = 0;
        var all = at < s.Length && s[at] == '*';
        if (all) at++;
        else if (!CNumbers.ScanHex(s, at, out func, out at) || func > 7) return false;
        bdf = (domain, bus, dev, func, all);
        end = at;
        return true;
    }

    private static bool Expect(string s, ref int at, char c)
    {
        if (at >= s.Length || s[at] != c) return false;
        at++;
        return true;
    }
}
