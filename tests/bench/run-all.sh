#!/bin/sh
# Every figure of docs/performance.md in one command: installs what is
# missing (PyTorch, matplotlib and perf from Debian), builds an optimised
# build in _build/bench, then runs tests/bench/run_bench.py, which times
# libpnas against PyTorch (alternating processes, medians), prints the
# tables and writes _bench/results.json, _bench/tables.md and
# _bench/ratios.png. Takes about 40 minutes on a 2-core machine; keep the
# machine otherwise idle. Arguments go to run_bench.py, for example
#   sh tests/bench/run-all.sh --quick --repeats 3
#   sh tests/bench/run-all.sh --only search kernels
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
sh tests/install-deps.sh python3-torch python3-matplotlib linux-perf
build=_build/bench
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dbuildtype=release >/dev/null
fi
meson compile -C "$build" >/dev/null
exec /usr/bin/python3 tests/bench/run_bench.py --build "$build" "$@"
