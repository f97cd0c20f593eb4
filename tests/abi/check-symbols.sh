#!/bin/sh
# Symbol-leak test: the shared library exports exactly the global symbols of
# the linker version script, every one named pnas_* and versioned PNAS_*.
# Usage: check-symbols.sh LIBRARY VERSION_SCRIPT
set -eu
lib=$1
map=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' \
  | grep -v '^PNAS_[0-9.]*$' | sed 's/@.*//' | sort -u >"$tmp/exported"
# The names between "global:" and "local:" in every node.
grep -E "^[[:space:]]*pnas_[A-Za-z0-9_]+;" "$map" \
  | tr -d ' \t;' | grep -v '^$' | sort -u >"$tmp/listed"

status=0
if ! diff -u "$tmp/listed" "$tmp/exported" >"$tmp/diff"; then
  echo "exported symbols differ from $map ('-' listed but not exported, '+' leaked):"
  cat "$tmp/diff"
  status=1
fi
if grep -v '^pnas_' "$tmp/exported"; then
  echo "the symbols above are exported but not named pnas_*"
  status=1
fi
unversioned=$(objdump -T "$lib" | awk '$2 == "g" && $NF ~ /^pnas_/ && $(NF-1) !~ /PNAS_/ {print $NF}')
if [ -n "$unversioned" ]; then
  echo "exported without a PNAS_ version: $unversioned"
  status=1
fi
count=$(wc -l <"$tmp/exported")
[ "$status" -eq 0 ] && echo "ok: $count symbols, all pnas_*, all versioned PNAS_*"
exit "$status"
