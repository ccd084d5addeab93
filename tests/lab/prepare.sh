#!/usr/bin/env bash
# prepare.sh: builds (or finds in the cache) everything the lab boots that comes from Debian packages, for one
# Xen generation (XENIAC_LAB_XEN=4.17: Debian 12 "bookworm"; 4.20: Debian 13 "trixie"; see common.sh):
#   xen            the Xen hypervisor, gunzipped (QEMU's multiboot loader wants the plain ELF32 image)
#   vmlinuz        the release's kernel, used for dom0 AND as the PV guest's kernel
#   dom0.cpio.gz   dom0's whole root file system as ONE initramfs: debootstrap minbase + xen-utils-X.Y +
#                  qemu-system-xen (the HVM device model) + python3 (Xen's verify-stream-v2) + openssh-server
#                  (the ssh-host scenario reaches dom0's libxl over ssh://) + our dom0-init
#   domu-initrd.gz busybox initrd of the tiny PV guest
# The result is cached OUTSIDE the repository under $(lab_cache_root)/img-<key>, where <key> hashes the
# package versions apt would install plus the files of this harness that end up in the image; the release is
# part of the key, so each generation has its own image. The host's release (bookworm) is read from apt's own
# lists; another release (trixie) from a private apt state under the cache (common.sh: lab_apt). Anything
# else (the xen-iac build, the scenario scripts, guest configs) goes onto the per-run lab disk, so editing
# a scenario never rebuilds the image.
#
# Usage: prepare.sh            prints the image directory on the last line of stdout; progress on stderr
# Exit:  0 ready; 2 the lab cannot be prepared on this machine (reason on stderr as "unavailable: ...");
#        1 anything else.
# Env:   XENIAC_LAB_XEN (4.17 | 4.20; default 4.17), XENIAC_LAB_CACHE (cache root),
#        XENIAC_LAB_MIRROR (debootstrap mirror; default: apt's Debian one)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"

unavailable() { echo "unavailable: $*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || unavailable "building the dom0 image needs root (debootstrap, chroot); run as root or set XENIAC_LAB=skip"
for tool in debootstrap busybox cpio apt-get dpkg-deb flock; do
    command -v "$tool" >/dev/null 2>&1 || unavailable "'$tool' is missing; install the Debian packages: $LAB_HOST_PACKAGES"
done
[ -e /bin/busybox ] || unavailable "/bin/busybox is missing; install busybox-static"

CACHE=$(lab_cache_root)
mkdir -p "$CACHE" || unavailable "cannot create the cache directory $CACHE"

# ---- cache key: package versions (from the release's apt lists) + the harness files baked into the image ----
if ! lab_host_suite; then
    [ -n "$(lab_mirror)" ] || unavailable "no Debian mirror in apt's sources; set XENIAC_LAB_MIRROR"
    lab_apt_setup
    lab_apt_update
fi
resolve_versions() {
    KPKG=$(lab_depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    XEN_V=$(lab_candidate "xen-hypervisor-$LAB_XENV-amd64")
    UTILS_V=$(lab_candidate "xen-utils-$LAB_XENV")
    QEMUXEN_V=$(lab_candidate qemu-system-xen)
    K_V=${KPKG:+$(lab_candidate "$KPKG")}
}
resolve_versions
if [ -z "$XEN_V" ] || [ -z "$K_V" ] || [ -z "$UTILS_V" ] || [ -z "$QEMUXEN_V" ]; then
    # Fresh machines often have no package lists yet: refresh once, then give up with the reason.
    lab_log "apt lists lack the lab's packages; running apt-get update"
    if lab_host_suite; then timeout 300 apt-get update -qq >/dev/null 2>&1 || true
    else rm -f "$(lab_apt_dir)"/lists/*_Packages*; lab_apt_update; fi
    resolve_versions
fi
[ -n "$XEN_V" ] && [ -n "$K_V" ] && [ -n "$UTILS_V" ] && [ -n "$QEMUXEN_V" ] \
    || unavailable "apt knows no $LAB_SUITE candidate for xen-hypervisor-$LAB_XENV-amd64 / xen-utils-$LAB_XENV / qemu-system-xen / the kernel (package mirror unreachable?)"
BUSYBOX_V=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || echo unknown)

KEY_INPUTS=$(cat <<EOT
suite=$LAB_SUITE
xen-hypervisor-$LAB_XENV-amd64=$XEN_V
xen-utils-$LAB_XENV=$UTILS_V
qemu-system-xen=$QEMUXEN_V
$KPKG=$K_V
busybox-static=$BUSYBOX_V
$(cd "$HERE" && sha256sum prepare.sh common.sh image/dom0-init image/domu-init)
EOT
)
KEY=$(printf '%s\n' "$KEY_INPUTS" | sha256sum | cut -c1-16)
IMG="$CACHE/img-$KEY"

# One build at a time per cache (two test runs at once must not debootstrap into the same folder).
exec 9>"$CACHE/.lock"
flock -w 1800 9 || unavailable "another lab run holds $CACHE/.lock for more than 30 minutes"

if [ -e "$IMG/READY" ]; then
    lab_log "image cache hit: $IMG"
    touch "$IMG/READY"
    echo "$IMG"
    exit 0
fi

# ---- cold build ----
avail_kb=$(df -Pk "$CACHE" | awk 'NR==2{print $4}')
[ "${avail_kb:-0}" -ge $((4 * 1024 * 1024)) ] || unavailable "less than 4 GiB free under $CACHE to build the dom0 image"
MIRROR=$(lab_mirror)
[ -n "$MIRROR" ] || unavailable "no Debian mirror in apt's sources; set XENIAC_LAB_MIRROR"

lab_log "image cache miss (key $KEY): building from Debian packages via $MIRROR"
BUILD="$CACHE/build-$KEY.$$"
rm -rf "$BUILD"; mkdir -p "$BUILD/debs" "$BUILD/img"
trap 'rm -rf "$BUILD"' EXIT
cd "$BUILD"
T_BUILD0=$(date +%s)

# Hard limits: a mirror that hangs must end as "unavailable", not as a test run that never ends. Another release's
# debs come through the private apt (its lists, the same mirror), never through the host's bookworm lists.
if lab_host_suite; then APT_GET=(apt-get); else APT_GET=(env APT_CONFIG="$(lab_apt_dir)/apt.conf" apt-get); fi
chown _apt debs 2>/dev/null || true   # apt downloads as _apt when it can
( cd debs && timeout 600 "${APT_GET[@]}" download "xen-hypervisor-$LAB_XENV-amd64=$XEN_V" "$KPKG=$K_V" ) > download.log 2>&1 \
    || unavailable "apt-get download of xen-hypervisor-$LAB_XENV-amd64 and $KPKG failed (package mirror unreachable?): $(tail -n 2 download.log | tr '\n' ' ')"
dpkg-deb -x debs/xen-hypervisor-"$LAB_XENV"-amd64_*.deb xenpkg
dpkg-deb -x debs/"$KPKG"_*.deb kpkg
KVER=${KPKG#linux-image-}
zcat "xenpkg/boot/xen-$LAB_XENV-amd64.gz" > img/xen
cp "kpkg/boot/vmlinuz-$KVER" img/vmlinuz

lab_log "debootstrap $LAB_SUITE minbase + xen-utils-$LAB_XENV + qemu-system-xen + openssh-server (a few minutes)"
t0=$(date +%s)
# openssh-server: the ssh-host scenario drives dom0's libxl from the host machine over ssh:// (QEMU's user
# network forwards a loopback port to dom0's port 22). The network itself is configured with busybox's `ip`
# (copied below), so neither iproute2 nor ifupdown is needed.
timeout 1200 debootstrap --variant=minbase --include="xen-utils-$LAB_XENV,kmod,procps,qemu-system-xen,python3,openssh-server" \
    "$LAB_SUITE" rootfs "$MIRROR" > debootstrap.log 2>&1 \
    || unavailable "debootstrap from $MIRROR failed (package mirror unreachable?): $(tail -n 3 debootstrap.log | tr '\n' ' ')"
lab_log "debootstrap took $(( $(date +%s) - t0 )) s"

# Only the kernel modules dom0 needs: Xen drivers (evtchn, gntdev, privcmd, xenfs, ...), virtio (the lab
# disk) and ext4 with what it depends on. The full module tree would add ~300 MiB to a RAM-only root.
# bookworm's kernel package ships them under /lib/modules, trixie's under /usr/lib/modules (merged /usr: the
# rootfs's /lib is a link to usr/lib there, so the destination below works for both).
MODSRC=kpkg/lib/modules/$KVER
[ -d "$MODSRC" ] || MODSRC=kpkg/usr/lib/modules/$KVER
MODDST=rootfs/lib/modules/$KVER
rm -rf "$MODDST"; mkdir -p "$MODDST/kernel/drivers/block" "$MODDST/kernel/fs"
cp -a "$MODSRC"/kernel/drivers/xen "$MODSRC"/kernel/drivers/virtio "$MODDST/kernel/drivers/"
cp -a "$MODSRC"/kernel/drivers/block/virtio_blk.ko* "$MODDST/kernel/drivers/block/"
cp -a "$MODSRC"/kernel/fs/ext4 "$MODSRC"/kernel/fs/jbd2 "$MODSRC"/kernel/fs/mbcache.ko* "$MODDST/kernel/fs/"
cp -a "$MODSRC"/kernel/lib "$MODSRC"/kernel/crypto "$MODDST/kernel/"
# virtio_net and what it depends on (net_failover, failover): dom0's NIC on QEMU's user network.
( cd "$MODSRC" && find kernel -name 'virtio_net.ko*' -o -name 'net_failover.ko*' -o -name 'failover.ko*' ) \
    | while read -r m; do mkdir -p "$MODDST/$(dirname "$m")"; cp -a "$MODSRC/$m" "$MODDST/$m"; done
cp -a "$MODSRC"/modules.builtin* "$MODSRC"/modules.order "$MODDST/" 2>/dev/null || true
chroot rootfs /sbin/depmod "$KVER"   # the rootfs's kmod: the host may have none

# A RAM-only dom0 needs no docs, locales or apt state; every MiB here is a MiB of dom0 memory.
rm -rf rootfs/usr/share/doc/* rootfs/usr/share/man/* rootfs/usr/share/locale/* \
       rootfs/usr/share/info/* rootfs/var/cache/apt/* rootfs/var/lib/apt/lists/*
cp /bin/busybox rootfs/bin/busybox          # poweroff -f, ip and friends for PID 1
# sshd: no host keys in the cached image (each run hands its own in through the lab disk, so the host can pin
# that run's key in known_hosts), and the privilege-separation user sshd insists on, should the package's
# maintainer script not have made it in the chroot.
rm -f rootfs/etc/ssh/ssh_host_*
grep -q '^sshd:' rootfs/etc/passwd || chroot rootfs useradd --system --no-create-home --home-dir /run/sshd --shell /usr/sbin/nologin sshd
[ -x rootfs/usr/sbin/sshd ] || { echo "openssh-server installed no /usr/sbin/sshd" >&2; exit 1; }
mkdir -p rootfs/xeniac rootfs/lab
install -m 0755 "$HERE/image/dom0-init" rootfs/xeniac/dom0-init

# The PV guest: busybox initrd whose init leaves a marker in its console log when it is up.
mkdir -p domu/bin domu/proc domu/sys domu/dev domu/tmp
cp /bin/busybox domu/bin/
install -m 0755 "$HERE/image/domu-init" domu/init
( cd domu && find . | cpio -o -H newc --quiet | gzip -9 ) > img/domu-initrd.gz

lab_log "packing the dom0 initramfs"
( cd rootfs && find . | cpio -o -H newc --quiet | gzip -1 ) > img/dom0.cpio.gz
printf '%s\n' "$KEY_INPUTS" > img/key-inputs.txt
cat > img/versions.txt <<EOT
xen=$XEN_V
kernel=$KPKG $K_V
xen-utils=$UTILS_V
qemu-system-xen=$QEMUXEN_V
EOT
echo "$(( $(date +%s) - T_BUILD0 ))" > img/build-seconds.txt
touch img/READY

# Publish atomically, then drop older images of THIS release (each is ~250 MiB): never another generation's,
# and never one used in the last day (a cache hit touches READY), which a concurrent run of an older checkout
# may be booting right now.
rm -rf "$IMG"; mv img "$IMG"
for old in "$CACHE"/img-*; do
    [ "$old" = "$IMG" ] && continue
    head -n 1 "$old/key-inputs.txt" 2>/dev/null | grep -qx "suite=$LAB_SUITE" || continue
    if [ -n "$(find "$old/READY" -mmin +1440 2>/dev/null)" ] || [ ! -e "$old/READY" ]; then
        lab_log "removing stale $LAB_SUITE image $old"; rm -rf "$old"
    fi
done
lab_log "image ready: $IMG ($(du -sh "$IMG" | cut -f1))"
echo "$IMG"
