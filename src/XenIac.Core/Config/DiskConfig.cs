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
    /// <summary>xen or virtio (xl's specification=): the kind of device the guest is given; null is libxl's default, xen.</summary>
    public string? Specification { get; init; }

    private static readonly string[] Formats = ["raw", "qcow", "qcow2", "vhd", "qed", "empty"];
    private static readonly string[] PlainPrefixes = ["tapdisk:", "tap2:", "tap:", "aio:", "ioemu:", "file:", "phy:"];
    // Not "trusted"/"untrusted": Debian 12's libxlutil 4.17 (its lexer generated before those words were added) reads
    // them as positional parameters, and that is the parser xl runs there (XlDiskDifferentialTests).
    private static readonly string[] FlagWords = ["direct-io-safe", "discard", "no-discard", "colo", "no-colo"];
    private static readonly string[] IgnoredKeys = ["colo-host", "colo-port", "colo-export", "active-disk", "hidden-disk"];

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
        var state = new SpecState();
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
                // The rest of the spec, less one trailing comma (xl strips it as from every other parameter).
                var target = spec[(pos + "target=".Length)..];
                state.Target = SpecState.Respecified("target", state.Target, target.EndsWith(',') ? target[..^1] : target, Error);
                break;
            }
            var comma = rest.IndexOf(',');
            var paramSpan = comma < 0 ? rest : rest[..comma];
            if (state.TakePrefix(paramSpan, Error) is { } prefixLength)
            {
                // Old prefixes qualify the target and are stripped; what follows them is lexed again.
                pos += prefixLength;
                continue;
            }
            var param = paramSpan.ToString();
            var eq = param.IndexOf('=');
            if (eq > 0 && IsKeyword(param[..eq])) state.SetKeyword(param[..eq], param[(eq + 1)..], Error);
            else state.SetPositional(param, Error);
            pos = comma < 0 ? spec.Length : pos + comma + 1;
        }
        paramStart = 0;
        return state.Finish(Error);
    }

    /// <summary>What a disk spec has said so far, in xl's order: target, format, vdev, access, then keywords anywhere.</summary>
    private sealed class SpecState
    {
        public DiskConfig Disk = new();
        public string? Target, Vdev, Format, Access;
        private bool _hadPrefix;

        /// <summary>The length of a leading old-style prefix (phy:, raw:, nbd:, ...) once applied, or null.</summary>
        public int? TakePrefix(ReadOnlySpan<char> param, Func<string, XlConfigException> error)
        {
            var plain = FindPrefix(param, PlainPrefixes);
            var format = FindPrefix(param, FormatPrefixes);
            var script = FindPrefix(param, ScriptPrefixes);
            if (plain is null && format is null && script is null) return null;
            _hadPrefix = true;
            if (format is not null) SetFormat(format[..^1], error);
            if (script is not null) Disk = Disk with { Script = Respecified("script", Disk.Script, "block-" + script[..^1], error) };
            return (plain ?? format ?? script)!.Length;
        }

        public void SetKeyword(string key, string value, Func<string, XlConfigException> error)
        {
            switch (key)
            {
                case "format": SetFormat(value, error); break;
                case "vdev": Vdev = Respecified("vdev", Vdev, value, error); break;
                case "access": Access = CheckAccess(value, error); break;
                case "script": Disk = Disk with { Script = Respecified("script", Disk.Script, value, error) }; break;
                case "backend": Disk = Disk with { Backend = Respecified("backend", Disk.Backend, value, error) }; break;
                case "specification":
                    if (value is not ("xen" or "virtio")) throw error($"unknown specification '{value}' (xen or virtio)");
                    Disk = Disk with { Specification = Once("specification", Disk.Specification, value, error) };
                    break;
                case "backendtype":
                    if (!IsBackendType(value)) throw error($"unknown backendtype '{value}'");
                    Disk = Disk with { BackendType = Once("backendtype", Disk.BackendType, value, error) };
                    break;
                case "devtype":
                    Disk = value switch
                    {
                        "cdrom" => Disk with { IsCdrom = true },
                        "disk" => Disk with { IsCdrom = false },
                        _ => throw error($"unknown devtype '{value}' (cdrom or disk)"),
                    };
                    break;
                default:
                    if (!IgnoredKeys.Contains(key)) throw error($"unknown disk parameter '{key}'");
                    break;
            }
        }

        public void SetPositional(string param, Func<string, XlConfigException> error)
        {
            if (param is "cdrom") Disk = Disk with { IsCdrom = true };
            else if (FlagWords.Contains(param)) { }
            else if (Target is null) Target = param;
            else if (!_hadPrefix && Format is null)
            {
                if (Target.Length == 0 && IsVdevWithType(param, ref Disk, out var v, error)) { Format = "empty"; Vdev = Respecified("vdev", Vdev, v, error); }
                else SetFormat(param, error);
            }
            // An empty vdev ("a,,") fills the slot, as in xl: what follows is the access, not the vdev again.
            else if (Vdev is null) Vdev = IsVdevWithType(param, ref Disk, out var v, error) ? v : param;
            else if (!_accessSet) { _accessSet = true; Access = CheckAccess(param, error); }
            else throw error($"too many positional parameters at '{param}'");
        }

        private bool _accessSet;

        /// <summary>As xl: an empty format is raw (so the next positional is the vdev), and a second, different one is an error.</summary>
        private void SetFormat(string value, Func<string, XlConfigException> error)
        {
            var format = value.Length == 0 ? "raw" : IsFormat(value) ? value
                : throw error($"unknown disk format '{value}' (raw, qcow, qcow2, vhd, qed, empty)");
            Format = Once("format", Format, format, error);
        }

        /// <summary>xl refuses a setting read into a fixed list (format, specification, backendtype) a second time with another value; the same one again is no change.</summary>
        private static string Once(string key, string? current, string value, Func<string, XlConfigException> error) =>
            current is null || current == value ? value : throw error($"{key} given twice ('{current}', then '{value}')");

        /// <summary>xl refuses a second non-empty value for a disk's vdev, script, backend or target.</summary>
        public static string Respecified(string key, string? current, string value, Func<string, XlConfigException> error) =>
            string.IsNullOrEmpty(current) ? value : throw error($"{key} given twice ('{current}', then '{value}')");

        public DiskConfig Finish(Func<string, XlConfigException> error)
        {
            if (string.IsNullOrEmpty(Vdev)) throw error("no vdev given (e.g. xvda)");
            // As xl ends a disk: a CD-ROM is read-only and removable, and without a target its format is empty; any
            // other disk needs a target.
            if (Disk.IsCdrom)
            {
                Access = "ro";
                if (string.IsNullOrEmpty(Target)) Format = "empty";
            }
            else if (Target is null) throw error("no target given (and the device is not a removable CD-ROM)");
            return Disk with
            {
                Target = Target ?? "",
                Vdev = Vdev,
                Format = string.IsNullOrEmpty(Format) ? "raw" : Format,
                Access = Access ?? "rw",
            };
        }
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

    /// <summary>xl's old <c>vdev:type</c> positional: any colon makes one, and a type other than cdrom or disk is an error.</summary>
    private static bool IsVdevWithType(string param, ref DiskConfig disk, out string vdev, Func<string, XlConfigException> error)
    {
        vdev = param;
        var colon = param.LastIndexOf(':');
        if (colon < 0) return false;
        var type = param[(colon + 1)..];
        if (type is not ("cdrom" or "disk")) throw error($"unknown device type '{type}' after the vdev (cdrom or disk)");
        vdev = param[..colon];
        disk = disk with { IsCdrom = type == "cdrom" };
        return true;
    }

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
        if (Specification is not null) parts.Add($"specification={Specification}");
        parts.Add($"target={Target}");
        return string.Join(",", parts);
    }
}
