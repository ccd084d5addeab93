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

    public static NicConfig Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var nic = new NicConfig();
        var other = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in spec.Split(','))
        {
            var pair = raw.Trim();
            if (pair.Length == 0) continue;
            var eq = pair.IndexOf('=');
            var key = (eq < 0 ? pair : pair[..eq]).Trim();
            var value = eq < 0 ? "" : pair[(eq + 1)..].Trim();
            nic = key switch
            {
                "mac" => nic with { Mac = value.ToLowerInvariant() },
                "bridge" => nic with { Bridge = value },
                "script" => nic with { Script = value },
                "ip" => nic with { Ip = value },
                "model" => nic with { Model = value },
                "type" => nic with { Type = value },
                "vifname" => nic with { VifName = value },
                "backend" => nic with { Backend = value },
                "mtu" => nic with { Mtu = value },
                "rate" => nic with { Rate = value },
                "devid" => nic with { Devid = value },
                _ => nic,
            };
            if (key is not ("mac" or "bridge" or "script" or "ip" or "model" or "type" or "vifname" or "backend" or "mtu" or "rate" or "devid"))
                other[key] = value;
        }
        return nic with { Other = other };
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
