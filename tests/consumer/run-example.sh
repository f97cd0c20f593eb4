#!/bin/sh
# Installs the build into a temporary DESTDIR, then builds one example host
# out of tree through pkg-config only (cc for C, c++ for C++, as a user
# would), runs it for a few search steps on a small Fashion-MNIST subset and
# checks what it wrote by loading it back with load_arch.c, built the same way.
# Usage: run-example.sh BUILD_DIR c|cpp EXAMPLE_SOURCE LOAD_ARCH_SOURCE
# The data folder is $PNAS_FMNIST or /usr/share/datasets/fashion-mnist; the
# test is skipped (exit 77) when it is missing.
set -eu
build=$1
lang=$2
src=$3
loader=$4
data=${PNAS_FMNIST:-/usr/share/datasets/fashion-mnist}
[ -f "$data/train-images-idx3-ubyte.gz" ] || { echo "skip: no Fashion-MNIST in $data"; exit 77; }
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null
pc=$(find "$dest" -name libpnas.pc | head -n 1)
[ -n "$pc" ] || { echo "libpnas.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")"
prefix=$(pkg-config --variable=prefix libpnas)
pc_args="--define-variable=prefix=$dest$prefix"
cflags=$(pkg-config "$pc_args" --cflags libpnas)
libs=$(pkg-config "$pc_args" --libs libpnas)
libdir=$(pkg-config "$pc_args" --variable=libdir libpnas)
export LD_LIBRARY_PATH="$libdir"
# The machine may be busy with other tests: OpenMP threads that spin while
# they wait then turn a few seconds into a minute. Sleeping waits keep it short.
export OMP_WAIT_POLICY=passive

# The space file as installed with the pnas command (share/libpnas).
space="$dest$prefix/share/libpnas/fmnist-space.yaml"
[ -f "$space" ] || { echo "fmnist-space.yaml not installed at $space"; exit 1; }

${CC:-cc} -std=c11 -Wall -Wextra -Werror $cflags "$loader" -o "$dest/load_arch" $libs
arch="$dest/out/arch.yaml"
mkdir -p "$dest/out"
case $lang in
  c)
    ${CC:-cc} -std=c11 -Wall -Wextra -Werror $cflags "$src" -o "$dest/example" $libs
    # DATA SPACE OUT STEPS IMAGES
    "$dest/example" "$data" "$space" "$arch" 8 1000
    "$dest/load_arch" "$arch"
    ;;
  cpp)
    [ -f "$dest$prefix/include/pnas/pnas.hpp" ] || { echo "pnas/pnas.hpp not installed"; exit 1; }
    ${CXX:-c++} -std=c++17 -Wall -Wextra -Werror $cflags "$src" -o "$dest/example" $libs
    "$dest/example" --data "$data" --space "$space" --steps 8 --images 1000 \
      --held-per-class 20 --batch 32 --warmup 2 --arch-every 2 --threads 1 \
      --latency callback --out "$arch" --net-config "$dest/out/net.config"
    # The net.config export must describe the same network as the YAML.
    "$dest/load_arch" "$arch" "$dest/out/net.config"
    ;;
  *)
    echo "unknown language '$lang'"; exit 2 ;;
esac
echo "ok: $lang example built with '$cflags $libs' and its output loads"
