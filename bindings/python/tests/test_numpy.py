# SPDX-License-Identifier: MIT
"""numpy arrays in and out: dtypes, shapes, contiguity and ownership."""
import unittest

import numpy as np

import pnas
from pnas import _core

from . import support


class Inputs(support.TestCase):
    """Batches and labels are checked and converted with clear errors."""

    def setUp(self):
        """A tiny supernet on the active path 0."""
        super().setUp()
        _, self.sn = support.tiny(self.ctx)
        self.sn.active_path = [0, 0, 0, 0]
        self.x, self.y = support.batch()

    def test_float32_contiguous_is_not_copied(self):
        """A C-contiguous float32 batch is passed as it is (read in place)."""
        self.assertIs(_core.float_batch(self.x, (8, 8, 1)), self.x)
        labels = self.y.astype(np.int32)
        self.assertIs(_core.label_batch(labels, 8), labels)

    def test_conversions_give_the_same_result(self):
        """float64, non-contiguous and (N, H, W) batches give the same logits."""
        ref = self.sn.forward(self.x)
        np.testing.assert_array_equal(self.sn.forward(self.x.astype(np.float64)), ref)
        wide = np.zeros((8, 8, 16, 1), dtype=np.float32)
        wide[:, :, ::2, :] = self.x
        strided = wide[:, :, ::2, :]
        self.assertFalse(strided.flags.c_contiguous)
        np.testing.assert_array_equal(self.sn.forward(strided), ref)
        np.testing.assert_array_equal(self.sn.forward(self.x[..., 0]), ref)

    def test_integer_images_refused(self):
        """uint8 images are refused with a message saying to convert them."""
        with self.assertRaises(TypeError) as cm:
            self.sn.forward(np.zeros((2, 8, 8, 1), dtype=np.uint8))
        self.assertIn("float32", str(cm.exception))

    def test_wrong_shape_refused(self):
        """A batch of another image shape names the expected one."""
        with self.assertRaises(ValueError) as cm:
            self.sn.forward(np.zeros((2, 28, 28, 1), dtype=np.float32))
        self.assertIn("(batch, 8, 8, 1)", str(cm.exception))
        with self.assertRaises(ValueError):
            self.sn.forward(np.zeros((0, 8, 8, 1), dtype=np.float32))

    def test_labels_checked(self):
        """Labels must be integers, one per image; out-of-range is the library's error."""
        with self.assertRaises(TypeError):
            self.sn.train_step(self.x, self.y.astype(np.float32))
        with self.assertRaises(ValueError) as cm:
            self.sn.train_step(self.x, self.y[:4])
        self.assertIn("(8,)", str(cm.exception))
        with self.assertRaises(pnas.InvalidArgumentError) as cm:
            self.sn.train_step(self.x, np.full(8, 7))
        self.assertIn("label", str(cm.exception))
        stats = self.sn.train_step(self.x, list(self.y))       # lists of ints work too
        self.assertEqual(stats.images, 8)

    def test_batch_above_max_is_library_error(self):
        """A batch larger than max_batch is the library's InvalidArgumentError."""
        x = np.zeros((9, 8, 8, 1), dtype=np.float32)
        with self.assertRaises(pnas.InvalidArgumentError):
            self.sn.forward(x)

    def test_dlogits_checked(self):
        """backward needs (batch, classes) floats."""
        self.sn.forward(self.x, training=True)
        with self.assertRaises(ValueError):
            self.sn.backward(np.zeros((8, 4), dtype=np.float32))
        self.sn.backward(np.zeros((8, 3)))


class Outputs(support.TestCase):
    """Arrays returned are float32/int32 copies owned by Python."""

    def test_outputs_own_their_memory(self):
        """Logits, alpha, probabilities and the active path are fresh arrays."""
        _, sn = support.tiny(self.ctx)
        x, _ = support.batch()
        for arr, dtype in ((sn.forward(x), np.float32), (sn.alpha(1), np.float32),
                           (sn.probabilities(1), np.float32), (sn.alpha_grad(1), np.float32),
                           (sn.active_path, np.int32)):
            self.assertEqual(arr.dtype, dtype)
            self.assertTrue(arr.flags.owndata)
        self.assertAlmostEqual(float(sn.probabilities(1).sum()), 1.0, places=6)

    def test_set_alpha_length_checked(self):
        """set_alpha with the wrong count is the library's InvalidArgumentError."""
        _, sn = support.tiny(self.ctx)
        with self.assertRaises(pnas.InvalidArgumentError):
            sn.set_alpha(1, [0.0, 1.0])


if __name__ == "__main__":
    unittest.main()
