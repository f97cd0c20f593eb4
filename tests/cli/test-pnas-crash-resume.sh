#!/bin/sh
# Crash safety of `pnas search`: a tiny search is killed with SIGKILL over
# and over (at least 20 times) and resumed with --resume each time until it
# finishes. Kills rotate between three moments: a random delay, very soon
# after checkpoint.pnas was replaced (its inode changed), and while the
# checkpoint's temporary file is being written. After every kill the
# resumed run must load the checkpoint (it says "resuming after epoch N",
# and N never goes back), and the finished search must equal an
# uninterrupted run with the same seed and threads: arch.yaml, net.config,
# history.csv but for its time column, and the result line.
# Usage: test-pnas-crash-resume.sh PNAS_EXECUTABLE SOURCE_ROOT
# PNAS_KILL_SEED (default 1) seeds the kill moments; PNAS_KILLS (default 20)
# is the least number of kills.
set -u
pnas=$1
root=$2
data=/usr/share/datasets/fashion-mnist
if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
  echo "skip: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
  exit 77
fi
seed=${PNAS_KILL_SEED:-1}
min_kills=${PNAS_KILLS:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL (kill seed $seed): $*"; exit 1; }

# 10 short epochs (2 warm-up): 10 checkpoints to aim at. The kill modes
# below make at most about one epoch of progress per kill, and near the end
# they switch to kills that make none, so the kills never run out of search.
total=10
small="--config $root/examples/configs/fmnist.yaml --threads 1 --seed 5
  --set data.train_limit=128 --set data.held_out_per_class=4 --set search.batch_size=32
  --set search.arch_batch_size=20 --set search.warmup_epochs=2 --set search.epochs=8
  --set search.arch_every=2 --set latency.kind=macs --set search.target_ms=0.05"

# shellcheck disable=SC2086
"$pnas" search $small --out "$tmp/ref" >"$tmp/ref.log" 2>&1 || { cat "$tmp/ref.log"; fail "reference run"; }

# A pseudo-random number in [0, $1) with two decimals, from the seed and a counter.
draw=0
random_delay() {
  draw=$((draw + 1))
  awk -v s="$seed" -v n="$draw" -v m="$1" 'BEGIN { srand(s * 7919 + n); printf "%.2f", rand() * m }'
}

inode() { stat -c %i "$1" 2>/dev/null || echo none; }

out=$tmp/run
mkdir -p "$out"
kills=0
during_write=0
cycle=0
last_epoch=0
finished=0
while [ $finished -eq 0 ]; do
  cycle=$((cycle + 1))
  [ $cycle -le 200 ] || fail "no end after 200 cycles"
  had_checkpoint=0
  [ -f "$out/checkpoint.pnas" ] && had_checkpoint=1
  before=$(inode "$out/checkpoint.pnas")
  # shellcheck disable=SC2086
  "$pnas" search $small --out "$out" --resume >"$tmp/cycle.log" 2>&1 &
  pid=$!
  mode=none
  if [ $kills -lt "$min_kills" ]; then
    mode=$((cycle % 3))
    # Near the end only kills during a checkpoint write, which never let the
    # run get past its next epoch: the kills must not run out of search.
    rows=0
    [ -f "$out/history.csv" ] && rows=$(($(wc -l <"$out/history.csv") - 1))
    [ $((total - rows)) -le 3 ] && mode=2
    case $mode in
      0) # a random moment
        sleep "$(random_delay 1.0)" ;;
      1) # very soon after a new checkpoint.pnas
        while kill -0 $pid 2>/dev/null && [ "$(inode "$out/checkpoint.pnas")" = "$before" ]; do
          sleep 0.01
        done
        sleep "$(random_delay 0.2)" ;;
      2) # while the checkpoint is being written (it goes to a temporary file first)
        while kill -0 $pid 2>/dev/null && [ ! -e "$out/checkpoint.pnas.tmp.$pid" ]; do sleep 0.002; done ;;
    esac
    if kill -9 $pid 2>/dev/null; then
      kills=$((kills + 1))
      [ $mode -eq 2 ] && [ -e "$out/checkpoint.pnas.tmp.$pid" ] && during_write=$((during_write + 1))
    fi
  fi
  wait $pid 2>/dev/null
  status=$?
  if [ $had_checkpoint -eq 1 ]; then
    line=$(grep -m 1 '^resuming after epoch' "$tmp/cycle.log")
    if [ -z "$line" ]; then
      # Killed before it got that far is fine; anything else is not.
      [ $status -eq 137 ] || { cat "$tmp/cycle.log"; fail "cycle $cycle did not load the checkpoint"; }
    else
      epoch=$(echo "$line" | awk '{ print $4 }')
      [ "$epoch" -ge $last_epoch ] || fail "cycle $cycle resumed after epoch $epoch, before $last_epoch"
      last_epoch=$epoch
    fi
  fi
  case $status in
    0) finished=1; cp "$tmp/cycle.log" "$tmp/final.log" ;;
    137) rm -f "$out"/checkpoint.pnas.tmp.* ;; # a killed writer leaves its temporary file
    *) cat "$tmp/cycle.log"; fail "cycle $cycle exited with status $status" ;;
  esac
done
[ $kills -ge "$min_kills" ] || fail "only $kills kills before the search finished"
[ $during_write -ge 1 ] || fail "no kill landed during a checkpoint write"

for f in arch.yaml net.config; do
  cmp -s "$tmp/ref/$f" "$out/$f" || { diff "$tmp/ref/$f" "$out/$f"; fail "$f differs"; }
done
# history.csv: every column but the time (the 9th).
cut -d, -f1-8,10- "$tmp/ref/history.csv" >"$tmp/h.ref"
cut -d, -f1-8,10- "$out/history.csv" >"$tmp/h.run"
cmp -s "$tmp/h.ref" "$tmp/h.run" || { diff "$tmp/h.ref" "$tmp/h.run"; fail "history.csv differs"; }
[ "$(tail -n 1 "$tmp/ref.log" | sed "s|$tmp/ref|X|")" = "$(tail -n 1 "$tmp/final.log" | sed "s|$out|X|")" ] \
  || fail "result line differs: $(tail -n 1 "$tmp/final.log")"
echo "ok: $kills kills ($during_write during a checkpoint write) over $cycle runs; the resumed search equals the uninterrupted one"
