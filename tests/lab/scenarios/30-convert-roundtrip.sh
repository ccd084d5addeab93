#!/bin/sh
# Scenario convert-roundtrip: a real savefile converted to the old configless format and back by xen-iac
# (--to legacy, then --to xl --config <the JSON `savefile config` printed>) is restored by real `xl restore`.
. /lab/scenarios/lib.sh
scenario_init "$1"
SRC=$FILES/hvm-plain.xlsave
need_input input $SRC || exit 1

step config "$XI" savefile config $SRC
step to-legacy "$XI" savefile convert $SRC $FILES/hvm-legacy.img --to legacy
step inspect-legacy "$XI" savefile inspect --json --legacy $FILES/hvm-legacy.img
# xl itself cannot restore the configless form: that is why the way back exists.
step xl-rejects-legacy --expect-fail xl restore -p $FILES/hvm-legacy.img
xl destroy tiny-hvm-alt > /dev/null 2>&1
step to-xl "$XI" savefile convert $FILES/hvm-legacy.img $FILES/hvm-roundtrip.xlsave --to xl --config $SDIR/config.out
step identical cmp $SRC $FILES/hvm-roundtrip.xlsave
step xl-restore xl -vvv restore $FILES/hvm-roundtrip.xlsave
check_running running tiny-hvm-alt
step xl-list-l xl list -l tiny-hvm-alt
xl destroy tiny-hvm-alt > /dev/null 2>&1
exit 0
