#!/bin/sh
# Scenario set-config: `xen-iac savefile set-config` replaces the config in a real savefile; real
# `xl restore` accepts the file and the domain runs under the new config (xl list -l shows it). An
# incompatible config (PV for an HVM image) is refused and leaves the file untouched, unless --force.
. /lab/scenarios/lib.sh
scenario_init "$1"
SRC=$FILES/hvm-plain.xlsave
need_input input $SRC || exit 1
if [ "$HAVE_SET_CONFIG" != 1 ]; then
    for s in set-config xl-restore running refuses-incompatible; do
        not_available $s "xen-iac savefile set-config is not in this build"
    done
    exit 0
fi

step config "$XI" savefile config $SRC
# Change the real config the way a user would: a new name and another on_crash (libxl JSON, edited as
# JSON so the rest stays exactly what xl wrote).
step edit-config python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
c["c_info"]["name"] = "tiny-hvm-setcfg"
c["on_crash"] = "preserve"
json.dump(c, open(sys.argv[2], "w"), indent=4)
i = json.load(open(sys.argv[1]))
i["c_info"]["type"] = "pv"
i["b_info"].pop("type.hvm", None)
json.dump(i, open(sys.argv[3], "w"), indent=4)
' $SDIR/config.out $SDIR/new-config.json $SDIR/incompatible-config.json

cp $SRC $FILES/hvm-setcfg.xlsave
step set-config "$XI" savefile set-config $FILES/hvm-setcfg.xlsave $SDIR/new-config.json
step config-after "$XI" savefile config $FILES/hvm-setcfg.xlsave
step xl-restore xl -vvv restore $FILES/hvm-setcfg.xlsave
check_running running tiny-hvm-setcfg
step xl-list-l xl list -l tiny-hvm-setcfg
xl destroy tiny-hvm-setcfg > /dev/null 2>&1

# The refusal: the file must come out byte for byte unchanged.
T=/lab/out/$SCEN/incompatible.xlsave
cp $SRC $T
step refuses-incompatible --expect-fail "$XI" savefile set-config $T $SDIR/incompatible-config.json
step unchanged-after-refusal cmp $SRC $T
step force-incompatible "$XI" savefile set-config --force $T $SDIR/incompatible-config.json
step config-after-force "$XI" savefile config $T
rm -f $T
exit 0
