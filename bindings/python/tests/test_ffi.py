# SPDX-License-Identifier: MIT
"""The declarations of pnas._ffi against include/pnas/pnas.h and the built library."""
import ctypes
import ctypes.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import pnas
from pnas import _ffi

from . import support

HEADER = os.path.join(support.SOURCE_ROOT, "include", "pnas", "pnas.h")


def header_functions():
    """Names of the functions declared with PNAS_API in pnas.h."""
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    decls = re.findall(r"^PNAS_API\b[^;(]*?\b(pnas_\w+)\s*\(", text, re.MULTILINE)
    return decls


class FunctionTable(unittest.TestCase):
    """Every PNAS_API function has a binding, and no binding lacks a function."""

    def test_header_parses(self):
        """The parser finds the header's functions (a sanity bound)."""
        self.assertGreaterEqual(len(header_functions()), 100)

    def test_every_header_function_is_declared(self):
        """A C function added to pnas.h without a ctypes declaration fails here."""
        missing = sorted(set(header_functions()) - set(_ffi.FUNCTIONS))
        self.assertEqual(missing, [], "functions of pnas.h without a binding in _ffi.py")

    def test_no_declaration_without_function(self):
        """Every declaration in _ffi.py names a function of pnas.h."""
        extra = sorted(set(_ffi.FUNCTIONS) - set(header_functions()))
        self.assertEqual(extra, [])

    def test_declarations_applied(self):
        """The loaded library's functions carry the declared argtypes and restype."""
        for name, (restype, argtypes) in _ffi.FUNCTIONS.items():
            fn = getattr(_ffi.lib, name)
            self.assertEqual(fn.restype, restype, name)
            self.assertEqual(list(fn.argtypes), list(argtypes), name)

    def test_status_returning_functions(self):
        """A function declared as returning pnas_status in C returns c_int here."""
        with open(HEADER, encoding="utf-8") as f:
            text = f.read()
        for name in re.findall(r"^PNAS_API pnas_status (pnas_\w+)\(", text, re.MULTILINE):
            self.assertIs(_ffi.FUNCTIONS[name][0], _ffi.c_status, name)


class StructLayouts(unittest.TestCase):
    """The ctypes structs have the C structs' sizes and member offsets."""

    def test_layouts_match_c(self):
        """Compares with the output of the pnas-struct-layout helper (built by meson)."""
        helper = os.environ.get("PNAS_STRUCT_LAYOUT")
        if not helper:
            self.skipTest("PNAS_STRUCT_LAYOUT is not set (run through meson test)")
        out = subprocess.run([helper], check=True, capture_output=True, text=True).stdout
        seen = 0
        for line in out.splitlines():
            name, what, value = line.split()
            struct, _, member = name.partition(".")
            cls = _ffi.STRUCTS[struct]
            if what == "size":
                self.assertEqual(ctypes.sizeof(cls), int(value), struct)
            else:
                member = "lambda_" if member == "lambda" else member
                self.assertEqual(getattr(cls, member).offset, int(value), name)
            seen += 1
        self.assertGreater(seen, 100)


class Loading(unittest.TestCase):
    """Loading and the version check."""

    def test_version(self):
        """The library's version has the expected major and matches its string."""
        major, minor, patch = pnas.version()
        self.assertEqual(major, _ffi.EXPECTED_MAJOR)
        self.assertEqual(pnas.version_string(), "%d.%d.%d" % (major, minor, patch))

    def test_status_string(self):
        """pnas_status_string through the binding."""
        self.assertEqual(pnas.status_string(pnas.Status.INVALID_ARGUMENT), "invalid argument")

    def test_bad_library_path_is_import_error(self):
        """PNAS_LIBRARY naming a missing file gives an ImportError naming it."""
        env = dict(os.environ, PNAS_LIBRARY="/nonexistent/libpnas.so.1")
        r = subprocess.run([sys.executable, "-c", "import pnas"], env=env,
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ImportError", r.stderr)
        self.assertIn("/nonexistent/libpnas.so.1", r.stderr)

    def test_other_library_is_import_error(self):
        """A library that is not libpnas is refused with a clear ImportError."""
        libc = ctypes.util.find_library("c")
        if not libc:
            self.skipTest("no libc name")
        env = dict(os.environ, PNAS_LIBRARY=libc)
        r = subprocess.run([sys.executable, "-c", "import pnas"], env=env,
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not libpnas", r.stderr)

    def test_installed_package_finds_its_libdir(self):
        """Without PNAS_LIBRARY, an installed package loads libpnas from its LIBDIR."""
        libdir = os.path.dirname(os.path.realpath(_ffi.lib._name))
        package = os.path.dirname(pnas.__file__)
        with tempfile.TemporaryDirectory() as site:
            shutil.copytree(package, os.path.join(site, "pnas"),
                            ignore=shutil.ignore_patterns("__pycache__", "*.in"))
            with open(os.path.join(site, "pnas", "_install_paths.py"), "w") as f:
                f.write('"""Test install paths."""\nLIBDIR = %r\n' % libdir)
            env = {k: v for k, v in os.environ.items() if k != "PNAS_LIBRARY"}
            env["PYTHONPATH"] = site
            r = subprocess.run([sys.executable, "-c",
                                "import pnas, pnas._ffi as f; print(f.lib._name)"],
                               env=env, capture_output=True, text=True, cwd=site)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), os.path.join(libdir, _ffi.SONAME))

    def test_sanitizer_builds_are_passed_over(self):
        """A library with sanitizer symbols is not a build-tree candidate."""
        with tempfile.TemporaryDirectory() as tmp:
            plain, asan = os.path.join(tmp, "plain.so"), os.path.join(tmp, "asan.so")
            with open(plain, "wb") as f:
                f.write(b"\x7fELF pnas_context_create")
            with open(asan, "wb") as f:
                f.write(b"\x7fELF pnas_context_create __asan_init")
            self.assertFalse(_ffi._instrumented(plain))
            self.assertTrue(_ffi._instrumented(asan))
            self.assertFalse(_ffi._instrumented(os.path.join(tmp, "missing.so")))
        for path in _ffi._build_tree_candidates():
            self.assertFalse(_ffi._instrumented(path), path)

    def test_build_tree_fallback(self):
        """From the checkout without PNAS_LIBRARY, a build tree's library comes first."""
        env = {k: v for k, v in os.environ.items() if k != "PNAS_LIBRARY"}
        code = "import pnas._ffi as f; print(f.candidates()[0])"
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        first = r.stdout.strip()
        if first == _ffi.SONAME:
            self.skipTest("no build tree inside the checkout")
        self.assertTrue(first.startswith(support.SOURCE_ROOT), first)
        self.assertTrue(first.endswith(os.path.join("lib", _ffi.SONAME)), first)

    def test_version_mismatch_is_import_error(self):
        """A library of another major version is refused at import."""
        code = ("import ctypes, os\n"
                "from pnas import _ffi\n"
                "class Fake:\n"
                "    _name = 'fake'\n"
                "    pnas_version = staticmethod(lambda: 20000)\n"
                "    pnas_version_string = staticmethod(lambda: b'2.0.0')\n"
                "try:\n"
                "    _ffi.check_version(Fake())\n"
                "except ImportError as e:\n"
                "    print('refused:', e)\n")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=os.environ.copy())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("refused: pnas: fake is libpnas 2.0.0; this package needs 1.x", r.stdout)


if __name__ == "__main__":
    unittest.main()
