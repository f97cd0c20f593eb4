#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A/B of one benchmark between two builds of libpnas, on the same machine.

Runs TOOL (a program of tests/bench/, for example bench-net) from the base
build and from the new build, alternating the order on every round so that
the machine's noise falls on both, and prints the medians and the speed-up
(base time over new time). bench-dwconv's table is compared shape by shape;
every other tool's last `ms=` figure is compared.

  git worktree add /tmp/base HEAD~1
  (cd /tmp/base && meson setup _b -Dbuildtype=release && meson compile -C _b)
  /usr/bin/python3 tests/bench/ab.py --base /tmp/base/_b --new _build/bench \\
      --runs 5 -- bench-net --net k7e6 --mode infer --batch 1 --threads 1

Run it on an otherwise idle machine: it is a timing job.
"""
import argparse
import collections
import os
import re
import statistics
import subprocess
import sys


def run(build, tool, args):
    exe = os.path.join(build, "tests", "bench", tool)
    out = subprocess.run([exe] + args, capture_output=True, text=True, check=True).stdout
    if tool == "bench-dwconv":
        # threads map c k stride fwd_ms GFLOP/s bwd_ms GFLOP/s fwd+bwd
        rows = {}
        for line in out.splitlines():
            f = line.split()
            if len(f) == 10 and f[0].isdigit():
                rows[" ".join(f[:5])] = (float(f[5]), float(f[7]))
        return rows
    found = re.findall(r" ms=([0-9.]+)", out)
    if not found:
        sys.exit(f"ab.py: {tool} printed no ms= figure:\n{out}")
    return {"ms": (float(found[-1]),)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="build directory of the base")
    parser.add_argument("--new", required=True, help="build directory of the change")
    parser.add_argument("--runs", type=int, default=5, help="processes per build")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- TOOL [ARGS...]")
    opts = parser.parse_args()
    command = opts.command[1:] if opts.command[:1] == ["--"] else opts.command
    if not command:
        parser.error("no TOOL given")
    tool, args = command[0], command[1:]
    times = {"base": collections.defaultdict(list), "new": collections.defaultdict(list)}
    builds = [("base", opts.base), ("new", opts.new)]
    for i in range(opts.runs):
        for name, build in builds if i % 2 == 0 else builds[::-1]:
            for key, values in run(build, tool, args).items():
                times[name][key].append(values)
    print(f"{tool} {' '.join(args)}: medians of {opts.runs} alternating processes")
    for key, base_runs in times["base"].items():
        new_runs = times["new"][key]
        cells = []
        for col in range(len(base_runs[0])):
            b = statistics.median(r[col] for r in base_runs)
            n = statistics.median(r[col] for r in new_runs)
            cells.append(f"{b:9.3f} -> {n:9.3f} ms ({b / n:.2f}x)")
        print(f"  {key:24s} " + "   ".join(cells))


if __name__ == "__main__":
    main()
