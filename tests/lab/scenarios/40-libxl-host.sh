#!/bin/sh
# Scenario libxl-host: placeholder hook for the libxl binding (`xen-iac domain save/restore --host libxl`,
# another issue). It runs only when this build has `xen-iac domain`; until then its steps are
# "not-available" and the host test skips with that reason.
# NOTE: the argument shapes below are the planned contract (DOMAIN FILE / FILE); align them with the
# binding when it lands.
. /lab/scenarios/lib.sh
scenario_init "$1"
if [ "$HAVE_DOMAIN" != 1 ]; then
    for s in domain-save domain-save.xen-verify domain-restore running; do
        not_available $s "xen-iac domain is not in this build (libxl binding)"
    done
    exit 0
fi
SRC=$FILES/hvm-plain.xlsave
need_input input $SRC || exit 1
step xl-restore xl -vvv restore $SRC
check_running running-before tiny-hvm-alt
step domain-save "$XI" domain save --host libxl tiny-hvm-alt $FILES/libxl-save.xlsave
xen_verify domain-save.xen-verify $FILES/libxl-save.xlsave
step domain-save.inspect-json "$XI" savefile inspect --json $FILES/libxl-save.xlsave
step domain-restore "$XI" domain restore --host libxl $FILES/libxl-save.xlsave
check_running running tiny-hvm-alt
xl destroy tiny-hvm-alt > /dev/null 2>&1
exit 0
