#!/bin/sh
# Installs the build into a temporary DESTDIR, then compiles, links (through
# pkg-config only) and runs consumer.c against that installation.
# Usage: run-consumer.sh BUILD_DIR CONSUMER_SOURCE
set -eu
build=$1
src=$2
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null
pc=$(find "$dest" -name libpnas.pc | head -n 1)
[ -n "$pc" ] || { echo "libpnas.pc was not installed"; exit 1; }
[ -f "$(find "$dest" -path '*/include/pnas/pnas.h' | head -n 1)" ] || { echo "pnas/pnas.h not installed"; exit 1; }
[ -f "$(find "$dest" -path '*/include/pnas/version.h' | head -n 1)" ] || { echo "pnas/version.h not installed"; exit 1; }

# The .pc file names the real prefix; point it into DESTDIR instead.
export PKG_CONFIG_PATH="$(dirname "$pc")"
prefix=$(pkg-config --variable=prefix libpnas)
pc_args="--define-variable=prefix=$dest$prefix"
cflags=$(pkg-config "$pc_args" --cflags libpnas)
libs=$(pkg-config "$pc_args" --libs libpnas)
libdir=$(pkg-config "$pc_args" --variable=libdir libpnas)
${CC:-cc} -std=c11 -Wall -Wextra -Werror $cflags "$src" -o "$dest/consumer" $libs
soname=$(readelf -d "$libdir/libpnas.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libpnas.so.1" ] || { echo "SONAME is '$soname', expected libpnas.so.1"; exit 1; }
LD_LIBRARY_PATH="$libdir" "$dest/consumer"
echo "ok: consumer built with '$cflags $libs' and ran against $libdir/libpnas.so.1"
