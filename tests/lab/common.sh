# Sourced by the host-side lab scripts (prepare.sh, run-lab.sh). Not run inside dom0.

# The Xen generation (XENIAC_LAB_XEN, or run-lab.sh --xen) picks the Debian release whose packages the lab boots:
#   4.17  Debian 12 "bookworm" (the host's own release: versions come from apt's local lists)
#   4.20  Debian 13 "trixie" (another release: versions come from a private apt state in the cache, see lab_apt)
# The versions go into the cache key, so a point release rebuilds that generation's image.
LAB_GENERATIONS="4.17 4.20"
LAB_HOST_PACKAGES="qemu-system-x86 debootstrap busybox-static cpio e2fsprogs"

# lab_select_xen VERSION: sets LAB_XENV and LAB_SUITE; returns 1 for a generation the lab does not know.
lab_select_xen() {
    case "$1" in
        4.17) LAB_XENV=4.17; LAB_SUITE=bookworm ;;
        4.20) LAB_XENV=4.20; LAB_SUITE=trixie ;;
        *) return 1 ;;
    esac
}
lab_select_xen "${XENIAC_LAB_XEN:-4.17}" || { echo "XENIAC_LAB_XEN=${XENIAC_LAB_XEN} is not one of: $LAB_GENERATIONS" >&2; exit 1; }

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

# The host's own release is bookworm; another release's packages are read through a private apt whose
# sources, lists and state live in the cache ($(lab_cache_root)/apt-SUITE), so the host's apt is never changed
# and the versions come from that release's own index, signed with the keys in debian-archive-keyring.
lab_host_suite() { [ "$LAB_SUITE" = bookworm ]; }
lab_apt_dir() { echo "$(lab_cache_root)/apt-$LAB_SUITE"; }
lab_apt_setup() {   # writes the private apt's config (once); the lists come from lab_apt_update
    local d; d=$(lab_apt_dir)
    mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/parts" "$d/prefs"
    : > "$d/status"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(lab_mirror) $LAB_SUITE main" > "$d/sources.list"
    cat > "$d/apt.conf" <<EOT
Dir::Etc::SourceList "$d/sources.list";
Dir::Etc::SourceParts "$d/parts";
Dir::Etc::Parts "$d/parts";
Dir::Etc::Preferences "$d/prefs/none";
Dir::Etc::PreferencesParts "$d/prefs";
Dir::State::Lists "$d/lists";
Dir::State::status "$d/status";
Dir::Cache "$d/cache";
APT::Architectures { "amd64"; };
APT::Get::List-Cleanup "true";
Acquire::Languages "none";
EOT
}
lab_apt() { APT_CONFIG="$(lab_apt_dir)/apt.conf" "$@"; }   # lab_apt apt-get|apt-cache ARGS...
# lab_apt_update: refreshes the private lists when they are missing or older than a day (a point release
# then shows up in the key); an unreachable mirror keeps the lists there are.
lab_apt_update() {
    local d; d=$(lab_apt_dir)
    [ -n "$(find "$d/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null)" ] && return 0
    lab_log "refreshing the $LAB_SUITE package lists (private apt state in $d)"
    timeout 300 env APT_CONFIG="$d/apt.conf" apt-get update -qq > "$d/update.log" 2>&1 \
        || lab_log "apt-get update for $LAB_SUITE failed: $(tail -n 2 "$d/update.log" | tr '\n' ' ')"
}

# Candidate version of a package from the generation's lists (no network); empty when unknown.
lab_candidate() {
    if lab_host_suite; then apt-cache policy "$1" 2>/dev/null
    else lab_apt apt-cache policy "$1" 2>/dev/null; fi | awk '/Candidate:/{ if ($2 != "(none)") print $2; exit }'
}
lab_depends() {     # lab_depends PACKAGE: its Depends lines, from the generation's lists
    if lab_host_suite; then apt-cache depends "$1" 2>/dev/null
    else lab_apt apt-cache depends "$1" 2>/dev/null; fi
}

# Minimal JSON string escaping for the results file (bash only; no jq/python on the host is assumed).
json_str() {
    local s
    s=$(printf '%s' "$1" | tr -d '\000-\010\013\014\016-\037')
    s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\t'/\\t}; s=${s//$'\n'/\\n}; s=${s//$'\r'/}
    printf '"%s"' "$s"
}
