# Sourced by every scenario script and by run-all.sh, inside dom0 (/bin/sh is dash there).
# Results: each scenario writes /lab/out/<scenario>/steps.tsv, one line per step:
#   name <TAB> status <TAB> rc <TAB> seconds <TAB> detail
# status is ok | failed | not-available (a xen-iac command this build lacks) | skipped (its input is missing).
# Every step's stdout/stderr are kept as <name>.out / <name>.err beside it; the host tests read those.
LAB=/lab
OUT=$LAB/out
FILES=$OUT/files          # savefiles, shared between scenarios (later ones start from earlier ones' files)
GUESTS=$LAB/guests
XI=$LAB/app/xen-iac
[ -f $LAB/lab.env ] && . $LAB/lab.env
[ -f $OUT/commands.env ] && . $OUT/commands.env
mkdir -p $FILES

# Every fork+exec costs ~0.3 s in this emulated PV dom0 (page-table updates are hypercalls, under TCG), so
# the bookkeeping below uses shell builtins only: time comes from /proc/uptime in centiseconds.
clock() {           # clock VAR: centiseconds since boot into VAR
    read _up _idle < /proc/uptime
    eval "$1=\$(( ${_up%.*} * 100 + 1${_up#*.} - 100 ))"
}
since() {           # since START_CS: seconds (2 decimals) from START_CS until now, into $ELAPSED
    clock _nowcs; _d=$((_nowcs - $1)); _r=$((_d % 100)); [ $_r -lt 10 ] && _r=0$_r
    ELAPSED=$((_d / 100)).$_r
}
# Console lines (fd 3 is the serial console, opened by run-all.sh) so the host log shows progress.
say()  { echo "XENIAC-LAB   $*" 2>/dev/null >&3; echo "$*"; }

scenario_init() {   # scenario_init NAME
    SCEN=$1; SDIR=$OUT/$SCEN; STEPS=$SDIR/steps.tsv
    mkdir -p $SDIR; : > $STEPS
}

record() {          # record NAME STATUS RC SECONDS DETAIL (DETAIL must hold no tab or newline)
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >> $STEPS
    say "  $1: $2 (rc=$3) ${4}s"
}

# Limits. Every wait below returns as soon as the state it waits for is there, so these only bound a
# hang: they are sized for TCG on a busy 2-core host (everything in dom0 runs 10-50x slower than native,
# and 3-5x slower again when the host is loaded), not for a quiet machine.
STEP_TIMEOUT=${STEP_TIMEOUT:-600}          # one command (an xl save of a 32 MiB HVM guest: ~5-60 s)
READY_TIMEOUT=${READY_TIMEOUT:-600}        # a guest from `xl create` until it says it is up
STATE_TIMEOUT=${STATE_TIMEOUT:-120}        # a domain reaching a state after xl returned

# step NAME [--expect-fail] CMD ARGS...: runs CMD with a time limit; ok when it exits 0 (or, with
# --expect-fail, when it does NOT exit 0: a refusal that is the point of the step). $SDIR/.current names the
# step while it runs, so a scenario that hits its own limit can say which step it was in.
step() {
    _name=$1; shift; _expect=0
    if [ "$1" = --expect-fail ]; then _expect=1; shift; fi
    clock _t0
    echo "$_name: $*" > $SDIR/.current
    timeout -k 5 $STEP_TIMEOUT "$@" > $SDIR/$_name.out 2> $SDIR/$_name.err; _rc=$?
    since $_t0; _dt=$ELAPSED
    if [ $_expect = 0 ]; then [ $_rc = 0 ] && _st=ok || _st=failed
    else [ $_rc != 0 ] && [ $_rc != 124 ] && _st=ok || _st=failed; fi
    _detail="$*"
    [ $_rc = 124 ] && _detail="TIMED OUT after ${STEP_TIMEOUT}s: $*"
    if [ $_st = failed ]; then
        _detail="$_detail :: $(output_tail $SDIR/$_name)"
        diag $_name
    fi
    record "$_name" $_st $_rc $_dt "$_detail"
    rm -f $SDIR/.current
    [ $_st = ok ]
}

# output_tail BASE: the last lines a command printed (stderr first: xl and xen-iac say what went wrong
# there; stdout when stderr is empty), on one line for the steps table.
output_tail() {
    if [ -s $1.err ]; then tail -n 4 $1.err; else tail -n 4 $1.out 2>/dev/null; fi | tr '\t\n' '  ' | cut -c1-600
}

# diag NAME: what Xen and the device models said around a failure, kept as $SDIR/NAME.diag (the host tests
# put it into their failure message): the domain list, the hypervisor log's tail (guest debug output and
# Xen's own messages) and each device model's log tail.
diag() {
    {
        echo "== xl list"; xl list 2>&1
        echo "== xl dmesg (last 25 lines)"; xl dmesg 2>&1 | tail -n 25
        for _l in /var/log/xen/qemu-dm-*.log; do
            [ -e "$_l" ] || continue
            echo "== $_l (last 10 lines)"; tail -n 10 $_l
        done
    } > $SDIR/$1.diag 2>&1
}

# "-": no exit code (a tab-separated field must never be empty: `read` would merge two tabs into one)
not_available() { record "$1" not-available - 0 "$2"; }
skipped()       { record "$1" skipped - 0 "$2"; }

# has_command "savefile verify": is that xen-iac command in this build? `xen-iac savefile verify --help`
# cannot tell by its exit code: for an unknown subcommand System.CommandLine prints the nearest parent's
# help and exits 0. So look for the command in its parent's "Commands:" list (help kept in /tmp/help.*;
# one xen-iac start per parent, each ~4 s under emulation).
has_command() {
    _parent=${1% *}; _leaf=${1##* }
    [ "$_parent" = "$1" ] && _parent=""
    _help=/tmp/help.${_parent:-root}
    [ -f $_help ] || { "$XI" $_parent --help > $_help 2>&1 || : > $_help; }
    grep -q "^  $_leaf\( \|$\)" $_help
}

# need_input STEP FILE: a scenario built on an earlier scenario's savefile says so when it is missing.
need_input() {
    [ -s "$2" ] && return 0
    record "$1" failed - 0 "input $2 is missing (the scenario that makes it failed earlier)"
    return 1
}

guest_cfg() {       # guest_cfg TEMPLATE MEM -> path of the filled-in config (kept in the scenario's folder)
    _cfg=$SDIR/$(basename $1 .cfg.in)-$2.cfg
    sed "s/@MEM@/$2/" $GUESTS/$1 > $_cfg
    echo $_cfg
}

domid_of() { xl domid "$1" 2>/dev/null; }

# wait_for NAME PATTERN SECONDS: PATTERN (with @D@ = the domid) in the guest's console log or `xl dmesg`.
# The limit is on the clock, not a count of polls (a poll itself takes seconds on a busy host). Gives up
# early when the domain is gone or crashed: waiting longer cannot help then.
wait_for() {
    _d=$(domid_of $1); _p=$(echo "$2" | sed "s/@D@/$_d/g"); clock _w0
    while :; do
        grep -q "$_p" /var/log/xen/console/guest-$1.log 2>/dev/null && return 0
        xl dmesg 2>/dev/null | grep -q "$_p" && return 0
        domain_state $1
        case "$STATE" in "") WAIT_WHY="domain $1 is gone"; return 1 ;; *[cs]*) WAIT_WHY="domain $1 is in state $STATE"; return 1 ;; esac
        since $_w0; [ ${ELAPSED%.*} -ge $3 ] && { WAIT_WHY="not within $3 s (state $STATE)"; return 1; }
        sleep 1
    done
}

# start_guest NAME TEMPLATE MEM: `xl create` (step create.NAME); the guest then boots on its own, so
# two guests can boot at once. wait_guest NAME READY-PATTERN: step ready.NAME, ok once the guest shows it
# is up.
start_guest() {
    _cfg=$(guest_cfg $2 $3)
    cp $_cfg $SDIR/$1.cfg
    step create.$1 xl -vvv create $SDIR/$1.cfg
}
wait_guest() {
    # The second retry in the lab, and why: under TCG on a busy host, an HVM guest's firmware (hvmloader) now
    # and then triple-faults while it sets up PCI, so the domain dies before it ever shows its marker. Nothing
    # has used the guest yet, so it is destroyed and created again from the same config, at most twice; a
    # guest that dies the same way three times (a broken config) still fails. A guest that is up but slow is
    # never retried. The failed try stays in steps.tsv as "retried", its diagnosis in ready.NAME.tryN.diag.
    _try=1
    while :; do
        clock _t0
        echo "ready.$1: waiting for '$2'" > $SDIR/.current
        if wait_for $1 "$2" $READY_TIMEOUT; then since $_t0; record ready.$1 ok 0 $ELAPSED "$2"; rm -f $SDIR/.current; return 0; fi
        since $_t0; diag ready.$1
        cp /var/log/xen/console/guest-$1.log $SDIR/ready.$1.err 2>/dev/null
        rm -f $SDIR/.current
        case "$WAIT_WHY" in
            "domain $1 is gone"|"domain $1 is in state"*)
                if [ $_try -lt 3 ]; then
                    record ready.$1 retried 1 $ELAPSED "died before '$2' ($WAIT_WHY); created again"
                    mv $SDIR/ready.$1.diag $SDIR/ready.$1.try$_try.diag 2>/dev/null
                    xl destroy $1 >/dev/null 2>&1
                    step create.$1 xl -vvv create $SDIR/$1.cfg || { record ready.$1 failed 1 0 "could not create it again"; return 1; }
                    _try=$((_try+1))
                    continue
                fi ;;
        esac
        record ready.$1 failed 1 $ELAPSED "no '$2': $WAIT_WHY"
        return 1
    done
}

# domain_state NAME: xl list's state flags (r b p s c d) of NAME into $STATE; empty when it is not listed.
domain_state() {
    STATE=""
    xl list $1 > /tmp/state.$$ 2>/dev/null
    while read _n _id _mem _cpu _st _rest; do [ "$_n" = "$1" ] && STATE=$_st; done < /tmp/state.$$
}

# check_running STEP NAME: the domain runs: listed, and neither paused, crashed, shut down nor dying
# (xl list's flags p s c d; "r", "b" or none at all -- runnable but waiting for a CPU, common on a busy
# host -- are all running). Polls until it has looked running twice in a row a second apart (a guest that
# dies on resume is caught there), or it is in a final bad state, bounded by STATE_TIMEOUT.
check_running() {
    clock _t0; _seen=0
    while :; do
        domain_state $2
        case "$STATE" in
            ""|*[scd]*) break ;;
            *p*) _seen=0 ;;
            *) [ $_seen = 1 ] && break; _seen=1 ;;
        esac
        since $_t0; [ ${ELAPSED%.*} -ge $STATE_TIMEOUT ] && break
        sleep 1
    done
    since $_t0
    xl list $2 > $SDIR/$1.out 2> $SDIR/$1.err
    case "$STATE" in
        "") diag $1; record $1 failed 1 $ELAPSED "domain $2 is not listed :: $(head -n 2 $SDIR/$1.err | tr '\t\n' '  ')"; return 1 ;;
        *[pscd]*) diag $1; record $1 failed 1 $ELAPSED "domain $2 is in state $STATE after $ELAPSED s"; return 1 ;;
        *) record $1 ok 0 $ELAPSED "domain $2 state $STATE"; return 0 ;;
    esac
}

# xlsave LABEL DOMAIN "OPTIONS" [ALT-CONFIG]: `xl -vvv save` into $FILES/LABEL.xlsave, keeping what xl
# said about the domain just before (xl list -l) and the domain list just after.
#
# The one retry in the lab, and why: libxl talks to the HVM device model over QMP with a non-blocking
# connect() to a socket qemu listens on with a backlog of 1, and gives every QMP command 10 s
# (LIBXL_QMP_CMD_TIMEOUT). When dom0 is starved (TCG on a busy host) qemu can be slow to accept or to
# answer, and xl save fails with "Failed to connect to QMP socket ... Resource temporarily unavailable"
# or "logdirty switch: wait for device model timed out", then resumes the domain itself. That is libxl racing a slow qemu, not a fault of the
# file or of XenIac, so exactly that failure is tried again (at most twice, once the domain is running
# again); any other failure stands. A retried try stays in steps.tsv with status "retried", its output in
# LABEL.xl-save.tryN.err.
QMP_RACE='Failed to connect to QMP socket|wait for device model timed out'
xlsave() {
    xl list -l $2 > $SDIR/$1.before.xl-list-l.json 2>&1
    _try=1
    while :; do
        step $1.xl-save xl -vvv save $3 $2 $FILES/$1.xlsave $4
        _rc=$?
        [ $_rc = 0 ] || [ $_try -ge 3 ] && break
        grep -q -E "$QMP_RACE" $SDIR/$1.xl-save.err || break
        # Keep the failed try's output and mark its line "retried" (the host takes a step's LAST line).
        mv $SDIR/$1.xl-save.err $SDIR/$1.xl-save.try$_try.err
        sed -i '$ s/\tfailed\t/\tretried\t/' $STEPS
        say "  $1.xl-save: retrying: $(grep -m1 -E "$QMP_RACE" $SDIR/$1.xl-save.try$_try.err | cut -c1-200)"
        check_running $1.xl-save.resumed-$_try $2 || break
        _try=$((_try+1))
    done
    xl list > $SDIR/$1.after.xl-list.txt 2>&1
    return $_rc
}

# Xen's own stream checker (ships in xen-utils as python): the reference reading of a savefile.
# XENLIB: the image's one /usr/lib/xen-X.Y (4.17 or 4.20).
for XENLIB in /usr/lib/xen-[0-9]*; do :; done
xen_verify() {      # xen_verify STEP FILE
    step $1 env PYTHONPATH=$XENLIB/lib/python python3 $XENLIB/bin/verify-stream-v2 -v -f xl -i $2
}
