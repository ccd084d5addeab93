using System.Globalization;

namespace XenIac.Core.Config;

public sealed partial class DomainConfig
{
    /// <summary>
    /// The model as xl.cfg text (for example to edit a config that a savefile stores as JSON). Settings are
    /// written in xl's spelling; JSON-only leaves in <see cref="Other"/> have no xl.cfg form and are listed in
    /// <paramref name="notConverted"/>.
    /// </summary>
    public XlConfig ToXlConfig(out IReadOnlyList<string> notConverted)
    {
        var skipped = new List<string>();
        var cfg = XlConfig.Parse("", Name is null ? "xl.cfg" : Name + ".cfg");
        XlConfig Text(XlConfig c, string key, string? value) => value is null ? c : c.Set(key, XlValue.String(value));
        XlConfig Number(XlConfig c, string key, long? value) => value is null ? c : c.Set(key, XlValue.Number(value.Value));

        cfg = Text(cfg, "name", Name);
        cfg = Text(cfg, "type", Type);
        cfg = Number(cfg, "memory", MemoryMiB);
        if (MaxMemMiB != MemoryMiB) cfg = Number(cfg, "maxmem", MaxMemMiB);
        cfg = Number(cfg, "vcpus", Vcpus);
        if (MaxVcpus != Vcpus) cfg = Number(cfg, "maxvcpus", MaxVcpus);
        cfg = Text(cfg, "kernel", Kernel);
        cfg = Text(cfg, "ramdisk", Ramdisk);
        cfg = Text(cfg, "cmdline", Cmdline);
        cfg = Text(cfg, "bootloader", Bootloader);
        if (Disks.Count > 0) cfg = cfg.Set("disk", XlValue.List(Disks.Select(d => d.ToSpec())));
        if (Nics.Count > 0) cfg = cfg.Set("vif", XlValue.List(Nics.Select(n => n.ToSpec())));
        foreach (var (kind, specs) in Devices)
        {
            if (SourceFormat == SaveFiles.SaveFileConfigFormat.Json) { skipped.Add(kind); continue; }
            cfg = cfg.Set(kind, XlValue.List(specs));
        }
        foreach (var (key, value) in DeviceModel)
            cfg = BooleanDeviceModelKeys.Contains(key) || long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out _) && key != "boot"
                ? cfg.Set(key, XlValue.Number(long.Parse(value, CultureInfo.InvariantCulture)))
                : cfg.Set(key, XlValue.String(value));
        foreach (var (key, value) in Actions) cfg = cfg.Set(key, XlValue.String(value));
        foreach (var (key, value) in Other)
        {
            if (key.StartsWith("json:", StringComparison.Ordinal)) { skipped.Add(key); continue; }
            cfg = cfg.Set(key, AsXlValue(value));
        }
        notConverted = skipped;
        return cfg;
    }

    // Other keeps lists as their xl.cfg text; read them back as lists.
    private static XlValue AsXlValue(string value)
    {
        if (!value.StartsWith('[')) return XlValue.String(value);
        try { return XlConfig.Parse("v = " + value).Get("v")!; }
        catch (XlConfigException) { return XlValue.String(value); }
    }
}
