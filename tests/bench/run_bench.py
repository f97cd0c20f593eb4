#!/usr/bin/env python3
"""libpnas against PyTorch on the same machine, in one run.

    python3 tests/bench/run_bench.py [--build _build/bench] [--repeats 5] [--quick]
                                     [--markdown FILE] [--only train|infer]

Builds nothing: point --build at a configured and compiled build directory
(an optimised one: meson setup -Dbuildtype=release -Dmarch=x86-64-v2).
Each configuration runs --repeats times for each implementation, alternating
them so that machine noise hits both alike; the table shows the median over
repeats (each repeat itself reports the median of its timed iterations) and
the ratio libpnas / PyTorch in throughput (higher is better) or PyTorch /
libpnas in latency. Peak RSS is the median of the processes' ru_maxrss.
"""
import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TORCH_PYTHON = "/usr/bin/python3"


def parse(line):
    return dict(kv.split("=", 1) for kv in line.split())


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return parse(out.strip().splitlines()[-1])


def configs(quick, only):
    nets = ["k3e3"] if quick else ["k3e3", "k3e6", "k7e6"]
    threads = [1, 2]
    out = []
    if only == "search":
        out += [(m, "supernet6", 64, t) for m in ("weight", "two", "full_v2") for t in threads]
        out += [("weight", "supernet12", 64, 2), ("two", "supernet12", 64, 2)]
        out += [("train", "k7e6", 64, 2)]  # the largest child alone, for peak RSS
        return out
    if only in (None, "train"):
        out += [("train", n, 64, t) for n in nets for t in threads]
    if only in (None, "infer"):
        out += [("infer", n, b, t) for n in nets for b in (1, 64) for t in threads]
        out += [("infer", "mobile224", 1, t) for t in threads]
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=os.path.join(ROOT, "_build", "bench"))
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", choices=["train", "infer", "search"],
                   help="engine training, engine inference, or the supernet steps")
    p.add_argument("--markdown")
    a = p.parse_args()
    bench = os.path.join(a.build, "tests", "bench", "bench-net")
    bench_sn = os.path.join(a.build, "tests", "bench", "bench-supernet")
    if not os.path.exists(bench):
        sys.exit(f"no {bench}: meson setup {a.build} -Dbuildtype=release && meson compile -C {a.build}")
    net_config = os.path.join(ROOT, "tests", "fixtures", "proxylessnas", "proxyless_mobile.config")
    rows = []
    for mode, net, batch, threads in configs(a.quick, a.only):
        iters = {"infer": 30 if batch == 1 else 10}.get(mode, 10)
        if net == "mobile224":
            iters = 10
        if net.startswith("supernet"):
            common = ["--mode", mode, "--candidates", net[len("supernet"):], "--batch", str(batch),
                      "--threads", str(threads), "--iters", str(iters)]
            ours_cmd = [bench_sn] + common
            theirs_cmd = [TORCH_PYTHON, os.path.join(HERE, "torch_supernet.py")] + common
        else:
            common = ["--net", net, "--mode", mode, "--batch", str(batch), "--threads",
                      str(threads), "--iters", str(iters), "--net-config", net_config]
            ours_cmd = [bench] + common
            theirs_cmd = [TORCH_PYTHON, os.path.join(HERE, "torch_peer.py")] + common
        ours, theirs = [], []
        for _ in range(a.repeats):
            ours.append(run(ours_cmd))
            theirs.append(run(theirs_cmd))
        med = lambda rs, k: statistics.median(float(r[k]) for r in rs)
        row = dict(mode=mode, net=net, batch=batch, threads=threads,
                   ours_ms=med(ours, "ms"), torch_ms=med(theirs, "ms"),
                   ours_ips=med(ours, "images_per_s"), torch_ips=med(theirs, "images_per_s"),
                   ours_rss=med(ours, "peak_rss_mb"), torch_rss=med(theirs, "peak_rss_mb"))
        row["ratio"] = row["torch_ms"] / row["ours_ms"]
        rows.append(row)
        print(f"{mode:7} {net:10} b{batch:<3} t{threads}: libpnas {row['ours_ms']:9.3f} ms "
              f"({row['ours_ips']:8.1f} img/s, {row['ours_rss']:6.1f} MB)  pytorch "
              f"{row['torch_ms']:9.3f} ms ({row['torch_ips']:8.1f} img/s, {row['torch_rss']:6.1f} MB)"
              f"  speed-up x{row['ratio']:.2f}", flush=True)
    lines = ["| mode | net | batch | threads | libpnas ms | PyTorch ms | libpnas img/s | "
             "PyTorch img/s | speed-up | libpnas RSS MB | PyTorch RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['net']} | {r['batch']} | {r['threads']} | "
                     f"{r['ours_ms']:.3f} | {r['torch_ms']:.3f} | {r['ours_ips']:.1f} | "
                     f"{r['torch_ips']:.1f} | {r['ratio']:.2f}x | {r['ours_rss']:.1f} | "
                     f"{r['torch_rss']:.1f} |")
    table = "\n".join(lines)
    print(table)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
