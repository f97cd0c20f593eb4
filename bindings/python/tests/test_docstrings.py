# SPDX-License-Identifier: MIT
"""Every function and class of the package, its tests and examples has a docstring."""
import ast
import glob
import os
import unittest

ROOT = os.path.join(os.path.dirname(__file__), "..")


class Docstrings(unittest.TestCase):
    """Walks the sources with ast."""

    def test_every_definition_documented(self):
        """No function, method or class (nested ones included) lacks a docstring."""
        files = []
        for folder in ("pnas", "tests", "examples"):
            files += glob.glob(os.path.join(ROOT, folder, "*.py"))
        self.assertGreater(len(files), 10)
        missing = []
        for path in sorted(files):
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read(), path)
            if not ast.get_docstring(tree):
                missing.append("%s: module" % os.path.relpath(path, ROOT))
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    if not ast.get_docstring(node):
                        missing.append("%s:%d: %s" % (os.path.relpath(path, ROOT),
                                                      node.lineno, node.name))
        self.assertEqual(missing, [])


if __name__ == "__main__":
    unittest.main()
