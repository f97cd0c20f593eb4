#!/bin/sh
# `pnas plot` end to end: the PNGs it draws from a search history and from
# architectures (valid PNG, expected size), and the one-line errors for bad
# input. Usage: test-pnas-plot.sh PNAS_BINARY FIXTURES_DIR
set -u
pnas=$1
data=$2
history=$data/cli/history.csv
arch=$data/cli/search_arch.yaml
mobile_yaml=$data/arch/mobile_space.yaml
mobile_config=$data/proxylessnas/proxyless_mobile.config
table=$data/proxylessnas/mobile_trim.yaml
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pnas-plot-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# run EXPECTED_STATUS ARGS...: runs pnas, output in $tmp/out and $tmp/err.
run() {
  want=$1
  shift
  "$pnas" "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  [ "$got" -eq "$want" ] || fail "pnas $*: exit $got, expected $want; stderr: $(cat "$tmp/err")"
}

# expect_png FILE WIDTH HEIGHT: FILE is a PNG (signature, then the IHDR
# chunk) of that size.
expect_png() {
  [ -s "$1" ] || {
    fail "$1 was not written"
    return
  }
  magic=$(od -An -tx1 -N8 "$1" | tr -d ' \n')
  [ "$magic" = "89504e470d0a1a0a" ] || fail "$1: not a PNG (starts with $magic)"
  chunk=$(od -An -c -j12 -N4 "$1" | tr -d ' \n')
  [ "$chunk" = "IHDR" ] || fail "$1: no IHDR chunk first (got '$chunk')"
  # Width and height: two big-endian 32-bit numbers after "IHDR".
  set -- "$1" "$2" "$3" $(od -An -tu1 -j16 -N8 "$1")
  width=$(($4 * 16777216 + $5 * 65536 + $6 * 256 + $7))
  height=$(($8 * 16777216 + $9 * 65536 + ${10} * 256 + ${11}))
  [ "$width" -eq "$2" ] && [ "$height" -eq "$3" ] ||
    fail "$1: ${width}x${height} pixels, expected $2x$3"
}

# expect_error PATTERN: exactly one stderr line, matching the grep PATTERN,
# and nothing on stdout.
expect_error() {
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "expected one error line, got: $(cat "$tmp/err")"
  grep -q "$1" "$tmp/err" || fail "error '$(cat "$tmp/err")' does not match '$1'"
  [ -s "$tmp/out" ] && fail "a failed plot printed: $(cat "$tmp/out")"
}

# The search history: 12 epochs, 8 layers, 52 probability columns.
run 0 plot --history "$history" --out "$tmp/search.png"
expect_png "$tmp/search.png" 1600 1000
[ -s "$tmp/err" ] && fail "plot wrote to stderr: $(cat "$tmp/err")"
[ -s "$tmp/out" ] && fail "plot wrote to stdout: $(cat "$tmp/out")"
run 0 plot --out="$tmp/search2.png" --history="$history"
expect_png "$tmp/search2.png" 1600 1000

# A derived architecture: one line of blocks.
run 0 plot --arch "$arch" --out "$tmp/arch.png"
expect_png "$tmp/arch.png" 1600 460
# The mobile net with per-block latencies: 22 blocks wrap onto two lines.
run 0 plot --arch "$mobile_yaml" --latency-table "$table" --out "$tmp/mobile.png"
expect_png "$tmp/mobile.png" 1600 760
# An official net.config.
run 0 plot --arch "$mobile_config" --out "$tmp/config.png"
expect_png "$tmp/config.png" 1600 760
# A replaced image is replaced whole.
run 0 plot --arch "$arch" --out "$tmp/search2.png"
expect_png "$tmp/search2.png" 1600 460

# Bad histories: one error line naming the file and the line; no image,
# and an existing image is left alone.
head -n 3 "$history" >"$tmp/short.csv"
sed -n 4p "$history" | sed 's/,[^,]*$//' >>"$tmp/short.csv"
echo "old" >"$tmp/keep.png"
run 1 plot --history "$tmp/short.csv" --out "$tmp/keep.png"
expect_error "^pnas: error: $tmp/short.csv:4: expected 61 columns as in the header, got 60$"
[ "$(cat "$tmp/keep.png")" = "old" ] || fail "a failed plot replaced the existing image"

head -n 2 "$history" >"$tmp/number.csv"
sed -n 3p "$history" | sed 's/^\([0-9]*\),warmup,[^,]*,/\1,warmup,0.5x,/' >>"$tmp/number.csv"
run 1 plot --history "$tmp/number.csv" --out "$tmp/number.png"
expect_error "^pnas: error: $tmp/number.csv:3: column 'train_loss': expected a finite number, got '0.5x'$"
[ -e "$tmp/number.png" ] && fail "a failed plot wrote $tmp/number.png"

sed '1s/,train_acc,/,train_accuracy,/' "$history" >"$tmp/header.csv"
run 1 plot --history "$tmp/header.csv" --out "$tmp/header.png"
expect_error "^pnas: error: $tmp/header.csv:1: column 4: unknown column 'train_accuracy'"

sed '5s/,search,/,tuning,/' "$history" >"$tmp/phase.csv"
run 1 plot --history "$tmp/phase.csv" --out "$tmp/phase.png"
expect_error "^pnas: error: $tmp/phase.csv:5: column 'phase': expected warmup or search, got 'tuning'$"

head -n 1 "$history" >"$tmp/empty.csv"
run 1 plot --history "$tmp/empty.csv" --out "$tmp/empty.png"
expect_error "^pnas: error: $tmp/empty.csv: no epochs"

printf 'epoch,phase\001\000garbage\n' >"$tmp/binary.csv"
run 1 plot --history "$tmp/binary.csv" --out "$tmp/binary.png"
expect_error "^pnas: error: $tmp/binary.csv:1: "

run 1 plot --history "$tmp/missing.csv" --out "$tmp/missing.png"
expect_error "^pnas: error: cannot open '$tmp/missing.csv': "

# Bad architectures and tables: the library's message.
printf 'format: pnas-arch/1\nclasses: 10\n' >"$tmp/bad.yaml"
run 1 plot --arch "$tmp/bad.yaml" --out "$tmp/bad.png"
expect_error "^pnas: error: $tmp/bad.yaml:1: missing key 'input'$"
run 1 plot --arch "$mobile_config" --latency-table "$table" --out "$tmp/bad.png"
expect_error "^pnas: error: .*key 'expanded_conv-input:112x112x16-output:56x56x32-expand:3-kernel:5-stride:2-idskip:0'$"
[ -e "$tmp/bad.png" ] && fail "a failed plot wrote $tmp/bad.png"

# Accuracy against latency from a results CSV (tests/bench/results.sh).
cat >"$tmp/results.csv" <<'CSV'
network,macs,test_acc,latency_ms_b1,latency_ms_b64,predicted_latency_ms,retrain_s
searched,6040000,0.9305,0.193,9.1,0.186,500
k3e3,10400000,0.9310,0.327,14.2,0.341,700
k7e6,25900000,0.9320,0.732,41.5,n/a,1700
CSV
run 0 plot --results "$tmp/results.csv" --out "$tmp/tradeoff.png"
expect_png "$tmp/tradeoff.png" 1200 760
[ -s "$tmp/err" ] && fail "plot --results wrote to stderr: $(cat "$tmp/err")"
# Bad results files: one line naming the file, the line and the column.
sed '3s/0.9310/93.10/' "$tmp/results.csv" >"$tmp/percent.csv"
run 1 plot --results "$tmp/percent.csv" --out "$tmp/r.png"
expect_error "^pnas: error: $tmp/percent.csv:3: test_acc: 93.10 is outside \\[0, 1\\]$"
sed '2s/0.193/fast/' "$tmp/results.csv" >"$tmp/word.csv"
run 1 plot --results "$tmp/word.csv" --out "$tmp/r.png"
expect_error "^pnas: error: $tmp/word.csv:2: latency_ms_b1: 'fast' is not a number$"
sed '1s/latency_ms_b1/latency_b1/' "$tmp/results.csv" >"$tmp/nocol.csv"
run 1 plot --results "$tmp/nocol.csv" --out "$tmp/r.png"
expect_error "^pnas: error: $tmp/nocol.csv:1: no 'latency_ms_b1' column in the header$"
sed '4s/,1700$//' "$tmp/results.csv" >"$tmp/fields.csv"
run 1 plot --results "$tmp/fields.csv" --out "$tmp/r.png"
expect_error "^pnas: error: $tmp/fields.csv:4: 6 fields, the header has 7$"
head -n 1 "$tmp/results.csv" >"$tmp/header-only.csv"
run 1 plot --results "$tmp/header-only.csv" --out "$tmp/r.png"
expect_error "^pnas: error: $tmp/header-only.csv: no networks after the header$"
[ -e "$tmp/r.png" ] && fail "a failed results plot wrote $tmp/r.png"

# An output that cannot be written.
run 1 plot --arch "$arch" --out "$tmp/no/such/dir/arch.png"
expect_error "^pnas: error: cannot write '$tmp/no/such/dir/arch.png': "

# Usage errors.
run 1 plot --history "$history"
expect_error "^pnas: error: no --out PNG given"
run 1 plot --out "$tmp/x.png"
expect_error "^pnas: error: give one of --history, --arch or --results"
run 1 plot --history "$history" --arch "$arch" --out "$tmp/x.png"
expect_error "^pnas: error: give one of --history, --arch or --results"
run 1 plot --results "$history" --arch "$arch" --out "$tmp/x.png"
expect_error "^pnas: error: give one of --history, --arch or --results"
run 1 plot --history "$history" --latency-table "$table" --out "$tmp/x.png"
expect_error "^pnas: error: --latency-table goes with --arch"
run 1 plot --history "$history" --out
expect_error "^pnas: error: --out needs a value"
run 1 plot --history "$history" --out "$tmp/x.png" --bogus
expect_error "^pnas: error: unknown option '--bogus'"
run 1 plot --history "$history" --history "$history" --out "$tmp/x.png"
expect_error "^pnas: error: --history given twice"

# Help.
run 0 plot --help
grep -q "^usage: pnas plot --history history.csv --out search.png" "$tmp/out" || fail "plot --help"
run 0 --help
grep -q "^  plot " "$tmp/out" || fail "--help lists no plot command"

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all pnas plot checks passed"
