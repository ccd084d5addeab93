namespace XenIac.Core.Config;

/// <summary>
/// One <c>vif=</c> entry (xl-network-configuration): comma-separated <c>key=value</c> pairs. Keys XenIac does
/// not model are kept in <see cref="Other"/> so a change to them is still noticed.
/// </summary>
public sealed partial record NicConfig
{
    public string? Mac { get; init; }
    public string? Bridge { get; init; }
    public string? Script { get; init; }
    public string? Ip { get; init; }
    public string? Model { get; init; }
    /// <summary>ioemu or vif (xl's type=), null for the default.</summary>
    public string? Type { get; init; }
    public string? VifName { get; init; }
    public string? Backend { get; init; }
    public string? Mtu { get; init; }
    public string? Rate { get; init; }
    public string? Devid { get; init; }
    public IReadOnlyDictionary<string, string> Other { get; init; } = new SortedDictionary<string, string>(StringComparer.Ordinal);

    private static readonly string[] Known = ["mac", "bridge", "script", "ip", "model", "type", "vifname", "backend", "mtu", "rate", "devid"];

    /// <summary>
    /// Reads the entry token by token as xl does: split at commas, leading spaces skipped (spaces only), a key only
    /// when the token starts with exactly <c>key=</c>, the value the rest as written. <c>mac = …</c> or a tab before
    /// <c>mac=</c> is not a MAC to xl (it ignores the token and the guest gets a random one), so not here either: such
    /// tokens are kept in <see cref="Other"/> as written.
    /// </summary>
    public static NicConfig Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var nic = new NicConfig();
        var other = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in spec.Split(','))
        {
            var token = raw.TrimStart(' ');
            if (token.Length == 0) continue;
            var eq = token.IndexOf('=');
            var key = eq < 0 ? token : token[..eq];
            var value = eq < 0 ? "" : token[(eq + 1)..];
            if (eq < 0 || !Known.Contains(key, StringComparer.Ordinal))
            {
                other[key] = value;
                continue;
            }
            nic = key switch
            {
                // xl stops reading a MAC at the first octet that is not one and gives the guest the octets before it
                // (00:16:3e:zz is 00:16:3e:00:00:00), and writes no error: the guest would not get the MAC written.
                "mac" => nic with { Mac = CanonicalMac(value) ?? throw Error($"mac '{value}' is not six hexadecimal numbers up to ff (xl would give the guest another MAC)") },
                "bridge" => nic with { Bridge = value },
                "script" => nic with { Script = value },
                "ip" => nic with { Ip = value },
                "model" => nic with { Model = value },
                // xl knows these two and ignores any other word (with a warning), which libxl's JSON then refuses.
                "type" => nic with { Type = value is "vif" or "ioemu" ? value : throw Error($"type '{value}' is not vif or ioemu") },
                "vifname" => nic with { VifName = value },
                "backend" => nic with { Backend = value },
                // libxl makes an MTU of 0 its default, 1500: both are "not set".
                "mtu" => nic with { Mtu = Ulong("mtu", value) is var mtu and not (0 or 1500) ? mtu.ToString(System.Globalization.CultureInfo.InvariantCulture) : null },
                "rate" => nic with { Rate = CheckRate(value) },
                _ => nic with { Devid = Ulong("devid", value).ToString(System.Globalization.CultureInfo.InvariantCulture) },
            };
        }
        return nic with { Other = other };
    }

    private static XlConfigException Error(string reason) => new("vif", 1, 1, reason);

    /// <summary>
    /// A number as xl's parse_ulong reads mtu= and devid= (strtoul, base 10: white space and a sign before it, anything
    /// after the digits ignored, so 01500 and 1500abc are 1500); no digits is an error there. libxl keeps both in an
    /// int: a larger value is refused here rather than cut as xl would cut it.
    /// </summary>
    private static long Ulong(string key, string value)
    {
        var at = 0;
        while (at < value.Length && value[at] is ' ' or '\t' or '\n' or '\v' or '\f' or '\r') at++;
        var negative = at < value.Length && value[at] == '-';
        if (at < value.Length && value[at] is '+' or '-') at++;
        var start = at;
        long n = 0;
        for (; at < value.Length && char.IsAsciiDigit(value[at]); at++)
        {
            n = n * 10 + (value[at] - '0');
            if (n > int.MaxValue) throw Error($"{key} '{value}' is out of range (0 to {int.MaxValue})");
        }
        if (at == start) throw Error($"{key} '{value}' is not a number (xl stops there)");
        if (negative && n != 0) throw Error($"{key} '{value}' is negative");
        return n;
    }

    /// <summary>
    /// A rate= as libxlutil reads it: RATE[@INTERVAL], RATE digits with an optional G, M or K and B/s or b/s (bytes or
    /// bits), INTERVAL digits with an optional m or u and an optional s (seconds without a unit); the numbers as C's
    /// strtoull reads them with base 0 (so a leading 0 is octal), neither 0 nor beyond 32 bits. Anything else stops xl.
    /// </summary>
    internal static string CheckRate(string rate)
    {
        ReadRate(rate);
        return rate;
    }

    /// <summary>The rate as libxl keeps it: bytes per interval and the interval in microseconds (50 ms when not given).</summary>
    internal static (ulong BytesPerInterval, uint IntervalUsecs) ReadRate(string rate)
    {
        var at = rate.IndexOf('@');
        var bytes = at < 0 ? rate : rate[..at];
        if (bytes.Length == 0) throw Error($"rate '{rate}' gives no rate (e.g. 10Mb/s or 10Mb/s@20ms)");
        if (!RatePattern().IsMatch(bytes)) throw Error($"rate '{rate}' is not RATE[@INTERVAL] (e.g. 10Mb/s, 1GB/s@50ms)");
        var perSecond = CNumbers.Strtoul(bytes, out var digits);
        var rest = bytes[digits..];
        if (perSecond is 0 or > uint.MaxValue) throw Error($"rate '{rate}': the rate is 0 or out of range");
        // The unit is read from where the number ended, as libxlutil does (so 08Mb/s, octal 0 then "8", is a 0 rate above).
        perSecond *= rest[0] switch { 'G' => 1_000_000_000UL, 'M' => 1_000_000UL, 'K' => 1_000UL, _ => 1UL };
        if (rest[0] == 'b' || rest[1] == 'b') perSecond /= 8;
        ulong usecs = 50_000;
        if (at >= 0)
        {
            var interval = rate[(at + 1)..];
            if (!IntervalPattern().IsMatch(interval)) throw Error($"rate '{rate}': the interval '{interval}' is not a number of s, ms or us");
            usecs = CNumbers.Strtoul(interval, out var end);
            var unit = interval[end..];
            if (usecs is 0 or > uint.MaxValue) throw Error($"rate '{rate}': the interval is 0 or out of range");
            usecs *= unit.Length == 0 || unit[0] == 's' ? 1_000_000UL : unit[0] == 'm' ? 1_000UL : 1UL;
            if (usecs > uint.MaxValue) throw Error($"rate '{rate}': the interval is out of range");
        }
        if (perSecond > ulong.MaxValue / usecs) throw Error($"rate '{rate}' is out of range");
        return (perSecond * usecs / 1_000_000UL, (uint)usecs);
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[0-9]+[GMK]?[Bb]/s$")]
    private static partial System.Text.RegularExpressions.Regex RatePattern();

    [System.Text.RegularExpressions.GeneratedRegex("^[0-9]+[mu]?s?$")]
    private static partial System.Text.RegularExpressions.Regex IntervalPattern();

    /// <summary>
    /// A MAC as libxl prints it (<c>00:16:3e:00:00:01</c>), read as xl reads one: six hexadecimal numbers up to 255
    /// (strtoul's rules: leading white space, a sign, <c>0x</c>), each followed by any one character, so
    /// <c>0:16:3e:0:0:1</c> is the same MAC. Null where xl would refuse it.
    /// </summary>
    internal static string? CanonicalMac(string text)
    {
        var octets = new byte[6];
        var at = 0;
        for (var i = 0; i < 6; i++)
        {
            var p = at;
            while (p < text.Length && text[p] is ' ' or '\t' or '\n' or '\v' or '\f' or '\r') p++;
            var negative = false;
            if (p < text.Length && text[p] is '+' or '-') { negative = text[p] == '-'; p++; }
            if (p + 1 < text.Length && text[p] == '0' && text[p + 1] is 'x' or 'X' && p + 2 < text.Length && Uri.IsHexDigit(text[p + 2])) p += 2;
            var start = p;
            ulong value = 0;
            while (p < text.Length && Uri.IsHexDigit(text[p]))
            {
                value = value * 16 + (ulong)Uri.FromHex(text[p]);
                if (value > 255) return null;
                p++;
            }
            if (p == start || (negative && value != 0)) return null;
            octets[i] = (byte)value;
            at = p + 1;
        }
        return string.Join(':', octets.Select(o => o.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
    }

    public string ToSpec()
    {
        var parts = new List<string>();
        void Add(string k, string? v) { if (v is not null) parts.Add($"{k}={v}"); }
        Add("mac", Mac); Add("bridge", Bridge); Add("script", Script); Add("ip", Ip); Add("model", Model); Add("type", Type);
        Add("vifname", VifName); Add("backend", Backend); Add("mtu", Mtu); Add("rate", Rate); Add("devid", Devid);
        // A known key in Other was a bare word (xl ignores "mac" without '='): written back bare, as "mac=" it would be an empty MAC.
        foreach (var (k, v) in Other) parts.Add(v.Length == 0 && Known.Contains(k, StringComparer.Ordinal) ? k : $"{k}={v}");
        return string.Join(",", parts);
    }
}
