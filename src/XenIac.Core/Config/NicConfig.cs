namespace XenIac.Core.Config;

/// <summary>
/// One <c>vif=</c> entry (xl-network-configuration): comma-separated <c>key=value</c> pairs. Keys XenIac does
/// not model are kept in <see cref="Other"/> so a change to them is still noticed.
/// </summary>
public sealed record NicConfig
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
                "mac" => nic with { Mac = CanonicalMac(value) ?? value.ToLowerInvariant() },
                "bridge" => nic with { Bridge = value },
                "script" => nic with { Script = value },
                "ip" => nic with { Ip = value },
                "model" => nic with { Model = value },
                "type" => nic with { Type = value },
                "vifname" => nic with { VifName = value },
                "backend" => nic with { Backend = value },
                "mtu" => nic with { Mtu = value },
                "rate" => nic with { Rate = value },
                _ => nic with { Devid = value },
            };
        }
        return nic with { Other = other };
    }

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
        foreach (var (k, v) in Other) Add(k, v);
        return string.Join(",", parts);
    }
}
