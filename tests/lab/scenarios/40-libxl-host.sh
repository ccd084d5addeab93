#!/bin/sh
# Scenario libxl-host: xen-iac's libxl binding (`xen-iac domain ... --host libxl`) on real Xen, both ways
# round with real xl: xen-iac restores what xl saved, xl restores what xen-iac saved; checkpoint and paused
# restores; and the xl.cfg -> libxl JSON conversion, compared with what `xl -N create` prints and then used
# for real by `xen-iac domain create`.
. /lab/scenarios/lib.sh
scenario_init "$1"
if [ "$HAVE_DOMAIN" != 1 ]; then
    for s in domain-restore-xl-file domain-save xl-restore-xeniac-file domain-checkpoint domain-restore-paused xl-dry-run xeniac-convert domain-create; do
        not_available $s "xen-iac domain is not in this build (libxl binding)"
    done
    exit 0
fi
SRC=$FILES/hvm-plain.xlsave
need_input input $SRC || exit 1

# What the host says it is (libxl_get_version_info, libxl_get_free_memory): what placement checks restores against.
if has_command "host info"; then
    step host-info "$XI" host info --host libxl --json
else
    not_available host-info "xen-iac host info is not in this build"
fi

# xen-iac restores a savefile real xl wrote.
step domain-restore-xl-file "$XI" domain restore --host libxl --trust-config $SRC
check_running running-after-xeniac-restore tiny-hvm-alt
step domain-list-json "$XI" domain list --host libxl --json

# xen-iac saves through libxl; a plain save leaves no domain behind.
step domain-save "$XI" domain save --host libxl tiny-hvm-alt $FILES/libxl-save.xlsave
step gone-after-save --expect-fail xl list tiny-hvm-alt
xen_verify domain-save.xen-verify $FILES/libxl-save.xlsave
step domain-save.inspect-json "$XI" savefile inspect --json $FILES/libxl-save.xlsave
step domain-save.verify-json "$XI" savefile verify --json $FILES/libxl-save.xlsave

# The same file sealed: the integrity record sits in the optional data after the config, which xl reads past;
# real xl must still restore it (issue 13). The verify step reads every page and checks the digest.
if has_command "savefile seal"; then
    step seal "$XI" savefile seal --json $FILES/libxl-save.xlsave
    step seal.verify-integrity "$XI" savefile verify --integrity --json $FILES/libxl-save.xlsave
    step seal.inspect-json "$XI" savefile inspect --json $FILES/libxl-save.xlsave
else
    for s in seal seal.verify-integrity seal.inspect-json; do
        not_available $s "xen-iac savefile seal is not in this build"
    done
fi

# Real xl restores what xen-iac saved (and sealed).
step xl-restore-xeniac-file xl -vvv restore $FILES/libxl-save.xlsave
check_running running-after-xl-restore tiny-hvm-alt

# A checkpoint keeps the domain running; its file restores paused.
step domain-checkpoint "$XI" domain save --host libxl --checkpoint tiny-hvm-alt $FILES/libxl-checkpoint.xlsave
check_running running-after-checkpoint tiny-hvm-alt
step domain-destroy "$XI" domain destroy --host libxl tiny-hvm-alt
step domain-restore-paused "$XI" domain restore --host libxl --trust-config --paused $FILES/libxl-checkpoint.xlsave
xl list tiny-hvm-alt > $SDIR/paused.state.txt 2>&1
xl destroy tiny-hvm-alt > /dev/null 2>&1

# The checkpoint pushed into a snapshot store, then restored by `apply` straight out of the store into libxl:
# the image reaches libxl through a pipe, checked chunk by chunk on the way, and no savefile is written.
if has_command "store push"; then
    mkdir -p $FILES/from-store
    step store-push "$XI" store push --store $FILES/from-store/store --tag lab-hvm $FILES/libxl-checkpoint.xlsave
    printf 'version: 1\ndefaults:\n  store: ./store\ndomains:\n  - name: tiny-hvm-alt\n    snapshot: lab-hvm\n    trustConfig: true\n' \
        > $FILES/from-store/m.yaml
    step store-apply-restore "$XI" apply -f $FILES/from-store/m.yaml --host libxl --auto-approve
    check_running running-after-store-restore tiny-hvm-alt
    step store-no-working-copy --expect-fail test -e $FILES/from-store/saves/tiny-hvm-alt.xlsave
    xl destroy tiny-hvm-alt > /dev/null 2>&1
else
    for s in store-push store-apply-restore running-after-store-restore store-no-working-copy; do
        not_available $s "xen-iac store is not in this build"
    done
fi

# A warm pool on real Xen (issue 18): two clones of one real savefile running at once, under their own names
# (the tiny guest has no NIC, so there are no MACs to change here; the embedded host's tests cover those), then torn
# down. libxl reserves each clone's memory, so both running at once proves they are two domains, not one.
if has_command "domain clone"; then
    step clone-two "$XI" domain clone --host libxl --trust-config --count 2 --parallelism 2 --name-prefix labclone \
        --disk-copy none --json $FILES/libxl-checkpoint.xlsave
    check_running running-clone-1 labclone-1
    check_running running-clone-2 labclone-2
    step clone-list-json "$XI" domain list --host libxl --json
    step clone-teardown "$XI" domain clone --host libxl --teardown --name-prefix labclone --json
    step gone-after-teardown --expect-fail xl list labclone-1
else
    for s in clone-two running-clone-1 running-clone-2 clone-list-json clone-teardown gone-after-teardown; do
        not_available $s "xen-iac domain clone is not in this build"
    done
fi
xl destroy labclone-1 > /dev/null 2>&1; xl destroy labclone-2 > /dev/null 2>&1

# The config conversion: xen-iac's libxl JSON for an xl.cfg next to xl's own (dry run), then used for real.
CFG=$(guest_cfg tiny-hvm.cfg.in 32)
step xl-dry-run xl -N create $CFG
step xeniac-convert "$XI" config convert $CFG --to json
step domain-create "$XI" domain create --host libxl $CFG
check_running running-after-create tiny-hvm
xl list -l tiny-hvm > $SDIR/created.xl-list-l.json 2>&1
xl destroy tiny-hvm > /dev/null 2>&1
exit 0
