#!/bin/sh
# Runs one libFuzzer target (tests/fuzz/meson.build):
#   run-target.sh EXE SEEDS REGRESSIONS WORKDIR DICT [LIBFUZZER_FLAG...]
# first replays every file of REGRESSIONS (inputs that once failed), then
# fuzzes from WORKDIR/corpus (kept between runs) and SEEDS. DICT may be "".
# Exits non-zero on a crash, leak, sanitizer report or timeout.
set -eu
exe=$1 seeds=$2 regressions=$3 work=$4 dict=$5
shift 5
mkdir -p "$work/corpus" "$work/artifacts"
: "${UBSAN_OPTIONS:=print_stacktrace=1:halt_on_error=1}"
export UBSAN_OPTIONS
# The targets write their inputs and round-trip files to a temporary
# folder, and saves are fsync'ed: memory-backed /dev/shm keeps them fast and
# off the disk.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  export TMPDIR=/dev/shm
fi

if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions" 2>/dev/null)" ]; then
  echo "== replaying $(ls "$regressions" | wc -l) regression inputs from $regressions"
  "$exe" -error_exitcode=99 -timeout_exitcode=98 -timeout=30 -artifact_prefix="$work/artifacts/" \
    "$regressions"/*
fi

# libFuzzer's default exit status for a crash, 77, means "skipped" to meson.
set -- -error_exitcode=99 -timeout_exitcode=98 -timeout=30 -rss_limit_mb=2048 \
  -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$@"
[ -n "$dict" ] && set -- -dict="$dict" "$@"
echo "== fuzzing: $exe $* $work/corpus $seeds"
exec "$exe" "$@" "$work/corpus" "$seeds"
