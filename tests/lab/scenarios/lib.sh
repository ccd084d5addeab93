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

# step NAME [--expect-fail] CMD ARGS...: runs CMD with a time limit; ok when it exits 0 (or, with
# --expect-fail, when it does NOT exit 0: a refusal that is the point of the step).
step() {
    _name=$1; shift; _expect=0
    if [ "$1" = --expect-fail ]; then _expect=1; shift; fi
    clock _t0
    timeout -k 5 ${STEP_TIMEOUT:-180} "$@" > $SDIR/$_name.out 2> $SDIR/$_name.err; _rc=$?
    since $_t0; _dt=$ELAPSED
    if [ $_expect = 0 ]; then [ $_rc = 0 ] && _st=ok || _st=failed
    else [ $_rc != 0 ] && [ $_rc != 124 ] && _st=ok || _st=failed; fi
    _detail="$*"
    [ $_rc = 124 ] && _detail="TIMED OUT after ${STEP_TIMEOUT:-180}s: $*"
    [ $_st = failed ] && _detail="$_detail :: $(tail -n 3 $SDIR/$_name.err | tr '\t\n' '  ' | cut -c1-400)"
    record "$_name" $_st $_rc $_dt "$_detail"
    [ $_st = ok ]
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
wait_for() {
    _d=$(domid_of $1); _p=$(echo "$2" | sed "s/@D@/$_d/g"); _n=0
    while [ $_n -lt $3 ]; do
        grep -q "$_p" /var/log/xen/console/guest-$1.log 2>/dev/null && return 0
        xl dmesg 2>/dev/null | grep -q "$_p" && return 0
        sleep 2; _n=$((_n+2))
    done
    return 1
}

# start_guest NAME TEMPLATE MEM: `xl create` (step create.NAME); the guest then boots on its own, so
# two guests can boot at once. wait_guest NAME READY-PATTERN SECONDS: step ready.NAME, ok once the guest
# shows it is up.
start_guest() {
    _cfg=$(guest_cfg $2 $3)
    cp $_cfg $SDIR/$1.cfg
    step create.$1 xl -vvv create $SDIR/$1.cfg
}
wait_guest() {
    clock _t0
    if wait_for $1 "$2" $3; then since $_t0; record ready.$1 ok 0 $ELAPSED "$2"; return 0; fi
    since $_t0; record ready.$1 failed 1 $ELAPSED "no '$2' within $3 s"
    return 1
}

# check_running STEP NAME: the domain exists after a few seconds and is neither paused, crashed, shut
# down nor dying (xl list's state flags r b p s c d).
check_running() {
    sleep ${SETTLE_SECONDS:-4}
    xl list $2 > $SDIR/$1.out 2> $SDIR/$1.err
    _state=""
    while read _n _id _mem _cpu _st _rest; do [ "$_n" = "$2" ] && _state=$_st; done < $SDIR/$1.out
    case "$_state" in
        "") record $1 failed 1 0 "domain $2 is not listed :: $(head -n 2 $SDIR/$1.err | tr '\t\n' '  ')"; return 1 ;;
        *[pscd]*) record $1 failed 1 0 "domain $2 is in state $_state"; return 1 ;;
        *) record $1 ok 0 0 "domain $2 state $_state"; return 0 ;;
    esac
}

# xlsave LABEL DOMAIN "OPTIONS" [ALT-CONFIG]: `xl -vvv save` into $FILES/LABEL.xlsave, keeping what xl
# said about the domain just before (xl list -l) and the domain list just after.
xlsave() {
    xl list -l $2 > $SDIR/$1.before.xl-list-l.json 2>&1
    step $1.xl-save xl -vvv save $3 $2 $FILES/$1.xlsave $4
    _rc=$?
    xl list > $SDIR/$1.after.xl-list.txt 2>&1
    return $_rc
}

# Xen's own stream checker (ships in xen-utils as python): the reference reading of a savefile.
xen_verify() {      # xen_verify STEP FILE
    step $1 env PYTHONPATH=/usr/lib/xen-4.17/lib/python python3 /usr/lib/xen-4.17/bin/verify-stream-v2 -v -f xl -i $2
}
