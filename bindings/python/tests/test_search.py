# SPDX-License-Identifier: MIT
"""Search steps through the binding, with real values asserted."""
import os
import tempfile
import threading
import unittest

import numpy as np

import pnas

from . import support


class Steps(support.TestCase):
    """High-level and low-level steps change what they should."""

    def setUp(self):
        """A tiny supernet with a fast arch optimizer."""
        super().setUp()
        self.space, self.sn = support.tiny(self.ctx)
        self.sn.set_search(arch_lr=0.05)
        self.x, self.y = support.batch()

    def test_shapes(self):
        """Layers, input shape and classes come from the space."""
        self.assertEqual(self.sn.layers, 4)
        self.assertEqual(self.sn.input_shape, (8, 8, 1))
        self.assertEqual(self.sn.classes, 3)
        self.assertEqual([self.sn.op_count(i) for i in range(4)], [2, 3, 3, 3])
        self.assertEqual(self.sn.ops(1), [pnas.Op.parse("mbconv3x3_e3"),
                                          pnas.Op.parse("mbconv5x5_e3"), pnas.Op.zero()])

    def test_arch_step_changes_alpha(self):
        """An arch step moves alpha of the layers on the path and counts the step."""
        before = [self.sn.alpha(i) for i in range(self.sn.layers)]
        stats = self.sn.arch_step(self.x, self.y)
        after = [self.sn.alpha(i) for i in range(self.sn.layers)]
        self.assertEqual(stats.images, 8)
        self.assertTrue(np.isfinite(stats.loss) and stats.loss > 0)
        changed = sum(not np.array_equal(a, b) for a, b in zip(before, after))
        self.assertGreaterEqual(changed, 1)
        self.assertEqual(self.sn.info.arch_steps, 1)
        # Softmax of the new alpha is what probabilities() reports.
        for layer in range(self.sn.layers):
            a = after[layer].astype(np.float64)
            p = np.exp(a - a.max())
            np.testing.assert_allclose(self.sn.probabilities(layer), p / p.sum(), rtol=1e-5)

    def test_train_step_changes_weights_not_alpha(self):
        """A weight step changes weights, leaves alpha alone and counts the step."""
        alpha = self.sn.alpha(0)
        params, _ = self.sn.parameters()
        stats = self.sn.train_step(self.x, self.y)
        self.assertEqual(stats.images, 8)
        self.assertGreaterEqual(stats.accuracy, 0.0)
        after, _ = self.sn.parameters()
        self.assertFalse(np.array_equal(params, after))
        np.testing.assert_array_equal(alpha, self.sn.alpha(0))
        self.assertEqual(self.sn.info.weight_steps, 1)

    def test_derive_is_argmax(self):
        """The derived architecture takes the argmax of alpha per layer."""
        rng = np.random.default_rng(3)
        for layer in range(self.sn.layers):
            self.sn.set_alpha(layer, rng.normal(size=self.sn.op_count(layer)))
        # Make one residual layer choose zero: it must become an identity block.
        a = self.sn.alpha(3)
        a[2] = a.max() + 1.0
        self.sn.set_alpha(3, a)
        arch = self.sn.derive()
        blocks = arch.blocks
        first = 1  # the fixed first block precedes the searched layers
        self.assertEqual(len(blocks), first + self.sn.layers)
        for layer in range(self.sn.layers):
            best = self.sn.ops(layer)[int(np.argmax(self.sn.alpha(layer)))]
            block = blocks[first + layer]
            if best.kind == pnas.OpKind.ZERO:
                self.assertEqual(block.kind, pnas.BlockKind.IDENTITY, layer)
            else:
                self.assertEqual(block.kind, pnas.BlockKind.MBCONV, layer)
                self.assertEqual((block.kernel, block.expand), (best.kernel, best.expand), layer)
        self.assertEqual(blocks[first + 3].kind, pnas.BlockKind.IDENTITY)

    def test_low_level_loop(self):
        """sample, forward, numpy cross-entropy, backward, sgd_step, arch gradient and update."""
        self.sn.sample()
        path = self.sn.active_path
        self.assertEqual(path.shape, (4,))
        for layer, op in enumerate(path):
            self.assertLess(op, self.sn.op_count(layer))
        self.sn.active_path = [0, 0, 1, 2]
        np.testing.assert_array_equal(self.sn.active_path, [0, 0, 1, 2])
        logits = self.sn.forward(self.x, training=pnas.ForwardMode.TRAIN)
        self.assertEqual(logits.shape, (8, 3))
        self.assertEqual(logits.dtype, np.float32)
        loss, dlogits = pnas.cross_entropy(logits, self.y)
        self.assertGreater(loss, 0)
        np.testing.assert_allclose(dlogits.sum(axis=1), 0, atol=1e-6)
        self.sn.backward(dlogits)
        params, grads = self.sn.parameters()
        self.assertTrue(np.any(grads != 0))
        self.sn.sgd_step()
        after, _ = self.sn.parameters()
        self.assertFalse(np.array_equal(params, after))
        # Evaluation-mode logits are deterministic.
        np.testing.assert_array_equal(self.sn.forward(self.x), self.sn.forward(self.x))
        alpha = self.sn.alpha(1)
        self.sn.arch_gradient(self.x, self.y)
        grad = self.sn.alpha_grad(1)
        self.assertEqual(grad.shape, (3,))
        np.testing.assert_array_equal(alpha, self.sn.alpha(1))
        self.sn.arch_update()
        if np.any(grad != 0):
            self.assertFalse(np.array_equal(alpha, self.sn.alpha(1)))

    def test_host_optimizer_through_views(self):
        """Writing a weight view changes the supernet's logits."""
        self.sn.active_path = [0, 0, 0, 0]
        before = self.sn.forward(self.x)
        params, _ = self.sn.parameters(copy=False)
        params *= 0.5
        del params
        after = self.sn.forward(self.x)
        self.assertFalse(np.array_equal(before, after))

    def test_prune(self):
        """A candidate far below the threshold for long enough is pruned."""
        self.sn.set_search(arch_lr=0.05, prune_threshold=0.2, prune_patience=1)
        self.sn.set_alpha(0, [10.0, -10.0])
        self.sn.arch_step(self.x, self.y)
        self.assertEqual(self.sn.prune(), 1)
        self.assertEqual(self.sn.op_count(0), 1)
        self.assertEqual(self.sn.ops(0), [pnas.Op.mbconv(3, 3)])

    def test_checkpoint_roundtrip(self):
        """save/load keeps alpha and the host's bytes."""
        self.sn.arch_step(self.x, self.y)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "sn.ckpt")
            self.sn.save(path, host_data=b"step=1")
            loaded = pnas.Supernet.load(self.ctx, path)
        self.assertEqual(loaded.host_data, b"step=1")
        for layer in range(self.sn.layers):
            np.testing.assert_array_equal(loaded.alpha(layer), self.sn.alpha(layer))

    def test_derive_net_inherits(self):
        """derive_net with inherit computes what the supernet's argmax path computes."""
        self.sn.train_step(self.x, self.y)
        net = self.sn.derive_net(inherit=True, max_batch=8)
        self.sn.active_path = [int(np.argmax(self.sn.alpha(i))) for i in range(4)]
        np.testing.assert_allclose(net.infer(self.x), self.sn.forward(self.x),
                                   rtol=1e-4, atol=1e-5)

    def test_reinforce(self):
        """A REINFORCE step needs a latency model and a target, then changes alpha."""
        with self.assertRaises(pnas.StateError):
            self.sn.arch_step_reinforce(self.x, self.y)
        self.sn.set_latency_model(pnas.LatencyModel.macs(self.ctx, 1.0))
        self.sn.set_search(arch_lr=0.05, target_ms=0.1, rl_samples=2)
        before = [self.sn.alpha(i) for i in range(4)]
        self.sn.arch_step_reinforce(self.x, self.y)
        self.assertTrue(any(not np.array_equal(b, self.sn.alpha(i))
                            for i, b in enumerate(before)))


class Threads(unittest.TestCase):
    """Separate contexts run in separate threads (the GIL is released in calls)."""

    def test_two_threads_same_result(self):
        """Two threads searching with the same seed end with bitwise-equal alpha."""
        results = [None, None]

        def search(slot):
            """A few weight and arch steps in a context of its own."""
            with support.context() as ctx:
                _, sn = support.tiny(ctx)
                sn.set_search(arch_lr=0.05)
                x, y = support.batch()
                for _ in range(5):
                    sn.train_step(x, y)
                    sn.arch_step(x, y)
                results[slot] = [sn.alpha(i) for i in range(sn.layers)]
        threads = [threading.Thread(target=search, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for a, b in zip(*results):
            np.testing.assert_array_equal(a, b)


class Networks(support.TestCase):
    """Arch, Net, Dataset and Batcher."""

    def test_arch_builder_and_yaml(self):
        """Build an architecture, save it, load it back."""
        arch = pnas.Arch(self.ctx, input_height=8, input_width=8, classes=3, stem_channels=4,
                         head_channels=16)
        arch.append_block(8, kernel=5, expand=3, stride=2)
        arch.append_block(8, identity=True)
        self.assertEqual(len(arch), 2)
        self.assertEqual(arch.block(0).out_height, 4)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "a.yaml")
            arch.save_yaml(path)
            again = pnas.Arch.load_yaml(self.ctx, path)
        self.assertEqual(again.info, arch.info)
        self.assertEqual(again.blocks, arch.blocks)

    def test_net_training_lowers_loss(self):
        """Steps on one batch lower its loss; evaluate reads a whole data set."""
        arch = pnas.Arch(self.ctx, input_height=8, input_width=8, classes=3, stem_channels=4,
                         head_channels=16)
        arch.append_block(8, kernel=3, expand=3, stride=2)
        net = pnas.Net(self.ctx, arch, max_batch=8)
        net.set_sgd(lr=0.1, label_smoothing=0.0)
        x, y = support.batch()
        first = net.train_step(x, y).loss
        for _ in range(20):
            last = net.train_step(x, y).loss
        self.assertLess(last, first)
        self.assertEqual(net.infer(x).shape, (8, 3))
        images = (np.arange(10 * 64) % 251).astype(np.uint8).reshape(10, 8, 8)
        ds = pnas.Dataset.from_arrays(self.ctx, images, np.arange(10) % 3)
        stats = net.evaluate(ds)
        self.assertEqual(stats.images, 10)

    def test_dataset_and_batcher(self):
        """A data set from arrays, split, batched and normalised."""
        images = np.full((12, 4, 4, 1), 255, dtype=np.uint8)
        labels = np.arange(12) % 2
        ds = pnas.Dataset.from_arrays(self.ctx, images, labels)
        self.assertEqual(ds.info, pnas.DatasetInfo(count=12, height=4, width=4, channels=1,
                                                   classes=2))
        rest, held = ds.split_balanced(2)
        self.assertEqual((len(rest), len(held)), (8, 4))
        b = rest.batcher(batch_size=3, shuffle=False, mean=0.5, std=0.25)
        batches = list(b)
        self.assertEqual([len(lab) for _, lab in batches], [3, 3, 2])
        x, lab = batches[0]
        self.assertEqual(x.dtype, np.float32)
        self.assertEqual(x.shape, (3, 4, 4, 1))
        np.testing.assert_allclose(x, (1.0 - 0.5) / 0.25)
        b.reset()
        buffers = (np.empty((3, 4, 4, 1), np.float32), np.empty(3, np.int32))
        x2, lab2 = b.next(out=buffers)
        self.assertIs(x2.base, buffers[0])
        np.testing.assert_array_equal(lab2, batches[0][1])
        with self.assertRaises(ValueError):
            b.next(out=(np.empty((3, 4, 4, 1), np.float64), buffers[1]))
        state = b.state
        first = b.next()
        b.state = state
        again = b.next()
        np.testing.assert_array_equal(first[1], again[1])


if __name__ == "__main__":
    unittest.main()
