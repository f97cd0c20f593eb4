#!/bin/sh
# Regenerates tests/abi/libpnas.abi from a build. Run it only when the ABI
# is meant to change (functions appended before a release, or a new major),
# and commit the result with the change that explains why.
# Usage: tests/abi/update-baseline.sh [BUILD_DIR]   (default: build)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
lib="$build/lib/libpnas.so"
[ -e "$lib" ] || { echo "no $lib: build first (meson setup $build && meson compile -C $build)"; exit 1; }
abidw --no-show-locs --no-comp-dir-path --headers-dir "$here/../../include" \
  --out-file "$here/libpnas.abi" "$lib"
echo "wrote $here/libpnas.abi"
