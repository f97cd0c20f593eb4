#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A complete ProxylessNAS search driven from Python, step by step.

The host owns everything around the library: it reads Fashion-MNIST itself
(gzip + numpy), normalises and batches it, prices operations with its own
Python latency function, and drives the low-level steps of the supernet:

    sample -> forward -> cross-entropy in numpy -> backward -> sgd_step   (weights)
    arch_gradient -> (all-reduce point) -> arch_update                    (alpha)
    prune -> derive -> price the derived architecture

    python3 search_loop.py [--data DIR] [--images N] [--steps N] [--batch N]
                           [--arch-every K] [--warmup N] [--target MS]
                           [--space FILE] [--threads N] [--seed S] [--out ARCH.yaml]

Run from a build tree with PYTHONPATH=bindings/python and
PNAS_LIBRARY=<build>/lib/libpnas.so.1 (see docs/python.md).
"""
import argparse
import gzip
import os
import struct
import sys
import time

import numpy as np

import pnas

FMNIST_MEAN, FMNIST_STD = 0.2860, 0.3530
OPS = ["mbconv3x3_e3", "mbconv3x3_e6", "mbconv5x5_e3", "mbconv5x5_e6", "mbconv7x7_e3",
       "mbconv7x7_e6", "zero"]


def read_idx_gz(path, limit=None):
    """Reads a gzip IDX file of unsigned bytes into a numpy array.

    Only the first ``limit`` items are decompressed when ``limit`` is given.
    """
    with gzip.open(path, "rb") as f:
        zero, dtype, ndim = struct.unpack(">HBB", f.read(4))
        if zero != 0 or dtype != 0x08:
            raise ValueError("%s: not an IDX file of unsigned bytes" % path)
        dims = list(struct.unpack(">%dI" % ndim, f.read(4 * ndim)))
        if limit is not None:
            dims[0] = min(dims[0], limit)
        count = int(np.prod(dims))
        data = f.read(count)
        if len(data) != count:
            raise ValueError("%s: truncated (%d of %d bytes)" % (path, len(data), count))
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def load_fashion_mnist(folder, split, limit):
    """(images float32 (N, 28, 28, 1) normalised, labels int32 (N,)) of a split."""
    images = read_idx_gz(os.path.join(folder, "%s-images-idx3-ubyte.gz" % split), limit)
    labels = read_idx_gz(os.path.join(folder, "%s-labels-idx1-ubyte.gz" % split), limit)
    x = (images.astype(np.float32) / 255.0 - FMNIST_MEAN) / FMNIST_STD
    return x[..., np.newaxis], labels.astype(np.int32)


def balanced_split(labels, per_class, rng):
    """Indices (rest, held_out) with ``per_class`` random held-out images per class."""
    held = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        held.extend(rng.choice(members, size=min(per_class, len(members) - 1), replace=False))
    held = np.sort(np.array(held, dtype=np.int64))
    rest = np.setdiff1d(np.arange(len(labels)), held)
    return rest, held


def batches(x, y, batch, rng):
    """Endless shuffled (images, labels) batches of ``batch`` images (C-contiguous)."""
    while True:
        order = rng.permutation(len(y))
        for start in range(0, len(order) - batch + 1, batch):
            idx = order[start:start + batch]
            yield np.ascontiguousarray(x[idx]), np.ascontiguousarray(y[idx])


def device_latency_ms(query):
    """The host's own latency model of a made-up device, in ms.

    Compute at 50 GMAC/s, activation traffic at 4 GB/s, a fixed launch cost
    per part, and a penalty for large depthwise kernels, which this device
    runs badly. ``query`` is a pnas.LatencyQuery: the part, its shape and
    its key in the official latency-table format.
    """
    b = query.block
    ms = 0.005 + b.macs / 50e6
    activations = b.in_height * b.in_width * b.in_channels
    activations += b.out_height * b.out_width * b.out_channels
    ms += 4.0 * activations / 4e6
    if query.part == pnas.LatencyPart.BLOCK:
        ms += 0.004 * (b.kernel - 3) * b.expand
    return ms


def build_space(ctx, path):
    """The search space: a YAML file, or the Fashion-MNIST reference space built in Python."""
    if path:
        return pnas.Space.load_yaml(ctx, path)
    space = pnas.Space(ctx, input_height=28, input_width=28, input_channels=1, classes=10,
                       stem_channels=16, stem_kernel=3, stem_stride=1,
                       first_block_channels=8, head_channels=256, dropout=0.0)
    for width, stride in ((24, 2), (40, 2), (80, 1), (96, 1)):
        space.add_stage(width, 2, stride, OPS)
    return space


def weight_step(sn, images, labels):
    """Low-level weight step: sample a path, forward, numpy loss, backward, SGD."""
    sn.sample()
    logits = sn.forward(images, training=pnas.ForwardMode.TRAIN)
    loss, dlogits = pnas.cross_entropy(logits, labels)
    sn.backward(dlogits)
    sn.sgd_step()
    accuracy = float(np.mean(np.argmax(logits, axis=1) == labels))
    return loss, accuracy


def arch_step(sn, images, labels):
    """Low-level arch step: compute the alpha gradient, then apply Adam.

    Between the two calls a data-parallel host would all-reduce the
    gradients read with alpha_grad() and write them back; here we only
    report their size.
    """
    stats = sn.arch_gradient(images, labels)
    norm = float(np.sqrt(sum(np.sum(sn.alpha_grad(i) ** 2) for i in range(sn.layers))))
    sn.arch_update()
    return stats, norm


def parse_args(argv):
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist",
                   help="folder of the Fashion-MNIST IDX .gz files")
    p.add_argument("--images", type=int, default=None,
                   help="use only the first N training images (default: all)")
    p.add_argument("--held-out", type=int, default=100, help="held-out images per class")
    p.add_argument("--steps", type=int, default=600, help="weight steps")
    p.add_argument("--batch", type=int, default=64, help="images per batch")
    p.add_argument("--arch-every", type=int, default=5, help="an arch step every K steps")
    p.add_argument("--warmup", type=int, default=100, help="weight steps before arch steps")
    p.add_argument("--lr", type=float, default=0.05, help="initial weight learning rate")
    p.add_argument("--target", type=float, default=1.0, help="target latency (ms)")
    p.add_argument("--lam", type=float, default=0.1, help="lambda of the 'add' latency loss")
    p.add_argument("--prune-threshold", type=float, default=0.02,
                   help="prune candidates below this probability (0: never)")
    p.add_argument("--space", default=None, help="search space YAML (default: built here)")
    p.add_argument("--threads", type=int, default=None, help="threads (default: all)")
    p.add_argument("--seed", type=int, default=1, help="random seed")
    p.add_argument("--out", default=None, help="save the derived architecture (YAML)")
    p.add_argument("--log-every", type=int, default=100, help="print every N steps")
    return p.parse_args(argv)


def main(argv=None):
    """Runs the search; returns the process exit status."""
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    x, y = load_fashion_mnist(args.data, "train", args.images)
    rest, held = balanced_split(y, args.held_out, rng)
    print("data: %d training images, %d held out" % (len(rest), len(held)))
    train = batches(x[rest], y[rest], args.batch, rng)
    valid = batches(x[held], y[held], min(args.batch, len(held)), rng)

    with pnas.Context(threads=args.threads, seed=args.seed) as ctx:
        space = build_space(ctx, args.space)
        sn = pnas.Supernet(ctx, space, max_batch=args.batch)
        model = pnas.LatencyModel.from_callable(ctx, device_latency_ms)
        sn.set_latency_model(model)
        sn.set_search(loss_form="add", target_ms=args.target, lam=args.lam, arch_lr=6e-3,
                      prune_threshold=args.prune_threshold, prune_patience=20)
        e_start = sn.expected_latency()
        print("supernet: %d layers, %d candidates, E[LAT]=%.3f ms"
              % (sn.layers, sn.info.candidates, e_start))

        t0 = time.monotonic()
        pruned = 0
        losses, accs = [], []
        for step in range(args.steps):
            sn.set_lr(pnas.lr_cosine(args.lr, step, args.steps))
            images, labels = next(train)
            loss, acc = weight_step(sn, images, labels)
            losses.append(loss)
            accs.append(acc)
            if step >= args.warmup and step % args.arch_every == args.arch_every - 1:
                held_images, held_labels = next(valid)
                stats, norm = arch_step(sn, held_images, held_labels)
                pruned += sn.prune()
            if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
                print("step %d: loss %.4f acc %.3f E[LAT]=%.3f ms pruned %d (%.1f s)"
                      % (step + 1, np.mean(losses), np.mean(accs), sn.expected_latency(),
                         pruned, time.monotonic() - t0))
                losses, accs = [], []
                sys.stdout.flush()

        arch = sn.derive()
        names = ["id" if b.kind == pnas.BlockKind.IDENTITY else "k%de%d" % (b.kernel, b.expand)
                 for b in arch.blocks]
        derived_ms = model.arch_latency(arch)
        if args.out:
            arch.save_yaml(args.out)
        print("blocks: " + " ".join(names))
        print("result: steps=%d E_start=%.6f E_end=%.6f derived_latency_ms=%.3f macs=%d "
              "pruned=%d seconds=%.1f"
              % (args.steps, e_start, sn.expected_latency(), derived_ms, arch.info.macs, pruned,
                 time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except pnas.Error as e:
        print("search_loop: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(1)
