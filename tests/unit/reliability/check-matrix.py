#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fails when a public function of pnas.h has no row in the bad-input matrix:
neither a ROW/ROW_VOID in the Check program nor a line in the table of
docs/reliability.md. Usage: check-matrix.py PNAS_H TEST_SOURCE RELIABILITY_MD"""
import re
import sys


def public_functions(header):
    text = open(header, encoding="utf-8").read()
    # PNAS_API <return type> <name>(  -- the type may span words and a '*'.
    return re.findall(r"^PNAS_API\b[^(;]*?\b(pnas_\w+)\s*\(", text, re.M)


def main():
    header, source, doc = sys.argv[1:4]
    functions = public_functions(header)
    if len(functions) < 50:
        sys.exit(f"{header}: found only {len(functions)} PNAS_API functions; the pattern is stale")
    tested = set(re.findall(r"\bROW(?:_VOID)?\(\s*(pnas_\w+)\s*,", open(source, encoding="utf-8").read()))
    documented = set(re.findall(r"^\|\s*`(pnas_\w+)`\s*\|", open(doc, encoding="utf-8").read(), re.M))
    missing_test = [f for f in functions if f not in tested]
    missing_doc = [f for f in functions if f not in documented]
    unknown = sorted((tested | documented) - set(functions))
    for name in missing_test:
        print(f"{source}: no ROW for {name}")
    for name in missing_doc:
        print(f"{doc}: no table row for {name}")
    for name in unknown:
        print(f"a matrix row names {name}, which pnas.h does not declare")
    print(f"{len(functions)} public functions; {len(tested)} with rows in the test, "
          f"{len(documented)} in the table")
    sys.exit(1 if missing_test or missing_doc or unknown else 0)


main()
