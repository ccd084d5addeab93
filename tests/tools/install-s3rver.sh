#!/usr/bin/env bash
# Installs npm's s3rver (a local S3-protocol server) into artifacts/tools/s3rver for the store's S3 tests.
# Idempotent: does nothing when the pinned version is already there. The tests skip with a reason when it is absent.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=3.7.1
dir=artifacts/tools/s3rver
installed="$dir/node_modules/s3rver/package.json"
if [ -x "$dir/node_modules/.bin/s3rver" ] && [ -f "$installed" ] && grep -q "\"version\": \"$version\"" "$installed"; then
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "install-s3rver: npm is not installed" >&2; exit 1; }
mkdir -p "$dir"
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "s3rver@$version" >/dev/null
echo "install-s3rver: s3rver $version installed in $dir"
