using System.Runtime.InteropServices;

namespace XenIac.Core.Tests.Config;

/// <summary>
/// Debian's libxen-dev (Xen 4.17) libxlutil and libxenlight, for the tests that compare XenIac's readers with Xen's
/// own: loaded once, or the reason they cannot be (the tests then skip with it). The struct layouts the tests read
/// are x86-64 Linux's.
/// </summary>
internal sealed class XenLibraries
{
    private delegate IntPtr CfgInit(IntPtr report, string source);
    private delegate void CfgDestroy(IntPtr cfg);

    [DllImport("libc", EntryPoint = "fopen")] private static extern IntPtr FOpen(string path, string mode);
    [DllImport("libc", EntryPoint = "fclose")] private static extern int FClose(IntPtr file);

    private readonly IntPtr _util, _light;
    private readonly CfgInit _init;
    private readonly CfgDestroy _destroy;

    private XenLibraries(IntPtr util, IntPtr light)
    {
        (_util, _light) = (util, light);
        _init = Util<CfgInit>("xlu_cfg_init");
        _destroy = Util<CfgDestroy>("xlu_cfg_destroy");
    }

    public static readonly Lazy<(XenLibraries? Libraries, string Why)> Loaded = new(() =>
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64)
            return (null, "the layouts of libxl's structs read here are x86-64 Linux's");
        if (!NativeLibrary.TryLoad("libxlutil.so.4.17", out var util) && !NativeLibrary.TryLoad("libxlutil.so", out util))
            return (null, "libxlutil.so is not loadable: install Debian's libxen-dev to compare with Xen's parsers");
        if (!NativeLibrary.TryLoad("libxenlight.so.4.17", out var light) && !NativeLibrary.TryLoad("libxenlight.so", out light))
            return (null, "libxenlight.so is not loadable: install Debian's libxen-dev to compare with Xen's parsers");
        try { return (new XenLibraries(util, light), ""); }
        catch (EntryPointNotFoundException e) { return (null, e.Message); }
    });

    /// <summary>A function of libxlutil.</summary>
    public T Util<T>(string name) where T : Delegate => Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(_util, name));

    /// <summary>A function of libxenlight.</summary>
    public T Light<T>(string name) where T : Delegate => Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(_light, name));

    /// <summary>Runs <paramref name="body"/> with a fresh XLU_Config whose messages go to /dev/null.</summary>
    public TResult WithConfig<TResult>(Func<IntPtr, TResult> body)
    {
        var report = FOpen("/dev/null", "w");
        var cfg = _init(report, "spec");
        try { return body(cfg); }
        finally
        {
            _destroy(cfg);
            FClose(report);
        }
    }
}
