#!/bin/sh
# Installs, with apt-get, the Debian 12 packages that building and testing
# libpnas need and that are missing. Installs nothing when all are present.
# Usage: tests/install-deps.sh [EXTRA_PACKAGE...]
set -eu
packages="meson ninja-build pkg-config gcc g++ binutils python3
libblis-openmp-dev libpng-dev libyaml-dev zlib1g-dev libcairo2-dev
clang libclang-rt-dev libomp-dev
check abigail-tools valgrind doxygen dataset-fashion-mnist python3-numpy $*"

missing=""
for p in $packages; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
  esac
done
[ -z "$missing" ] && exit 0

echo "installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
  echo "error: these packages are missing and installing them needs root:$missing" >&2
  echo "       run: sudo apt-get install$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086 # word splitting of the list is intended
apt-get install -y -q --no-install-recommends $missing >/dev/null
