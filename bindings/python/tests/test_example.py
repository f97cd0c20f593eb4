# SPDX-License-Identifier: MIT
"""examples/search_loop.py runs a few steps end to end."""
import gzip
import os
import re
import struct
import subprocess
import sys
import tempfile
import unittest

import numpy as np

import pnas

from . import support

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "search_loop.py")


def write_idx_gz(path, array):
    """Writes a uint8 array as a gzip IDX file."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim)
    header += struct.pack(">%dI" % array.ndim, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


class SearchLoopExample(unittest.TestCase):
    """The example: own data pipeline, own latency function, low-level steps."""

    def data_folder(self, tmp):
        """Fashion-MNIST if installed, else a small synthetic set in the same format."""
        if os.path.exists(os.path.join(support.FMNIST, "train-images-idx3-ubyte.gz")):
            return support.FMNIST
        rng = np.random.default_rng(0)
        write_idx_gz(os.path.join(tmp, "train-images-idx3-ubyte.gz"),
                     rng.integers(0, 256, size=(300, 28, 28)))
        write_idx_gz(os.path.join(tmp, "train-labels-idx1-ubyte.gz"), np.arange(300) % 10)
        return tmp

    def test_runs_a_few_steps(self):
        """Four weight steps, two arch steps, prune, derive, save the architecture."""
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "arch.yaml")
            cmd = [sys.executable, EXAMPLE, "--data", self.data_folder(tmp), "--images", "300",
                   "--held-out", "5", "--steps", "4", "--batch", "16", "--arch-every", "2",
                   "--warmup", "0", "--threads", "1", "--log-every", "2", "--out", out]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("data: 250 training images, 50 held out", r.stdout)
            m = re.search(r"result: steps=4 E_start=([\d.]+) E_end=([\d.]+) "
                          r"derived_latency_ms=([\d.]+)", r.stdout)
            self.assertIsNotNone(m, r.stdout)
            e_start, e_end, derived = (float(v) for v in m.groups())
            self.assertGreater(e_start, 0)
            # Two arch steps move alpha by about the learning rate: E[LAT] moves
            # in the fourth decimal, which the six printed ones resolve.
            self.assertNotEqual(e_start, e_end)
            self.assertGreater(derived, 0)
            with support.context() as ctx:
                arch = pnas.Arch.load_yaml(ctx, out)
                self.assertEqual(len(arch), 9)        # first block + 8 searched layers
                self.assertEqual(arch.info.classes, 10)


if __name__ == "__main__":
    unittest.main()
