/*
 * Linked into the NativeAOT xen-iac only (XenIac.Cli.csproj, target CompileNativeObjects), in both of its builds.
 *
 * Why: the NativeAOT compiler fixes the vector instructions at build time. The linux-x64 xen-iac is built for
 * x86-64-v2 so that it starts on any 64-bit x86 server a dom0 may run on, and there the managed BLAKE3 that names
 * store chunks hashes four blocks at a time (SSE4.1), about 1.1 GB/s per core, against 6.8 GB/s with AVX2 (the
 * store-codecs benchmark, run with and without AVX). A store push, pull or verify hashes every byte of a savefile,
 * so on two cores that is most of their time. The package therefore also carries the same program compiled for
 * x86-64-v3 (AVX2, BMI2, FMA), named xen-iac.x86-64-v3, and this constructor, before the .NET runtime starts,
 * replaces the process with it for those commands (below) when the CPU and the kernel can run it. Everything else
 * stays in the baseline binary, so an ordinary command pays no second start.
 *
 * Anything unexpected (no variant beside the binary, /proc not mounted, execve refused) leaves the baseline build
 * running, which does the same work more slowly. XENIAC_X86_64_V3=0 keeps the baseline build (the benchmark and
 * a test compare both).
 */
#if defined(__x86_64__) && defined(__linux__)
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VARIANT_SUFFIX ".x86-64-v3"

/*
 * The commands that hash every byte of a savefile: `xen-iac store push|pull|verify ...`, and apply and reconcile,
 * which push a domain's savefile after a save and stream a snapshot out of the store into a restore when the
 * manifest names one. The second execve happens before either runtime starts, so it costs less than the spread of
 * whole starts: 100 runs of `apply -f missing.yaml` each way took 9.4-12.2 ms per run with and without it
 * (2026-12-06, load 1.8).
 */
static int hashes_everything(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "apply") == 0 || strcmp(argv[1], "reconcile") == 0))
        return 1;
    if (argc < 3 || strcmp(argv[1], "store") != 0)
        return 0;
    return strcmp(argv[2], "push") == 0 || strcmp(argv[2], "pull") == 0 || strcmp(argv[2], "verify") == 0;
}

/* GCC 12 and clang 19 know the x86-64 levels; the answer includes the kernel's support for AVX state (XCR0). */
static int cpu_runs_v3(void)
{
#if (defined(__clang__) && __clang_major__ >= 19) || (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 12)
    __builtin_cpu_init();
    return __builtin_cpu_supports("x86-64-v3") != 0;
#else
    return 0;
#endif
}

/* Priority 101: before the other constructors (prefault.c), whose work would be lost with the process image. */
__attribute__((constructor(101))) static void xeniac_isa_dispatch(int argc, char **argv, char **envp)
{
    if (argv == NULL || !hashes_everything(argc, argv))
        return;
    const char *choice = getenv("XENIAC_X86_64_V3");
    if (choice != NULL && strcmp(choice, "0") == 0)
        return;

    char path[PATH_MAX];
    const size_t suffix = sizeof VARIANT_SUFFIX - 1;
    ssize_t length = readlink("/proc/self/exe", path, sizeof path - suffix - 1);
    if (length <= 0 || (size_t)length >= sizeof path - suffix - 1)
        return;
    path[length] = '\0';
    /* The variant carries this constructor too: it must not start itself again. */
    if ((size_t)length >= suffix && strcmp(path + length - suffix, VARIANT_SUFFIX) == 0)
        return;
    if (!cpu_runs_v3())
        return;
    memcpy(path + length, VARIANT_SUFFIX, suffix + 1);
    if (access(path, X_OK) != 0)
        return;
    /* argv[0] stays what the user typed, so messages and `ps` read the same. Returns only on failure. */
    (void)execve(path, argv, envp);
}
#endif
