#!/bin/sh
# `pnas info` end to end: the printed MACs, parameters and table latency of
# the released mobile net and of its search-space twin, and the one-line
# errors. Usage: test-pnas-info.sh PNAS_BINARY FIXTURES_DIR
set -u
pnas=$1
data=$2
mobile=$data/proxylessnas/proxyless_mobile.config
gpu=$data/proxylessnas/proxyless_gpu.config
table=$data/proxylessnas/mobile_trim.yaml
space=$data/arch/mobile_space.yaml
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pnas-cli-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# expect_line FILE LINE: FILE has exactly that line.
expect_line() {
  grep -qxF "$2" "$1" || fail "missing line '$2' in: $(tr '\n' '|' <"$1")"
}

# run EXPECTED_STATUS ARGS...: runs pnas, output in $tmp/out and $tmp/err.
run() {
  want=$1
  shift
  "$pnas" "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  [ "$got" -eq "$want" ] || fail "pnas $*: exit $got, expected $want; stderr: $(cat "$tmp/err")"
}

# The released mobile net: the published MACs and parameters.
run 0 info "$mobile"
expect_line "$tmp/out" "macs: 320427584"
expect_line "$tmp/out" "params: 4080512"
expect_line "$tmp/out" "blocks: 22"
expect_line "$tmp/out" "identity_blocks: 2"
expect_line "$tmp/out" "input: 224x224x3"
expect_line "$tmp/out" "classes: 1000"
expect_line "$tmp/out" "format: net.config"
[ -s "$tmp/err" ] && fail "info wrote to stderr: $(cat "$tmp/err")"

run 0 info "$gpu"
expect_line "$tmp/out" "macs: 465260160"
expect_line "$tmp/out" "params: 7119848"

# The table lacks the released mobile net's 32-wide first stage: one error
# line naming the key, nothing on stdout.
run 1 info "$mobile" --latency-table "$table"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "expected one error line, got: $(cat "$tmp/err")"
grep -q "^pnas: error: .*key 'expanded_conv-input:112x112x16-output:56x56x32-expand:3-kernel:5-stride:2-idskip:0'$" "$tmp/err" ||
  fail "error does not name the missing key: $(cat "$tmp/err")"
[ -s "$tmp/out" ] && fail "a failed info printed: $(cat "$tmp/out")"

# Its search-space twin is fully priced; 82.52386035896993 ms by
# tests/fixtures/arch/sum_latency.py.
run 0 info "$space" --latency-table "$table"
expect_line "$tmp/out" "macs: 304227008"
expect_line "$tmp/out" "params: 4073520"
expect_line "$tmp/out" "latency_ms: 82.523860"
expect_line "$tmp/out" "format: pnas-arch/1"
run 0 info --latency-table="$table" "$space"
expect_line "$tmp/out" "latency_ms: 82.523860"

# Format detection by content, and --input.
cp "$mobile" "$tmp/net"
run 0 info "$tmp/net" --input 112x112
expect_line "$tmp/out" "format: net.config"
expect_line "$tmp/out" "input: 112x112x3"
run 0 info "$space" --input 112x96 --blocks
expect_line "$tmp/out" "input: 112x96x3"
expect_line "$tmp/out" "block.3: identity 28x24x24"

# Errors: one line, exit 1.
printf 'format: pnas-arch/1\nclasses: 10\n' >"$tmp/bad.yaml"
run 1 info "$tmp/bad.yaml"
[ "$(cat "$tmp/err")" = "pnas: error: $tmp/bad.yaml:1: missing key 'input'" ] ||
  fail "bad YAML: $(cat "$tmp/err")"
run 1 info "$tmp/missing.yaml"
grep -q "^pnas: error: cannot open '$tmp/missing.yaml'" "$tmp/err" || fail "missing file: $(cat "$tmp/err")"
run 1 info "$mobile" --input 0x3
grep -q "^pnas: error: --input" "$tmp/err" || fail "bad --input: $(cat "$tmp/err")"
run 1 info
grep -q "^pnas: error: no FILE given" "$tmp/err" || fail "no file: $(cat "$tmp/err")"
run 1 info "$mobile" --bogus
grep -q "^pnas: error: unknown option '--bogus'" "$tmp/err" || fail "bad option: $(cat "$tmp/err")"
run 1 frobnicate
grep -q "^pnas: error: unknown command 'frobnicate'" "$tmp/err" || fail "bad command: $(cat "$tmp/err")"
run 1
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "no command: $(cat "$tmp/err")"

# Help and version.
run 0 --help
grep -q "^  info " "$tmp/out" || fail "--help lists no info command"
run 0 info --help
grep -q "^usage: pnas info FILE" "$tmp/out" || fail "info --help"
run 0 --version
grep -q "^pnas [0-9]*\.[0-9]*\.[0-9]* (libpnas " "$tmp/out" || fail "--version: $(cat "$tmp/out")"

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all pnas info checks passed"
