#!/usr/bin/env bash
# run-lab.sh --out DIR [--xen 4.17|4.20] [--carry DIR]: the real Xen lab in one go, for one Xen generation
# (4.17: Debian 12's packages, the default; 4.20: Debian 13's), the single entry the lab tests call.
#
# Stages (each timed, each with its own failure message in DIR/results.json):
#   check     host tools, root, free disk, XENIAC_LAB=skip
#   prepare   the dom0 image from Debian packages (prepare.sh; cached outside the repo, keyed by versions)
#   publish   xen-iac NativeAOT for linux-x64 (the app that runs inside dom0 AND on the host)
#   disk      the per-run lab disk (ext4 image, made without mounting): app/, scenarios/, guests/, out/
#   boot      QEMU (TCG, -cpu qemu64,+npt) starts Xen, Xen starts the dom0 kernel + initramfs
#   dom0      dom0-init brings up xenstored/xenconsoled and mounts the lab disk ("XENIAC-LAB DOM0-UP")
#   scenario:NAME   each scenarios/NN-NAME.sh, run by dom0 under its own time limit; ssh-host's steps run on
#             this machine (host/ssh-host.sh, started when dom0 prints SSH-READY) against dom0's sshd, which
#             QEMU's user network forwards from 127.0.0.1:PORT (a free port per run, loopback only)
#   collect   QEMU powers off; the host reads /out back from the disk image with debugfs
# Result: DIR/results.json (stages, versions, cache, which xen-iac commands exist, every scenario step),
#         DIR/out/ (what dom0 wrote: savefiles under out/files, per-scenario step outputs), DIR/app/
#         (the published xen-iac), DIR/serial.log (Xen + dom0 console, host-timestamped), DIR/*.log.
# Exit:   0 every stage and scenario passed; 1 something failed; 2 the lab is unavailable here (skipped:
#         no QEMU, no root, no disk, mirror unreachable, XENIAC_LAB=skip) -- the reason is in results.json.
# Env:    XENIAC_LAB=skip                 skip at once
#         XENIAC_LAB_TIMEOUT=3600         hard limit for QEMU (seconds)
#         XENIAC_LAB_BOOT_TIMEOUT=600     QEMU start until dom0's toolstack is up
#         XENIAC_LAB_SCENARIO_TIMEOUT=1800 each scenario (enforced in dom0; the host adds a margin)
#         XENIAC_LAB_STALL_TIMEOUT=300    once dom0 is up, the longest the console may stay silent (dom0 prints
#                                         a heartbeat every 20 s; silence means the emulated machine stopped)
#         XENIAC_LAB_FREEZE_AT=SECONDS    (for testing the stall watch) stop QEMU with SIGSTOP that long after dom0 is up
#         (Limits only bound a hang: every wait ends as soon as its state is reached. They are sized for
#         TCG on a loaded 2-core host, where a warm run that takes ~4 min on a quiet one took over 45: each
#         xen-iac start in dom0 took 15-80 s there, and the xl-save scenario alone runs ~30 commands.)
#         XENIAC_LAB_SCENARIOS="a b"      run only these scenarios (names without the NN- prefix)
#         XENIAC_LAB_CACHE, XENIAC_LAB_MIRROR  see prepare.sh
#         XENIAC_LAB_XEN=4.17|4.20        the generation when --xen is not given
# --carry DIR: savefiles carried between generations (the cross-version scenario): DIR/<generation>/ is put on the
#         lab disk as /lab/carry/ (what the other generation saved), and what this run saved for the other
#         generation (out/carry/) is copied to DIR/<this generation>/ afterwards.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
. "$HERE/common.sh"

OUT=""; XEN=${XENIAC_LAB_XEN:-4.17}; CARRY=""
while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT=$2; shift 2 ;;
        --xen) XEN=$2; shift 2 ;;
        --carry) CARRY=$2; shift 2 ;;
        -h|--help) sed -n "2,34p" "$0"; exit 0 ;;
        *) echo "run-lab.sh: unknown argument $1 (see --help)" >&2; exit 1 ;;
    esac
done
[ -n "$OUT" ] || { echo "run-lab.sh: --out DIR is required" >&2; exit 1; }
lab_select_xen "$XEN" || { echo "run-lab.sh: --xen $XEN is not one of: $LAB_GENERATIONS" >&2; exit 1; }
export XENIAC_LAB_XEN=$LAB_XENV   # prepare.sh builds this generation's image
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
# Only ever clear a folder this script made (a typo in --out must not wipe someone's files).
if [ -n "$(ls -A "$OUT")" ] && [ ! -e "$OUT/.xeniac-lab" ]; then
    echo "run-lab.sh: $OUT is not empty and not a lab result folder; refusing to clear it" >&2; exit 1
fi
find "$OUT" -mindepth 1 -delete
touch "$OUT/.xeniac-lab"

BOOT_TIMEOUT=${XENIAC_LAB_BOOT_TIMEOUT:-600}
TOTAL_TIMEOUT=${XENIAC_LAB_TIMEOUT:-3600}
SCENARIO_TIMEOUT=${XENIAC_LAB_SCENARIO_TIMEOUT:-1800}
STALL_TIMEOUT=${XENIAC_LAB_STALL_TIMEOUT:-300}
FREEZE_AT=${XENIAC_LAB_FREEZE_AT:-}

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }
T_START=$(now)

# ---- results bookkeeping ---------------------------------------------------------------------------
STATUS=passed; REASON=""; FAILED_STAGE=""
STAGES_JSON=()
CACHE_HIT=false; IMG=""
stage_begin() { STAGE=$1; STAGE_T0=$(now); lab_log "stage $1"; }
stage_ok() { STAGES_JSON+=("{\"name\":$(json_str "$STAGE"),\"status\":\"ok\",\"seconds\":$(secs "$STAGE_T0" "$(now)"),\"detail\":$(json_str "${1:-}")}"); }
stage_record() {  # stage_record NAME STATUS SECONDS DETAIL (stages timed from the serial log)
    STAGES_JSON+=("{\"name\":$(json_str "$1"),\"status\":$(json_str "$2"),\"seconds\":${3:-null},\"detail\":$(json_str "${4:-}")}")
}
# The first failure decides the run's reason; later ones are recorded too.
stage_fail() {     # stage_fail KIND(failed|unavailable) MESSAGE
    STAGES_JSON+=("{\"name\":$(json_str "$STAGE"),\"status\":$(json_str "$1"),\"seconds\":$(secs "$STAGE_T0" "$(now)"),\"detail\":$(json_str "$2")}")
    if [ "$STATUS" = passed ]; then STATUS=$1; REASON="$STAGE: $2"; FAILED_STAGE=$STAGE; fi
    lab_log "$STAGE: $1: $2"
}

# The longest gap between two console lines once dom0 was up: the margin the stall watch has (empty before dom0 is up).
longest_silence() {
    [ -n "${SERIAL:-}" ] && [ -f "$SERIAL" ] || return 0
    awk 'match($0, /^\[host *[0-9.]+\]/) { t = substr($0, 7, RLENGTH - 7) + 0; if (up && t - last > max) max = t - last; last = t
         if (index($0, "XENIAC-LAB DOM0-UP")) up = 1 } END { if (up) printf "%.1f", max }' "$SERIAL"
}

num() { [[ "${1:-}" =~ ^-?[0-9]+(\.[0-9]+)?$ ]] && echo "$1" || echo null; }   # "-" and "" become null

write_results() {
    local f="$OUT/results.json" first sep
    {
        echo "{"
        echo "  \"schema\": 1,"
        echo "  \"xen\": $(json_str "$LAB_XENV"),"
        echo "  \"suite\": $(json_str "$LAB_SUITE"),"
        echo "  \"status\": $(json_str "$STATUS"),"
        echo "  \"reason\": $(json_str "$REASON"),"
        echo "  \"failedStage\": $(json_str "$FAILED_STAGE"),"
        echo "  \"totalSeconds\": $(secs "$T_START" "$(now)"),"
        echo "  \"longestSilenceSeconds\": $(num "$(longest_silence)"),"
        echo "  \"cache\": {\"dir\": $(json_str "$IMG"), \"hit\": $CACHE_HIT, \"coldBuildSeconds\": $(cat "$IMG/build-seconds.txt" 2>/dev/null || echo null)},"
        echo "  \"versions\": {"
        echo "    \"image\": $(json_str "$(cat "$IMG/versions.txt" 2>/dev/null)"),"
        echo "    \"qemu\": $(json_str "$(qemu-system-x86_64 --version 2>/dev/null | head -n1)"),"
        echo "    \"xenIac\": $(json_str "$(head -n1 "$OUT/out/xen-iac-version.txt" 2>/dev/null)")"
        echo "  },"
        echo "  \"stages\": ["
        sep=""; for s in "${STAGES_JSON[@]}"; do printf '%s    %s' "$sep" "$s"; sep=$',\n'; done; echo
        echo "  ],"
        echo "  \"commands\": {"
        sep=""
        if [ -f "$OUT/out/commands.tsv" ]; then
            while IFS=$'\t' read -r cmd have; do
                printf '%s    %s: %s' "$sep" "$(json_str "$cmd")" "$([ "$have" = 1 ] && echo true || echo false)"; sep=$',\n'
            done < "$OUT/out/commands.tsv"
        fi
        echo; echo "  },"
        echo "  \"scenarios\": ["
        first=1
        if [ -f "$OUT/out/scenarios.tsv" ]; then
            while IFS=$'\t' read -r name st rc sec; do
                [ $first = 1 ] || echo ","; first=0
                printf '    {"name": %s, "status": %s, "rc": %s, "seconds": %s, "steps": [\n' \
                    "$(json_str "$name")" "$(json_str "$st")" "$(num "$rc")" "$(num "$sec")"
                sep=""
                if [ -f "$OUT/out/$name/steps.tsv" ]; then
                    while IFS=$'\t' read -r sn ss src ssec sdet; do
                        printf '%s      {"name": %s, "status": %s, "rc": %s, "seconds": %s, "detail": %s}' "$sep" \
                            "$(json_str "$sn")" "$(json_str "$ss")" "$(num "$src")" "$(num "$ssec")" "$(json_str "$sdet")"
                        sep=$',\n'
                    done < "$OUT/out/$name/steps.tsv"
                fi
                printf '\n    ]}'
            done < "$OUT/out/scenarios.tsv"
        fi
        echo; echo "  ]"
        echo "}"
    } > "$f.tmp" && mv "$f.tmp" "$f"
}

QEMU_PID=""; HOST_SCEN_PID=""
# QEMU_PID is the subshell running `timeout qemu | perl`; timeout passes a TERM on to QEMU.
stop_qemu() { [ -n "$QEMU_PID" ] && { pkill -TERM -P "$QEMU_PID" 2>/dev/null; kill "$QEMU_PID" 2>/dev/null; }; }
# The host side of ssh-host runs in its own process group (setsid), so its ssh and xen-iac children go with it.
stop_host_scenario() { [ -n "$HOST_SCEN_PID" ] && kill -TERM -- "-$HOST_SCEN_PID" 2>/dev/null; HOST_SCEN_PID=""; }
finish() {
    stop_host_scenario
    stop_qemu
    write_results
    lab_log "lab $STATUS in $(secs "$T_START" "$(now)") s${REASON:+: $REASON}; results in $OUT/results.json"
    case "$STATUS" in passed) exit 0 ;; unavailable) exit 2 ;; *) exit 1 ;; esac
}
trap finish EXIT
trap 'stage_fail failed "interrupted"; exit 1' INT TERM

# ---- check -----------------------------------------------------------------------------------------
stage_begin check
if [ "${XENIAC_LAB:-}" = skip ]; then stage_fail unavailable "XENIAC_LAB=skip"; exit; fi
missing=""
for tool in qemu-system-x86_64 debugfs mkfs.ext4 timeout perl dotnet; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    stage_fail unavailable "missing on this machine:$missing (Debian packages: $LAB_HOST_PACKAGES)"; exit
fi
if [ "$(id -u)" != 0 ]; then stage_fail unavailable "the lab needs root (debootstrap, chroot)"; exit; fi
avail_kb=$(df -Pk "$OUT" | awk 'NR==2{print $4}')
if [ "${avail_kb:-0}" -lt $((3 * 1024 * 1024)) ]; then stage_fail unavailable "less than 3 GiB free under $OUT"; exit; fi
stage_ok "$(qemu-system-x86_64 --version | head -n1)"

# ---- prepare ---------------------------------------------------------------------------------------
stage_begin prepare
"$HERE/prepare.sh" > "$OUT/prepare.out" 2> >(tee "$OUT/prepare.log" >&2); rc=$?
sleep 0.2   # let tee finish writing prepare.log
IMG=$(tail -n 1 "$OUT/prepare.out")
if [ $rc = 2 ]; then stage_fail unavailable "$(grep '^unavailable:' "$OUT/prepare.log" | tail -n1 | sed 's/^unavailable: //')"; IMG=""; exit
elif [ $rc != 0 ] || [ ! -e "$IMG/READY" ]; then stage_fail failed "prepare.sh exited $rc: $(tail -n 3 "$OUT/prepare.log" | tr '\n' ' ')"; IMG=""; exit; fi
grep -q 'image cache hit' "$OUT/prepare.log" && CACHE_HIT=true
stage_ok "$([ $CACHE_HIT = true ] && echo "cache hit" || echo "built") $IMG"

# ---- publish ---------------------------------------------------------------------------------------
# The NativeAOT xen-iac users get (dom0 has no .NET, and a native binary starts at once even under TCG). When
# ./build.sh Test already published it for this tree (XENIAC_CLI, artifacts/native/linux-x64), that very binary
# goes into dom0; otherwise it is published here, with --artifacts-path keeping the RID-specific restore and
# build out of the repository's obj/ and bin/.
stage_begin publish
rm -rf "$OUT/app"; mkdir -p "$OUT/app"
if [ -n "${XENIAC_CLI:-}" ] && [ -x "$XENIAC_CLI" ]; then
    cp "$XENIAC_CLI" "$(dirname "$XENIAC_CLI")"/*.so "$OUT/app/"
    PUBLISHED="NativeAOT from $XENIAC_CLI"
elif dotnet publish "$REPO/src/XenIac.Cli" -c Release -r linux-x64 -p:PublishAot=true \
        --artifacts-path "$OUT/build" -o "$OUT/app" --nologo > "$OUT/publish.log" 2>&1; then
    rm -f "$OUT/app"/*.dbg "$OUT/app"/*.pdb
    PUBLISHED="NativeAOT, published here"
else
    stage_fail failed "dotnet publish failed: $(grep -m3 -E 'error|Error' "$OUT/publish.log" | tr '\n' ' ')"; exit
fi
rm -rf "$OUT/build"
if ! "$OUT/app/xen-iac" --version > /dev/null 2>&1; then
    stage_fail failed "the published $OUT/app/xen-iac does not run on the host"; exit
fi
stage_ok "$(du -sh "$OUT/app" | cut -f1) linux-x64 ($PUBLISHED)"

# ---- ssh (for the ssh-host scenario) ---------------------------------------------------------------
# Everything per run: a free loopback port for QEMU's forward to dom0's port 22, dom0's host key (made here, so
# known_hosts can pin it and host-key checking stays on), a client key dom0 authorizes, and an ssh config that
# uses only these files. Only when ssh-host is among the scenarios; without ssh tools it is "not-available".
SSH_WANTED=""; SSH_WHY=""; SSH_PORT=""; SSH_DIR="$OUT/ssh"; HOST_SCEN_DIR="$OUT/host/ssh-host"
if [ -z "${XENIAC_LAB_SCENARIOS:-}" ] || [[ " $XENIAC_LAB_SCENARIOS " == *" ssh-host "* ]]; then
    SSH_WANTED=1
    if ! command -v ssh > /dev/null || ! command -v ssh-keygen > /dev/null; then
        SSH_WHY="no ssh or ssh-keygen on this machine (Debian package openssh-client)"
    elif ! SSH_PORT=$(perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1) or die "$!\n"; print $s->sockport' 2>&1) \
            || ! [[ "$SSH_PORT" =~ ^[0-9]+$ ]]; then
        SSH_WHY="no free port on 127.0.0.1: $SSH_PORT"; SSH_PORT=""
    else
        # Keys are per run: a second run into the same folder (the fixture boots again after a hung boot) makes new ones.
        rm -rf "$SSH_DIR"; mkdir -p "$SSH_DIR"; chmod 0700 "$SSH_DIR"
        if ! { ssh-keygen -q -t ed25519 -N "" -C "xeniac-lab-dom0" -f "$SSH_DIR/ssh_host_ed25519_key" \
               && ssh-keygen -q -t ed25519 -N "" -C "xeniac-lab-host" -f "$SSH_DIR/id_ed25519"; } > "$SSH_DIR/keygen.log" 2>&1; then
            SSH_WHY="ssh-keygen failed: $(tail -n 2 "$SSH_DIR/keygen.log" | tr '\n' ' ')"
        else
            echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$SSH_DIR/ssh_host_ed25519_key.pub")" > "$SSH_DIR/known_hosts"
            cat > "$SSH_DIR/ssh_config" <<EOT
# This lab run's dom0 only (run-lab.sh): its pinned host key, its client key, nothing from ~/.ssh.
Host *
  UserKnownHostsFile $SSH_DIR/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  IdentityFile $SSH_DIR/id_ed25519
  IdentitiesOnly yes
  IdentityAgent none
  BatchMode yes
  ConnectTimeout 120
  LogLevel ERROR
EOT
        fi
    fi
fi

# ---- disk ------------------------------------------------------------------------------------------
stage_begin disk
STAGE_DIR="$OUT/disk-staging"
mkdir -p "$STAGE_DIR/guests" "$STAGE_DIR/out"
cp -a "$OUT/app" "$STAGE_DIR/app"
cp -a "$HERE/scenarios" "$STAGE_DIR/scenarios"
cp "$HERE"/guests/*.cfg.in "$STAGE_DIR/guests/"
cp "$IMG/vmlinuz" "$STAGE_DIR/guests/domu-vmlinuz"
cp "$IMG/domu-initrd.gz" "$STAGE_DIR/guests/domu-initrd.gz"
"$HERE/guests/make-hvm-idle.sh" "$STAGE_DIR/guests/hvm-idle.bin"
# What the other generations saved for this one (cross-version scenario): /lab/carry/<generation>/.
mkdir -p "$STAGE_DIR/carry"
CARRIED_IN=""
if [ -n "$CARRY" ]; then
    for g in $LAB_GENERATIONS; do
        [ "$g" = "$LAB_XENV" ] || [ ! -d "$CARRY/$g" ] && continue
        cp -a "$CARRY/$g" "$STAGE_DIR/carry/$g" && CARRIED_IN="$CARRIED_IN $g:$(ls "$CARRY/$g" | wc -l)"
    done
fi
# dom0-init starts sshd only when it finds /lab/ssh: this run's host key and the key it authorizes.
if [ -n "$SSH_WANTED" ] && [ -z "$SSH_WHY" ]; then
    mkdir -p "$STAGE_DIR/ssh"
    cp "$SSH_DIR/ssh_host_ed25519_key" "$STAGE_DIR/ssh/"
    cp "$SSH_DIR/id_ed25519.pub" "$STAGE_DIR/ssh/authorized_keys"
elif [ -n "$SSH_WANTED" ]; then
    echo "$SSH_WHY" > "$STAGE_DIR/ssh-why.txt"
fi
cat > "$STAGE_DIR/lab.env" <<EOT
SCENARIO_TIMEOUT=$SCENARIO_TIMEOUT
SCENARIOS="${XENIAC_LAB_SCENARIOS:-}"
LAB_XEN=$LAB_XENV
LAB_GENERATIONS="$LAB_GENERATIONS"
EOT
# 3 GiB sparse: ~20 MiB app + ~450 MiB of savefiles the scenarios write.
if ! { truncate -s 3G "$OUT/lab.img" && mkfs.ext4 -q -F -L xeniaclab -E root_owner=0:0 -d "$STAGE_DIR" "$OUT/lab.img"; } > "$OUT/disk.log" 2>&1; then
    stage_fail failed "mkfs.ext4 -d failed (e2fsprogs too old?): $(tail -n 2 "$OUT/disk.log" | tr '\n' ' ')"; exit
fi
rm -rf "$STAGE_DIR"
stage_ok "${CARRIED_IN:+carried in (generation:files):$CARRIED_IN}${SSH_PORT:+ ssh forward 127.0.0.1:$SSH_PORT}${SSH_WHY:+ no ssh: $SSH_WHY}"

# ---- boot, dom0, scenarios -------------------------------------------------------------------------
XEN_CMDLINE="console=com1 com1=115200,8n1 dom0_mem=1536M,max:1536M dom0_max_vcpus=2 loglvl=all guest_loglvl=all noreboot"
DOM0_CMDLINE="console=hvc0 earlyprintk=xen rdinit=/xeniac/dom0-init"
# -cpu qemu64,+npt: TCG emulates AMD SVM with nested paging; Debian's Xen has no shadow paging, so HVM
# guests need HAP. -no-reboot: a crash ends QEMU instead of looping.
QEMU_CMD=(qemu-system-x86_64 -machine pc -cpu qemu64,+npt -m 4096 -smp 2
    -nographic -monitor none -serial stdio -no-reboot
    -kernel "$IMG/xen" -append "$XEN_CMDLINE"
    -initrd "$IMG/vmlinuz $DOM0_CMDLINE,$IMG/dom0.cpio.gz"
    -drive "file=$OUT/lab.img,format=raw,if=virtio,cache=unsafe")
# dom0's NIC for ssh-host: QEMU's user network (no host privileges, no bridge). hostfwd listens on 127.0.0.1 only;
# restrict=on keeps dom0 from reaching anything beyond QEMU itself (the forward still works).
if [ -n "$SSH_PORT" ] && [ -z "$SSH_WHY" ]; then
    QEMU_CMD+=(-nic "user,model=virtio-net-pci,restrict=on,hostfwd=tcp:127.0.0.1:$SSH_PORT-:22")
fi
printf '%q ' "${QEMU_CMD[@]}" > "$OUT/qemu-cmdline.txt"
SERIAL="$OUT/serial.log"
# The console's input side: a FIFO this script holds open (read-write, so neither end blocks), through which
# a stalled machine is asked for Xen's debug keys.
rm -f "$OUT/serial.in"; mkfifo -m 0600 "$OUT/serial.in"
exec {SERIAL_IN}<>"$OUT/serial.in"
stage_begin boot
T_QEMU0=$(now)
# Every serial line gets the host seconds since QEMU started; the stage timings come from these.
( timeout -k 10 "$TOTAL_TIMEOUT" "${QEMU_CMD[@]}" < "$OUT/serial.in" 2>&1 \
    | perl -MTime::HiRes=time -e '$|=1; $t=time; while(<STDIN>){ s/\r//g; printf "[host %7.2f] %s", time-$t, $_ }' \
    > "$SERIAL" ) &
QEMU_PID=$!
# the seconds at which a marker line first appeared, from the serial log's host stamps
marker_at() { grep -m1 "XENIAC-LAB $1" "$SERIAL" 2>/dev/null | sed 's/^\[host *\([0-9.]*\)\].*/\1/'; }
tail_serial() { tail -n "${1:-6}" "$SERIAL" 2>/dev/null | cut -c1-200 | tr '\n' '|'; }
qemu_alive() { kill -0 "$QEMU_PID" 2>/dev/null; }
elapsed() { secs "$T_QEMU0" "$(now)"; }
# QEMU's own pid (QEMU_PID is the subshell; timeout sits between them).
qemu_process() {
    local p c
    for p in $(pgrep -P "$QEMU_PID" 2>/dev/null); do
        for c in $p $(pgrep -P "$p" 2>/dev/null); do
            [ "$(cat /proc/$c/comm 2>/dev/null)" = qemu-system-x86 ] && { echo "$c"; return; }
        done
    done
}
qemu_cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null; }
# stall_evidence: what a silent machine still tells. Xen's debug keys over the console (Ctrl-A three times hands
# the serial input to Xen; 'r' dumps the run queues, 'd' every CPU's registers, '0' dom0's vCPUs) answer when
# the hypervisor runs and only dom0 is stuck; QEMU's CPU use over 5 s tells a spinning emulator from an idle one.
stall_evidence() {
    local pid t0 t1 size0 size1 cpu answered
    pid=$(qemu_process)
    size0=$(stat -c %s "$SERIAL" 2>/dev/null || echo 0)
    printf '\001\001\001' >&"$SERIAL_IN"; sleep 1; printf 'r' >&"$SERIAL_IN"; sleep 1
    printf 'd' >&"$SERIAL_IN"; sleep 1; printf '0' >&"$SERIAL_IN"
    t0=$( [ -n "$pid" ] && qemu_cpu_ticks "$pid" ); sleep 5; t1=$( [ -n "$pid" ] && qemu_cpu_ticks "$pid" )
    sleep 10
    size1=$(stat -c %s "$SERIAL" 2>/dev/null || echo 0)
    if [ -n "$t0" ] && [ -n "$t1" ]; then cpu="QEMU used $(( (t1 - t0) * 100 / $(getconf CLK_TCK) / 5 ))% of a core over 5 s"
    else cpu="QEMU's CPU use unknown (${pid:-no QEMU process found})"; fi
    if [ "$size1" -gt "$size0" ]; then answered="Xen answered its debug keys ($((size1 - size0)) bytes in serial.log): the hypervisor runs"
    else answered="Xen did not answer its debug keys: the hypervisor (or QEMU) is stuck"; fi
    echo "$cpu; $answered"
}

# Waits until dom0 is up, and polices the scenario limits; the FATAL lines come from dom0-init.
watch_failed=""; serial_size=0; serial_changed=0; frozen=""
while :; do
    if grep -q 'XENIAC-LAB FATAL' "$SERIAL" 2>/dev/null; then
        watch_failed="dom0 reported: $(grep -m1 'XENIAC-LAB FATAL' "$SERIAL" | sed 's/.*XENIAC-LAB FATAL //')"; break; fi
    grep -q 'XENIAC-LAB DONE' "$SERIAL" 2>/dev/null && break
    # dom0 waits in ssh-host until this side has run (or its own limits pass): start the host side once.
    if [ -n "$SSH_PORT" ] && [ -z "$HOST_SCEN_PID" ] && [ ! -e "$HOST_SCEN_DIR" ] && grep -q 'XENIAC-LAB SSH-READY' "$SERIAL" 2>/dev/null; then
        dom0_file=$(grep -m1 'XENIAC-LAB SSH-READY' "$SERIAL" | sed -n 's/.* savefile=\([^ ]*\).*/\1/p')
        lab_log "dom0's sshd is ready: the host side of ssh-host starts (127.0.0.1:$SSH_PORT)"
        mkdir -p "$HOST_SCEN_DIR"
        setsid "$HERE/host/ssh-host.sh" --dir "$HOST_SCEN_DIR" --port "$SSH_PORT" --ssh-config "$SSH_DIR/ssh_config" \
            --xen-iac "$OUT/app/xen-iac" --savefile "$dom0_file" > "$OUT/ssh-host.log" 2>&1 &
        HOST_SCEN_PID=$!
    fi
    if ! qemu_alive; then
        watch_failed="QEMU exited before dom0 finished; last console lines: $(tail_serial)"; break; fi
    e=$(elapsed); e=${e%.*}
    if [ -z "$(marker_at DOM0-UP)" ] && [ "$e" -ge "$BOOT_TIMEOUT" ]; then
        watch_failed="dom0 not up within ${BOOT_TIMEOUT} s; last console lines: $(tail_serial)"; break; fi
    # Once dom0 is up it prints at least a heartbeat every 20 s: a silent console means the machine stopped.
    size=$(stat -c %s "$SERIAL" 2>/dev/null || echo 0)
    [ "$size" != "$serial_size" ] && { serial_size=$size; serial_changed=$e; }
    if [ -n "$(marker_at DOM0-UP)" ]; then
        if [ -n "$FREEZE_AT" ] && [ -z "$frozen" ] && [ $((e - ${t_up_seen:=$e})) -ge "$FREEZE_AT" ]; then
            frozen=$(qemu_process); [ -n "$frozen" ] && kill -STOP "$frozen" && lab_log "XENIAC_LAB_FREEZE_AT: QEMU ($frozen) stopped"
        fi
        if [ $((e - serial_changed)) -ge "$STALL_TIMEOUT" ]; then
            lab_log "no console output for $((e - serial_changed)) s: asking Xen for its state"
            last_lines=$(tail_serial)   # before Xen's answer to the debug keys lands after them
            watch_failed="the emulated machine stalled: no console output for $((e - serial_changed)) s (limit ${STALL_TIMEOUT} s, dom0 prints a heartbeat every 20 s); $(stall_evidence); last console lines before the silence: $last_lines"
            break
        fi
    fi
    # a scenario that outlives its own limit plus a margin means dom0 itself is stuck
    cur=$(grep 'XENIAC-LAB SCENARIO-BEGIN' "$SERIAL" 2>/dev/null | tail -n1)
    if [ -n "$cur" ]; then
        name=$(echo "$cur" | sed 's/.*SCENARIO-BEGIN \([^ ]*\).*/\1/')
        if ! grep -q "XENIAC-LAB SCENARIO-END $name " "$SERIAL"; then
            began=$(echo "$cur" | sed 's/^\[host *\([0-9.]*\)\].*/\1/'); began=${began%.*}
            if [ $((e - began)) -gt $((SCENARIO_TIMEOUT + 60)) ]; then
                watch_failed="scenario $name still running after $((SCENARIO_TIMEOUT + 60)) s (dom0 stuck?); last console lines: $(tail_serial)"; break; fi
        fi
    fi
    sleep 1
done
# After DONE QEMU powers off by itself: give it a moment. After a failure stop it at once, so the
# console markers below show where it stood when the limit hit.
if [ -z "$watch_failed" ]; then for _ in $(seq 1 30); do qemu_alive || break; sleep 1; done; fi
if qemu_alive; then stop_qemu; [ -n "$frozen" ] && kill -CONT "$frozen" 2>/dev/null; sleep 2; fi
exec {SERIAL_IN}>&-; rm -f "$OUT/serial.in"
wait "$QEMU_PID" 2>/dev/null; QEMU_PID=""
# dom0 is gone: whatever the host side still does can only fail (and it already told dom0 its verdict if it could).
if [ -n "$HOST_SCEN_PID" ]; then
    pid=$HOST_SCEN_PID
    kill -0 "$pid" 2>/dev/null && { echo "[run-lab] stopped: QEMU ended before the host side finished" >> "$OUT/ssh-host.log"; stop_host_scenario; }
    wait "$pid" 2>/dev/null; HOST_SCEN_PID=""
fi
T_QEMU1=$(now)

# Stage times from the console: boot = until dom0-init runs, dom0 = until the toolstack is up.
t_init=$(marker_at DOM0-INIT); t_up=$(marker_at DOM0-UP); t_done=$(marker_at DONE)
if [ -n "$t_init" ]; then stage_record boot ok "$t_init" "Xen + dom0 kernel until dom0-init"
else STAGE=boot; stage_fail failed "${watch_failed:-dom0-init never started}"; fi
if [ -n "$t_init" ]; then
    if [ -n "$t_up" ]; then stage_record dom0 ok "$(secs "$t_init" "$t_up")" "xenstored, xenconsoled, lab disk"
    else STAGE=dom0; STAGE_T0=$(now); stage_fail failed "${watch_failed:-toolstack never came up}"; fi
fi
if [ -n "$t_up" ]; then
    while read -r line; do
        name=$(echo "$line" | sed 's/.*SCENARIO-BEGIN \([^ ]*\).*/\1/')
        b=$(echo "$line" | sed 's/^\[host *\([0-9.]*\)\].*/\1/')
        endline=$(grep -m1 "XENIAC-LAB SCENARIO-END $name " "$SERIAL")
        if [ -z "$endline" ]; then
            STAGE="scenario:$name"; STAGE_T0=$(now); stage_fail failed "${watch_failed:-never finished}"; continue; fi
        e=$(echo "$endline" | sed 's/^\[host *\([0-9.]*\)\].*/\1/')
        st=$(echo "$endline" | sed 's/.*status=\([^ ]*\).*/\1/')
        why=$(echo "$endline" | sed -n 's/.* seconds=[0-9.]* \(.*\) uptime=[0-9.]*$/\1/p')
        if [ "$st" = passed ]; then stage_record "scenario:$name" ok "$(secs "$b" "$e")" ""
        else
            stage_record "scenario:$name" failed "$(secs "$b" "$e")" "$st${why:+: $why} (its steps are in results.json)"
            [ "$STATUS" = passed ] && { STATUS=failed; REASON="scenario $name $st${why:+: $why}"; FAILED_STAGE="scenario:$name"; }
        fi
    done < <(grep 'XENIAC-LAB SCENARIO-BEGIN' "$SERIAL")
fi
if [ -z "$t_done" ] && [ "$STATUS" = passed ]; then
    STAGE=shutdown; STAGE_T0=$(now); stage_fail failed "${watch_failed:-dom0 never reported DONE}"
fi

# ---- collect ---------------------------------------------------------------------------------------
# Even after a failure: whatever dom0 wrote before it stopped is the best evidence there is.
stage_begin collect
# -c (catastrophic mode, read-only): a dom0 that was stopped leaves the file system unclean, and its
# files are still worth reading.
if debugfs -c -R "rdump /out $OUT" "$OUT/lab.img" > "$OUT/collect.log" 2>&1 && [ -d "$OUT/out" ]; then
    rm -f "$OUT/lab.img"
    stage_ok "$(du -sh "$OUT/out" | cut -f1) from the lab disk; QEMU ran $(secs "$T_QEMU0" "$T_QEMU1") s"
else
    stage_fail failed "debugfs could not read /out back from $OUT/lab.img: $(tail -n 2 "$OUT/collect.log" | tr '\n' ' ')"
fi
# ssh-host: the host side's steps join dom0's (sshd, host-hello, host-side) in the scenario's steps.tsv, and its
# outputs and files sit beside dom0's. When the host side never started, each of its steps says why.
if [ -n "$SSH_WANTED" ] && grep -q "^ssh-host$(printf '\t')" "$OUT/out/scenarios.tsv" 2>/dev/null; then
    mkdir -p "$OUT/out/ssh-host"
    if [ ! -s "$HOST_SCEN_DIR/steps.tsv" ]; then
        # Only a missing ssh client is "not-available" (the tests skip); otherwise dom0's own failed step already
        # fails the scenario, and the host's steps repeat why they never ran.
        if [ -n "$SSH_WHY" ]; then why_na=(--not-available "$SSH_WHY")
        else why_na=(--skipped "dom0 never said SSH-READY: $(awk -F'\t' '$2!="ok"{printf "%s%s %s: %s", sep, $1, $2, $5; sep="; "}' "$OUT/out/ssh-host/steps.tsv" 2>/dev/null)"); fi
        "$HERE/host/ssh-host.sh" --dir "$HOST_SCEN_DIR" "${why_na[@]}" 2>> "$OUT/ssh-host.log"
    fi
    cat "$HOST_SCEN_DIR/steps.tsv" >> "$OUT/out/ssh-host/steps.tsv"
    ( cd "$HOST_SCEN_DIR" && for f in *; do [ "$f" = steps.tsv ] || mv "$f" "$OUT/out/ssh-host/"; done )
fi
# Savefiles this generation wrote for the others go to the carry folder, replacing the earlier run's.
if [ -n "$CARRY" ] && ls "$OUT/out/carry"/*.xlsave > /dev/null 2>&1; then
    rm -rf "$CARRY/$LAB_XENV.tmp"; mkdir -p "$CARRY"
    cp -a "$OUT/out/carry" "$CARRY/$LAB_XENV.tmp" && rm -rf "$CARRY/$LAB_XENV" && mv "$CARRY/$LAB_XENV.tmp" "$CARRY/$LAB_XENV"
    lab_log "carried out for the other generations: $(ls "$CARRY/$LAB_XENV" | tr '\n' ' ')"
fi
# A scenario whose steps failed: name them in the run's reason (scenario stage details were written
# before the steps were collected).
if [ "$STATUS" = failed ] && [[ "$FAILED_STAGE" == scenario:* ]]; then
    n=${FAILED_STAGE#scenario:}
    # name, then what it printed last (cut: the full text is in results.json and DIR/out/NAME/)
    steps=$(awk -F'\t' '$2=="failed"{printf "%s [%s]; ", $1, substr($5, 1, 300)}' "$OUT/out/$n/steps.tsv" 2>/dev/null)
    [ -n "$steps" ] && REASON="$REASON; failed steps: $steps"
fi
exit
