/*
 * Linked into the NativeAOT xen-iac only (XenIac.Cli.csproj, target CompileNativeObjects).
 *
 * Why: before Main, the NativeAOT runtime expands ("rehydrates") about 5 MiB of type data into the zero-filled
 * region at the end of the executable's writable segment (.bss, then .hydrated). Touching it page by page
 * costs one page fault per 4 KiB: about 1,250 faults, 12-14 ms of a 35 ms `xen-iac --version` on the
 * benchmark machine (perf record -e page-faults put 78% of all faults in RehydrateData). This ELF
 * constructor runs before the runtime and asks the kernel to populate the whole region in one call, and to
 * back its 2 MiB-aligned part with a huge page where transparent huge pages are allowed on request. Both are
 * hints: an older kernel (MADV_POPULATE_WRITE is Linux 5.14) or THP set to "never" refuses them and the
 * process starts as before. XENIAC_NO_PREFAULT=1 skips it (the native benchmark compares both).
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Defined by the linker: the start of .bss and the end of the last zero-filled section (.hydrated). */
extern char __bss_start[], _end[];

__attribute__((constructor)) static void xeniac_prefault(void)
{
    const char *off = getenv("XENIAC_NO_PREFAULT");
    if (off != NULL && off[0] == '1')
        return;
    const uintptr_t page = 4096, huge = (uintptr_t)2 << 20;
    /* Whole pages only: the page .bss starts in is shared with .data and already mapped from the file. */
    uintptr_t start = ((uintptr_t)__bss_start + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)_end + page - 1) & ~(page - 1);
    if (end <= start)
        return;
    uintptr_t huge_start = (start + huge - 1) & ~(huge - 1), huge_end = end & ~(huge - 1);
    if (huge_end > huge_start)
        (void)madvise((void *)huge_start, huge_end - huge_start, MADV_HUGEPAGE);
    (void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
}
