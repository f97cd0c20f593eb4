#!/usr/bin/env python3
"""Writes the hand-made fuzz seeds into tests/fuzz/corpus/<target>/.

Copies the shipped examples and fixtures, and builds small valid and
near-valid inputs for every parser: IDX files (plain and gzip, in the
fuzz-idx input layout), PNG images (gray, RGB, interlaced, and the kinds
the loader refuses), configuration files and YAML/JSON edge cases. The seeds
that only the library can make (checkpoints, network files, a priced
latency table) come from make_seeds.c. Usage: make_seeds.py [CORPUS_DIR]
"""
import gzip
import os
import shutil
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")


def put(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def copy(target, name, source):
    with open(os.path.join(ROOT, source), "rb") as f:
        put(target, name, f.read())


# ---- IDX ------------------------------------------------------------------

def idx(dims, payload):
    return struct.pack(">BBBB", 0, 0, 8, len(dims)) + b"".join(
        struct.pack(">I", d) for d in dims) + bytes(payload)


def idx_input(images, labels, flags=0):
    """The fuzz-idx layout: flags, u16 little-endian image length, images, labels."""
    return struct.pack("<BH", flags, len(images)) + images + labels


def idx_seeds():
    pixels = [(7 * i) % 256 for i in range(2 * 4 * 4)]
    gray = idx([2, 4, 4], pixels)
    labels = idx([2], [0, 1])
    put("idx", "gray-2x4x4", idx_input(gray, labels))
    put("idx", "gray-2x4x4-gzip-by-target", idx_input(gray, labels, flags=3))
    rgb = idx([2, 3, 3, 3], [(5 * i) % 256 for i in range(2 * 27)])
    put("idx", "rgb-2x3x3x3", idx_input(rgb, idx([2], [3, 9])))
    put("idx", "gzip-files", idx_input(gzip.compress(gray, mtime=0),
                                       gzip.compress(labels, mtime=0)))
    two_members = gzip.compress(gray[:10], mtime=0) + gzip.compress(gray[10:], mtime=0)
    put("idx", "gzip-two-members", idx_input(two_members, labels))
    put("idx", "gzip-trailing-garbage",
        idx_input(gzip.compress(gray, mtime=0) + b"\x00junk", labels))
    put("idx", "gzip-truncated", idx_input(gzip.compress(gray, mtime=0)[:-6], labels))
    put("idx", "truncated-payload", idx_input(gray[:-3], labels))
    put("idx", "count-mismatch", idx_input(gray, idx([3], [0, 1, 2])))
    put("idx", "wrong-type", idx_input(b"\x00\x00\x0d\x03" + gray[4:], labels))
    put("idx", "huge-header", idx_input(idx([0xFFFFFFFF, 65536, 65536], []), labels))
    fmnist = idx([3, 28, 28], [(x * y) % 256 for _ in range(3) for y in range(28)
                              for x in range(28)])
    put("idx", "fmnist-like-3", idx_input(fmnist, idx([3], [9, 0, 0]), flags=1))


# ---- PNG ------------------------------------------------------------------

def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png(width, height, color, rows, depth=8, interlace=0, extra=b""):
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, interlace)
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def adam7_rows(pixels, width, height, channels):
    """Rows of the seven Adam7 passes, each row as filter type 0 + bytes."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
              (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    rows = []
    for x0, y0, dx, dy in passes:
        for y in range(y0, height, dy):
            row = []
            for x in range(x0, width, dx):
                row += pixels[(y * width + x) * channels:(y * width + x + 1) * channels]
            if row:
                rows.append(row)
    return rows


def png_seeds():
    gray = [[(x * 40 + y * 9) % 256 for x in range(4)] for y in range(4)]
    put("png-folder", "gray-4x4.png", png(4, 4, 0, gray))
    rgb = [[(x * 3 + c * 70 + y) % 256 for x in range(3) for c in range(3)] for y in range(3)]
    put("png-folder", "rgb-3x3.png", png(3, 3, 2, rgb))
    flat = [(i * 13) % 256 for i in range(9 * 9)]
    rows = adam7_rows(flat, 9, 9, 1)
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    ihdr = struct.pack(">IIBBBBB", 9, 9, 8, 0, 0, 0, 1)
    put("png-folder", "gray-9x9-interlaced.png",
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) +
        chunk(b"IEND", b""))
    text = chunk(b"tEXt", b"Comment\x00seed") + chunk(b"gAMA", struct.pack(">I", 45455))
    put("png-folder", "gray-with-chunks.png", png(4, 4, 0, gray, extra=text))
    palette = chunk(b"PLTE", bytes(range(12)))
    put("png-folder", "palette.png", png(2, 2, 3, [[0, 1], [2, 3]], extra=palette))
    put("png-folder", "gray-alpha.png", png(2, 2, 4, [[1, 2, 3, 4], [5, 6, 7, 8]]))
    put("png-folder", "gray-16bit.png", png(2, 2, 0, [[0, 1, 2, 3], [4, 5, 6, 7]], depth=16))
    good = png(4, 4, 0, gray)
    put("png-folder", "truncated.png", good[:len(good) - 20])
    bad_crc = bytearray(good)
    bad_crc[29] ^= 0xFF  # inside the IHDR CRC
    put("png-folder", "bad-crc.png", bytes(bad_crc))
    put("png-folder", "huge-header.png", png(70000, 1, 0, [[0]]))


# ---- YAML and JSON texts -----------------------------------------------------

def text_seeds():
    copy("space-yaml", "fmnist-space.yaml", "examples/configs/fmnist-space.yaml")
    copy("space-yaml", "imagenet-space.yaml", "examples/configs/imagenet-space.yaml")
    put("space-yaml", "official-names.yaml",
        "format: pnas-space/1\ninput: [16, 16, 3]\nclasses: 4\n"
        "stem: {channels: 8, kernel: 3, stride: 2}\n"
        "stages:\n  - {width: 8, depth: 2, stride: 1, ops: [3x3_MBConv3, 5x5_MBConv6, Zero]}\n")
    put("space-yaml", "no-stages.yaml",
        "format: pnas-space/1\ninput: [8, 8, 1]\nclasses: 2\n"
        "stem: {channels: 4, kernel: 1, stride: 1}\nstages: []\nhead: {channels: 0}\n")
    put("space-yaml", "only-zero.yaml",
        "format: pnas-space/1\ninput: [8, 8, 1]\nclasses: 2\n"
        "stem: {channels: 4, kernel: 3, stride: 1}\n"
        "stages:\n  - {width: 4, depth: 1, stride: 1, ops: [zero]}\n")

    copy("arch-yaml", "fmnist-k3e3.yaml", "examples/configs/baselines/fmnist-k3e3.yaml")
    copy("arch-yaml", "search_arch.yaml", "tests/fixtures/cli/search_arch.yaml")
    copy("arch-yaml", "mobile_space.yaml", "tests/fixtures/arch/mobile_space.yaml")
    put("arch-yaml", "no-blocks.yaml",
        "format: pnas-arch/1\ninput: [4, 4, 1]\nclasses: 2\n"
        "stem: {channels: 2, kernel: 3, stride: 2}\nblocks: []\nhead: {channels: 0}\n")
    put("arch-yaml", "anchors.yaml",
        "format: pnas-arch/1\ninput: &i [4, 4, 1]\nclasses: 2\n"
        "stem: {channels: 2, kernel: 3, stride: 1}\nblocks: [*i]\nhead: {channels: 4}\n")

    copy("net-config", "proxyless_mobile.config", "tests/fixtures/proxylessnas/proxyless_mobile.config")
    copy("net-config", "proxyless_gpu.config", "tests/fixtures/proxylessnas/proxyless_gpu.config")
    with open(os.path.join(CORPUS, "net-config", "tiny.config"), "rb") as f:
        put("net-config", "tiny-28.config", f.read() + b"\n")
    put("net-config", "empty-object.config", "{}\n")

    copy("latency-table", "mobile_trim.yaml", "tests/fixtures/proxylessnas/mobile_trim.yaml")
    put("latency-table", "empty.yaml", "{}\n")
    put("latency-table", "quoted-key.yaml",
        '"a key: with spaces":\n  mean: 1.5\n"null":\n  mean: 0\n')
    put("latency-table", "missing-mean.yaml", "Conv-input:28x28x1-output:28x28x16:\n  count: 3\n")
    put("latency-table", "duplicate.yaml",
        "Logits-input:7x7x64-output:10: {mean: 0.1}\nLogits-input:7x7x64-output:10: {mean: 0.2}\n")

    copy("config", "fmnist.yaml", "examples/configs/fmnist.yaml")
    put("config", "empty.yaml", "")
    put("config", "empty-mapping.yaml", "{}\n")
    put("config", "relative-paths.yaml",
        "data: {dir: data, train_limit: 100, mean: 0.5, std: 0.25, flip: true}\n"
        "space: {file: space.yaml}\n"
        "latency: {kind: table, table: ../table.yaml}\n"
        "search: {loss: mul-log, target_ms: 2.5, arch_mode: two, prune_threshold: 0.05}\n"
        "run: {threads: 2, seed: 18446744073709551615}\n")
    put("config", "duplicate.yaml", "train:\n  epochs: 3\n  epochs: 4\n")
    put("config", "alias.yaml", "train: &t {epochs: 3}\nsearch: *t\n")
    put("config", "unknown.yaml", "search:\n  arch_lrr: 0.1\n")


def main():
    idx_seeds()
    png_seeds()
    text_seeds()


if __name__ == "__main__":
    main()
