using System.Buffers.Binary;
using System.Diagnostics;

namespace XenIac.Core.Tests.Config;

/// <summary>Xen's verdict on a config, including the inputs on which xl's parser aborts.</summary>
internal enum XenVerdict { Accepted, Rejected, Aborted }

/// <summary>
/// Xen's parser in child processes, for inputs that make it abort (a NUL inside a string fails an assertion in
/// its unquoting) and so cannot be parsed inside the test process. A small C program of ours, compiled with gcc
/// against the installed libxlutil, forks once per input and reports how each ended.
/// </summary>
internal static class LibXlUtilForked
{
    private const string Program = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <unistd.h>
        #include <sys/wait.h>
        #include <libxlutil.h>
        /* stdin: inputs, each a 4-byte little-endian length then the bytes. stdout: one letter per input. */
        int main(void) {
            unsigned char len[4];
            while (fread(len, 1, 4, stdin) == 4) {
                int n = len[0] | len[1] << 8 | len[2] << 16 | len[3] << 24;
                char *data = malloc(n ? n : 1);
                if (fread(data, 1, n, stdin) != (size_t)n) return 2;
                pid_t pid = fork();
                if (pid == 0) {
                    FILE *quiet = fopen("/dev/null", "w");
                    freopen("/dev/null", "w", stderr); /* the failed assertion's message */
                    XLU_Config *cfg = xlu_cfg_init(quiet, "forked");
                    _exit(xlu_cfg_readdata(cfg, data, n) ? 1 : 0);
                }
                int status;
                waitpid(pid, &status, 0);
                putchar(WIFSIGNALED(status) ? 'C' : WEXITSTATUS(status) == 0 ? 'A' : 'R');
                free(data);
            }
            return 0;
        }
        """;

    private static readonly Lazy<(string? Path, string? Why)> Built = new(Build);

    public static string? UnavailableReason => Built.Value.Why;

    public static IReadOnlyList<XenVerdict> Verdicts(IReadOnlyList<byte[]> inputs)
    {
        var psi = new ProcessStartInfo(Built.Value.Path!) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        using var process = System.Diagnostics.Process.Start(psi)!;
        var reading = process.StandardOutput.ReadToEndAsync();
        using (var stdin = process.StandardInput.BaseStream)
        {
            var length = new byte[4];
            foreach (var input in inputs)
            {
                BinaryPrimitives.WriteInt32LittleEndian(length, input.Length);
                stdin.Write(length);
                stdin.Write(input);
            }
        }
        var letters = reading.GetAwaiter().GetResult();
        process.WaitForExit();
        if (letters.Length != inputs.Count) throw new InvalidOperationException($"the probe answered {letters.Length} of {inputs.Count} inputs");
        return [.. letters.Select(c => c switch { 'A' => XenVerdict.Accepted, 'R' => XenVerdict.Rejected, _ => XenVerdict.Aborted })];
    }

    private static (string?, string?) Build()
    {
        if (!File.Exists("/usr/include/libxlutil.h")) return (null, "libxlutil headers not installed (apt-get install libxen-dev)");
        var gcc = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "gcc")).FirstOrDefault(File.Exists);
        if (gcc is null) return (null, "gcc not installed");
        var dir = Directory.CreateTempSubdirectory("xeniac-xlu-probe-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(dir, recursive: true);
        File.WriteAllText(Path.Combine(dir, "probe.c"), Program);
        var psi = new ProcessStartInfo(gcc, ["-O", "-o", "probe", "probe.c", "-lxlutil"]) { WorkingDirectory = dir, RedirectStandardError = true, UseShellExecute = false };
        using var cc = System.Diagnostics.Process.Start(psi)!;
        var errors = cc.StandardError.ReadToEnd();
        cc.WaitForExit();
        return cc.ExitCode == 0 ? (Path.Combine(dir, "probe"), null) : (null, $"gcc could not build the libxlutil probe: {errors}");
    }
}
