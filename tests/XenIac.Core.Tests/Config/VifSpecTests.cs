using System.Runtime.InteropServices;
using Xunit.Abstractions;
using XenIac.Core.Config;

namespace XenIac.Core.Tests.Config;

/// <summary>vif entries as xl reads them: values xl stops at are errors, spellings xl reads alike compare equal.</summary>
public sealed class VifSpecTests(ITestOutputHelper output)
{
    private static DomainConfig Hvm(string vif) => DomainConfig.Parse($"name = 'web'\ntype = 'hvm'\nmemory = 64\nvif = [ '{vif}' ]\n");

    [Theory]
    [InlineData("rate=10mb/s", "rate '10mb/s'")]
    [InlineData("rate=", "gives no rate")]
    [InlineData("rate=0Mb/s", "0 or out of range")]
    [InlineData("rate=08Mb/s", "0 or out of range")]
    [InlineData("rate=10Mb/s@0", "interval is 0")]
    [InlineData("rate=10Mb/s@20ks", "interval '20ks'")]
    [InlineData("rate=5000000000B/s", "0 or out of range")]
    [InlineData("mac=00:16:3e:zz", "mac '00:16:3e:zz'")]
    [InlineData("mac=00:16:3e:00:00:100", "mac")]
    [InlineData("type=foo", "type 'foo' is not vif or ioemu")]
    public void Values_xl_stops_at_or_reads_as_something_else_are_errors(string vif, string said)
    {
        var e = Assert.Throws<XlConfigException>(() => Hvm(vif));
        Assert.Contains(said, e.Message);
        Assert.Contains("'vif'", e.Message);
    }

    /// <summary>One vif entry of millions of keys was one value to the parser, and took 1.3 GB to model.</summary>
    [Fact]
    public void Device_spec_parts_count_against_the_config_limit()
    {
        var keys = string.Join(",", Enumerable.Range(0, ConfigLimits.MaxValues + 1).Select(i => $"k{i}=v"));
        var e = Assert.Throws<XlConfigException>(() => Hvm(keys));
        Assert.Contains("comma-separated parts", e.Message);
        // At the limit it still reads.
        Assert.Equal(ConfigLimits.MaxValues, Hvm(string.Join(",", Enumerable.Range(0, ConfigLimits.MaxValues).Select(i => $"k{i}=v"))).Nics[0].Other.Count);
    }

    /// <summary>Found by fuzzing: a bare "mac" (which xl ignores) was written back as "mac=", an empty MAC the reader refuses.</summary>
    [Fact]
    public void A_bare_known_word_survives_the_round_trip_through_xl()
    {
        var model = Hvm("mac,bridge=xenbr0");
        var back = DomainConfig.FromXl(model.ToXlConfig(out _));
        Assert.Empty(ConfigCompatibility.Check(model, back));
        Assert.Null(back.Nics[0].Mac);
    }

    /// <summary>Found by fuzzing: an odd key in a JSON PCI device became part of the error's path, and locating it went through every '[' in it (166 MB for 24 KB).</summary>
    [Fact]
    public void An_unknown_JSON_PCI_field_is_named_at_the_device()
    {
        var key = "dev" + string.Concat(Enumerable.Repeat("- [", 5000));
        var e = Assert.Throws<XlConfigException>(() => DomainConfig.FromJson(
            "{ \"c_info\": { \"type\": \"hvm\" }, \"b_info\": { \"max_memkb\": 65536 }, \"pcidevs\": [ { \"" + key + "\": 1 } ] }"));
        Assert.Contains("is not a field of a libxl PCI device", e.Message);
        Assert.True(e.Message.Length < 400, e.Message);
    }

    [Fact]
    public void An_emulated_NIC_on_a_PV_guest_is_refused_as_libxl_refuses_it()
    {
        var e = Assert.Throws<XlConfigException>(() => DomainConfig.Parse("name = 'web'\nmemory = 64\nvif = [ 'type=ioemu' ]\n"));
        Assert.Contains("emulated NIC", e.Message);
    }

    [Theory]
    [InlineData("mac=00:16:3e:00:00:01,mtu=1500", "mac=00:16:3e:00:00:01")]
    [InlineData("mac=00:16:3e:00:00:01,mtu=0", "mac=00:16:3e:00:00:01")]
    [InlineData("mac=00:16:3e:00:00:01,mtu=09000", "mac=00:16:3e:00:00:01,mtu=9000")]
    [InlineData("mac=00:16:3e:00:00:01,mtu=+9000abc", "mac=00:16:3e:00:00:01,mtu=9000")]
    [InlineData("mac=00:16:3e:00:00:01,devid=0", "mac=00:16:3e:00:00:01")]
    [InlineData("mac=00:16:3e:00:00:01,type=ioemu", "mac=00:16:3e:00:00:01")]
    [InlineData("mac=0:16:3E:0:0:1", "mac=00:16:3e:00:00:01")]
    public void Spellings_xl_reads_alike_are_no_change(string one, string other) =>
        Assert.Empty(ConfigCompatibility.Check(Hvm(one), Hvm(other)));

    [Fact]
    public void A_real_NIC_change_is_still_an_error()
    {
        var findings = ConfigCompatibility.Check(Hvm("mac=00:16:3e:00:00:01,mtu=9000"), Hvm("mac=00:16:3e:00:00:01,type=vif"));
        Assert.Contains(findings, f => f is { Setting: "vif[0].mtu", Severity: FindingSeverity.Error });
        Assert.Contains(findings, f => f is { Setting: "vif[0].type", Severity: FindingSeverity.Error });
    }

    [Fact]
    public void Libxl_JSON_NICs_read_as_libxl_reads_them()
    {
        static DomainConfig Json(string nic) => DomainConfig.FromJson(
            "{ \"c_info\": { \"type\": \"hvm\", \"name\": \"web\" }, \"b_info\": { \"max_memkb\": 65536, \"target_memkb\": 65536, \"type.hvm\": {} }, \"nics\": [ " + nic + " ] }");
        // Enum words without case, and libxl's default MTU, are the xl.cfg entry that says neither.
        Assert.DoesNotContain(ConfigCompatibility.Check(Json("{ \"mac\": \"00:16:3e:00:00:01\", \"nictype\": \"VIF_IOEMU\", \"mtu\": 1500 }"), Hvm("mac=00:16:3e:00:00:01")),
            f => f.Setting.StartsWith("vif", StringComparison.Ordinal));
        Assert.Contains("nictype", Assert.Throws<XlConfigException>(() => Json("{ \"nictype\": \"foo\" }")).Message);
        Assert.Contains("mac", Assert.Throws<XlConfigException>(() => Json("{ \"mac\": \"00:16:3e:zz\" }")).Message);
        // A comma would become a new key in the xl.cfg form: here a hotplug script nobody wrote as one.
        Assert.Contains("comma", Assert.Throws<XlConfigException>(() => Json("{ \"bridge\": \"xenbr0,script=/tmp/evil\" }")).Message);
    }

    /// <summary>xl reads these with xlu_cfg_get_long (010 is octal 8), the fixed lists also by number and without case.</summary>
    [Theory]
    [InlineData("rtc_timeoffset = 010", "rtc_timeoffset = 8")]
    [InlineData("vncdisplay = 0x10", "vncdisplay = 16")]
    [InlineData("mmio_hole = 0400", "mmio_hole = 256")]
    [InlineData("shadow_memory = 0x10", "shadow_memory = 16")]
    [InlineData("tsc_mode = \"0x2\"", "tsc_mode = \"native\"")]
    [InlineData("tsc_mode = \" 2\"", "tsc_mode = \"NATIVE\"")]
    [InlineData("timer_mode = 1", "timer_mode = \"no_delay_for_missed_ticks\"")]
    [InlineData("altp2m = \"0x1\"", "altp2m = \"mixed\"")]
    public void Numbers_and_words_xl_reads_alike_are_one_value(string one, string other)
    {
        static DomainConfig With(string line) => DomainConfig.Parse($"name = 'web'\ntype = 'hvm'\nmemory = 64\n{line}\n");
        Assert.Empty(ConfigCompatibility.Check(With(one), With(other)));
        // And the JSON written for it is the value xl meant (a decimal reading made rtc_timeoffset=010 ten seconds).
        Assert.Equal(With(other).ToLibxlJson(out _).ToJsonString(), With(one).ToLibxlJson(out _).ToJsonString());
    }

    [Theory]
    [InlineData("mmio_hole = 1")]
    [InlineData("mmio_hole = 4096")]
    public void An_MMIO_hole_xl_refuses_is_an_error(string line) =>
        Assert.Contains("mmio_hole", Assert.Throws<XlConfigException>(() => DomainConfig.Parse($"name = 'web'\ntype = 'hvm'\nmemory = 64\n{line}\n")).Message);

    private delegate int RateParse(IntPtr cfg, IntPtr rate, IntPtr nic);

    /// <summary>
    /// rate= against libxlutil's own xlu_vif_parse_rate (Debian's libxen-dev, 4.17): both accept or both refuse, and
    /// agree on bytes per interval and the interval (libxl_device_nic's fields, x86-64 offsets).
    /// </summary>
    [SkippableFact]
    public void Rates_read_as_libxlutil_reads_them()
    {
        var (xen, why) = XenLibraries.Loaded.Value;
        Skip.If(xen is null, why);
        var parse = xen!.Util<RateParse>("xlu_vif_parse_rate");
        const int BytesPerInterval = 80, IntervalUsecs = 88, NicSize = 504;

        var rng = new Random(20261207);
        string[] numbers = ["10", "0", "1", "010", "08", "4294967295", "4294967296", "99999999999999999999", "", "7"];
        string[] units = ["Mb/s", "MB/s", "Gb/s", "KB/s", "b/s", "B/s", "mb/s", "M/s", "Mbs", "MB/S", "kB/s", ""];
        string[] intervals = ["", "@20ms", "@50000us", "@1s", "@2", "@0", "@010ms", "@5000000s", "@4294967295us", "@ms", "@20m", "@20u", "@", "@20ks", "@20msx"];
        var specs = new HashSet<string>();
        for (var i = 0; i < 3000; i++)
            specs.Add(numbers[rng.Next(numbers.Length)] + units[rng.Next(units.Length)] + intervals[rng.Next(intervals.Length)]);
        var disagreements = new List<string>();
        xen.WithConfig(cfg =>
        {
            var nic = Marshal.AllocHGlobal(NicSize);
            try
            {
                foreach (var spec in specs)
                {
                    for (var b = 0; b < NicSize; b++) Marshal.WriteByte(nic, b, 0);
                    var text = Marshal.StringToCoTaskMemUTF8(spec);
                    // libxlutil checks errno after strtoull without clearing it: start each call from a clean errno, as a fresh xl does.
                    Marshal.SetLastPInvokeError(0);
                    var rc = parse(cfg, text, nic);
                    Marshal.FreeCoTaskMem(text);
                    (ulong, uint)? theirs = rc == 0 ? ((ulong)Marshal.ReadInt64(nic, BytesPerInterval), (uint)Marshal.ReadInt32(nic, IntervalUsecs)) : null;
                    (ulong, uint)? ours;
                    try { ours = NicConfig.ReadRate(spec); }
                    catch (XlConfigException) { ours = null; }
                    if (theirs != ours) disagreements.Add($"'{spec}': libxlutil {theirs?.ToString() ?? "refuses"}, XenIac {ours?.ToString() ?? "refuses"}");
                }
            }
            finally
            {
                Marshal.FreeHGlobal(nic);
            }
            return 0;
        });
        output.WriteLine($"{specs.Count} rates, {disagreements.Count} disagreements");
        foreach (var d in disagreements.Take(30)) output.WriteLine(d);
        Assert.True(disagreements.Count == 0, $"{disagreements.Count} disagreements; first: {disagreements.FirstOrDefault()}");
    }
}
