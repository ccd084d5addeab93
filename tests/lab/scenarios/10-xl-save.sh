#!/bin/sh
# Scenario xl-save: real `xl save` in every form XenIac must read (plain, -c, -p, with an alternative
# config; HVM and PV), then xen-iac reads each file in dom0; Xen's own verify-stream-v2 reads it too, as
# the reference. The host tests compare xen-iac's reading with what xl said about the domain
# (<label>.before.xl-list-l.json) and read the copies again on the host.
. /lab/scenarios/lib.sh
scenario_init "$1"
HVM_READY='(d@D@) XENIAC-HVM-IDLE'        # the payload (guests/make-hvm-idle.sh), on Xen's debug port, in `xl dmesg`

# read_savefile LABEL: everything xen-iac says about $FILES/LABEL.xlsave, plus Xen's checker.
read_savefile() {
    f=$FILES/$1.xlsave
    need_input $1.present $f || return 1
    step $1.inspect-json "$XI" savefile inspect --json $f
    step $1.config "$XI" savefile config $f
    if [ "$HAVE_VERIFY" = 1 ]; then step $1.verify-json "$XI" savefile verify --json $f
    else not_available $1.verify-json "xen-iac savefile verify is not in this build"; fi
    xen_verify $1.xen-verify $f
}

# Both guests boot at once (the HVM firmware is slow under emulation; the PV guest boots meanwhile).
start_guest tiny-hvm tiny-hvm.cfg.in 32 && HVM=1
start_guest tiny-pv tiny-pv.cfg.in 96 && PV=1

if [ -n "${HVM:-}" ] && wait_guest tiny-hvm "$HVM_READY"; then
    if [ "$HAVE_CONFIG_SHOW" = 1 ]; then step config-show-json "$XI" config show --json $SDIR/tiny-hvm.cfg
    else not_available config-show-json "xen-iac config show is not in this build"; fi
    xlsave hvm-checkpoint tiny-hvm -c              # the guest keeps running
    xlsave hvm-paused tiny-hvm -p                  # the guest is left paused
    xl list tiny-hvm > $SDIR/hvm-paused.state.txt 2>&1
    step hvm-paused.unpause xl unpause tiny-hvm
    cp $(guest_cfg tiny-hvm-alt.cfg.in 32) $SDIR/tiny-hvm-alt.cfg
    xlsave hvm-altcfg tiny-hvm "" $SDIR/tiny-hvm-alt.cfg   # plain save (guest gone) storing ANOTHER config
    # xl restores the alternative config: the domain comes back as tiny-hvm-alt
    step hvm-altcfg.xl-restore xl -vvv restore $FILES/hvm-altcfg.xlsave
    check_running hvm-altcfg.running tiny-hvm-alt
    xl list -l tiny-hvm-alt > $SDIR/hvm-altcfg.restored.xl-list-l.json 2>&1
    xlsave hvm-plain tiny-hvm-alt ""               # plain save of the restored domain; later scenarios use it
fi

if [ -n "${PV:-}" ] && wait_guest tiny-pv 'marker written'; then
    xlsave pv-plain tiny-pv ""
fi

for label in hvm-checkpoint hvm-paused hvm-altcfg hvm-plain pv-plain; do
    read_savefile $label
done
exit 0
