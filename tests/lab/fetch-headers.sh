#!/usr/bin/env bash
# fetch-headers.sh [--xen 4.17|4.20]: one Xen generation's libxl headers (Debian's libxen-dev of that release,
# unpacked with dpkg-deb -x, never installed) under $(lab_cache_root)/headers-<generation>/usr/include, for the
# libxl binding's struct-layout test (tests/XenIac.Hosts.Tests/Libxl/LibxlLayoutTests.cs), which skips with the
# reason when they are absent. Kept outside the repository; a new package version replaces the old folder.
# Exit: 0 ready (prints the include folder); 2 cannot be fetched here (reason on stderr); 1 anything else.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
XEN=${XENIAC_LAB_XEN:-4.20}
while [ $# -gt 0 ]; do
    case "$1" in
        --xen) XEN=$2; shift 2 ;;
        *) echo "fetch-headers.sh: unknown argument $1" >&2; exit 1 ;;
    esac
done
XENIAC_LAB_XEN=$XEN . "$HERE/common.sh"
unavailable() { echo "unavailable: $*" >&2; exit 2; }
for tool in apt-get dpkg-deb flock; do command -v "$tool" >/dev/null 2>&1 || unavailable "'$tool' is missing"; done

CACHE=$(lab_cache_root)
mkdir -p "$CACHE" || unavailable "cannot create $CACHE"
exec 9>"$CACHE/.headers.lock"
flock -w 300 9 || unavailable "another run holds $CACHE/.headers.lock"
if ! lab_host_suite; then
    [ -n "$(lab_mirror)" ] || unavailable "no Debian mirror in apt's sources; set XENIAC_LAB_MIRROR"
    lab_apt_setup; lab_apt_update
fi
V=$(lab_candidate libxen-dev)
[ -n "$V" ] || unavailable "apt knows no $LAB_SUITE candidate for libxen-dev (mirror unreachable?)"
DEST="$CACHE/headers-$LAB_XENV"
if [ -f "$DEST/VERSION" ] && [ "$(cat "$DEST/VERSION")" = "$V" ]; then echo "$DEST/usr/include"; exit 0; fi

TMP="$CACHE/headers-$LAB_XENV.$$"
rm -rf "$TMP"; mkdir -p "$TMP/deb"; trap 'rm -rf "$TMP"' EXIT
chown _apt "$TMP/deb" 2>/dev/null || true
if lab_host_suite; then APT_GET=(apt-get); else APT_GET=(env APT_CONFIG="$(lab_apt_dir)/apt.conf" apt-get); fi
( cd "$TMP/deb" && timeout 300 "${APT_GET[@]}" download "libxen-dev=$V" ) > "$TMP/download.log" 2>&1 \
    || unavailable "apt-get download libxen-dev=$V ($LAB_SUITE) failed: $(tail -n 2 "$TMP/download.log" | tr '\n' ' ')"
dpkg-deb -x "$TMP"/deb/libxen-dev_*.deb "$TMP/root"
[ -f "$TMP/root/usr/include/libxl.h" ] || unavailable "libxen-dev $V has no usr/include/libxl.h"
echo "$V" > "$TMP/root/VERSION"
rm -rf "$DEST"; mv "$TMP/root" "$DEST"
lab_log "libxl headers of Xen $LAB_XENV ($LAB_SUITE libxen-dev $V) in $DEST/usr/include"
echo "$DEST/usr/include"
