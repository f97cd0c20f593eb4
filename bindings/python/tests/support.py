# SPDX-License-Identifier: MIT
"""Shared helpers of the Python tests: paths, a tiny search space, random batches."""
import os
import unittest

import numpy as np

import pnas

#: The repository's root (PNAS_SOURCE_ROOT, else two folders above bindings/python).
SOURCE_ROOT = os.environ.get("PNAS_SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", ".."))
#: tests/fixtures of the repository.
TEST_DATA = os.environ.get("PNAS_TEST_DATA") or os.path.join(SOURCE_ROOT, "tests", "fixtures")
#: Fashion-MNIST as Debian's dataset-fashion-mnist installs it.
FMNIST = "/usr/share/datasets/fashion-mnist"

#: An 8x8x1 space with 3 classes and 4 searched layers (2, 3, 3, 3 candidates),
#: small enough that a step takes milliseconds.
TINY_SPACE = """\
format: pnas-space/1
input: [8, 8, 1]
classes: 3
stem: {channels: 4, kernel: 3, stride: 1}
first_block: {channels: 4}
stages:
  - {width: 8, depth: 2, stride: 2, ops: [mbconv3x3_e3, mbconv5x5_e3, zero]}
  - {width: 8, depth: 2, stride: 1, ops: [mbconv3x3_e3, mbconv3x3_e6, zero]}
head: {channels: 16}
dropout: 0.0
"""


def context(**options):
    """A one-thread context with seed 1 (deterministic, light on the machine)."""
    options.setdefault("threads", 1)
    options.setdefault("seed", 1)
    return pnas.Context(**options)


def batch(n=8, shape=(8, 8, 1), classes=3, seed=0):
    """A random float32 NHWC batch and int32 labels whose class shows in the mean."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n).astype(np.int32)
    images = rng.normal(size=(n,) + shape).astype(np.float32)
    images += labels.reshape(-1, 1, 1, 1).astype(np.float32)
    return images, labels


def tiny(ctx, **options):
    """(space, supernet) of TINY_SPACE."""
    space = pnas.Space.parse_yaml(ctx, TINY_SPACE)
    options.setdefault("max_batch", 8)
    return space, pnas.Supernet(ctx, space, **options)


class TestCase(unittest.TestCase):
    """A TestCase with a one-thread context in ``self.ctx``, closed afterwards."""

    def setUp(self):
        """Creates the context."""
        self.ctx = context()

    def tearDown(self):
        """Closes the context and everything made from it."""
        self.ctx.close()
