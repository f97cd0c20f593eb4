#!/bin/sh
# `pnas search` end to end on a small slice of Fashion-MNIST: the outputs,
# a search stopped after an epoch and resumed ending identical to an
# uninterrupted one, and one clear error line for a missing data set, a bad
# key and an unwritable output folder.
# Usage: test-pnas-search.sh PNAS_EXECUTABLE SOURCE_ROOT
set -u
pnas=$1
root=$2
data=/usr/share/datasets/fashion-mnist
if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
  echo "skip: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

small="--config $root/examples/configs/fmnist.yaml --threads 1 --seed 5 --quiet
  --set data.train_limit=640 --set data.held_out_per_class=4 --set search.batch_size=32
  --set search.arch_batch_size=20 --set search.warmup_epochs=1 --set search.epochs=2
  --set search.arch_every=2 --set latency.kind=macs --set search.target_ms=0.05"

# shellcheck disable=SC2086
"$pnas" search $small --out "$tmp/a" >"$tmp/a.log" 2>&1 || { cat "$tmp/a.log"; fail "search"; }
for f in arch.yaml net.config history.csv search.png arch.png checkpoint.pnas config.yaml; do
  [ -s "$tmp/a/$f" ] || fail "search did not write $f"
done
last=$(tail -n 1 "$tmp/a.log")
case "$last" in
  "result: arch=$tmp/a/arch.yaml expected_latency_ms="*" val_acc="*) ;;
  *) fail "last line is '$last'" ;;
esac
[ "$(wc -l <"$tmp/a/history.csv")" -eq 4 ] || fail "history.csv should have a header and 3 rows"
"$pnas" info "$tmp/a/arch.yaml" | grep -q '^blocks: 9$' || fail "arch.yaml is not a 9-block architecture"

# Stopped after epoch 2, resumed: the same history (but for the time column),
# architecture and result.
# shellcheck disable=SC2086
"$pnas" search $small --out "$tmp/b" --stop-after 2 >"$tmp/b1.log" 2>&1 || { cat "$tmp/b1.log"; fail "stop"; }
[ -s "$tmp/b/checkpoint.pnas" ] || fail "no checkpoint after --stop-after"
[ ! -e "$tmp/b/arch.yaml" ] || fail "a stopped search wrote arch.yaml"
# shellcheck disable=SC2086
"$pnas" search $small --out "$tmp/b" --resume >"$tmp/b2.log" 2>&1 || { cat "$tmp/b2.log"; fail "resume"; }
cut -d, -f1-8,10- "$tmp/a/history.csv" >"$tmp/ha"
cut -d, -f1-8,10- "$tmp/b/history.csv" >"$tmp/hb"
cmp -s "$tmp/ha" "$tmp/hb" || { diff "$tmp/ha" "$tmp/hb"; fail "resumed history differs"; }
cmp -s "$tmp/a/arch.yaml" "$tmp/b/arch.yaml" || fail "resumed arch.yaml differs"
[ "$(tail -n 1 "$tmp/a.log" | sed "s|$tmp/a|X|")" = "$(tail -n 1 "$tmp/b2.log" | sed "s|$tmp/b|X|")" ] \
  || fail "resumed result line differs"

# Errors: one line, non-zero exit, nothing half-written.
expect_error() { # NAME NEEDLE ARGS...
  name=$1
  needle=$2
  shift 2
  if "$pnas" search "$@" >"$tmp/out" 2>"$tmp/err"; then fail "$name: exit status 0"; fi
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || { cat "$tmp/err"; fail "$name: not one error line"; }
  grep -q "^pnas: error: .*$needle" "$tmp/err" || { cat "$tmp/err"; fail "$name: message"; }
}
# shellcheck disable=SC2086
expect_error "missing data" "fashion-mnist" $small --out "$tmp/c" --set data.dir="$tmp/nowhere"
[ ! -e "$tmp/c/arch.yaml" ] || fail "missing data: arch.yaml written"
# shellcheck disable=SC2086
expect_error "bad key" "search.epoch" $small --out "$tmp/d" --set search.epoch=3
# shellcheck disable=SC2086
expect_error "unwritable folder" "output folder" $small --out /proc/pnas-out
echo "ok: search, outputs, stop and resume identical, errors"
