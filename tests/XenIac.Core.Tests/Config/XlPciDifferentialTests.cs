using System.Runtime.InteropServices;
using Xunit.Abstractions;
using XenIac.Core.Config;

namespace XenIac.Core.Tests.Config;

/// <summary>
/// XenIac's PCI_SPEC_STRING reader against Xen's own (libxlutil's xlu_pci_parse_spec_string into libxenlight's
/// libxl_device_pci, with the pci_* defaults set first as xl sets them), spec by spec: both accept or both refuse,
/// and accepted ones agree on every field of the device.
/// </summary>
public sealed class XlPciDifferentialTests(ITestOutputHelper output)
{
    /// <summary>The PCI parser of Debian's libxen-dev (4.17), or why it cannot be called here.</summary>
    private sealed class XenPciParser(XenLibraries xen)
    {
        private delegate int PciParse(IntPtr cfg, IntPtr pci, IntPtr spec);
        private delegate void PciInit(IntPtr pci);

        private readonly PciParse _parse = xen.Util<PciParse>("xlu_pci_parse_spec_string");
        private readonly PciInit _pciInit = xen.Light<PciInit>("libxl_device_pci_init");
        private readonly PciInit _pciDispose = xen.Light<PciInit>("libxl_device_pci_dispose");

        public static readonly Lazy<(XenPciParser? Parser, string Why)> Loaded = new(() =>
        {
            var (xen, why) = XenLibraries.Loaded.Value;
            if (xen is null) return (null, why);
            try { return (new XenPciParser(xen), ""); }
            catch (EntryPointNotFoundException e) { return (null, e.Message); }
        });

        // libxl_device_pci (4.17, _libxl_types.h) on x86-64.
        private const int Func = 0, Dev = 1, Bus = 2, Domain = 4, Vdevfn = 8, VfuncMask = 12, MsiTranslate = 16, PowerMgmt = 17, Permissive = 18, Seize = 19, RdmPolicy = 20, Name = 24;

        public PciDevice? Parse(string spec, PciDevice.Defaults defaults) => xen.WithConfig(cfg =>
        {
            var pci = Marshal.AllocHGlobal(64);
            var text = Marshal.StringToCoTaskMemUTF8(spec);
            try
            {
                for (var i = 0; i < 64; i++) Marshal.WriteByte(pci, i, 0);
                _pciInit(pci);
                // As xl does before each device: the config's pci_* settings are its defaults.
                Marshal.WriteByte(pci, MsiTranslate, defaults.MsiTranslate ? (byte)1 : (byte)0);
                Marshal.WriteByte(pci, PowerMgmt, defaults.PowerMgmt ? (byte)1 : (byte)0);
                Marshal.WriteByte(pci, Permissive, defaults.Permissive ? (byte)1 : (byte)0);
                Marshal.WriteByte(pci, Seize, defaults.Seize ? (byte)1 : (byte)0);
                if (_parse(cfg, pci, text) != 0) return null;
                var vdevfn = (uint)Marshal.ReadInt32(pci, Vdevfn);
                return new PciDevice
                {
                    Func = Marshal.ReadByte(pci, Func),
                    Dev = Marshal.ReadByte(pci, Dev),
                    Bus = Marshal.ReadByte(pci, Bus),
                    Domain = (uint)Marshal.ReadInt32(pci, Domain),
                    VSlot = vdevfn >> 3,
                    All = (uint)Marshal.ReadInt32(pci, VfuncMask) == PciDevice.AllFunctions,
                    MsiTranslate = Marshal.ReadByte(pci, MsiTranslate) != 0,
                    PowerMgmt = Marshal.ReadByte(pci, PowerMgmt) != 0,
                    Permissive = Marshal.ReadByte(pci, Permissive) != 0,
                    Seize = Marshal.ReadByte(pci, Seize) != 0,
                    // -1 is libxl's unset policy, which it makes strict when it adds the device.
                    RdmPolicy = Marshal.ReadInt32(pci, RdmPolicy) == 1 ? "relaxed" : "strict",
                    Name = Marshal.PtrToStringUTF8(Marshal.ReadIntPtr(pci, Name)),
                };
            }
            finally
            {
                _pciDispose(pci);
                Marshal.FreeCoTaskMem(text);
                Marshal.FreeHGlobal(pci);
            }
        });
    }

    private static readonly string[] Bdfs =
    [
        "01:00.0", "0000:01:00.0", "1:0.0", "ffff:ff:1f.7", "01:20.0", "01:00.8", "100:00.0", "10000:00:00.0", "0x01:00.0", "01:00.*",
        "01: 00.0", "01:00. 0", "01:00.0x", "+1:00.0", "01:-0.0", "100000001:00.0", "01:1F.0", "01:00.A", "a:b.c", "0:0:0:0.0", "01:00.",
        "01:0g.0", "", " 01:00.0", "01:00.0000000001", "ffffffffffffffffffff:00.0", "0:ff:1f.*", "00:00.-0", "01:00.0x7", "1:2:3.4", "01:00.0.0",
    ];
    private static readonly string[] Slots = ["", "", "", "@3", "@1f", "@20", "@", "@xyz", "@+3", "@-0", "@ 3", "@0x3", "@03junk"];
    private static readonly string[] Options =
    [
        "permissive=1", "permissive=0", "permissive=yes", "permissive= 2", "permissive=4294967296", "permissive=-1", "msitranslate=1", "msitrans=1",
        "seize=1", "seize=0", "power_mgmt=1", "rdm_policy=strict", "rdm_policy=relaxed", "rdm_policy=RELAXED", "rdm_policy=invalid",
        "rdm_policy=bogus", "name=gpu", "name=", "bdf=01:00.0", "bdf=02:03.*", "bdf=zz", "bdf=01:00.0junk", "vslot=3", "vslot=20", "vslot=zz",
        "bogus=1", "permissive", "", "=1", " permissive=1", "PERMISSIVE=1", "name=a=b",
    ];

    private static IEnumerable<string> Specs(int count, int seed)
    {
        var rng = new Random(seed);
        T Pick<T>(T[] a) => a[rng.Next(a.Length)];
        const string Alphabet = "0123456789abcdefABFxX:.@*,=+- \t\nnrgz";
        for (var i = 0; i < count; i++)
        {
            // One in four: characters the number readers care about, in any order (signs, blanks, 0x, separators).
            if (rng.Next(4) == 0)
            {
                var chars = new char[rng.Next(1, 16)];
                for (var c = 0; c < chars.Length; c++) chars[c] = Alphabet[rng.Next(Alphabet.Length)];
                yield return (rng.Next(2) == 0 ? "01:00." : "") + new string(chars);
                continue;
            }
            var parts = new List<string>();
            if (rng.Next(5) > 0) parts.Add(Pick(Bdfs) + Pick(Slots));
            for (var k = rng.Next(4); k > 0; k--) parts.Add(Pick(Options));
            var spec = string.Join(",", parts);
            yield return rng.Next(8) == 0 ? spec + "," : spec;
        }
    }

    /// <summary>
    /// Where libxlutil's BDF reader is undefined: its sscanf reads the numbers, the '.' after them does not match, and
    /// the %n that would say where they ended is never written, so it moves its pointer by stack garbage (a crash of the
    /// test host now and then, 2026-12-07). Checked at the start of the spec and after every bdf=.
    /// </summary>
    private static bool UndefinedInXen(string spec)
    {
        for (var start = 0; start >= 0 && start <= spec.Length; start = spec.IndexOf("bdf=", start, StringComparison.Ordinal) is var b and >= 0 ? b + 4 : -1)
        {
            var colons = 0;
            for (var i = start; i < spec.Length && (char.IsAsciiHexDigit(spec[i]) || spec[i] == ':'); i++)
                if (spec[i] == ':') colons++;
            if (colons is 1 or 2)
            {
                var at = start;
                var read = true;
                for (var n = 0; n < colons + 1 && read; n++)
                {
                    read = CNumbers.ScanHex(spec, at, out _, out at);
                    if (read && n < colons) read = at < spec.Length && spec[at++] == ':';
                }
                if (read && (at >= spec.Length || spec[at] != '.')) return true;
            }
            if (start == spec.Length) break;
        }
        return false;
    }

    [SkippableFact]
    public void Pci_specs_read_as_xl_reads_them()
    {
        var (xen, why) = XenPciParser.Loaded.Value;
        Skip.If(xen is null, why);
        var scale = int.TryParse(Environment.GetEnvironmentVariable("XENIAC_DIFF_SCALE"), out var s) && s > 0 ? s : 1;
        var disagreements = new List<string>();
        int accepted = 0, refused = 0, undefined = 0;
        var rng = new Random(7);
        foreach (var spec in Specs(4000 * scale, 20261207).Distinct())
        {
            if (UndefinedInXen(spec))
            {
                // XenIac refuses these; Xen's answer is whatever the stack held.
                Assert.Throws<XlConfigException>(() => PciDevice.Parse(spec, PciDevice.NoDefaults));
                undefined++;
                continue;
            }
            var defaults = rng.Next(4) == 0 ? new PciDevice.Defaults(rng.Next(2) == 0, rng.Next(2) == 0, rng.Next(2) == 0, rng.Next(2) == 0) : PciDevice.NoDefaults;
            var theirs = xen!.Parse(spec, defaults);
            PciDevice? ours;
            try { ours = PciDevice.Parse(spec, defaults); }
            catch (XlConfigException) { ours = null; }
            if (theirs is null != ours is null)
                disagreements.Add($"'{spec}' ({defaults}): xl {(theirs is null ? "refuses" : $"reads {theirs}")}, XenIac {(ours is null ? "refuses" : $"reads {ours}")}");
            else if (theirs is not null && theirs != ours)
                disagreements.Add($"'{spec}': xl reads {theirs}, XenIac {ours}");
            else if (theirs is null) refused++;
            else
            {
                accepted++;
                // The one spelling reads back as the same device, in both parsers.
                var canonical = ours!.ToSpec();
                if (PciDevice.Parse(canonical, PciDevice.NoDefaults) != ours || xen.Parse(canonical, PciDevice.NoDefaults) != ours)
                    disagreements.Add($"'{spec}': its spelling '{canonical}' does not read back as {ours}");
            }
        }
        output.WriteLine($"{accepted} accepted by both, {refused} refused by both, {undefined} not sent (undefined in libxlutil, refused by XenIac), {disagreements.Count} disagreements");
        foreach (var d in disagreements.Take(40)) output.WriteLine(d);
        Assert.True(accepted > 100 && refused > 100, $"the generator should give both kinds: {accepted} accepted, {refused} refused");
        Assert.True(disagreements.Count == 0, $"{disagreements.Count} disagreements; first: {disagreements.FirstOrDefault()}");
    }
}
