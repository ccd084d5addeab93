#!/usr/bin/env bash
# Runs afl-fuzz on the instrumented XenIac.Fuzz harness, one target after another, each for a bounded time or
# number of executions, then prints executions, crashes and hangs per target. Called by `./build.sh Fuzz`
# (which publishes and instruments first); see tests/fuzz/README.md.
#   tests/fuzz/fuzz.sh BIN_DIR TARGETS SECONDS EXECS OUT_DIR
#     TARGETS: separated by commas or + (savefile,image,xlcfg,json,manifest) or "all"; SECONDS/EXECS: 0 = no limit of that kind.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$1"; targets="$2"; seconds="$3"; execs="$4"; out="$5"

if ! command -v afl-fuzz >/dev/null 2>&1; then
  echo "error: afl-fuzz is not installed; the Fuzz target needs Debian's afl++: apt-get install -y afl++" >&2
  exit 1
fi
[ "$targets" = all ] && targets="savefile,image,xlcfg,json,manifest"
# MSBuild splits /p: values at commas, so `./build.sh Fuzz /p:FuzzTarget=image+json` names several targets with +.
targets="${targets//+/,}"
[ "$seconds" = 0 ] && [ "$execs" = 0 ] && { echo "error: give FuzzSeconds or FuzzExecs" >&2; exit 1; }

# A .NET harness is no native AFL binary, and the machine is shared: no CPU pinning, no core_pattern demands,
# and a generous start-up allowance for the runtime.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_FORKSRV_INIT_TMOUT=120000 AFL_QUIET=1 DOTNET_TieredPGO=0
limits=()
[ "$seconds" != 0 ] && limits+=(-V "$seconds")
[ "$execs" != 0 ] && limits+=(-E "$execs")

rc=0
summary=()
IFS=, read -ra list <<<"$targets"
for t in "${list[@]}"; do
  corpus="$here/corpus/$t"
  [ -d "$corpus" ] || { echo "error: no corpus for target '$t' ($corpus)" >&2; rc=1; continue; }
  dir="$out/$t"
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "fuzz: $t (${seconds}s / ${execs} execs) -> $dir"
  # -t: per-input timeout in ms; anything slower is a hang, which afl keeps under hangs/.
  nice -n 10 afl-fuzz -i "$corpus" -o "$dir" -t 5000 -m none "${limits[@]}" -- dotnet "$bin/XenIac.Fuzz.dll" "$t" \
    >"$dir/afl.log" 2>&1
  code=$?
  stats="$dir/default/fuzzer_stats"
  if [ ! -f "$stats" ]; then
    echo "error: afl-fuzz did not run for '$t' (exit $code); last lines of $dir/afl.log:" >&2
    tail -n 15 "$dir/afl.log" >&2
    rc=1
    continue
  fi
  get() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
  crashes=$(get saved_crashes); hangs=$(get saved_hangs)
  summary+=("$(printf '%-9s %12s execs %10s/s %6s crashes %6s hangs  %s' "$t" "$(get execs_done)" "$(get execs_per_sec)" \
    "${crashes:-?}" "${hangs:-?}" "$dir/default")")
done

echo "fuzz summary (findings under <dir>/crashes and <dir>/hangs; replay with: dotnet $bin/XenIac.Fuzz.dll replay TARGET FILE...):"
for line in "${summary[@]}"; do echo "  $line"; done
exit $rc
