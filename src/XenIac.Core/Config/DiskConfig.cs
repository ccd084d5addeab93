namespace XenIac.Core.Config;

/// <summary>
/// One <c>disk=</c> entry, read the way xl-disk-configuration describes: positional
/// <c>target, format, vdev, access</c> and/or <c>key=value</c> parameters, with the old prefixes
/// (<c>phy:</c>, <c>file:</c>, <c>tap:aio:</c>, <c>raw:</c>, ...) that make the second positional the vdev.
/// </summary>
public sealed record DiskConfig
{
    /// <summary>The path or other backend-specific target (pdev_path in libxl); empty for an empty CD drive.</summary>
    public string Target { get; init; } = "";
    public string Vdev { get; init; } = "";
    /// <summary>raw, qcow, qcow2, vhd, qed or empty.</summary>
    public string Format { get; init; } = "raw";
    /// <summary>rw or ro.</summary>
    public string Access { get; init; } = "rw";
    public bool IsCdrom { get; init; }
    public string? Script { get; init; }
    /// <summary>phy, tap or qdisk; null lets libxl choose.</summary>
    public string? BackendType { get; init; }
    /// <summary>The backend domain's name; null means dom0.</summary>
    public string? Backend { get; init; }

    private static readonly string[] Formats = ["raw", "qcow", "qcow2", "vhd", "qed", "empty"];
    private static readonly string[] PlainPrefixes = ["tapdisk:", "tap2:", "tap:", "aio:", "ioemu:", "file:", "phy:"];
    private static readonly string[] FlagWords = ["direct-io-safe", "discard", "no-discard", "colo", "no-colo", "trusted", "untrusted"];
    private static readonly string[] IgnoredKeys = ["specification", "colo-host", "colo-port", "colo-export", "active-disk", "hidden-disk"];

    /// <summary>
    /// Parses one disk spec; what xl would object to is an <see cref="XlConfigException"/> located in
    /// <paramref name="source"/> at line 1 and the column of the offending parameter in the spec.
    /// </summary>
    public static DiskConfig Parse(string spec, string source = "disk")
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(source);
        var paramStart = 0;
        XlConfigException Error(string reason) => new(source, 1, paramStart + 1, reason);
        var disk = new DiskConfig();
        string? target = null, vdev = null, format = null;
        var access = default(string);
        var hadPrefix = false;
        // One pass over the spec by index: each parameter is cut out once (no copies of the rest of the spec per
        // comma or prefix, which made long specs quadratic).
        var pos = 0;
        while (pos < spec.Length)
        {
            while (pos < spec.Length && spec[pos] is ' ' or '\t' or '\n') pos++;
            if (pos == spec.Length) break;
            paramStart = pos;
            var rest = spec.AsSpan(pos);
            if (rest.StartsWith("target=", StringComparison.Ordinal))
            {
                target = spec[(pos + "target=".Length)..];
                break;
            }
            var comma = rest.IndexOf(',');
            var paramSpan = comma < 0 ? rest : rest[..comma];
            var next = comma < 0 ? spec.Length : pos + comma + 1;

            var prefix = FindPrefix(paramSpan, PlainPrefixes);
            var fmtPrefix = FindPrefix(paramSpan, FormatPrefixes);
            var scriptPrefix = FindPrefix(paramSpan, ScriptPrefixes);
            if (prefix is not null || fmtPrefix is not null || scriptPrefix is not null)
            {
                // Old prefixes qualify the target and are stripped; what follows them is lexed again.
                hadPrefix = true;
                if (fmtPrefix is not null) format = fmtPrefix[..^1];
                if (scriptPrefix is not null) disk = disk with { Script = "block-" + scriptPrefix[..^1] };
                pos += (prefix ?? fmtPrefix ?? scriptPrefix)!.Length;
                continue;
            }
            var param = paramSpan.ToString();

            var eq = param.IndexOf('=');
            if (eq > 0 && IsKeyword(param[..eq]))
            {
                var key = param[..eq];
                var value = param[(eq + 1)..];
                switch (key)
                {
                    case "format": format = CheckFormat(value, Error); break;
                    case "vdev": vdev = value; break;
                    case "access": access = CheckAccess(value, Error); break;
                    case "script": disk = disk with { Script = value }; break;
                    case "backend": disk = disk with { Backend = value }; break;
                    case "backendtype":
                        if (!IsBackendType(value)) throw Error($"unknown backendtype '{value}'");
                        disk = disk with { BackendType = value };
                        break;
                    case "devtype":
                        disk = value switch
                        {
                            "cdrom" => disk with { IsCdrom = true },
                            "disk" => disk with { IsCdrom = false },
                            _ => throw Error($"unknown devtype '{value}' (cdrom or disk)"),
                        };
                        break;
                    default:
                        if (!IgnoredKeys.Contains(key)) throw Error($"unknown disk parameter '{key}'");
                        break;
                }
            }
            else if (param is "cdrom") disk = disk with { IsCdrom = true };
            else if (FlagWords.Contains(param)) { }
            else if (target is null) target = param;
            else if (!hadPrefix && format is null)
            {
                if (target.Length == 0 && IsVdevWithType(param, ref disk, out var v)) { format = "empty"; vdev = v; }
                else format = CheckFormat(param, Error);
            }
            else if (vdev is null) vdev = IsVdevWithType(param, ref disk, out var v) ? v : param;
            else if (access is null) access = CheckAccess(param, Error);
            else throw Error($"too many positional parameters at '{param}'");
            pos = next;
        }
        paramStart = 0;
        if (string.IsNullOrEmpty(vdev)) throw Error("no vdev given (e.g. xvda)");
        if (target is null or "") format ??= disk.IsCdrom ? "empty" : null;
        return disk with
        {
            Target = target ?? "",
            Vdev = vdev,
            Format = string.IsNullOrEmpty(format) ? "raw" : format,
            Access = access ?? "rw",
        };
    }

    private static readonly string[] FormatPrefixes = ["raw:", "qcow:", "qcow2:", "vhd:"];
    private static readonly string[] ScriptPrefixes = ["iscsi:", "nbd:", "enbd:", "drbd:"];

    private static string? FindPrefix(ReadOnlySpan<char> param, string[] prefixes)
    {
        foreach (var p in prefixes)
            if (param.StartsWith(p, StringComparison.Ordinal)) return p;
        return null;
    }

    private static bool IsKeyword(string key) =>
        key is "format" or "vdev" or "access" or "script" or "backend" or "backendtype" or "devtype" || IgnoredKeys.Contains(key)
        || (key.Length > 0 && key[0] is >= 'a' and <= 'z' && key.All(c => c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-'));

    private static bool IsVdevWithType(string param, ref DiskConfig disk, out string vdev)
    {
        vdev = param;
        var colon = param.IndexOf(':');
        if (colon < 0) return false;
        var type = param[(colon + 1)..];
        if (type is not ("cdrom" or "disk")) return false;
        vdev = param[..colon];
        disk = disk with { IsCdrom = type == "cdrom" };
        return true;
    }

    // An empty format leaves it unknown, so the next positional is read as the format again (as xl does).
    private static string? CheckFormat(string value, Func<string, XlConfigException> error) =>
        value.Length == 0 ? null : IsFormat(value) ? value : throw error($"unknown disk format '{value}' (raw, qcow, qcow2, vhd, qed, empty)");

    /// <summary>A disk format xl knows (xl-disk-configuration).</summary>
    internal static bool IsFormat(string value) => Formats.Contains(value);

    /// <summary>A backendtype xl knows.</summary>
    internal static bool IsBackendType(string value) => value is "phy" or "tap" or "qdisk" or "standalone";

    private static string CheckAccess(string value, Func<string, XlConfigException> error) => value switch
    {
        "" or "w" or "rw" => "rw",
        "r" or "ro" => "ro",
        _ => throw error($"unknown access '{value}' (rw or ro)"),
    };

    /// <summary>The spec in xl's key=value form (target last, since it eats the rest).</summary>
    public string ToSpec()
    {
        var parts = new List<string> { $"format={Format}", $"vdev={Vdev}", $"access={Access}" };
        if (IsCdrom) parts.Add("devtype=cdrom");
        if (BackendType is not null) parts.Add($"backendtype={BackendType}");
        if (Backend is not null) parts.Add($"backend={Backend}");
        if (Script is not null) parts.Add($"script={Script}");
        parts.Add($"target={Target}");
        return string.Join(",", parts);
    }
}
