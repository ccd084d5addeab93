#!/bin/sh
# Runs inside dom0 (started by dom0-init): probes which xen-iac commands this build has, then runs every
# scenario NN-name.sh in order, each under its own hard time limit, and records
#   /lab/out/scenarios.tsv   name <TAB> status (passed|failed|timeout) <TAB> rc <TAB> seconds
# The host follows "XENIAC-LAB SCENARIO-BEGIN/END" lines on the console to time and police them.
exec 3>&1                      # the console, for lib.sh's say()
. /lab/scenarios/lib.sh
mark() { echo "XENIAC-LAB $* uptime=$(cut -d' ' -f1 /proc/uptime)"; }

# A heartbeat on the console while the scenarios run: steps print nothing while they work, so without it the
# host could not tell a slow step from an emulated machine that stopped (seen once on a loaded CI host: Xen and
# dom0 silent for 30 min right after an HVM guest booted). The host's watch gives up after
# XENIAC_LAB_STALL_TIMEOUT seconds without a console line. Builtins only, but for sleep.
( while sleep 20; do read _up _idle < /proc/uptime; echo "XENIAC-LAB ALIVE uptime=$_up"; done ) &
HEARTBEAT=$!

# Which commands this build of xen-iac has (some arrive from branches merged later). Scenarios skip
# the steps that need a missing one as "not-available", and the host tests skip their assertions.
: > $OUT/commands.env; : > $OUT/commands.tsv
clock t0
"$XI" --version > $OUT/xen-iac-version.txt 2>&1 || mark "WARNING xen-iac does not run in dom0: $(head -c 300 $OUT/xen-iac-version.txt)"
since $t0; echo "xen-iac first start took $ELAPSED s" >> $OUT/xen-iac-version.txt
for c in "savefile inspect:INSPECT" "savefile config:CONFIG" "savefile convert:CONVERT" "savefile verify:VERIFY" \
         "savefile set-config:SET_CONFIG" "config show:CONFIG_SHOW" "domain:DOMAIN"; do
    cmd=${c%%:*}; var=HAVE_${c##*:}
    if has_command "$cmd"; then v=1; else v=0; fi
    echo "$var=$v" >> $OUT/commands.env
    printf '%s\t%s\n' "$cmd" $v >> $OUT/commands.tsv
done
. $OUT/commands.env
mark "COMMANDS $(tr '\t\n' '= ' < $OUT/commands.tsv)"

: > $OUT/scenarios.tsv
for script in /lab/scenarios/[0-9][0-9]-*.sh; do
    name=$(basename $script .sh); name=${name#[0-9][0-9]-}
    if [ -n "${SCENARIOS:-}" ] && ! echo " $SCENARIOS " | grep -q " $name "; then continue; fi
    limit=${SCENARIO_TIMEOUT:-1800}
    mkdir -p $OUT/$name
    mark "SCENARIO-BEGIN $name limit=$limit"
    clock t0
    timeout -k 10 $limit sh $script $name > $OUT/$name/scenario.log 2>&1; rc=$?
    since $t0; dt=$ELAPSED
    if [ $rc = 124 ] || [ $rc = 137 ]; then status=timeout
    elif [ $rc = 0 ] && ! grep -q "$(printf '\t')failed$(printf '\t')" $OUT/$name/steps.tsv 2>/dev/null; then status=passed
    else status=failed; fi
    why=""
    if [ $status = timeout ]; then
        # Which step the limit cut short (step() keeps .current while a step runs), and what Xen said then.
        why="hit its ${limit} s limit in step $(head -c 300 $OUT/$name/.current 2>/dev/null || echo '(between steps)')"
        echo "$why" > $OUT/$name/timeout.txt
        SDIR=$OUT/$name diag timeout
    fi
    mkdir -p $OUT/$name/xen-logs; cp /var/log/xen/*.log $OUT/$name/xen-logs/ 2>/dev/null
    printf '%s\t%s\t%s\t%s\n' $name $status $rc $dt >> $OUT/scenarios.tsv
    mark "SCENARIO-END $name status=$status rc=$rc seconds=$dt${why:+ $why}"
    # Every scenario starts from a host with only dom0 running.
    for d in $(xl list 2>/dev/null | awk 'NR>2{print $1}'); do xl destroy $d > /dev/null 2>&1; done
done

( cd $FILES && sha256sum *.xlsave *.img > SHA256SUMS 2>/dev/null )
kill $HEARTBEAT 2>/dev/null
mark "SCENARIOS-DONE"
