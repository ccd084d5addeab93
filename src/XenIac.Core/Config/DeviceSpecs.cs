using System.Globalization;
using System.Text.RegularExpressions;

namespace XenIac.Core.Config;

/// <summary>
/// The device lists xl reads key by key (Xen 4.17's tools/xl/xl_parse.c): <c>vtpm</c>, <c>p9</c>, <c>channel</c>,
/// <c>usbctrl</c> and <c>usbdev</c>. A spec xl stops at (an unknown key, a missing required one, a value it cannot
/// read) is an error here, so it never reaches a savefile that <c>xl restore</c> refuses; a spec xl reads is kept in
/// one spelling (fixed key order, numbers in decimal, enum words in lower case), so spellings xl reads alike compare
/// equal and a change is named by its key.
/// </summary>
internal static partial class DeviceSpecs
{
    public static readonly string[] Kinds = ["vtpm", "p9", "channel", "usbctrl", "usbdev"];

    public static bool IsKeyed(string kind) => Kinds.Contains(kind, StringComparer.Ordinal);

    /// <exception cref="XlConfigException">xl would stop at the spec.</exception>
    public static string Canonical(string kind, string spec) => kind switch
    {
        "vtpm" => Vtpm(spec),
        "p9" => P9(spec),
        "channel" => Channel(spec),
        "usbctrl" => Usbctrl(spec),
        "usbdev" => Usbdev(spec),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a keyed device kind"),
    };

    private static XlConfigException Error(string kind, string reason) => new(kind, 1, 1, reason);

    /// <summary>strtok at commas (empty parts skipped), each part's leading spaces skipped: how xl cuts these specs.</summary>
    private static IEnumerable<string> Tokens(string spec) =>
        spec.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(t => t.TrimStart(' ')).Where(t => t.Length > 0);

    /// <summary>The parts cut at their first '=', as xl reads vtpm and p9 specs: it stops at a part without one (the rest is ignored).</summary>
    private static IEnumerable<(string Key, string Value)> Pairs(string spec)
    {
        foreach (var token in Tokens(spec))
        {
            var eq = token.IndexOf('=');
            if (eq < 0) yield break;
            yield return (token[..eq], token[(eq + 1)..]);
        }
    }

    private static string Join(IEnumerable<(string Key, string? Value)> parts) =>
        string.Join(",", parts.Where(p => p.Value is not null).Select(p => $"{p.Key}={p.Value}"));

    /// <summary>vtpm: backend= (required) and uuid=.</summary>
    private static string Vtpm(string spec)
    {
        string? backend = null, uuid = null;
        foreach (var (key, value) in Pairs(spec))
        {
            switch (key)
            {
                case "backend": backend = value; break;
                case "uuid":
                    uuid = Uuid().IsMatch(value) ? value.ToLowerInvariant() : throw Error("vtpm", $"uuid '{value}' is not a UUID (xl stops there)");
                    break;
                default: throw Error("vtpm", $"unknown key '{key}' in '{spec}' (backend, uuid)");
            }
        }
        if (backend is null) throw Error("vtpm", $"'{spec}' has no backend= (xl requires it)");
        return Join([("backend", backend), ("uuid", uuid)]);
    }

    /// <summary>p9: tag=, path= and security_model= (all required) and backend=.</summary>
    private static string P9(string spec)
    {
        string? tag = null, path = null, model = null, backend = null;
        foreach (var (key, value) in Pairs(spec))
        {
            switch (key)
            {
                case "tag": tag = value; break;
                case "path": path = value; break;
                case "security_model": model = value; break;
                case "backend": backend = value; break;
                default: throw Error("p9", $"unknown key '{key}' in '{spec}' (tag, path, security_model, backend)");
            }
        }
        if (tag is null || path is null || model is null) throw Error("p9", $"'{spec}' needs tag=, path= and security_model= (xl requires all three)");
        return Join([("tag", tag), ("path", path), ("security_model", model), ("backend", backend)]);
    }

    /// <summary>
    /// channel: key=value pairs (cut at '=' as xl does: the first two non-empty pieces, white space trimmed);
    /// connection= pty or socket is required, socket needs path=; a key xl does not know it ignores (kept here as written).
    /// </summary>
    private static string Channel(string spec)
    {
        string? name = null, connection = null, path = null, backend = null;
        var other = new List<(string, string?)>();
        var any = false;
        foreach (var part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            any = true;
            var pieces = part.Split('=', StringSplitOptions.RemoveEmptyEntries);
            if (pieces.Length < 2) throw Error("channel", $"'{part}' in '{spec}' is not key=value (xl stops there)");
            var (key, value) = (pieces[0].Trim(), pieces[1].Trim());
            switch (key)
            {
                case "name": name = value; break;
                case "path": path = value; break;
                case "backend": backend = value; break;
                case "connection":
                    connection = value is "pty" or "socket" ? value : throw Error("channel", $"connection '{value}' is not pty or socket");
                    break;
                default: other.Add((key, value)); break;
            }
        }
        if (!any) throw Error("channel", "an empty channel spec (xl needs at least connection=)");
        if (connection is null) throw Error("channel", $"'{spec}' has no connection= (pty or socket; xl requires it)");
        if (connection == "socket" && path is null) throw Error("channel", $"'{spec}': a socket channel needs path=");
        return Join([("name", name), ("connection", connection), ("path", connection == "socket" ? path : null), ("backend", backend), .. other]);
    }

    private static readonly string[] UsbctrlTypes = ["auto", "pv", "devicemodel", "qusb"];

    /// <summary>usbctrl: type= (libxl's words, without case), version= and ports= (C's atoi); any other part stops xl.</summary>
    private static string Usbctrl(string spec)
    {
        string? type = null, version = null, ports = null;
        foreach (var token in Tokens(spec))
        {
            if (token.StartsWith("type=", StringComparison.Ordinal))
                type = token[5..].ToLowerInvariant() is var t && UsbctrlTypes.Contains(t) ? t
                    : throw Error("usbctrl", $"type '{token[5..]}' is not one of {string.Join(", ", UsbctrlTypes)}");
            else if (token.StartsWith("version=", StringComparison.Ordinal)) version = Number(CNumbers.Atoi(token[8..]));
            else if (token.StartsWith("ports=", StringComparison.Ordinal)) ports = Number(CNumbers.Atoi(token[6..]));
            else throw Error("usbctrl", $"unknown part '{token}' in '{spec}' (type=, version=, ports=)");
        }
        return Join([("type", type), ("version", version), ("ports", ports)]);
    }

    /// <summary>usbdev: type= (hostdev), hostbus= and hostaddr= (strtoul base 0, kept in a byte), controller= and port= (atoi); any other part stops xl.</summary>
    private static string Usbdev(string spec)
    {
        string? type = null, bus = null, addr = null, controller = null, port = null;
        foreach (var token in Tokens(spec))
        {
            if (token.StartsWith("type=", StringComparison.Ordinal))
                type = token[5..].Equals("hostdev", StringComparison.OrdinalIgnoreCase) ? "hostdev" : throw Error("usbdev", $"type '{token[5..]}' is not hostdev");
            else if (token.StartsWith("hostbus=", StringComparison.Ordinal)) bus = Number((byte)CNumbers.Strtoul(token[8..]));
            else if (token.StartsWith("hostaddr=", StringComparison.Ordinal)) addr = Number((byte)CNumbers.Strtoul(token[9..]));
            else if (token.StartsWith("controller=", StringComparison.Ordinal)) controller = Number(CNumbers.Atoi(token[11..]));
            else if (token.StartsWith("port=", StringComparison.Ordinal)) port = Number(CNumbers.Atoi(token[5..]));
            else throw Error("usbdev", $"unknown part '{token}' in '{spec}' (type=, hostbus=, hostaddr=, controller=, port=)");
        }
        return Join([("type", type), ("hostbus", bus), ("hostaddr", addr), ("controller", controller), ("port", port)]);
    }

    private static string Number(long n) => n.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    private static partial Regex Uuid();
}
