# Sourced by the host-side lab scripts (prepare.sh, run-lab.sh). Not run inside dom0.

# Everything the lab builds and caches is pinned to these Debian 12 package names; the versions come from
# apt's lists at run time and go into the cache key, so a point release rebuilds the image.
LAB_SUITE=bookworm
LAB_XENV=4.17
LAB_HOST_PACKAGES="qemu-system-x86 debootstrap busybox-static cpio e2fsprogs"

lab_log() { echo "[lab $(date +%H:%M:%S)] $*" >&2; }

# The cache lives outside the repository (never committed, survives `git clean`).
lab_cache_root() {
    if [ -n "${XENIAC_LAB_CACHE:-}" ]; then echo "$XENIAC_LAB_CACHE"
    elif [ "$(id -u)" = 0 ]; then echo /var/cache/xeniac-lab
    else echo "${XDG_CACHE_HOME:-$HOME/.cache}/xeniac-lab"; fi
}

# The mirror apt already uses (sources.list or deb822 .sources), so nothing here names a host.
lab_mirror() {
    if [ -n "${XENIAC_LAB_MIRROR:-}" ]; then echo "$XENIAC_LAB_MIRROR"; return; fi
    { grep -h -E '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}'
      grep -h -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'; } \
      | grep -i debian | grep -v -i security | head -n 1
}

# Candidate version of a package from apt's local lists (no network); empty when unknown.
lab_candidate() {
    apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/{ if ($2 != "(none)") print $2; exit }'
}

# Minimal JSON string escaping for the results file (bash only; no jq/python on the host is assumed).
json_str() {
    local s
    s=$(printf '%s' "$1" | tr -d '\000-\010\013\014\016-\037')
    s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\t'/\\t}; s=${s//$'\n'/\\n}; s=${s//$'\r'/}
    printf '"%s"' "$s"
}
