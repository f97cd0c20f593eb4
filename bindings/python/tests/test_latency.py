# SPDX-License-Identifier: MIT
"""A latency model written in Python, passed to the library as its host callback."""
import gc
import math
import unittest

import numpy as np

import pnas

from . import support

STEM_MS, HEAD_MS, LOGITS_MS = 1.0, 2.0, 0.5


def price(query):
    """A made-up device: blocks cost kernel * expand / 10 ms, fixed parts constants."""
    if query.part == pnas.LatencyPart.STEM:
        return STEM_MS
    if query.part == pnas.LatencyPart.HEAD:
        return HEAD_MS
    if query.part == pnas.LatencyPart.LOGITS:
        return LOGITS_MS
    return query.block.kernel * query.block.expand / 10.0


class PythonLatency(support.TestCase):
    """The callback is called, its values reach E[LAT], and failures are statuses."""

    def setUp(self):
        """A tiny supernet."""
        super().setUp()
        self.space, self.sn = support.tiny(self.ctx)
        self.queries = []

    def recording(self, query):
        """``price`` that remembers every query."""
        self.queries.append(query)
        return price(query)

    def test_callback_reaches_expected_latency(self):
        """E[LAT] = fixed parts + sum over layers of p_i * price_i (zero costs 0)."""
        model = pnas.LatencyModel.from_callable(self.ctx, self.recording)
        self.sn.set_latency_model(model)
        parts = {q.part for q in self.queries}
        self.assertEqual(parts, set(pnas.LatencyPart))
        self.assertTrue(all(q.key for q in self.queries))
        self.assertTrue(any(q.key.startswith("expanded_conv-input:4x4x8-output:4x4x8")
                            for q in self.queries))
        first_block = 3 * 1 / 10.0          # the fixed MBConv(3, 1)
        expected = STEM_MS + first_block + HEAD_MS + LOGITS_MS
        for layer in range(self.sn.layers):
            p = self.sn.probabilities(layer).astype(np.float64)
            cost = [0.0 if op.kind == pnas.OpKind.ZERO else op.kernel * op.expand / 10.0
                    for op in self.sn.ops(layer)]
            expected += float(np.dot(p, cost))
        self.assertAlmostEqual(self.sn.expected_latency(), expected, places=5)
        # The arch step reports the same E[LAT] after its update.
        self.sn.set_search(loss_form="add", target_ms=5.0, arch_lr=0.05)
        stats = self.sn.arch_step(*support.batch())
        self.assertAlmostEqual(stats.expected_latency_ms, self.sn.expected_latency(), places=5)

    def test_arch_and_block_latency(self):
        """The model prices a derived architecture and a single block."""
        model = pnas.LatencyModel.from_callable(self.ctx, price)
        arch = self.sn.derive()
        expected = STEM_MS + HEAD_MS + LOGITS_MS + sum(
            b.kernel * b.expand / 10.0 for b in arch.blocks if b.kind == pnas.BlockKind.MBCONV)
        self.assertAlmostEqual(model.arch_latency(arch), expected, places=9)
        ms = model.block_latency(in_channels=8, out_channels=8, kernel=5, expand=6, stride=1,
                                 in_height=4, in_width=4)
        self.assertAlmostEqual(ms, 3.0)

    def test_exception_becomes_status(self):
        """An exception in the callback is NotFoundError naming the key, chained to it."""
        asked = []

        def broken(query):
            """Fails for every query."""
            asked.append(query.key)
            raise RuntimeError("device offline")
        model = pnas.LatencyModel.from_callable(self.ctx, broken)
        with self.assertRaises(pnas.NotFoundError) as cm:
            self.sn.set_latency_model(model)
        self.assertEqual(len(asked), 1)
        self.assertIn("key '%s'" % asked[0], str(cm.exception))
        self.assertIsInstance(cm.exception.__cause__, RuntimeError)
        self.assertEqual(str(cm.exception.__cause__), "device offline")
        # The supernet is unchanged: still no latency model.
        with self.assertRaises(pnas.StateError):
            self.sn.expected_latency()
        with self.assertRaises(pnas.NotFoundError):
            model.arch_latency(self.sn.derive())

    def test_non_number_becomes_status(self):
        """A callback returning None: NotFoundError caused by the TypeError."""
        model = pnas.LatencyModel.from_callable(self.ctx, lambda q: None)
        with self.assertRaises(pnas.NotFoundError) as cm:
            model.arch_latency(self.sn.derive())
        self.assertIsInstance(cm.exception.__cause__, TypeError)

    def test_negative_or_nan_is_numeric(self):
        """Negative and NaN answers are the library's NumericError naming the key."""
        for bad in (-1.0, math.nan, math.inf):
            model = pnas.LatencyModel.from_callable(self.ctx, lambda q, v=bad: v)
            with self.assertRaises(pnas.NumericError) as cm:
                self.sn.set_latency_model(model)
            self.assertIn("key 'expanded_conv-input:", str(cm.exception))
            self.assertIn("finite", str(cm.exception))

    def test_keyboard_interrupt_is_reraised(self):
        """KeyboardInterrupt in the callback reaches the caller as itself."""
        def interrupted(query):
            """Simulates Ctrl-C inside the callback."""
            raise KeyboardInterrupt
        model = pnas.LatencyModel.from_callable(self.ctx, interrupted)
        with self.assertRaises(KeyboardInterrupt):
            model.arch_latency(self.sn.derive())

    def test_callback_kept_alive(self):
        """The model keeps the callable and its C trampoline alive."""
        calls = []

        def fn(query):
            """Counts its calls."""
            calls.append(query.key)
            return 1.0
        model = pnas.LatencyModel.from_callable(self.ctx, fn)
        del fn
        gc.collect()
        self.assertGreater(model.arch_latency(self.sn.derive()), 0)
        self.assertTrue(calls)

    def test_not_callable(self):
        """A non-callable is refused before reaching the library."""
        with self.assertRaises(TypeError):
            pnas.LatencyModel.from_callable(self.ctx, 3.0)


class OtherModels(support.TestCase):
    """The table and MACs models through the binding."""

    def test_macs_model(self):
        """The MACs model prices the released mobile net at ms_per_mmac * 320.427584."""
        config = support.TEST_DATA + "/proxylessnas/proxyless_mobile.config"
        arch = pnas.Arch.import_net_config(self.ctx, config, 224, 224)
        self.assertEqual(arch.info.macs, 320427584)
        model = pnas.LatencyModel.macs(self.ctx, 2.0)
        self.assertAlmostEqual(model.arch_latency(arch), 2.0 * 320.427584, places=6)

    def test_table_model(self):
        """The official mobile table prices the search-space-width mobile net."""
        table = pnas.LatencyModel.load_table(
            self.ctx, support.TEST_DATA + "/proxylessnas/mobile_trim.yaml")
        arch = pnas.Arch.load_yaml(self.ctx, support.TEST_DATA + "/arch/mobile_space.yaml")
        self.assertGreater(table.arch_latency(arch), 0)


if __name__ == "__main__":
    unittest.main()
