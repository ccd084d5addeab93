#!/usr/bin/env bash
# ./build.sh <Target> [msbuild args]: runs a target of build/build.proj (Restore, Compile, Native, Test, Pack, Demo, Bench, Lab, Ci).
set -uo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
target="${1:-Ci}"
shift || true
dotnet msbuild build/build.proj -t:"$target" -nologo -tl:off -v:m "$@"
rc=$?
# The plain summary line, alone on its line, for people and CI alike.
if [ "$target" = Test ] || [ "$target" = Ci ]; then
  [ -f artifacts/test-results/summary.txt ] && cat artifacts/test-results/summary.txt
fi
exit $rc
