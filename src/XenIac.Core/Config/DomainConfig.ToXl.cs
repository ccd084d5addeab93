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
        // Gathered, then set in one pass: a Set per setting would rewrite and re-read the text each time.
        var settings = new List<KeyValuePair<string, XlValue>>();
        void Set(string key, XlValue value)
        {
            // xl.cfg strings cannot hold NUL (xl aborts on one), so such a value (from JSON) has no xl.cfg form.
            if (HasNul(value)) skipped.Add(key);
            else settings.Add(KeyValuePair.Create(key, value));
        }
        void Text(string key, string? value) { if (value is not null) Set(key, XlValue.String(value)); }
        void Number(string key, long? value) { if (value is not null) Set(key, XlValue.Number(value.Value)); }

        Text("name", Name);
        Text("type", TypeName);
        Number("memory", MemoryMiB);
        if (MaxMemMiB != MemoryMiB) Number("maxmem", MaxMemMiB);
        // xl.cfg sizes are whole MiB: what JSON gave beyond them is named, not dropped without a word.
        if (MemoryRemainderKiB != 0) skipped.Add("memory (its KiB beyond whole MiB)");
        if (MaxMemRemainderKiB != 0) skipped.Add("maxmem (its KiB beyond whole MiB)");
        Number("vcpus", Vcpus);
        if (MaxVcpus != Vcpus) Number("maxvcpus", MaxVcpus);
        Text("kernel", Kernel);
        Text("ramdisk", Ramdisk);
        Text("cmdline", Cmdline);
        Text("bootloader", Bootloader);
        if (Disks.Count > 0) Set("disk", XlValue.List(Disks.Select(d => d.ToSpec())));
        if (Nics.Count > 0) Set("vif", XlValue.List(Nics.Select(n => n.ToSpec())));
        foreach (var (kind, specs) in Devices)
        {
            // From JSON only PCI specs are xl's (their one spelling); the other kinds hold JSON text.
            if (SourceFormat == SaveFiles.SaveFileConfigFormat.Json && kind != "pci") { skipped.Add(kind); continue; }
            Set(kind, XlValue.List(specs));
        }
        foreach (var (key, value) in DeviceModel)
            // One parse decides and gives the number, so a value that is not one (from JSON, or set by code) stays a string.
            Set(key, key != "boot" && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
                ? XlValue.Number(number)
                : XlValue.String(value));
        foreach (var (key, value) in Actions) Set(key, XlValue.String(value));
        foreach (var (key, value) in Other)
        {
            if (key.StartsWith("json:", StringComparison.Ordinal)) { skipped.Add(key); continue; }
            Set(key, AsXlValue(value));
        }
        var cfg = XlConfig.Parse("", Name is null ? "xl.cfg" : Name + ".cfg").Set(settings);
        notConverted = skipped;
        return cfg;
    }

    private static bool HasNul(XlValue value)
    {
        var pending = new Stack<XlValue>([value]);
        while (pending.TryPop(out var v))
        {
            if (v is XlString s) { if (s.Text.Contains('\0')) return true; }
            else foreach (var item in ((XlList)v).Items) pending.Push(item);
        }
        return false;
    }

    // Other keeps lists as their xl.cfg text; read them back as lists.
    private static XlValue AsXlValue(string value)
    {
        if (!value.StartsWith('[')) return XlValue.String(value);
        try { return XlConfig.Parse("v = " + value).Get("v")!; }
        catch (XlConfigException) { return XlValue.String(value); }
    }
}
