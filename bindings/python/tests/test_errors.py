# SPDX-License-Identifier: MIT
"""Statuses become pnas.Error subclasses carrying the library's message."""
import os
import tempfile
import unittest
import warnings

import pnas
from pnas import _errors

from . import support


class StatusMapping(unittest.TestCase):
    """One subclass per status."""

    def test_every_status_has_its_class(self):
        """Each non-OK status maps to a distinct Error subclass with that status."""
        classes = set()
        for status in pnas.Status:
            if status == pnas.Status.OK:
                continue
            cls = _errors.error_class(status)
            self.assertTrue(issubclass(cls, pnas.Error))
            self.assertIsNot(cls, pnas.Error, status)
            self.assertEqual(cls.status, status)
            classes.add(cls)
        self.assertEqual(len(classes), len(pnas.Status) - 1)

    def test_unknown_status(self):
        """An unknown (future) status gives the base class with the number kept."""
        err = _errors.make_error(99, "later")
        self.assertIs(type(err), pnas.Error)
        self.assertEqual(err.status, 99)
        self.assertEqual(str(err), "later")

    def test_builtin_bases(self):
        """The subclasses are also the matching builtin exceptions."""
        self.assertTrue(issubclass(pnas.InvalidArgumentError, ValueError))
        self.assertTrue(issubclass(pnas.IOError, OSError))
        self.assertTrue(issubclass(pnas.OutOfMemoryError, MemoryError))
        self.assertTrue(issubclass(pnas.NotFoundError, LookupError))


class LibraryMessages(support.TestCase):
    """Failures raise the right subclass with the library's message."""

    def test_missing_file_names_the_file(self):
        """A missing space file: IOError whose message names the file."""
        path = os.path.join(tempfile.gettempdir(), "pnas-no-such-space.yaml")
        with self.assertRaises(pnas.IOError) as cm:
            pnas.Space.load_yaml(self.ctx, path)
        self.assertIn(path, str(cm.exception))
        self.assertEqual(cm.exception.status, pnas.Status.IO)
        self.assertEqual(cm.exception.message, self.ctx.last_error)
        self.assertEqual(self.ctx.last_status, pnas.Status.IO)

    def test_missing_idx_file(self):
        """A missing IDX file: IOError naming it."""
        with self.assertRaises(pnas.IOError) as cm:
            pnas.Dataset.load_idx(self.ctx, "/nonexistent/images.gz", "/nonexistent/labels.gz")
        self.assertIn("/nonexistent/images.gz", str(cm.exception))

    def test_malformed_yaml(self):
        """YAML syntax errors and bad keys: ParseError naming the line and key."""
        with self.assertRaises(pnas.ParseError) as cm:
            pnas.Space.parse_yaml(self.ctx, "format: pnas-space/1\ninput: [8, 8\n")
        self.assertIn("<string>", str(cm.exception))
        self.assertIn("YAML", str(cm.exception))
        bad_key = support.TINY_SPACE.replace("classes: 3", "clases: 3")
        with self.assertRaises(pnas.ParseError) as cm:
            pnas.Space.parse_yaml(self.ctx, bad_key)
        self.assertIn("<string>:3: clases: unknown key", str(cm.exception))

    def test_bad_arch_value(self):
        """An architecture kernel of 4: ParseError with line, key and expected values."""
        text = ("format: pnas-arch/1\ninput: [8, 8, 1]\nclasses: 3\n"
                "stem: {channels: 4, kernel: 3, stride: 1}\n"
                "blocks:\n  - {op: mbconv, kernel: 4, expand: 1, out: 8, stride: 1}\n"
                "head: {channels: 0}\n")
        with self.assertRaises(pnas.ParseError) as cm:
            pnas.Arch.parse_yaml(self.ctx, text)
        self.assertIn("blocks[0].kernel", str(cm.exception))
        self.assertIn("expected 3, 5 or 7", str(cm.exception))

    def test_invalid_argument(self):
        """A bad stage: InvalidArgumentError naming the stage and layer."""
        space = pnas.Space(self.ctx, input_height=8, input_width=8, classes=3)
        with self.assertRaises(pnas.InvalidArgumentError) as cm:
            space.add_stage(8, 2, 3, ["mbconv3x3_e3"])
        self.assertIn("stride", str(cm.exception))

    def test_context_creation_failure(self):
        """pnas_context_create's own message buffer reaches the exception."""
        with self.assertRaises(pnas.InvalidArgumentError) as cm:
            pnas.Context(threads=0)
        self.assertIn("threads", str(cm.exception))

    def test_abi_mismatch(self):
        """A binding claiming a newer header than the library: AbiMismatchError."""
        from pnas import _ffi
        saved = _ffi.ABI_VERSION
        _ffi.ABI_VERSION = (pnas.version()[0] + 1) * 10000
        try:
            with self.assertRaises(pnas.AbiMismatchError) as cm:
                pnas.Context()
        finally:
            _ffi.ABI_VERSION = saved
        self.assertTrue(cm.exception.message)

    def test_state_error(self):
        """Expected latency without a latency model: StateError."""
        _, sn = support.tiny(self.ctx)
        with self.assertRaises(pnas.StateError) as cm:
            sn.expected_latency()
        self.assertTrue(cm.exception.message)

    def test_not_found_in_table(self):
        """A latency table lacking a key: NotFoundError naming the key."""
        table = os.path.join(support.TEST_DATA, "proxylessnas", "mobile_trim.yaml")
        model = pnas.LatencyModel.load_table(self.ctx, table)
        _, sn = support.tiny(self.ctx)
        with self.assertRaises(pnas.NotFoundError) as cm:
            sn.set_latency_model(model)
        self.assertIn("key", str(cm.exception))

    def test_unsupported(self):
        """Saving a non-table model: UnsupportedError."""
        model = pnas.LatencyModel.macs(self.ctx, 1.0)
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(pnas.UnsupportedError):
                model.save_table(os.path.join(d, "t.yaml"))

    def test_unknown_option(self):
        """An unknown keyword option is a TypeError listing the accepted ones."""
        space = pnas.Space.parse_yaml(self.ctx, support.TINY_SPACE)
        with self.assertRaises(TypeError) as cm:
            pnas.Supernet(self.ctx, space, max_bacth=8)
        self.assertIn("max_batch", str(cm.exception))

    def test_closed_object(self):
        """Using a closed object raises ClosedError, not a crash."""
        space = pnas.Space.parse_yaml(self.ctx, support.TINY_SPACE)
        space.close()
        with self.assertRaises(pnas.ClosedError):
            space.info
        with self.assertRaises(pnas.ClosedError):
            pnas.Supernet(self.ctx, space)


class Logging(unittest.TestCase):
    """The context's log callback receives the library's messages."""

    def test_failures_are_logged(self):
        """Every failure is logged at ERROR with the text of the last error."""
        lines = []
        with support.context(log=lambda level, msg: lines.append((level, msg)),
                             log_level=pnas.LogLevel.ERROR) as ctx:
            with self.assertRaises(pnas.IOError) as cm:
                pnas.Space.load_yaml(ctx, "/nonexistent/space.yaml")
        self.assertIn((pnas.LogLevel.ERROR, cm.exception.message), lines)

    def test_raising_log_callback_warns(self):
        """An exception in the log callback becomes a RuntimeWarning, not a crash."""
        def bad(level, message):
            """Always fails."""
            raise ValueError("logger broken")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with support.context(log=bad, log_level=pnas.LogLevel.ERROR) as ctx:
                with self.assertRaises(pnas.IOError):
                    pnas.Space.load_yaml(ctx, "/nonexistent/space.yaml")
        self.assertTrue(any("logger broken" in str(w.message) for w in caught))


if __name__ == "__main__":
    unittest.main()
