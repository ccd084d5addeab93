#!/usr/bin/env bash
# ssh-host.sh: the HOST side of the lab's ssh-host scenario (scenarios/60-ssh-host.sh is dom0's side). run-lab.sh
# starts it when dom0 prints "XENIAC-LAB SSH-READY"; it drives dom0's real libxl from this machine with the published
# xen-iac over `--host ssh://root@127.0.0.1:PORT` (QEMU forwards that loopback port to dom0's sshd) and records
# each step in DIR/steps.tsv in the scenarios' format (name TAB status TAB rc TAB seconds TAB detail), with the
# step's output in DIR/NAME.out / NAME.err. run-lab.sh merges them into the scenario's results after the run.
#
# Usage: ssh-host.sh --dir DIR --port PORT --ssh-config FILE --xen-iac PATH --savefile DOM0-PATH
#        ssh-host.sh --dir DIR --not-available REASON     (records every step as not-available: no ssh here)
#        ssh-host.sh --dir DIR --skipped REASON           (records every step as skipped: dom0 was not ready)
# The last command over ssh writes the verdict into dom0's /run/lab-ssh/done, which ends dom0's wait.
# Env: XENIAC_LAB_SSH_STEP_TIMEOUT (600): one command, bounded like a step in dom0.
set -uo pipefail
DIR=""; PORT=""; CFG=""; XI=""; SAVEFILE=""; NA=""; NA_STATUS=not-available
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) DIR=$2; shift 2 ;;
        --port) PORT=$2; shift 2 ;;
        --ssh-config) CFG=$2; shift 2 ;;
        --xen-iac) XI=$2; shift 2 ;;
        --savefile) SAVEFILE=$2; shift 2 ;;
        --not-available) NA=$2; NA_STATUS=not-available; shift 2 ;;
        --skipped) NA=$2; NA_STATUS=skipped; shift 2 ;;
        *) echo "ssh-host.sh: unknown argument $1" >&2; exit 1 ;;
    esac
done
[ -n "$DIR" ] || { echo "ssh-host.sh: --dir is required" >&2; exit 1; }
mkdir -p "$DIR/files"
STEPS=$DIR/steps.tsv
: > "$STEPS"
# Every step this side records, in order (the not-available case names them all, so the tests skip each one).
ALL_STEPS="ssh-login host-info domain-list-before fetch-savefile domain-restore running-after-restore
    domain-list-after-restore domain-save gone-after-save domain-list-after-save saved.verify-json saved.inspect-json
    restore-saved running-after-restore-saved domain-destroy gone-after-destroy"
record() {   # record NAME STATUS RC SECONDS DETAIL
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$(printf '%s' "$5" | tr '\t\n' '  ' | cut -c1-900)" >> "$STEPS"
    echo "[ssh-host $(date +%H:%M:%S)] $1: $2 (rc=$3) ${4}s" >&2
}
if [ -n "$NA" ]; then
    for s in $ALL_STEPS; do record "$s" $NA_STATUS - 0 "$NA"; done
    exit 0
fi

STEP_TIMEOUT=${XENIAC_LAB_SSH_STEP_TIMEOUT:-600}
NAME=tiny-hvm-alt                                   # the domain xl-save's hvm-plain.xlsave stores
HOST="ssh://root@127.0.0.1:$PORT"
export XENIAC_SSH="ssh -F $CFG"                     # this run's key and known_hosts; host-key checking on
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
SSH=(ssh -F "$CFG" -p "$PORT" root@127.0.0.1)
FAILED=""
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }
tail_of() { if [ -s "$1.err" ]; then tail -n 4 "$1.err"; else tail -n 4 "$1.out" 2>/dev/null; fi | tr '\t\n' '  ' | cut -c1-600; }

# step NAME [--expect-fail] CMD...: like lib.sh's step in dom0 (ok on exit 0, or with --expect-fail on a refusal).
step() {
    local name=$1 expect=0 t0 rc st detail; shift
    if [ "$1" = --expect-fail ]; then expect=1; shift; fi
    t0=$(now)
    timeout -k 10 "$STEP_TIMEOUT" "$@" > "$DIR/$name.out" 2> "$DIR/$name.err"; rc=$?
    if [ $expect = 0 ]; then [ $rc = 0 ] && st=ok || st=failed
    else [ $rc != 0 ] && [ $rc != 124 ] && st=ok || st=failed; fi
    detail="$*"
    [ $rc = 124 ] && detail="TIMED OUT after ${STEP_TIMEOUT}s: $*"
    [ $st = failed ] && { detail="$detail :: $(tail_of "$DIR/$name")"; FAILED="$FAILED $name"; }
    record "$name" $st $rc "$(secs "$t0" "$(now)")" "$detail"
    [ $st = ok ]
}

# running STEP: dom0's real xl shows $NAME running (listed; not paused, shut down, crashed or dying) twice in a
# row, a few seconds apart, within STATE_LIMIT -- the check dom0's scenarios make, asked over ssh.
STATE_LIMIT=240
running() {
    local t0 seen=0 state="" line
    t0=$(now)
    while :; do
        line=$(timeout 120 "${SSH[@]}" xl list "$NAME" 2>&1 | awk -v n="$NAME" '$1==n')
        state=$(echo "$line" | awk '{print $5}')
        if [ -z "$line" ]; then state="(not listed)"; break
        elif [[ "$state" == *p* ]]; then seen=0
        elif [[ "$state" == *[scd]* ]]; then break
        elif [ $seen = 1 ]; then break
        else seen=1; fi
        [ "$(secs "$t0" "$(now)" | cut -d. -f1)" -ge $STATE_LIMIT ] && break
        sleep 3
    done
    echo "$line" > "$DIR/$1.out"
    if [ -n "$line" ] && [[ "$state" != *[pscd]* ]]; then record "$1" ok 0 "$(secs "$t0" "$(now)")" "xl list in dom0: $NAME state ${state:--}"
    else record "$1" failed 1 "$(secs "$t0" "$(now)")" "xl list in dom0: $NAME ${state}"; FAILED="$FAILED $1"; fi
}

# The first login: plain ssh with this run's known_hosts (StrictHostKeyChecking=yes), which also tells dom0 the
# host got through. A few tries: dom0's sshd may still be starting its first session under emulation.
login_ok=0
for try in 1 2 3; do
    if step ssh-login "${SSH[@]}" 'touch /run/lab-ssh/hello && uname -r && { command -v xen-iac xl || true; }'; then login_ok=1; break; fi
    [ $try -lt 3 ] && { sed -i '$ s/\tfailed\t/\tretried\t/' "$STEPS"; FAILED=${FAILED% ssh-login}; sleep 10; }
done
if [ $login_ok = 0 ]; then
    for s in $ALL_STEPS; do [ "$s" = ssh-login ] || record "$s" skipped - 0 "ssh-login failed"; done
    exit 1
fi

step host-info "$XI" host info --host "$HOST" --json
step domain-list-before "$XI" domain list --host "$HOST" --json
# Savefile paths are the caller's: a restore over ssh streams a LOCAL file to dom0. The file xl saved in dom0
# comes here first (over the same ssh), then goes back as the restore's stream.
step fetch-savefile bash -c "${SSH[*]@Q} cat ${SAVEFILE@Q} > ${DIR@Q}/files/hvm-plain.xlsave"
step domain-restore "$XI" domain restore --host "$HOST" --trust-config "$DIR/files/hvm-plain.xlsave"
running running-after-restore
step domain-list-after-restore "$XI" domain list --host "$HOST" --json
# A plain save: dom0 saves into its temp folder, streams it here, and destroys the domain once the copy here is durable.
step domain-save "$XI" domain save --host "$HOST" "$NAME" "$DIR/files/ssh-save.xlsave"
step gone-after-save --expect-fail "${SSH[@]}" xl list "$NAME"
step domain-list-after-save "$XI" domain list --host "$HOST" --json
step saved.verify-json "$XI" savefile verify --json "$DIR/files/ssh-save.xlsave"
step saved.inspect-json "$XI" savefile inspect --json "$DIR/files/ssh-save.xlsave"
# What was saved over ssh restores over ssh.
step restore-saved "$XI" domain restore --host "$HOST" --trust-config "$DIR/files/ssh-save.xlsave"
running running-after-restore-saved
step domain-destroy "$XI" domain destroy --host "$HOST" "$NAME"
step gone-after-destroy --expect-fail "${SSH[@]}" xl list "$NAME"

verdict=passed; [ -n "$FAILED" ] && verdict="failed:$FAILED"
timeout 120 "${SSH[@]}" "echo ${verdict@Q} > /run/lab-ssh/done" 2> "$DIR/verdict.err" \
    || echo "[ssh-host] could not hand dom0 the verdict ($verdict): $(tr '\n' ' ' < "$DIR/verdict.err")" >&2
[ -z "$FAILED" ]
