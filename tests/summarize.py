#!/usr/bin/env python3
"""Totals the results of one or more meson test runs.

Reads each build's meson-logs/testlog.json. A Check suite counts its own
checks (from its "Checks: N, Failures: F, Errors: E" line); any other test
counts as one. A test that failed outside Check's accounting (a crash, a
sanitizer or valgrind report at exit) adds one failure. Prints one line per
run and finally `N passed, N failed`; exits 1 if anything failed.
"""
import json
import re
import sys

CHECK_LINE = re.compile(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)")


def tally(log_path, label):
    passed = failed = skipped = 0
    failures = []
    with open(log_path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            result = t.get("result", "")
            if result == "SKIP":
                skipped += 1
                continue
            ok = result in ("OK", "EXPECTEDFAIL")
            m = CHECK_LINE.search(t.get("stdout") or "")
            if m:
                line = (t.get("stdout") or "")[:m.end()].splitlines()[-1]
                print(f"  {label} {t.get('name', '?')}: {line}")
                n, fails, errors = (int(x) for x in m.groups())
                passed += n - fails - errors
                failed += fails + errors
                if not ok and fails + errors == 0:
                    failed += 1
            elif ok:
                passed += 1
            else:
                failed += 1
            if not ok:
                failures.append(t.get("name", "?"))
    return passed, failed, skipped, failures


def main(argv):
    total_p = total_f = total_s = 0
    for spec in argv[1:]:
        label, _, path = spec.partition("=")
        p, f, s, names = tally(path, label)
        total_p, total_f, total_s = total_p + p, total_f + f, total_s + s
        extra = f" (failed: {', '.join(names)})" if names else ""
        print(f"{label}: {p} passed, {f} failed, {s} skipped{extra}")
    print(f"{total_p} passed, {total_f} failed")
    return 1 if total_f else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
