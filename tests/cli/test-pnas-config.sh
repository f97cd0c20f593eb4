#!/bin/sh
# `pnas config` end to end: the shipped configuration equals the built-in
# defaults and round-trips, --set overrides, relative paths, and the
# one-line errors of the strict loader.
# Usage: test-pnas-config.sh PNAS_BINARY CONFIGS_DIR DOCS_DIR
set -u
pnas=$1
configs=$(cd "$2" && pwd -P) || exit 1
docs=$3
shipped=$configs/fmnist.yaml
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pnas-config-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
tmp=$(cd "$tmp" && pwd -P)
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

# flatten FILE: one `section.key: value` line per key of a block-style
# configuration, comments dropped.
flatten() {
  sed -e 's/[[:space:]]#.*$//' -e 's/[[:space:]]*$//' "$1" | awk '
    /^#/ || /^$/ { next }
    /^[a-z0-9_]+:$/ { section = substr($0, 1, length($0) - 1); next }
    /^  [a-z0-9_]+:/ { sub(/^  /, ""); print section "." $0 }'
}

# value KEY: the value of section.key in $tmp/out.
value() {
  flatten "$tmp/out" | sed -n "s/^$1: //p"
}

# expect_error ARGS... -- PATTERN: exit 1, nothing on stdout, exactly one
# stderr line, starting with `pnas: error:` and matching PATTERN (grep -E).
expect_error() {
  args=""
  while [ "$1" != "--" ]; do
    args="$args $1"
    shift
  done
  pattern=$2
  # shellcheck disable=SC2086
  run 1 $args
  [ -s "$tmp/out" ] && fail "pnas$args printed to stdout: $(cat "$tmp/out")"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "pnas$args: expected one stderr line, got: $(cat "$tmp/err")"
  grep -q '^pnas: error: ' "$tmp/err" || fail "pnas$args: not an error line: $(cat "$tmp/err")"
  grep -Eq -- "$pattern" "$tmp/err" || fail "pnas$args: error does not match '$pattern': $(cat "$tmp/err")"
}

# The shipped configuration: loads, and its output loads back to the same.
run 0 config --config "$shipped"
[ -s "$tmp/err" ] && fail "config wrote to stderr: $(cat "$tmp/err")"
cp "$tmp/out" "$tmp/shipped.yaml"
run 0 config --config "$tmp/shipped.yaml"
cmp -s "$tmp/out" "$tmp/shipped.yaml" || fail "the written configuration does not round-trip: $(diff "$tmp/shipped.yaml" "$tmp/out")"

# ... and equals the built-in defaults, but for space.file, which it
# resolves next to itself.
run 0 config
cp "$tmp/out" "$tmp/defaults.yaml"
flatten "$tmp/defaults.yaml" | grep -v '^space\.file:' >"$tmp/defaults.flat"
flatten "$tmp/shipped.yaml" | grep -v '^space\.file:' >"$tmp/shipped.flat"
cmp -s "$tmp/defaults.flat" "$tmp/shipped.flat" ||
  fail "fmnist.yaml differs from the defaults: $(diff "$tmp/defaults.flat" "$tmp/shipped.flat")"
flatten "$tmp/shipped.yaml" | grep -qxF "space.file: \"$configs/fmnist-space.yaml\"" ||
  fail "space.file not resolved next to the config: $(flatten "$tmp/shipped.yaml" | grep space.file)"
# (relative in the defaults, so relative to the working directory: written
# absolute.)
flatten "$tmp/defaults.yaml" | grep -qxF "space.file: \"$(pwd -P)/fmnist-space.yaml\"" ||
  fail "default space.file: $(flatten "$tmp/defaults.yaml" | grep space.file)"

# The shipped file has every key, each with a comment, and docs/config.md
# documents every key.
flatten "$tmp/defaults.yaml" | sed 's/:.*//' >"$tmp/keys"
flatten "$shipped" | sed 's/:.*//' >"$tmp/shipped.keys"
cmp -s "$tmp/keys" "$tmp/shipped.keys" ||
  fail "fmnist.yaml does not list every key in order: $(diff "$tmp/keys" "$tmp/shipped.keys")"
grep -E '^  [a-z0-9_]+:' "$shipped" | grep -v '#' | while read -r line; do
  echo "FAIL: fmnist.yaml: no comment on '$line'"
done | grep . && failures=$((failures + 1))
[ "$(wc -l <"$tmp/keys")" -eq 47 ] || fail "expected 47 keys, got $(wc -l <"$tmp/keys")"
while read -r key; do
  grep -qF "| \`$key\` |" "$docs/config.md" || fail "docs/config.md does not document $key"
done <"$tmp/keys"

# --set overrides, applied after the file.
run 0 config --set search.epochs=1 --config "$shipped" --set search.loss=add --set=run.seed=7
[ "$(value search.epochs)" = 1 ] || fail "search.epochs=1: got '$(value search.epochs)'"
[ "$(value search.loss)" = add ] || fail "search.loss=add: got '$(value search.loss)'"
[ "$(value run.seed)" = 7 ] || fail "run.seed=7: got '$(value run.seed)'"
[ "$(value train.epochs)" = 15 ] || fail "train.epochs changed: '$(value train.epochs)'"
run 0 config --set search.lr=0.025 --set data.flip=true --set run.seed=18446744073709551615 \
  --set latency.kind=table --set latency.table=lut.yaml --set search.arch_mode=two
[ "$(value search.lr)" = 0.025 ] || fail "search.lr: got '$(value search.lr)'"
[ "$(value data.flip)" = true ] || fail "data.flip: got '$(value data.flip)'"
[ "$(value run.seed)" = 18446744073709551615 ] || fail "run.seed max: got '$(value run.seed)'"
[ "$(value search.arch_mode)" = two ] || fail "search.arch_mode: got '$(value search.arch_mode)'"
# A relative --set path is relative to the working directory.
[ "$(value latency.table)" = "\"$(pwd -P)/lut.yaml\"" ] || fail "latency.table: got '$(value latency.table)'"

# Relative paths in a file are relative to its folder; a later --set wins.
mkdir "$tmp/sub"
printf 'data:\n  dir: ./images\nlatency:\n  kind: table\n  table: "../lut.yaml"\nsearch: # nothing\n' \
  >"$tmp/sub/c.yaml"
run 0 config --config "$tmp/sub/c.yaml"
[ "$(value data.dir)" = "\"$tmp/sub/images\"" ] || fail "data.dir: got '$(value data.dir)'"
[ "$(value latency.table)" = "\"$tmp/sub/../lut.yaml\"" ] || fail "latency.table: got '$(value latency.table)'"
[ "$(value space.file)" = "\"$tmp/sub/fmnist-space.yaml\"" ] || fail "space.file: got '$(value space.file)'"
run 0 config --config "$tmp/sub/c.yaml" --set data.dir=/data
[ "$(value data.dir)" = '"/data"' ] || fail "data.dir override: got '$(value data.dir)'"

# Errors: exactly one line, exit 1, nothing on stdout.
expect_error config --set search.epoch=3 -- "--set search\.epoch: unknown key \(did you mean 'search\.epochs'\?\)$"
expect_error config --set search.bogus=3 -- "search\.bogus: unknown key \(expected one of: warmup_epochs, epochs,"
expect_error config --set serch.epochs=3 -- "unknown section 'serch'"
expect_error config --set search.epochs=-1 -- "search\.epochs: expected an integer from 1 to 100000, got -1$"
expect_error config --set search.epochs=2.5 -- "search\.epochs: expected an integer"
expect_error config --set search.loss=fast -- "search\.loss: expected one of none, add, mul-log, abs, got fast$"
expect_error config --set search.nesterov=yes -- "search\.nesterov: expected true or false, got yes$"
expect_error config --set search.lr=nan -- "search\.lr: expected a number >= 0, got nan$"
expect_error config --set data.std=0 -- "data\.std: expected a number > 0, got 0$"
expect_error config --set train.dropout=1 -- "train\.dropout: expected a number in \[0, 1\), got 1$"
expect_error config --set run.seed=-1 -- "run\.seed: expected an integer from 0 to 18446744073709551615"
expect_error config --set search.epochs -- "expected SECTION\.KEY=VALUE"
expect_error config --set search.loss=add --set search.target_ms=0 -- \
  "search\.target_ms: must be > 0 when search\.loss is add \(got 0\)$"
expect_error config --set latency.kind=table -- "latency\.table: must be set when latency\.kind is table$"
expect_error config --config "$tmp/missing.yaml" -- "^pnas: error: cannot open '$tmp/missing.yaml'"
expect_error config --config "$tmp/shipped.yaml" --config "$tmp/shipped.yaml" -- "more than one --config"
expect_error config --bogus -- "unknown option '--bogus'"

# config_error TEXT PATTERN: a file holding TEXT fails with PATTERN.
config_error() {
  printf "$1" >"$tmp/bad.yaml"
  expect_error config --config "$tmp/bad.yaml" -- "^pnas: error: $tmp/bad.yaml:$2"
}
config_error 'search:\n  epochs: 3\n  epoch: 4\n' "3: search\.epoch: unknown key \(did you mean 'epochs'\?\)$"
config_error 'search:\n  epochs: 3\n  epochs: 4\n' "3: search\.epochs: duplicate key \(first given on line 2\)$"
config_error 'run: {}\nfoo:\n  x: 1\n' "2: foo: unknown section \(expected one of: data, space, search, latency, train, run\)$"
config_error 'search:\n  epochs: "3"\n' '2: search\.epochs: expected an integer from 1 to 100000, got the string "3"$'
config_error 'search:\n  loss: fast\n' "2: search\.loss: expected one of none, add, mul-log, abs, got fast$"
config_error 'search:\n  nesterov: True\n' "2: search\.nesterov: expected true or false, got True$"
config_error 'search:\n  epochs: {a: {b: 1}}\n' "2: search\.epochs: expected an integer from 1 to 100000, got a mapping$"
config_error 'search:\n  epochs: 3\n lr: [1,\n' "3: YAML syntax error: "
config_error 'search:\n  epochs: "3\n' "3: YAML syntax error: found unexpected end of stream"
config_error 'search:\n  epochs: &x 3\n  warmup_epochs: *x\n' "3: aliases are not supported$"
config_error 'search:\n  epochs: !!int 3\n' "2: tags are not supported$"
config_error '# a list\n- 1\n- 2\n' "2: expected a mapping of sections"
config_error 'search: 3\n' "1: search: expected a mapping, got 3$"
config_error 'run: {}\n---\nrun: {}\n' "2: expected one document, found a second$"
config_error '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[' \
  "1: expected a mapping of sections"
config_error 'search:\n  \303(: 1\n' "2: YAML syntax error: "
# The cross-key error of a file is reported by the validation, without a line.
printf 'search:\n  loss: abs\n  target_ms: 0\n' >"$tmp/bad.yaml"
expect_error config --config "$tmp/bad.yaml" -- "^pnas: error: search\.target_ms: must be > 0 when search\.loss is abs"

# An empty file (or comments only) is the defaults, space.file resolved.
printf '# nothing\n' >"$tmp/sub/empty.yaml"
run 0 config --config "$tmp/sub/empty.yaml"
[ "$(value search.epochs)" = 6 ] || fail "empty file: search.epochs '$(value search.epochs)'"

run 0 config --help
grep -q "^usage: pnas config" "$tmp/out" || fail "config --help"
run 0 --help
grep -q "^  config " "$tmp/out" || fail "--help lists no config command"

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all pnas config checks passed"
