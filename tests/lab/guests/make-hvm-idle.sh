#!/usr/bin/env bash
# make-hvm-idle.sh OUT: writes the HVM guest's payload, a 1.5 KiB "kernel" in the Linux boot protocol that
# qemu-xen loads for the guest (xl.cfg `kernel=` on an HVM guest: direct kernel boot, SeaBIOS runs QEMU's
# linuxboot option ROM, which enters the payload in real mode at offset 0x200 with DS = its first byte).
#
# Why a payload at all: an HVM guest with nothing to boot sits in SeaBIOS at "No bootable device", and
# SeaBIOS reboots it 60 s later ("Attempting a hard reboot"). Under a loaded TCG host, `xl save` then
# races that reboot (on_reboot=destroy kills the domain, restart replaces its device model), which is
# how `xl save` met "Failed to connect to QMP socket" and "save callback suspend() failed". This
# payload gives the guest a steady state instead: it says it is up on Xen's debug port (0xe9, shown
# as "(dN) XENIAC-HVM-IDLE" in `xl dmesg`), masks both PICs and halts with interrupts enabled, so the
# vCPU blocks for good and costs nothing. (A halt with interrupts DISABLED would make Xen power the
# domain off.) Real mode keeps SeaBIOS's interrupt table, so even a stray interrupt has a handler.
#
# The bytes are written here rather than assembled, so the lab needs no assembler.
set -euo pipefail
out=$1
at() { printf "$2" | dd of="$out.tmp" bs=1 seek=$(( $1 )) conv=notrunc status=none; }
rm -f "$out.tmp"
truncate -s 1536 "$out.tmp"          # 2 setup sectors + one 512-byte "protected-mode kernel" of zeros
at 0x1f1 '\x01'                       # setup_sects: 1 (+ the boot sector) -> setup is 1024 bytes
at 0x1fe '\x55\xaa'                   # boot_flag
at 0x200 '\xeb\x3e'                   # jmp short 0x240 (over the header), where the loader enters
at 0x202 'HdrS'                       # header magic
at 0x206 '\x02\x02'                   # boot protocol 2.02
at 0x211 '\x01'                       # loadflags: LOADED_HIGH (QEMU then puts setup at 0x10000)
# 0x240, 16-bit real mode:
at 0x240 '\xfc'                       # cld (lodsb counts up)
at 0x241 '\xb0\xff\xe6\x21\xe6\xa1'   # mov al, 0xff; out 0x21, al; out 0xa1, al    mask both PICs
at 0x247 '\xbe\x80\x02'               # mov si, 0x280                              the message (DS = setup)
at 0x24a '\xba\xe9\x00'               # mov dx, 0xe9                               Xen's HVM debug port
at 0x24d '\xac\x84\xc0\x74\x03'       # print: lodsb; test al, al; jz idle
at 0x252 '\xee\xeb\xf8'               # out dx, al; jmp print
at 0x255 '\xfb\xf4\xeb\xfc'           # idle: sti; hlt; jmp idle
at 0x280 'XENIAC-HVM-IDLE\n\0'        # the marker the scenarios wait for
mv "$out.tmp" "$out"
