#!/bin/sh
# The README's first command: installs what is missing (apt-get), builds
# libpnas, searches an architecture on Fashion-MNIST with the shipped default
# configuration (examples/configs/fmnist.yaml, a latency table profiled on
# this machine), retrains the result briefly, evaluates it, and prints a
# summary. Everything is written under ./pnas-out (search) and
# ./pnas-out/retrain (retraining).
#
#   sh examples/quickstart.sh [extra `pnas search` options, e.g. --set search.epochs=2]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$(date +%s)

sh tests/install-deps.sh
build=_build/release
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dbuildtype=release -Dtests=false >/dev/null
fi
meson compile -C "$build" >/dev/null
pnas="$build/examples/pnas/pnas"
out=pnas-out

echo "== search (pnas search, default configuration)"
"$pnas" search --out "$out" "$@" | tee "$out.search.log"
search_end=$(date +%s)

echo "== retrain the searched architecture (briefly)"
"$pnas" train --arch "$out/arch.yaml" --out "$out/retrain" --set train.epochs=3 \
  | tee "$out.train.log"
train_end=$(date +%s)

echo "== evaluate"
"$pnas" eval --model "$out/retrain/model.pnas" --latency-table "$out/latency.yaml" \
  | tee "$out.eval.log"
end=$(date +%s)

value() { sed -n "s/^$1: //p" "$out.eval.log"; }
blocks=$("$pnas" info "$out/arch.yaml" --blocks | sed -n 's/^block\.[0-9]*: \(mbconv kernel \([0-9]\) expand \([0-9]*\)\|identity\).*/k\2e\3/p' | sed 's/^ke$/id/' | tr '\n' ' ')
macs=$("$pnas" info "$out/arch.yaml" | sed -n 's/^macs: //p')
cat <<SUMMARY

== summary
| searched architecture | $out/arch.yaml (also $out/net.config, $out/arch.png) |
| blocks | $blocks|
| MACs | $macs |
| test accuracy (after 3 epochs of retraining) | $(value test_acc) |
| measured latency, batch 1 / 64 (ms) | $(value latency_ms_b1) / $(value latency_ms_b64) |
| predicted latency (ms) | $(value predicted_latency_ms) |
| search / retrain / total time (s) | $((search_end - start)) / $((train_end - search_end)) / $((end - start)) |
| search curves | $out/search.png |
SUMMARY
