using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using XenIac.Hosts.Libxl;

namespace XenIac.Hosts.Tests.Libxl;

/// <summary>
/// Compiles a C program against one Xen generation's libxl headers that prints sizeof, offsetof and constants, and
/// compares them with the C# declarations the binding passes to libxl. The binding is one build for every libxl it
/// claims, so each generation the lab boots is measured: 4.17 (Debian 12's libxen-dev, installed on this machine)
/// and 4.20 (Debian 13's libxen-dev, unpacked outside the repository by <c>tests/lab/fetch-headers.sh --xen 4.20</c>).
/// A generation whose headers are absent skips with the reason.
/// </summary>
public sealed class LibxlLayoutTests
{
    private static readonly (string CStruct, Type Managed, (string C, string Managed)[] Fields)[] Structs =
    [
        ("libxl_uuid", typeof(LibxlUuid), [("uuid", nameof(LibxlUuid.Bytes))]),
        ("libxl_dominfo", typeof(LibxlDomInfo),
        [
            ("uuid", "Uuid"), ("domid", "DomId"), ("ssidref", "SsidRef"), ("ssid_label", "SsidLabel"),
            ("running", "Running"), ("blocked", "Blocked"), ("paused", "Paused"), ("shutdown", "Shutdown"),
            ("dying", "Dying"), ("never_stop", "NeverStop"), ("shutdown_reason", "ShutdownReason"),
            ("outstanding_memkb", "OutstandingMemKb"), ("current_memkb", "CurrentMemKb"), ("shared_memkb", "SharedMemKb"),
            ("paged_memkb", "PagedMemKb"), ("max_memkb", "MaxMemKb"), ("cpu_time", "CpuTime"),
            ("vcpu_max_id", "VcpuMaxId"), ("vcpu_online", "VcpuOnline"), ("cpupool", "Cpupool"),
            ("gpaddr_bits", "GpaddrBits"), ("domain_type", "DomainType"),
        ]),
        ("libxl_domain_restore_params", typeof(LibxlDomainRestoreParams),
        [
            ("checkpointed_stream", "CheckpointedStream"), ("stream_version", "StreamVersion"),
            ("colo_proxy_script", "ColoProxyScript"), ("userspace_colo_proxy", "UserspaceColoProxy"),
        ]),
        ("libxl_childproc_hooks", typeof(LibxlChildprocHooks),
            [("chldowner", "ChldOwner"), ("fork_replacement", "ForkReplacement"), ("reaped_callback", "ReapedCallback")]),
        ("xentoollog_logger", typeof(XentoollogLogger), [("vmessage", "VMessage"), ("progress", "Progress"), ("destroy", "Destroy")]),
        // Only read through the pointer libxl returns, never allocated here: the leading fields must match, not the size.
        ("libxl_version_info", typeof(LibxlVersionInfoHead),
            [("xen_version_major", "XenVersionMajor"), ("xen_version_minor", "XenVersionMinor"), ("xen_version_extra", "XenVersionExtra"),
             ("virt_start", "VirtStart"), ("pagesize", "PageSize"), ("commandline", "CommandLine")]),
    ];

    private static readonly (string C, long Managed)[] Constants =
    [
        ("LIBXL_VERSION", LibxlNative.LIBXL_VERSION),
        ("INVALID_DOMID", LibxlNative.INVALID_DOMID),
        ("LIBXL_SHUTDOWN_REASON_CRASH", LibxlNative.LIBXL_SHUTDOWN_REASON_CRASH),
        ("LIBXL_CHECKPOINTED_STREAM_NONE", LibxlNative.LIBXL_CHECKPOINTED_STREAM_NONE),
        ("libxl_sigchld_owner_mainloop", LibxlNative.libxl_sigchld_owner_mainloop),
        ("ERROR_FAIL", LibxlNative.ERROR_FAIL),
        ("ERROR_INVAL", LibxlNative.ERROR_INVAL),
        ("ERROR_DOMAIN_NOTFOUND", LibxlNative.ERROR_DOMAIN_NOTFOUND),
        ("ERROR_ABORTED", -22),
    ];

    private static readonly Dictionary<string, Lazy<(Dictionary<string, long>? Values, string? SkipReason)>> Measured =
        new(StringComparer.Ordinal)
        {
            ["4.17"] = new(() => Measure("4.17")),
            ["4.20"] = new(() => Measure("4.20")),
        };

    [SkippableTheory]
    [InlineData("4.17")]
    [InlineData("4.20")]
    public void Every_struct_the_binding_lays_out_matches_the_C_headers(string xen)
    {
        var c = CValues(xen);
        var mismatches = new List<string>();
        foreach (var (cStruct, managed, fields) in Structs)
        {
            if (!managed.Name.EndsWith("Head", StringComparison.Ordinal))
                Compare(mismatches, $"sizeof({cStruct})", c[$"{cStruct}.size"], Marshal.SizeOf(managed));
            foreach (var (cField, managedField) in fields)
                Compare(mismatches, $"offsetof({cStruct}, {cField})", c[$"{cStruct}.{cField}"], Marshal.OffsetOf(managed, managedField).ToInt64());
        }
        Assert.True(mismatches.Count == 0, $"Xen {xen} headers ({IncludeDir(xen).Dir}):\n" + string.Join("\n", mismatches));
    }

    [SkippableTheory]
    [InlineData("4.17")]
    [InlineData("4.20")]
    public void The_opaque_domain_config_buffer_is_larger_than_the_C_struct(string xen)
    {
        var size = CValues(xen)["libxl_domain_config.size"];
        Assert.InRange(size, 1, LibxlNative.DomainConfigBufferSize / 2);
    }

    [SkippableTheory]
    [InlineData("4.17")]
    [InlineData("4.20")]
    public void Constants_and_error_codes_match_the_C_headers(string xen)
    {
        var c = CValues(xen);
        foreach (var (name, managed) in Constants)
            Assert.True(c[name] == managed, $"Xen {xen}: {name}: C says {c[name]}, C# says {managed}");
        Assert.Equal($"ERROR_ABORTED ({c["ERROR_ABORTED"]})", LibxlErrors.Name((int)c["ERROR_ABORTED"]));
        Assert.Equal($"ERROR_DOMAIN_NOTFOUND ({c["ERROR_DOMAIN_NOTFOUND"]})", LibxlErrors.Name((int)c["ERROR_DOMAIN_NOTFOUND"]));
    }

    private static Dictionary<string, long> CValues(string xen)
    {
        var (values, reason) = Measured[xen].Value;
        Skip.If(values is null, reason);
        return values!;
    }

    /// <summary>
    /// Where generation XEN's headers are: $XENIAC_LIBXL_HEADERS_4_20 (…_4_17) when set; else the lab cache's
    /// headers-XEN/usr/include (fetch-headers.sh); else /usr/include when the installed libxen-dev is that generation.
    /// </summary>
    internal static (string? Dir, string Why) IncludeDir(string xen)
    {
        var env = "XENIAC_LIBXL_HEADERS_" + xen.Replace('.', '_');
        if (Environment.GetEnvironmentVariable(env) is { Length: > 0 } fromEnv)
            return File.Exists(Path.Combine(fromEnv, "libxl.h")) ? (fromEnv, env) : (null, $"{env}={fromEnv} has no libxl.h");
        var cached = Path.Combine(LabCacheRoot(), "headers-" + xen, "usr", "include");
        if (File.Exists(Path.Combine(cached, "libxl.h"))) return (cached, "lab cache");
        var installed = InstalledLibxenDev();
        if (installed?.StartsWith(xen + ".", StringComparison.Ordinal) == true && File.Exists("/usr/include/libxl.h"))
            return ("/usr/include", $"libxen-dev {installed}");
        return (null, $"no Xen {xen} libxl headers: not in {cached} (tests/lab/fetch-headers.sh --xen {xen} unpacks them there), " +
            $"and the installed libxen-dev is {installed ?? "absent"} (apt-get install libxen-dev on Debian 12 gives 4.17)");
    }

    /// <summary>The lab's cache root, as tests/lab/common.sh chooses it.</summary>
    private static string LabCacheRoot() =>
        Environment.GetEnvironmentVariable("XENIAC_LAB_CACHE") is { Length: > 0 } c ? c
        : Environment.IsPrivilegedProcess ? "/var/cache/xeniac-lab"
        : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x ? x
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "xeniac-lab");

    private static string? InstalledLibxenDev()
    {
        if (FindOnPath("dpkg-query") is not { } dpkgQuery) return null;
        var (code, output) = Run(dpkgQuery, Path.GetTempPath(), "-W", "-f=${Version}", "libxen-dev");
        return code == 0 && output.Length > 0 && char.IsDigit(output[0]) ? output.Trim() : null;
    }

    private static void Compare(List<string> mismatches, string what, long c, long managed)
    {
        if (c != managed) mismatches.Add($"{what}: C says {c}, C# says {managed}");
    }

    private static (Dictionary<string, long>?, string?) Measure(string xen)
    {
        var (include, why) = IncludeDir(xen);
        if (include is null) return (null, why);
        var gcc = FindOnPath("gcc");
        if (gcc is null) return (null, "gcc not installed");

        var program = new StringBuilder("#include <stdio.h>\n#include <stddef.h>\n#include <libxl.h>\n#include <libxl_utils.h>\n#include <xentoollog.h>\nint main(void) {\n");
        void Print(string key, string expression) => program.Append($"  printf(\"%s %lld\\n\", \"{key}\", (long long)({expression}));\n");
        foreach (var (cStruct, _, fields) in Structs)
        {
            var type = cStruct == "xentoollog_logger" ? "struct xentoollog_logger" : cStruct;
            Print($"{cStruct}.size", $"sizeof({type})");
            foreach (var (field, _) in fields) Print($"{cStruct}.{field}", $"offsetof({type}, {field})");
        }
        Print("libxl_domain_config.size", "sizeof(libxl_domain_config)");
        foreach (var (name, _) in Constants)
            Print(name, name == "INVALID_DOMID" ? "(uint32_t)INVALID_DOMID" : name);
        program.Append("  return 0;\n}\n");

        var dir = Directory.CreateTempSubdirectory("xeniac-layout-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "layout.c"), program.ToString());
            // -I first: this generation's headers win over the installed ones for every #include they have.
            var (compileCode, compileOut) = Run(gcc, dir, "-I", include, "-o", "layout", "layout.c");
            if (compileCode != 0) throw new InvalidOperationException($"gcc failed on the layout program with the Xen {xen} headers in {include}:\n{compileOut}");
            var (runCode, output) = Run(Path.Combine(dir, "layout"), dir);
            if (runCode != 0) throw new InvalidOperationException($"layout program failed:\n{output}");
            return (output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line.Split(' '))
                .ToDictionary(parts => parts[0], parts => long.Parse(parts[1])), null);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (int, string) Run(string file, string dir, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr);
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
        .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
}
