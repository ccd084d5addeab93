#!/bin/sh
# Scenario cross-version: savefiles real `xl save` wrote on ANOTHER Xen generation, restored on this one by real
# `xl restore` and by xen-iac's libxl host; and this generation's own xl savefiles handed on for the others.
# The files travel through the host: run-lab.sh --carry DIR puts DIR/<generation>/ on the lab disk as
# /lab/carry/<generation>/ and copies /lab/out/carry/ back to DIR/<this generation>/ afterwards.
#
# Steps are named from-<generation>.<label>.<what>. From an OLDER generation every step must pass (users upgrade
# dom0 and expect yesterday's files to restore). From a NEWER one a refusal is a finding, not a lab failure: the
# restore steps are recorded as "refused" with what xl / xen-iac said, and the host tests report them.
. /lab/scenarios/lib.sh
scenario_init "$1"

# older A B: is generation A older than B (4.17 < 4.20)?
older() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$1" ] && [ "$1" != "$2" ]; }

# probe NAME CMD...: like step, but a non-zero exit is recorded as "refused" (it does not fail the scenario).
probe() {
    _name=$1; shift
    clock _t0
    echo "$_name: $*" > $SDIR/.current
    timeout -k 5 $STEP_TIMEOUT "$@" > $SDIR/$_name.out 2> $SDIR/$_name.err; _rc=$?
    since $_t0
    if [ $_rc = 0 ]; then record "$_name" ok 0 $ELAPSED "$*"
    else diag $_name; record "$_name" refused $_rc $ELAPSED "$* :: $(output_tail $SDIR/$_name)"; fi
    rm -f $SDIR/.current
    [ $_rc = 0 ]
}

# domain_of LABEL: the domain a carried file restores as (the name in its stored config).
domain_of() { case "$1" in hvm-*) echo tiny-hvm-alt ;; pv-*) echo tiny-pv ;; esac; }

# restore_carried GEN LABEL FILE MODE: MODE "must" (older generation: steps) or "probe" (newer: refusals recorded).
restore_carried() {
    _p=from-$1.$2; _dom=$(domain_of $2); _f=$3
    if [ $4 = must ]; then _run=step; else _run=probe; fi
    step $_p.inspect-json "$XI" savefile inspect --json $_f
    step $_p.config "$XI" savefile config $_f
    [ "$HAVE_VERIFY" = 1 ] && step $_p.verify-json "$XI" savefile verify --json $_f
    # This generation's own checker on the other generation's stream (a refusal here is information too).
    probe $_p.xen-verify env PYTHONPATH=$XENLIB/lib/python python3 $XENLIB/bin/verify-stream-v2 -v -f xl -i $_f
    if $_run $_p.xl-restore xl -vvv restore $_f; then
        if [ $4 = must ]; then check_running $_p.xl-running $_dom
        else check_running $_p.xl-running $_dom || sed -i '$ s/\tfailed\t/\trefused\t/' $STEPS; fi
        xl list -l $_dom > $SDIR/$_p.xl-list-l.json 2>&1
    fi
    xl destroy $_dom > /dev/null 2>&1
    if [ "$HAVE_DOMAIN" = 1 ]; then
        if $_run $_p.xeniac-restore "$XI" domain restore --host libxl --trust-config $_f; then
            if [ $4 = must ]; then check_running $_p.xeniac-running $_dom
            else check_running $_p.xeniac-running $_dom || sed -i '$ s/\tfailed\t/\trefused\t/' $STEPS; fi
        fi
        xl destroy $_dom > /dev/null 2>&1
    else
        not_available $_p.xeniac-restore "xen-iac domain is not in this build (libxl binding)"
    fi
}

# 1. What the other generations saved, restored here.
carried=0
for g in $LAB_GENERATIONS; do
    [ "$g" = "$LAB_XEN" ] && continue
    [ -d $LAB/carry/$g ] || { skipped from-$g "no savefiles carried from Xen $g (run that generation first with the same --carry folder)"; continue; }
    if older $g $LAB_XEN; then mode=must; else mode=probe; fi
    for f in $LAB/carry/$g/*.xlsave; do
        [ -s "$f" ] || continue
        carried=$((carried+1))
        restore_carried $g $(basename $f .xlsave) $f $mode
    done
done
echo "$carried" > $SDIR/carried-count.txt

# 2. What a user's xl.cfg meets on this generation: the removed qemu-traditional device model (dry run only), and
# xl's JSON for the same guest config (its layout comes from the JSON library libxl was built with).
CFG=$(guest_cfg tiny-hvm.cfg.in 32)
{ cat $CFG; echo 'device_model_version = "qemu-xen-traditional"'; } > $SDIR/tiny-hvm-traditional.cfg
probe dm-traditional.xl-dry-run xl -N create $SDIR/tiny-hvm-traditional.cfg
probe dm-traditional.xeniac-convert "$XI" config convert $SDIR/tiny-hvm-traditional.cfg --to json
# For real: Debian builds neither generation with qemu-traditional, so what matters is the message a user gets.
probe dm-traditional.xl-create xl create $SDIR/tiny-hvm-traditional.cfg
xl destroy tiny-hvm > /dev/null 2>&1
step xl-dry-run xl -N create $CFG

# 3. This generation's real xl savefiles (from the xl-save scenario), handed on to the others. A boot that runs
# only this scenario (the fixture's second 4.17 boot) has none of its own and must not replace what the first
# boot of its generation handed on.
if [ -n "${SCENARIOS:-}" ] && ! echo " $SCENARIOS " | grep -q " xl-save "; then
    for label in hvm-plain pv-plain; do skipped handoff.$label "xl-save did not run in this boot"; done
    exit 0
fi
mkdir -p $OUT/carry
for label in hvm-plain pv-plain; do
    need_input handoff.$label $FILES/$label.xlsave && step handoff.$label cp $FILES/$label.xlsave $OUT/carry/$label.xlsave
done
exit 0
