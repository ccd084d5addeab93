using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using XenIac.Hosts.Libxl;

namespace XenIac.Hosts.Tests.Libxl;

/// <summary>
/// Compiles a C program against the installed libxl headers (Debian's libxen-dev) that prints sizeof, offsetof and
/// constants, and compares them with the C# declarations the binding passes to libxl.
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
            [("xen_version_major", "XenVersionMajor"), ("xen_version_minor", "XenVersionMinor"), ("xen_version_extra", "XenVersionExtra")]),
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

    private static readonly Lazy<(Dictionary<string, long>? Values, string? SkipReason)> Measured = new(Measure);

    [SkippableFact]
    public void Every_struct_the_binding_lays_out_matches_the_C_headers()
    {
        var c = CValues();
        var mismatches = new List<string>();
        foreach (var (cStruct, managed, fields) in Structs)
        {
            if (!managed.Name.EndsWith("Head", StringComparison.Ordinal))
                Compare(mismatches, $"sizeof({cStruct})", c[$"{cStruct}.size"], Marshal.SizeOf(managed));
            foreach (var (cField, managedField) in fields)
                Compare(mismatches, $"offsetof({cStruct}, {cField})", c[$"{cStruct}.{cField}"], Marshal.OffsetOf(managed, managedField).ToInt64());
        }
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    [SkippableFact]
    public void The_opaque_domain_config_buffer_is_larger_than_the_C_struct()
    {
        var size = CValues()["libxl_domain_config.size"];
        Assert.InRange(size, 1, LibxlNative.DomainConfigBufferSize / 2);
    }

    [SkippableFact]
    public void Constants_and_error_codes_match_the_C_headers()
    {
        var c = CValues();
        foreach (var (name, managed) in Constants)
            Assert.True(c[name] == managed, $"{name}: C says {c[name]}, C# says {managed}");
        Assert.Equal($"ERROR_ABORTED ({c["ERROR_ABORTED"]})", LibxlErrors.Name((int)c["ERROR_ABORTED"]));
        Assert.Equal($"ERROR_DOMAIN_NOTFOUND ({c["ERROR_DOMAIN_NOTFOUND"]})", LibxlErrors.Name((int)c["ERROR_DOMAIN_NOTFOUND"]));
    }

    private static Dictionary<string, long> CValues()
    {
        var (values, reason) = Measured.Value;
        Skip.If(values is null, reason);
        return values!;
    }

    private static void Compare(List<string> mismatches, string what, long c, long managed)
    {
        if (c != managed) mismatches.Add($"{what}: C says {c}, C# says {managed}");
    }

    private static (Dictionary<string, long>?, string?) Measure()
    {
        if (!File.Exists("/usr/include/libxl.h")) return (null, "libxl headers not installed (apt-get install libxen-dev)");
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
            var (compileCode, compileOut) = Run(gcc, dir, "-o", "layout", "layout.c");
            if (compileCode != 0) throw new InvalidOperationException($"gcc failed on the layout program:\n{compileOut}");
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
