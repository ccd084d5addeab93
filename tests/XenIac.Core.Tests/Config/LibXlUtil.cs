using System.Runtime.InteropServices;
using System.Text;
using XenIac.Core.Config;

namespace XenIac.Core.Tests.Config;

/// <summary>What Xen's own parser (libxlutil, from Debian's libxen-dev) made of a config.</summary>
internal sealed record XenParse(bool Accepted, string Report, IReadOnlyDictionary<string, (XlValue? Value, long? Long)> Settings);

/// <summary>
/// Xen's xl.cfg parser, called through P/Invoke for differential tests. It needs no hypervisor; its reports
/// go to an open_memstream FILE so they can be shown when the parsers disagree.
/// </summary>
internal sealed class LibXlUtil
{
    private delegate IntPtr CfgInit(IntPtr report, string source);
    private delegate int CfgReadData(IntPtr cfg, byte[] data, int length);
    private delegate int CfgGetString(IntPtr cfg, string name, out IntPtr value, int dontWarn);
    private delegate int CfgGetLong(IntPtr cfg, string name, out long value, int dontWarn);
    private delegate int CfgGetList(IntPtr cfg, string name, out IntPtr list, out int entries, int dontWarn);
    private delegate IntPtr CfgGetListItem2(IntPtr list, int entry);
    private delegate int CfgValueType(IntPtr value);
    private delegate int CfgValueGetString(IntPtr cfg, IntPtr value, out IntPtr str, int dontWarn);
    private delegate int CfgValueGetList(IntPtr cfg, IntPtr value, out IntPtr list, int dontWarn);
    private delegate void CfgDestroy(IntPtr cfg);

    [DllImport("libc", EntryPoint = "open_memstream")] private static extern IntPtr OpenMemstream(out IntPtr buffer, out UIntPtr size);
    [DllImport("libc", EntryPoint = "fclose")] private static extern int FClose(IntPtr file);
    [DllImport("libc", EntryPoint = "free")] private static extern void Free(IntPtr p);

    private static readonly Lazy<(LibXlUtil? Lib, string? Why)> Loaded = new(Load);

    public static LibXlUtil? Instance => Loaded.Value.Lib;
    public static string UnavailableReason => Loaded.Value.Why ?? "";

    private readonly CfgInit _init;
    private readonly CfgReadData _read;
    private readonly CfgGetString _getString;
    private readonly CfgGetLong _getLong;
    private readonly CfgGetList _getList;
    private readonly CfgGetListItem2 _item;
    private readonly CfgValueType _type;
    private readonly CfgValueGetString _valueString;
    private readonly CfgValueGetList _valueList;
    private readonly CfgDestroy _destroy;

    private LibXlUtil(IntPtr h)
    {
        T F<T>(string name) where T : Delegate => Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(h, name));
        _init = F<CfgInit>("xlu_cfg_init");
        _read = F<CfgReadData>("xlu_cfg_readdata");
        _getString = F<CfgGetString>("xlu_cfg_get_string");
        _getLong = F<CfgGetLong>("xlu_cfg_get_long");
        _getList = F<CfgGetList>("xlu_cfg_get_list");
        _item = F<CfgGetListItem2>("xlu_cfg_get_listitem2");
        _type = F<CfgValueType>("xlu_cfg_value_type");
        _valueString = F<CfgValueGetString>("xlu_cfg_value_get_string");
        _valueList = F<CfgValueGetList>("xlu_cfg_value_get_list");
        _destroy = F<CfgDestroy>("xlu_cfg_destroy");
    }

    private static (LibXlUtil?, string?) Load()
    {
        if (!OperatingSystem.IsLinux()) return (null, "libxlutil (Xen's xl.cfg parser) exists only on Linux");
        foreach (var name in new[] { "libxlutil.so.4.17", "libxlutil.so" })
        {
            if (!NativeLibrary.TryLoad(name, out var h)) continue;
            try { return (new LibXlUtil(h), null); }
            catch (EntryPointNotFoundException e) { return (null, $"{name} lacks a function the tests call: {e.Message}"); }
        }
        return (null, "libxlutil.so is not loadable: install Debian's libxen-dev (apt-get install libxen-dev) to run the differential tests against Xen's parser");
    }

    /// <summary>Parses <paramref name="data"/> and reads each of <paramref name="keys"/> back the ways xl does.</summary>
    public XenParse Parse(byte[] data, IEnumerable<string> keys)
    {
        var file = OpenMemstream(out var buffer, out var size);
        var cfg = _init(file, "corpus");
        var settings = new Dictionary<string, (XlValue?, long?)>();
        bool accepted;
        try
        {
            accepted = _read(cfg, data, data.Length) == 0;
            if (accepted)
                foreach (var key in keys.Distinct())
                {
                    XlValue? value = null;
                    if (_getString(cfg, key, out var s, 1) == 0) value = new XlString(CString(s));
                    else if (_getList(cfg, key, out var list, out var n, 1) == 0) value = ReadList(cfg, list, n);
                    long? number = _getLong(cfg, key, out var l, 1) == 0 ? l : null;
                    settings[key] = (value, number);
                }
        }
        finally
        {
            _destroy(cfg);
            FClose(file);
        }
        var report = size == 0 ? "" : Marshal.PtrToStringUTF8(buffer, (int)size);
        Free(buffer);
        return new XenParse(accepted, report, settings);
    }

    // Iterative: Xen's lists nest thousands deep, too deep to recurse safely on a test thread.
    private XlList ReadList(IntPtr cfg, IntPtr list, int count)
    {
        var root = new List<XlValue>();
        var pending = new Stack<(IntPtr List, int Count, List<XlValue> Into)>();
        pending.Push((list, count, root));
        while (pending.Count > 0)
        {
            var (l, n, into) = pending.Pop();
            for (var i = 0; i < n; i++)
            {
                var v = _item(l, i);
                if (_type(v) == 0)
                {
                    _valueString(cfg, v, out var s, 1);
                    into.Add(new XlString(CString(s)));
                }
                else
                {
                    _valueList(cfg, v, out var inner, 1);
                    var items = new List<XlValue>();
                    into.Add(new XlList(items));
                    // XLU_ConfigList starts with int avalues, int nvalues (libxlu_internal.h).
                    pending.Push((inner, Marshal.ReadInt32(inner, 4), items));
                }
            }
        }
        return new XlList(root);
    }

    /// <summary>A C string's bytes as XenIac keeps them: not necessarily UTF-8 (XlText's lossless decoding).</summary>
    private static string CString(IntPtr p)
    {
        var length = 0;
        while (Marshal.ReadByte(p, length) != 0) length++;
        var bytes = new byte[length];
        Marshal.Copy(p, bytes, 0, length);
        return XlText.Decode(bytes);
    }

    internal static string Show(byte[] data)
    {
        var sb = new StringBuilder();
        foreach (var b in data.Length > 300 ? data[..300] : data)
            sb.Append(b switch { (byte)'\n' => "\\n", (byte)'\t' => "\\t", (byte)'\\' => "\\\\", >= 0x20 and < 0x7f => ((char)b).ToString(), _ => $"\\x{b:x2}" });
        return data.Length > 300 ? sb.Append($"... ({data.Length} bytes)").ToString() : sb.ToString();
    }
}
