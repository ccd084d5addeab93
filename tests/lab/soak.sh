#!/usr/bin/env bash
# soak.sh [--runs N] [--out DIR]: the real Xen lab N times in a row (default 3), to show it is steady while the
# machine is busy (start the load yourself, e.g. `stress-ng --cpu 2 &`, a build, or a fuzzing campaign).
# Each run is a full run-lab.sh (fresh disk, boot, every scenario). The load average is sampled every 15 s during
# each run; the table at the end gives per run: exit code, total seconds, 1-minute load (min/mean/max) and the
# seconds of every stage, read from that run's results.json. Stops at the first failed run. Exit 0 when all passed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
runs=3
out="$here/../../artifacts/lab-soak"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "error: unknown argument '$1' (use --runs N --out DIR)" >&2; exit 1 ;;
  esac
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"
table="$out/soak.txt"
: >"$table"
echo "lab soak: $runs runs, started $(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) cores" | tee -a "$table"

rc=0
for i in $(seq 1 "$runs"); do
  dir="$out/run$i"
  rm -rf "$dir"
  samples="$out/run$i.load"
  : >"$samples"
  ( while :; do cut -d' ' -f1 /proc/loadavg >>"$samples"; sleep 15; done ) &
  sampler=$!
  start=$(date +%s)
  bash "$here/run-lab.sh" --out "$dir" >"$out/run$i.log" 2>&1
  code=$?
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
  secs=$(( $(date +%s) - start ))
  load=$(awk 'NR==1{min=$1;max=$1} {s+=$1; if($1<min)min=$1; if($1>max)max=$1} END{if(NR) printf "%.1f/%.1f/%.1f", min, s/NR, max; else print "n/a"}' "$samples")
  stages=$(python3 - "$dir/results.json" <<'EOF' 2>/dev/null || echo "(no results.json)"
import json, sys
r = json.load(open(sys.argv[1]))
print(", ".join(f"{s['name']} {s['seconds']:.0f}s{'' if s['status'] == 'ok' else ' ' + s['status'].upper()}" for s in r.get("stages", [])))
EOF
)
  line="run $i: exit $code, ${secs} s, load(1m) min/mean/max $load, finished $(date -u '+%H:%M') UTC | $stages"
  echo "$line" | tee -a "$table"
  if [ "$code" != 0 ]; then
    echo "lab soak: run $i failed (exit $code); see $dir/results.json and $out/run$i.log" | tee -a "$table"
    rc=1
    break
  fi
done
[ "$rc" = 0 ] && echo "lab soak: $runs of $runs runs passed in a row" | tee -a "$table"
exit $rc
