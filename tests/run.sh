#!/bin/sh
# The whole test suite, one command, on a fresh Debian 12 machine:
#   1. installs what is missing (apt-get; needs root the first time),
#   2. builds and runs every suite (unit, abi, docs, ...),
#   3. rebuilds with AddressSanitizer + UBSan and runs the unit suites there,
#   4. runs the unit suites under valgrind memcheck,
#   5. builds the libFuzzer targets with clang and runs each for 25 s,
# then prints one line per run and the total, `N passed, N failed`.
# Exit status is non-zero if anything failed.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

sh tests/install-deps.sh || exit 1

# Suites run two at a time, each with up to two OpenMP threads, on two
# cores: with libgomp's default (spinning) waits an oversubscribed team
# stalls at every barrier, so waiting threads sleep instead. Timings are
# measured in tests/bench, never here.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

build=_build/test
asan=_build/asan
fuzz=_build/fuzz
status=0

configure() { # DIR ARGS...
  dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >"$dir.setup.log" 2>&1
  else
    mkdir -p "$(dirname "$dir")"
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1
  fi || { cat "$dir.setup.log"; echo "error: meson setup $dir failed"; exit 1; }
}

echo "== build and test ($build)"
configure "$build" -Dbuildtype=debugoptimized -Dwerror=true
meson compile -C "$build" || exit 1
meson test -C "$build" --print-errorlogs --num-processes 2 || status=1

echo "== sanitizers: address, undefined ($asan)"
configure "$asan" -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true
meson compile -C "$asan" || exit 1
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
  meson test -C "$asan" --suite unit --suite grad --print-errorlogs --num-processes 2 || status=1
cp "$asan/meson-logs/testlog.json" "$asan/meson-logs/testlog-asan.json"

echo "== valgrind memcheck ($build, unit suites)"
meson test -C "$build" --setup valgrind --suite unit --print-errorlogs --num-processes 2 \
  || status=1

echo "== fuzzing: each libFuzzer target for 25 s ($fuzz)"
# Needs clang and libFuzzer (install-deps.sh installs them): without them the run fails.
command -v clang >/dev/null || {
  echo "error: clang not found: apt-get install clang libclang-rt-dev libomp-dev"
  exit 1
}
(export CC=clang CXX=clang++
 configure "$fuzz" -Dbuildtype=debugoptimized -Dfuzz=true -Dtests=false -Db_lundef=false) || exit 1
meson compile -C "$fuzz" || exit 1
meson test -C "$fuzz" --suite fuzz --print-errorlogs --num-processes 2 || status=1

echo "== summary"
python3 tests/summarize.py \
  "tests=$build/meson-logs/testlog.json" \
  "asan+ubsan=$asan/meson-logs/testlog-asan.json" \
  "valgrind=$build/meson-logs/testlog-valgrind.json" \
  "fuzz=$fuzz/meson-logs/testlog.json" || status=1
exit $status
