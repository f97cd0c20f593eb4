#!/bin/sh
# The experiment of docs/results.md: a full-length search on Fashion-MNIST
# with a latency table profiled on this machine (the shipped default
# configuration), the derived network retrained with the default recipe,
# and three uniform baselines - all (k3, e3), all (k3, e6), all (k7, e6) -
# retrained with the same recipe; each evaluated (test accuracy, latency
# measured here at batch 1 and 64, latency predicted by the table).
#
#   sh tests/bench/results.sh [OUT_DIR] [extra `pnas search` options]
# Prints a markdown table and writes OUT_DIR/results.csv and
# OUT_DIR/tradeoff.png (accuracy against latency, `pnas plot --results`);
# every run's outputs stay in OUT_DIR (_results).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${1:-_results}
[ $# -gt 0 ] && shift
build=_build/release
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dbuildtype=release -Dtests=false >/dev/null
fi
meson compile -C "$build" >/dev/null
pnas="$build/examples/pnas/pnas"
mkdir -p "$out"
git rev-parse HEAD >"$out/commit.txt" 2>/dev/null || true

t0=$(date +%s)
"$pnas" search --quiet --out "$out/search" "$@" | tee "$out/search.log"
t1=$(date +%s)
echo "search: $((t1 - t0)) s" >"$out/times.txt"
lut="$out/search/latency.yaml"

run_one() { # NAME ARCH
  s=$(date +%s)
  "$pnas" train --quiet --arch "$2" --out "$out/$1" | tail -n 1 >"$out/$1.train.txt"
  e=$(date +%s)
  "$pnas" eval --model "$out/$1/model.pnas" --latency-table "$lut" >"$out/$1.eval.txt"
  echo "$1: $((e - s)) s" >>"$out/times.txt"
}
run_one searched "$out/search/arch.yaml"
for b in k3e3 k3e6 k7e6; do run_one "$b" "examples/configs/baselines/fmnist-$b.yaml"; done

value() { sed -n "s/^$2: //p" "$out/$1.eval.txt"; }
csv="$out/results.csv"
echo "network,macs,test_acc,latency_ms_b1,latency_ms_b64,predicted_latency_ms,retrain_s" >"$csv"
echo
echo "| network | MACs | test accuracy | batch-1 ms (measured) | batch-64 ms (measured) | predicted ms | retrain s |"
echo "|---|---|---|---|---|---|---|"
for n in searched k3e3 k3e6 k7e6; do
  arch="$out/search/arch.yaml"
  [ "$n" = searched ] || arch="examples/configs/baselines/fmnist-$n.yaml"
  macs=$("$pnas" info "$arch" | sed -n 's/^macs: //p')
  secs=$(sed -n "s/^$n: \([0-9]*\) s/\1/p" "$out/times.txt")
  echo "| $n | $macs | $(value $n test_acc) | $(value $n latency_ms_b1) | $(value $n latency_ms_b64) | $(value $n predicted_latency_ms) | $secs |"
  echo "$n,$macs,$(value $n test_acc),$(value $n latency_ms_b1),$(value $n latency_ms_b64),$(value $n predicted_latency_ms),$secs" >>"$csv"
done
"$pnas" plot --results "$csv" --out "$out/tradeoff.png"
echo
cat "$out/times.txt"
