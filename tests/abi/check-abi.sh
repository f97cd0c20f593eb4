#!/bin/sh
# Compares the built library's ABI with the committed baseline. Fails on any
# change to an existing function or type; added functions are allowed
# (--no-added-syms), since nodes of the version script only grow.
# Usage: check-abi.sh LIBRARY ABI_FOLDER
set -eu
lib=$1
dir=$2
abidiff --no-added-syms --suppressions "$dir/suppressions.txt" \
  --headers-dir2 "$dir/../../include" "$dir/libpnas.abi" "$lib"
echo "ok: ABI compatible with $dir/libpnas.abi"
