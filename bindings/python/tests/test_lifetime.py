# SPDX-License-Identifier: MIT
"""Ownership: closing order, numpy views, and no leaks over many cycles."""
import ctypes
import ctypes.util
import gc
import os
import random
import subprocess
import sys
import unittest

import numpy as np

import pnas

from . import support

_libc = ctypes.CDLL(ctypes.util.find_library("c"))
_libc.malloc.restype = ctypes.c_void_p
_libc.malloc.argtypes = [ctypes.c_size_t]
_libc.free.restype = None
_libc.free.argtypes = [ctypes.c_void_p]


class CountingAllocator:
    """A context allocator over libc that counts the blocks still outstanding."""

    def __init__(self):
        """No blocks yet."""
        self.live = set()
        self.allocations = 0

    def alloc(self, size):
        """malloc, remembered."""
        address = _libc.malloc(size)
        if address:
            self.live.add(address)
            self.allocations += 1
        return address or 0

    def free(self, address):
        """free, forgotten; a block it did not hand out is an error."""
        if address not in self.live:
            raise AssertionError("free of an unknown block %#x" % address)
        self.live.remove(address)
        _libc.free(address)


def rss_kib():
    """The process's resident set size in KiB (Linux)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise unittest.SkipTest("no VmRSS in /proc/self/status")


def one_cycle(ctx_options=None):
    """Creates and destroys one of everything, the way a host would."""
    with support.context(**(ctx_options or {})) as ctx:
        space, sn = support.tiny(ctx, max_batch=4)
        model = pnas.LatencyModel.from_callable(ctx, lambda q: 0.25)
        sn.set_latency_model(model)
        x, y = support.batch(4)
        sn.train_step(x, y)
        sn.arch_step(x, y)
        params, grads = sn.parameters(copy=False)
        float(params[:4].sum())
        del params, grads
        arch = sn.derive()
        net = pnas.Net(ctx, arch, max_batch=4)
        net.infer(x)
        images = np.zeros((6, 8, 8, 1), dtype=np.uint8)
        ds = pnas.Dataset.from_arrays(ctx, images, np.arange(6) % 3)
        batcher = ds.batcher(batch_size=4)
        batcher.next()
        ctx.describe()
        try:
            pnas.Space.parse_yaml(ctx, "format: [")
        except pnas.ParseError:
            pass
        del space, sn, model, arch, net, ds, batcher


class ClosingOrder(unittest.TestCase):
    """Any closing order is safe; children keep their parents alive."""

    def test_context_close_closes_children(self):
        """Closing the context first closes everything made from it."""
        ctx = support.context()
        space, sn = support.tiny(ctx)
        ds = pnas.Dataset.from_arrays(ctx, np.zeros((4, 8, 8), np.uint8), [0, 1, 2, 0])
        batcher = ds.batcher(batch_size=2)
        ctx.close()
        for obj in (space, sn, ds, batcher, ctx):
            self.assertTrue(obj.closed)
            obj.close()                      # idempotent
            obj.__del__()                    # idempotent too
        with self.assertRaises(pnas.ClosedError):
            sn.train_step(*support.batch())
        with self.assertRaises(pnas.ClosedError):
            batcher.next()

    def test_dataset_close_closes_batcher(self):
        """A batcher cannot outlive the data set it reads."""
        with support.context() as ctx:
            ds = pnas.Dataset.from_arrays(ctx, np.zeros((4, 8, 8), np.uint8), [0, 1, 2, 0])
            batcher = ds.batcher(batch_size=2)
            ds.close()
            self.assertTrue(batcher.closed)

    def test_children_keep_context_alive(self):
        """Dropping the last reference to the context does not destroy it under a child."""
        ctx = support.context()
        _, sn = support.tiny(ctx)
        del ctx
        gc.collect()
        stats = sn.train_step(*support.batch())
        self.assertEqual(stats.images, 8)
        self.assertFalse(sn.context.closed)

    def test_random_orders_free_everything(self):
        """Closing or dropping objects in random orders frees every block, exactly once."""
        rng = random.Random(5)
        for trial in range(20):
            alloc = CountingAllocator()
            ctx = support.context(allocator=alloc)
            space, sn = support.tiny(ctx)
            arch = sn.derive()
            net = pnas.Net(ctx, arch, max_batch=2)
            ds = pnas.Dataset.from_arrays(ctx, np.zeros((4, 8, 8), np.uint8), [0, 1, 2, 0])
            batcher = ds.batcher(batch_size=2)
            params, grads = sn.parameters(copy=False)
            objs = {"ctx": ctx, "space": space, "sn": sn, "arch": arch, "net": net, "ds": ds,
                    "batcher": batcher, "params": params, "grads": grads}
            del ctx, space, sn, arch, net, ds, batcher, params, grads
            names = list(objs)
            rng.shuffle(names)
            for name in names:
                obj = objs.pop(name)
                if name not in ("params", "grads") and rng.random() < 0.5:
                    obj.close()
                del obj
            gc.collect()
            self.assertGreater(alloc.allocations, 0)
            self.assertEqual(len(alloc.live), 0, "trial %d leaked %d blocks"
                             % (trial, len(alloc.live)))


class InterpreterExit(unittest.TestCase):
    """Objects left alive at exit are finalised without a crash."""

    def test_exit_with_live_objects(self):
        """Globals, views, a callback model and a reference cycle, never closed."""
        code = (
            "import numpy as np, pnas\n"
            "from tests import support\n"
            "ctx = support.context()\n"
            "space, sn = support.tiny(ctx)\n"
            "model = pnas.LatencyModel.from_callable(ctx, lambda q: 1.0)\n"
            "sn.set_latency_model(model)\n"
            "params, grads = sn.parameters(copy=False)\n"
            "class Holder: pass\n"
            "h = Holder(); h.self = h; h.sn = sn; h.batcher = pnas.Dataset.from_arrays(\n"
            "    ctx, np.zeros((4, 8, 8), np.uint8), [0, 1, 2, 0]).batcher(batch_size=2)\n"
            "print('done')\n")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           cwd=os.path.join(os.path.dirname(__file__), ".."),
                           env=os.environ.copy(), timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "done\n")
        self.assertEqual(r.stderr, "")


class Views(unittest.TestCase):
    """numpy views into library memory never outlive their owner."""

    def test_view_keeps_supernet_alive(self):
        """A view (or a slice of it) keeps the supernet and context alive."""
        ctx = support.context()
        _, sn = support.tiny(ctx)
        params, _ = sn.parameters(copy=False)
        copy = params.copy()
        part = params[10:20]
        del params, sn, ctx
        gc.collect()
        np.testing.assert_array_equal(part, copy[10:20])

    def test_close_waits_for_views(self):
        """close() with live views defers the destruction until the last view goes."""
        alloc = CountingAllocator()
        ctx = support.context(allocator=alloc)
        _, sn = support.tiny(ctx)
        params, grads = sn.parameters(copy=False)
        copy = params.copy()
        ctx.close()
        self.assertTrue(sn.closed)
        self.assertIsNotNone(sn._ptr)        # still allocated: the views use it
        np.testing.assert_array_equal(params, copy)
        with self.assertRaises(pnas.ClosedError):
            sn.parameters()
        del params
        self.assertIsNotNone(sn._ptr)
        del grads
        self.assertIsNone(sn._ptr)
        self.assertIsNone(ctx._ptr)
        self.assertEqual(len(alloc.live), 0)

    def test_prune_refused_while_views_live(self):
        """Pruning would move the memory under a view, so it is refused."""
        with support.context() as ctx:
            _, sn = support.tiny(ctx)
            view, _ = sn.parameters(copy=False)
            with self.assertRaises(pnas.StateError):
                sn.prune()
            del view
            with self.assertRaises(pnas.StateError):
                sn.prune()                   # the gradient view is still alive
            del _
            self.assertEqual(sn.prune(), 0)

    def test_copies_are_independent(self):
        """copy=True arrays own their memory (no base into the library)."""
        with support.context() as ctx:
            _, sn = support.tiny(ctx)
            params, grads = sn.parameters()
            self.assertTrue(params.flags.owndata and grads.flags.owndata)
            alpha = sn.alpha(0)
            self.assertTrue(alpha.flags.owndata)
        self.assertTrue(np.all(np.isfinite(params)))


class Leaks(unittest.TestCase):
    """1,000 create/destroy cycles leak nothing."""

    def test_allocator_balance(self):
        """Every block the library allocates in a cycle is freed (exact count)."""
        for _ in range(3):
            alloc = CountingAllocator()
            one_cycle({"allocator": alloc})
            gc.collect()
            self.assertGreater(alloc.allocations, 10)
            self.assertEqual(len(alloc.live), 0)

    def test_rss_stable_over_1000_cycles(self):
        """Resident memory grows by less than 4 MiB over 1,000 cycles after a warm-up."""
        for _ in range(100):
            one_cycle()
        gc.collect()
        before = rss_kib()
        for _ in range(1000):
            one_cycle()
        gc.collect()
        growth = rss_kib() - before
        self.assertLess(growth, 4096, "RSS grew by %d KiB over 1,000 cycles" % growth)


if __name__ == "__main__":
    unittest.main()
