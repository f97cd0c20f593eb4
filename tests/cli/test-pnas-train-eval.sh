#!/bin/sh
# `pnas train`, `pnas eval` and `pnas profile` end to end on a small slice of
# Fashion-MNIST: a model trained from an architecture and from a search
# checkpoint (--inherit), its evaluation with a profiled latency table, and
# one clear error line for a missing architecture, a corrupt model and an
# unknown option.
# Usage: test-pnas-train-eval.sh PNAS_EXECUTABLE SOURCE_ROOT
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
is_number() { # VALUE: a non-negative decimal number
  printf '%s\n' "$1" | grep -Eq '^[0-9]+(\.[0-9]+)?$'
}

config="--config $root/examples/configs/fmnist.yaml"
tiny="$config --threads 1 --seed 3 --set data.train_limit=640 --set data.test_limit=320
  --set train.epochs=1 --set train.batch_size=32"

# Train an architecture from scratch.
# shellcheck disable=SC2086
"$pnas" train $tiny --arch "$root/tests/fixtures/cli/search_arch.yaml" --out "$tmp/t" \
  >"$tmp/t.log" 2>&1 || { cat "$tmp/t.log"; fail "train"; }
[ -s "$tmp/t/model.pnas" ] || fail "train did not write model.pnas"
last=$(tail -n 1 "$tmp/t.log")
printf '%s\n' "$last" | grep -Eq '^result: test_acc=(0\.[0-9]{4}|1\.0000)$' \
  || fail "train: last line is '$last'"

# A latency table of the space the architecture comes from.
"$pnas" profile $config --space "$root/examples/configs/fmnist-space.yaml" --out "$tmp/T.yaml" \
  --threads 1 --repeats 3 --warmup 1 >"$tmp/p.log" 2>&1 || { cat "$tmp/p.log"; fail "profile"; }
[ -s "$tmp/T.yaml" ] || fail "profile did not write the table"
grep -q "^wrote: $tmp/T.yaml\$" "$tmp/p.log" || { cat "$tmp/p.log"; fail "profile output"; }
"$pnas" info "$root/tests/fixtures/cli/search_arch.yaml" --latency-table "$tmp/T.yaml" \
  | grep -q '^latency_ms: ' || fail "pnas info cannot price the architecture with the table"

# Evaluate it.
# shellcheck disable=SC2086
"$pnas" eval $config --threads 1 --set data.test_limit=320 --model "$tmp/t/model.pnas" \
  --latency-table "$tmp/T.yaml" --repeats 3 >"$tmp/e.log" 2>"$tmp/e.err" \
  || { cat "$tmp/e.log" "$tmp/e.err"; fail "eval"; }
[ ! -s "$tmp/e.err" ] || { cat "$tmp/e.err"; fail "eval wrote to stderr"; }
value() { sed -n "s/^$1: //p" "$tmp/e.log"; }
acc=$(value test_acc)
is_number "$acc" || fail "eval: test_acc '$acc'"
awk -v a="$acc" 'BEGIN { exit !(a >= 0 && a <= 1) }' || fail "eval: test_acc $acc not in [0, 1]"
for key in latency_ms_b1 latency_ms_b64 predicted_latency_ms; do
  v=$(value $key)
  is_number "$v" || { cat "$tmp/e.log"; fail "eval: $key '$v'"; }
  awk -v a="$v" 'BEGIN { exit !(a > 0) }' || fail "eval: $key $v is not > 0"
done
# The same accuracy as the training run's last test evaluation.
[ "$(printf '%.4f' "$acc")" = "${last#result: test_acc=}" ] || fail "eval: test_acc $acc != $last"
# Without a table and with latency.kind=profile: no prediction, said so.
# shellcheck disable=SC2086
"$pnas" eval $config --threads 1 --set data.test_limit=64 --model "$tmp/t/model.pnas" \
  --repeats 1 >"$tmp/e2.log" 2>&1 || { cat "$tmp/e2.log"; fail "eval without a table"; }
grep -q '^predicted_latency_ms: n/a' "$tmp/e2.log" || { cat "$tmp/e2.log"; fail "eval n/a"; }

# Retrain the network derived from a tiny search's checkpoint, with its weights.
# shellcheck disable=SC2086
"$pnas" search $config --threads 1 --seed 5 --quiet --set data.train_limit=640 \
  --set data.held_out_per_class=4 --set search.batch_size=32 --set search.arch_batch_size=20 \
  --set search.warmup_epochs=1 --set search.epochs=1 --set search.arch_every=2 \
  --set latency.kind=macs --set search.target_ms=0.05 --out "$tmp/s" >"$tmp/s.log" 2>&1 \
  || { cat "$tmp/s.log"; fail "search"; }
# shellcheck disable=SC2086
"$pnas" train $tiny --quiet --inherit "$tmp/s/checkpoint.pnas" --out "$tmp/i" \
  >"$tmp/i.log" 2>&1 || { cat "$tmp/i.log"; fail "train --inherit"; }
[ -s "$tmp/i/model.pnas" ] || fail "train --inherit did not write model.pnas"
tail -n 1 "$tmp/i.log" | grep -Eq '^result: test_acc=[01]\.[0-9]{4}$' \
  || { cat "$tmp/i.log"; fail "train --inherit: last line"; }

# Errors: one line, non-zero exit, nothing on stdout, nothing half-written.
expect_error() { # NAME NEEDLE COMMAND ARGS...
  name=$1
  needle=$2
  shift 2
  if "$pnas" "$@" >"$tmp/out" 2>"$tmp/err"; then fail "$name: exit status 0"; fi
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || { cat "$tmp/err"; fail "$name: not one error line"; }
  grep -q "^pnas: error: .*$needle" "$tmp/err" || { cat "$tmp/err"; fail "$name: message"; }
  [ ! -s "$tmp/out" ] || { cat "$tmp/out"; fail "$name: printed to stdout"; }
}
# shellcheck disable=SC2086
expect_error "missing arch" "$tmp/nowhere.yaml" train $tiny --arch "$tmp/nowhere.yaml" --out "$tmp/m"
[ ! -e "$tmp/m/model.pnas" ] || fail "missing arch: model.pnas written"
head -c 200 "$tmp/t/model.pnas" >"$tmp/corrupt.pnas"
# shellcheck disable=SC2086
expect_error "corrupt model" "$tmp/corrupt.pnas" eval $config --threads 1 --model "$tmp/corrupt.pnas"
expect_error "unknown option" "--frobnicate" train --frobnicate
expect_error "eval unknown option" "--frobnicate" eval --frobnicate
expect_error "profile without --out" "--out" profile
echo "ok: train, profile, eval, train --inherit, errors"
