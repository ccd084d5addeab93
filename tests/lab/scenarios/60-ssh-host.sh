#!/bin/sh
# Scenario ssh-host: the HOST machine drives this dom0's real libxl over `--host ssh://root@127.0.0.1:PORT`
# (QEMU's user network forwards that loopback port to dom0's sshd, which dom0-init started with this run's keys).
# The steps that matter run on the host (tests/lab/host/ssh-host.sh, started by run-lab.sh); dom0's part is the
# handshake, so that nothing waits forever:
#   1. dom0 checks sshd is up (dom0-init wrote /run/lab-ssh/status) and prints "XENIAC-LAB SSH-READY" on the console;
#      when sshd is not up it records why and ends at once (the host never starts).
#   2. the host's first command over ssh creates /run/lab-ssh/hello (proof the forward and the keys work); dom0
#      gives up after HELLO_TIMEOUT without it.
#   3. the host's last command writes its verdict into /run/lab-ssh/done ("passed", or "failed: STEPS"); dom0
#      records it as the step host-side and ends, or gives up after DONE_TIMEOUT.
# The host's own steps are merged into this scenario's steps.tsv by run-lab.sh after the lab disk is read back.
. /lab/scenarios/lib.sh
scenario_init "$1"
HELLO_TIMEOUT=${HELLO_TIMEOUT:-600}                          # sshd under TCG: a login can take a minute on a busy host
DONE_TIMEOUT=${DONE_TIMEOUT:-$(( ${SCENARIO_TIMEOUT:-1800} - 120 ))}   # leave time to record before the scenario limit

if [ ! -d /lab/ssh ]; then
    not_available sshd "the run handed in no ssh keys (/lab/ssh): $(cat /lab/ssh-why.txt 2>/dev/null || echo 'see run-lab.sh')"
    exit 0
fi
clock t0
st=$(cat /run/lab-ssh/status 2>/dev/null || echo "failed: dom0-init left no /run/lab-ssh/status")
since $t0
if [ "$st" != up ]; then
    cp /lab/out/sshd.log $SDIR/sshd.err 2>/dev/null
    record sshd failed 1 $ELAPSED "sshd is not up in dom0: $st"
    exit 1
fi
record sshd ok 0 $ELAPSED "sshd up (dom0-init); the forward's host side is 127.0.0.1 only"

# The savefile the host restores (xl-save's plain save of tiny-hvm-alt): the host reads it over ssh.
need_input input $FILES/hvm-plain.xlsave || exit 1
rm -f /run/lab-ssh/hello /run/lab-ssh/done
echo "XENIAC-LAB SSH-READY savefile=$FILES/hvm-plain.xlsave uptime=$(cut -d' ' -f1 /proc/uptime)" >&3
echo "ssh-host: waiting for the host" > $SDIR/.current

# wait_file FILE SECONDS: polls once every 2 s (each poll is a fork under TCG; the host's commands take far longer).
wait_file() {
    clock _w0
    while [ ! -e "$1" ]; do
        since $_w0; [ ${ELAPSED%.*} -ge $2 ] && return 1
        sleep 2
    done
}
clock t0
if ! wait_file /run/lab-ssh/hello $HELLO_TIMEOUT; then
    since $t0
    record host-hello failed 1 $ELAPSED "the host did not log in over ssh within $HELLO_TIMEOUT s (port forward or keys?); sshd said: $(tail -n 3 /lab/out/sshd.log 2>/dev/null | tr '\t\n' '  ' | cut -c1-400)"
    rm -f $SDIR/.current
    exit 1
fi
since $t0; record host-hello ok 0 $ELAPSED "the host logged in over ssh"
clock t0
if ! wait_file /run/lab-ssh/done $DONE_TIMEOUT; then
    since $t0
    record host-side failed 1 $ELAPSED "the host sent no verdict within $DONE_TIMEOUT s; xl list: $(xl list 2>&1 | tr '\t\n' '  ' | cut -c1-300)"
    rm -f $SDIR/.current
    exit 1
fi
since $t0
verdict=$(head -c 600 /run/lab-ssh/done | tr '\t\n' '  ')
case "$verdict" in
    passed*) record host-side ok 0 $ELAPSED "$verdict" ;;
    *) record host-side failed 1 $ELAPSED "the host's steps: $verdict" ;;
esac
rm -f $SDIR/.current
cp /lab/out/sshd.log $SDIR/sshd.log 2>/dev/null
exit 0
