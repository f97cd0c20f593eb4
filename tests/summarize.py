#!/usr/bin/env python3
"""Totals the results of one or more meson test runs.

Reads each build's meson-logs/testlog.json. A Check suite counts its own
checks (from its "Checks: N, Failures: F, Errors: E" line) and a Python
unittest run its own tests (from "Ran N tests" and the "OK (skipped=S)" or
"FAILED (failures=F, errors=E, ...)" line that follows); any other test
counts as one. A test that failed outside that accounting (a crash, a
sanitizer or valgrind report at exit) adds one failure. Prints one line per
run and finally `N passed, N failed`; exits 1 if anything failed.
"""
import json
import re
import sys

CHECK_LINE = re.compile(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)")
UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in [^\n]*\n+(OK|FAILED)(?: \(([^)\n]*)\))?$",
                          re.MULTILINE)


def unittest_counts(text):
    """(line, passed, failed, skipped) of the last unittest summary in text, or None."""
    matches = list(UNITTEST_RAN.finditer(text))
    if not matches:
        return None
    m = matches[-1]
    counts = {}
    for item in (m.group(3) or "").split(","):
        key, _, value = item.strip().partition("=")
        if value.isdigit():
            counts[key] = int(value)
    ran = int(m.group(1))
    skipped = counts.get("skipped", 0)
    failed = (counts.get("failures", 0) + counts.get("errors", 0)
              + counts.get("unexpected successes", 0))
    line = "Ran %d tests: %s" % (ran, m.group(0).splitlines()[-1])
    return line, max(ran - failed - skipped, 0), failed, skipped


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
            py = unittest_counts((t.get("stdout") or "") + "\n" + (t.get("stderr") or ""))
            if m is None and py is not None:
                line, p, f, s = py
                print(f"  {label} {t.get('name', '?')}: {line}")
                passed, failed, skipped = passed + p, failed + f, skipped + s
                if not ok and f == 0:
                    failed += 1
            elif m:
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
