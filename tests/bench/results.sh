#!/bin/sh
# The experiment of docs/results.md: a full-length search on Fashion-MNIST
# with a latency table profiled on this machine (the shipped default
# configuration), the derived network retrained with the default recipe,
# and three uniform baselines - all (k3, e3), all (k3, e6), all (k7, e6) -
# retrained with the same recipe; each evaluated (test accuracy, latency
# measured here at batch 1 and 64, latency predicted by the table).
#
#   sh tests/bench/results.sh [OUT_DIR] [extra `pnas search` options]
#
# The search uses every core. The four retrainings run two at a time with
# one thread each (one thread never waits at a barrier, so a busy machine
# slows them down evenly instead of stalling them; docs/performance.md,
# "Shared machines"). The evaluations run last, one at a time, with every
# core, as the latency table was profiled: keep the machine otherwise idle
# for them and for the profiling at the start of the search.
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

arch_of() { # NAME -> its architecture file
  if [ "$1" = searched ]; then echo "$out/search/arch.yaml"; else echo "examples/configs/baselines/fmnist-$1.yaml"; fi
}
train_one() { # NAME
  s=$(date +%s)
  "$pnas" train --quiet --arch "$(arch_of "$1")" --out "$out/$1" --set run.threads=1 |
    tail -n 1 >"$out/$1.train.txt"
  e=$(date +%s)
  echo "$1: $((e - s)) s" >>"$out/times.txt"
}
# Longest first on one lane; the other three on the other.
(train_one k7e6 && train_one searched) &
lane1=$!
(train_one k3e3 && train_one k3e6) &
lane2=$!
wait "$lane1"
wait "$lane2"

for n in searched k3e3 k3e6 k7e6; do
  "$pnas" eval --model "$out/$n/model.pnas" --latency-table "$lut" >"$out/$n.eval.txt"
done

value() { sed -n "s/^$2: //p" "$out/$1.eval.txt"; }
csv="$out/results.csv"
echo "network,macs,test_acc,latency_ms_b1,latency_ms_b64,predicted_latency_ms,retrain_s" >"$csv"
echo
echo "| network | MACs | test accuracy | batch-1 ms (measured) | batch-64 ms (measured) | predicted ms | retrain s |"
echo "|---|---|---|---|---|---|---|"
for n in searched k3e3 k3e6 k7e6; do
  macs=$("$pnas" info "$(arch_of "$n")" | sed -n 's/^macs: //p')
  secs=$(sed -n "s/^$n: \([0-9]*\) s/\1/p" "$out/times.txt")
  echo "| $n | $macs | $(value $n test_acc) | $(value $n latency_ms_b1) | $(value $n latency_ms_b64) | $(value $n predicted_latency_ms) | $secs |"
  echo "$n,$macs,$(value $n test_acc),$(value $n latency_ms_b1),$(value $n latency_ms_b64),$(value $n predicted_latency_ms),$secs" >>"$csv"
done
"$pnas" plot --results "$csv" --out "$out/tradeoff.png"
echo
cat "$out/times.txt"
