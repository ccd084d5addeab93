using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace XenIac.Hosts.Libxl;

/// <summary>
/// The real <see cref="ILibxl"/>: one libxl_ctx, thin wrappers that turn libxl's return codes and log into
/// <see cref="XenHostException"/>s.
/// </summary>
/// <remarks>
/// Child processes: libxl forks helpers (libxl-save-helper, hotplug scripts) during saves, restores and creates.
/// The modes in which libxl installs its own SIGCHLD handler assert that no handler was installed before, but
/// .NET installs one (with SA_SIGINFO) as soon as any Process is started in this process, and libxl would then
/// abort the whole process. So libxl runs in libxl_sigchld_owner_mainloop mode: it never touches SIGCHLD, and
/// this class tells it when a child may have exited (libxl_childproc_sigchld_occurred, which reaps only libxl's
/// own children) from .NET's signal thread, plus a once-a-second poll while a call is in flight in case a
/// signal is coalesced away. .NET's own children are left to .NET.
/// </remarks>
internal sealed unsafe class LibxlContext : ILibxl
{
    private const int SIGCHLD = 17;
    private static readonly LibxlChildprocHooks* MainloopHooks = CreateHooks();

    private readonly LibxlContextHandle _ctx;
    private readonly PosixSignalRegistration _sigchld;
    private readonly Timer _childPoll;
    private int _inFlight;

    private LibxlContext(LibxlContextHandle ctx)
    {
        _ctx = ctx;
        LibxlNative.libxl_childproc_setmode(_ctx, MainloopHooks, 0);
        _sigchld = PosixSignalRegistration.Create((PosixSignal)SIGCHLD, _ => ChildMayHaveExited());
        _childPoll = new Timer(_ => { if (Volatile.Read(ref _inFlight) > 0) ChildMayHaveExited(); }, null,
            TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>Loads libxenlight and allocates a context.</summary>
    /// <exception cref="XenHostException">Unavailable: library missing or libxl_ctx_alloc failed (not a dom0).</exception>
    public static LibxlContext Open()
    {
        LibxlLibrary.EnsureLoaded();
        var mark = LibxlLog.Mark();
        var rc = LibxlNative.libxl_ctx_alloc(out var ctx, LibxlNative.LIBXL_VERSION, 0, LibxlLog.Logger);
        if (rc != 0 || ctx.IsInvalid)
        {
            ctx.SetHandleAsInvalid();
            throw new XenHostException(XenHostError.Unavailable, OpenFailedMessage(rc, LibxlLog.ErrorsSince(mark), XenHosts.IsDom0));
        }
        return new LibxlContext(ctx);
    }

    internal static string OpenFailedMessage(int rc, IReadOnlyList<string> log, bool isDom0)
    {
        var detail = log.Count > 0 ? $" ({string.Join("; ", log)})" : "";
        var why = isDom0
            ? "check that xenstored is running and that you are root"
            : "this machine is not a Xen dom0 (no /dev/xen/privcmd)";
        return $"cannot open the libxl host: libxl_ctx_alloc failed with {LibxlErrors.Name(rc)}{detail}; {why}. " +
               "Use the embedded host instead, embedded:<folder> (--host in xen-iac, `host:` in a manifest, XenIacHost in MSBuild)";
    }

    public IReadOnlyList<DomainInfo> ListDomains()
    {
        var mark = LibxlLog.Mark();
        var list = LibxlNative.libxl_list_domain(_ctx, out var count);
        if (list is null) throw LibxlErrors.Failed("libxl_list_domain", LibxlNative.ERROR_FAIL, mark);
        try
        {
            var result = new List<DomainInfo>(count);
            for (var i = 0; i < count; i++)
            {
                var name = LibxlNative.TakeString(LibxlNative.libxl_domid_to_name(_ctx, list[i].DomId));
                result.Add(ToDomainInfo(list[i], name ?? $"(domid {list[i].DomId})"));
            }
            return result;
        }
        finally
        {
            LibxlNative.libxl_dominfo_list_free(list, count);
        }
    }

    public (string XenVersion, long FreeMemoryKiB) HostFacts()
    {
        var mark = LibxlLog.Mark();
        var info = LibxlNative.libxl_get_version_info(_ctx);
        if (info is null) throw LibxlErrors.Failed("libxl_get_version_info", LibxlNative.ERROR_FAIL, mark);
        // Xen's extra is the rest of the version with its leading dot (".5", "-pre"); xl info joins them the same way.
        var extra = info->XenVersionExtra == 0 ? "" : System.Runtime.InteropServices.Marshal.PtrToStringUTF8(info->XenVersionExtra) ?? "";
        var version = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{info->XenVersionMajor}.{info->XenVersionMinor}{extra}");
        var commandLine = info->CommandLine == 0 ? "" : System.Runtime.InteropServices.Marshal.PtrToStringUTF8(info->CommandLine) ?? "";
        var rc = LibxlNative.libxl_get_free_memory(_ctx, out var free);
        if (rc != 0) throw LibxlErrors.Failed("libxl_get_free_memory", rc, mark);
        return (version, (long)free + BalloonableDom0KiB(commandLine));
    }

    /// <summary>Below this xl never balloons dom0 (its own floor), so it is never counted as free.</summary>
    private const long Dom0FloorKiB = 128 * 1024;

    /// <summary>
    /// What xl would take from dom0 to start a domain: with xl.conf's default autoballoon="auto", xl shrinks dom0 when
    /// Xen's command line does not fix its memory (no dom0_mem=), so a host with almost no free memory can still take a
    /// guest. Placement counts that memory as free; with dom0_mem set, only Xen's free memory is.
    /// </summary>
    private long BalloonableDom0KiB(string xenCommandLine)
    {
        if (xenCommandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries).Any(o => o.StartsWith("dom0_mem=", StringComparison.Ordinal))) return 0;
        var dom0 = ListDomains().FirstOrDefault(d => d.DomId == 0);
        return dom0 is null ? 0 : Math.Max(0, dom0.MemoryKiB - Dom0FloorKiB);
    }

    internal static DomainInfo ToDomainInfo(in LibxlDomInfo info, string name)
    {
        var state =
            info.Dying != 0 ? DomainState.Dying
            : info.Shutdown != 0 ? (info.ShutdownReason == LibxlNative.LIBXL_SHUTDOWN_REASON_CRASH ? DomainState.Crashed : DomainState.ShutDown)
            : info.Paused != 0 ? DomainState.Paused
            : info.Running != 0 ? DomainState.Running
            : info.Blocked != 0 ? DomainState.Blocked
            : DomainState.Unknown;
        // xl list shows current + outstanding (memory claimed but not yet populated).
        var memory = (long)(info.CurrentMemKb + info.OutstandingMemKb);
        return new DomainInfo(name, info.DomId, state, memory, (int)info.VcpuOnline);
    }

    public uint? FindDomId(string name) =>
        LibxlNative.libxl_name_to_domid(_ctx, name, out var domid) == 0 ? domid : null;

    public string RetrieveConfigJson(uint domid) =>
        WithConfig(config =>
        {
            using (var call = Begin("libxl_retrieve_domain_configuration"))
                call.Check(LibxlNative.libxl_retrieve_domain_configuration(_ctx, domid, config, 0));
            return ToJson(config);
        });

    public string NormalizeConfigJson(string json) =>
        WithConfig(config =>
        {
            FromJson(config, json);
            return ToJson(config);
        });

    public void Suspend(uint domid, SafeFileHandle file)
    {
        using var call = Begin("libxl_domain_suspend");
        call.Check(LibxlNative.libxl_domain_suspend(_ctx, domid, Fd(file), 0, 0));
    }

    public void Resume(uint domid, bool suspendCancel)
    {
        using var call = Begin("libxl_domain_resume");
        call.Check(LibxlNative.libxl_domain_resume(_ctx, domid, suspendCancel ? 1 : 0, 0));
    }

    public void Pause(uint domid)
    {
        using var call = Begin("libxl_domain_pause");
        call.Check(LibxlNative.libxl_domain_pause(_ctx, domid, 0));
    }

    public void Unpause(uint domid)
    {
        using var call = Begin("libxl_domain_unpause");
        call.Check(LibxlNative.libxl_domain_unpause(_ctx, domid, 0));
    }

    public void Destroy(uint domid)
    {
        using var call = Begin("libxl_domain_destroy");
        call.Check(LibxlNative.libxl_domain_destroy(_ctx, domid, 0));
    }

    public uint CreateRestore(string json, SafeFileHandle file, bool streamV2) =>
        WithConfig(config =>
        {
            FromJson(config, json);
            var parameters = new LibxlDomainRestoreParams();
            LibxlNative.libxl_domain_restore_params_init(&parameters);
            try
            {
                parameters.CheckpointedStream = LibxlNative.LIBXL_CHECKPOINTED_STREAM_NONE;
                parameters.StreamVersion = streamV2 ? 2u : 1u;
                using var call = Begin("libxl_domain_create_restore");
                call.Check(LibxlNative.libxl_domain_create_restore(_ctx, config, out var domid, Fd(file), -1, &parameters, 0, 0));
                return domid;
            }
            finally
            {
                LibxlNative.libxl_domain_restore_params_dispose(&parameters);
            }
        });

    public uint CreateNew(string json) =>
        WithConfig(config =>
        {
            FromJson(config, json);
            using var call = Begin("libxl_domain_create_new");
            call.Check(LibxlNative.libxl_domain_create_new(_ctx, config, out var domid, 0, 0));
            return domid;
        });

    public void Dispose()
    {
        _sigchld.Dispose();
        _childPoll.Dispose();
        _ctx.Dispose();
    }

    private void ChildMayHaveExited()
    {
        try { LibxlNative.libxl_childproc_sigchld_occurred(_ctx); }
        catch (ObjectDisposedException) { }
    }

    private Call Begin(string function) => new(this, function);

    /// <summary>One libxl call: marks the log, and counts as in flight for the child-process poll.</summary>
    private readonly struct Call : IDisposable
    {
        private readonly LibxlContext _owner;
        private readonly string _function;
        private readonly long _mark;

        public Call(LibxlContext owner, string function)
        {
            _owner = owner;
            _function = function;
            _mark = LibxlLog.Mark();
            Interlocked.Increment(ref owner._inFlight);
        }

        public void Check(int rc)
        {
            if (rc != 0) throw LibxlErrors.Failed(_function, rc, _mark);
        }

        public void Dispose() => Interlocked.Decrement(ref _owner._inFlight);
    }

    private void FromJson(byte* config, string json)
    {
        var mark = LibxlLog.Mark();
        var rc = LibxlNative.libxl_domain_config_from_json(_ctx, config, json);
        if (rc != 0)
            throw new XenHostException(XenHostError.InvalidConfig,
                $"libxl rejected the JSON config ({LibxlErrors.Name(rc)}){LibxlErrors.Detail(LibxlLog.ErrorsSince(mark))}");
    }

    private string ToJson(byte* config)
    {
        var mark = LibxlLog.Mark();
        return LibxlNative.TakeString(LibxlNative.libxl_domain_config_to_json(_ctx, config))
               ?? throw LibxlErrors.Failed("libxl_domain_config_to_json", LibxlNative.ERROR_FAIL, mark);
    }

    private delegate T ConfigUse<T>(byte* config);

    /// <summary>An opaque libxl_domain_config, initialised and disposed by libxl itself.</summary>
    private static T WithConfig<T>(ConfigUse<T> use)
    {
        var config = (byte*)NativeMemory.AllocZeroed(LibxlNative.DomainConfigBufferSize);
        LibxlNative.libxl_domain_config_init(config);
        try { return use(config); }
        finally
        {
            LibxlNative.libxl_domain_config_dispose(config);
            NativeMemory.Free(config);
        }
    }

    private static int Fd(SafeFileHandle file) => checked((int)file.DangerousGetHandle());

    private static LibxlChildprocHooks* CreateHooks()
    {
        // libxl keeps the pointer for the context's lifetime; one static copy outlives every context.
        var hooks = (LibxlChildprocHooks*)NativeMemory.AllocZeroed((nuint)sizeof(LibxlChildprocHooks));
        hooks->ChldOwner = LibxlNative.libxl_sigchld_owner_mainloop;
        return hooks;
    }
}
