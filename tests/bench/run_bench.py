#!/usr/bin/env python3
"""libpnas against PyTorch on the same machine, in one run: every figure of
docs/performance.md.

    python3 tests/bench/run_bench.py [--build _build/bench] [--repeats 5]
                                     [--only SECTION ...] [--quick] [--out DIR]
                                     [--markdown FILE]

Sections (default: all but train):
  peak     the machine's fp32 FMA peak (bench-peak), the FLOP-rate denominator
  search   supernet weight and arch steps against torch_supernet.py; arch
           steps against two peers: loss.backward() as the official code
           does, and --gates-only (autograd asked for the gate gradients
           alone); FLOP rate of the weight step; peak RSS
  infer    inference of the uniform and searched Fashion-MNIST nets (batch 1
           and 64) and of the official mobile net at 224x224 (batch 1)
  train    training steps of the fixed networks (the engine's own figures)
  kernels  1 -> 2 thread speed-up per kernel kind (bench-gemm, bench-gemm-rows,
           bench-dwconv, bench-bn) and per step
  shares   share of a weight step's time per kernel kind, from perf samples
           (linux-perf; skipped when perf cannot sample)

Builds nothing: point --build at a configured and compiled optimised build
(meson setup -Dbuildtype=release). tests/bench/run-all.sh installs, builds
and runs this. Each timing configuration runs --repeats processes per
implementation, alternating libpnas and PyTorch so that machine noise hits
both alike; every process reports the median of its timed iterations and the
tables show the median over processes. Speed-up = PyTorch's time / libpnas's.
Writes DIR/results.json, DIR/tables.md and DIR/ratios.png (matplotlib).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import supernet_model  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TORCH_PYTHON = "/usr/bin/python3"
NET_CONFIG = os.path.join(ROOT, "tests", "fixtures", "proxylessnas", "proxyless_mobile.config")
SECTIONS = ["peak", "search", "infer", "train", "kernels", "shares"]
DEFAULT_SECTIONS = ["peak", "search", "infer", "kernels", "shares"]

# Targets of the performance issue: minimum speed-up per row kind.
TARGETS = {"weight": 3.0, "two": 3.0, "full_v2": 3.0, "infer64": 2.0, "infer1": 4.0,
           "mobile224": 2.0}


def parse(line):
    return dict(kv.split("=", 1) for kv in line.split())


def run_lines(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [parse(l) for l in out.strip().splitlines() if l.startswith("impl=")]


def run(cmd):
    return run_lines(cmd)[-1]


def med(rs, k):
    return statistics.median(float(r[k]) for r in rs)


def tool(build, name):
    path = os.path.join(build, "tests", "bench", name)
    if not os.path.exists(path):
        sys.exit(f"no {path}: meson setup {build} -Dbuildtype=release && meson compile -C {build}")
    return path


def section_peak(a, res):
    runs = [run_lines([tool(a.build, "bench-peak")]) for _ in range(3)]
    def median_of(impl):
        return {t: statistics.median(
            float(next(x for x in r if x["impl"] == impl and x["threads"] == str(t))
                  ["gflop_per_s"]) for r in runs) for t in (1, 2)}
    res["peak"] = median_of("peak")
    print(f"peak: {res['peak'][1]:.1f} GFLOP/s on 1 thread, {res['peak'][2]:.1f} on 2",
          flush=True)
    # Processors with AVX-512F also report the 512-bit rate: where the units
    # are 512 bits wide it is the machine's real peak.
    if any(x["impl"] == "peak512" for x in runs[0]):
        res["peak512"] = median_of("peak512")
        print(f"peak (AVX-512): {res['peak512'][1]:.1f} GFLOP/s on 1 thread, "
              f"{res['peak512'][2]:.1f} on 2", flush=True)


def timed_pair(a, ours_cmd, peers):
    """Alternates ours and each peer command --repeats times; returns the lists."""
    ours, theirs = [], {name: [] for name in peers}
    for _ in range(a.repeats):
        ours.append(run(ours_cmd))
        for name, cmd in peers.items():
            theirs[name].append(run(cmd))
    return ours, theirs


def search_configs(quick):
    threads = [2] if quick else [1, 2]
    out = [(m, "supernet6", t) for m in ("weight", "two", "full_v2") for t in threads]
    if not quick:
        out += [("weight", "supernet12", 2), ("two", "supernet12", 2), ("train", "k7e6", 2)]
    return out


def section_search(a, res):
    rows = []
    for mode, net, threads in search_configs(a.quick):
        iters = "10"
        if net.startswith("supernet"):
            common = ["--mode", mode, "--candidates", net[len("supernet"):], "--batch", "64",
                      "--threads", str(threads), "--iters", iters]
            ours_cmd = [tool(a.build, "bench-supernet")] + common
            peer = [TORCH_PYTHON, os.path.join(HERE, "torch_supernet.py")] + common
            peers = {"torch": peer}
            if mode != "weight":
                peers["torch_gates_only"] = peer + ["--gates-only"]
        else:  # the largest child trained alone: the memory reference
            common = ["--net", net, "--mode", "train", "--batch", "64", "--threads",
                      str(threads), "--iters", iters]
            ours_cmd = [tool(a.build, "bench-net")] + common
            peers = {"torch": [TORCH_PYTHON, os.path.join(HERE, "torch_peer.py")] + common}
        ours, theirs = timed_pair(a, ours_cmd, peers)
        row = dict(section="search", mode=mode, net=net, batch=64, threads=threads,
                   ours_ms=med(ours, "ms"), ours_rss=med(ours, "peak_rss_mb"),
                   torch_ms=med(theirs["torch"], "ms"),
                   torch_rss=med(theirs["torch"], "peak_rss_mb"))
        row["ratio"] = row["torch_ms"] / row["ours_ms"]
        row["rss_ratio"] = row["ours_rss"] / row["torch_rss"]
        if "torch_gates_only" in theirs:
            row["torch_gates_ms"] = med(theirs["torch_gates_only"], "ms")
            row["ratio_gates"] = row["torch_gates_ms"] / row["ours_ms"]
        if mode == "weight":
            row["gflop_per_s"] = med(ours, "gflop_per_s")
            row["step_gflop"] = med(ours, "step_gflop")
            if "peak" in res:
                row["peak_share"] = row["gflop_per_s"] / res["peak"][threads]
            if "peak512" in res:
                row["peak512_share"] = row["gflop_per_s"] / res["peak512"][threads]
        rows.append(row)
        extra = f"  gates-only peer {row['torch_gates_ms']:.1f} ms (x{row['ratio_gates']:.2f})" \
            if "ratio_gates" in row else ""
        print(f"{mode:8} {net:10} t{threads}: libpnas {row['ours_ms']:8.1f} ms "
              f"{row['ours_rss']:6.1f} MB  pytorch {row['torch_ms']:8.1f} ms "
              f"{row['torch_rss']:6.1f} MB  x{row['ratio']:.2f}{extra}", flush=True)
    res["search"] = rows


def net_configs(section, quick):
    nets = ["k3e3"] if quick else ["k3e3", "k3e6", "k7e6", "searched"]
    threads = [1, 2]
    if section == "train":
        return [("train", n, 64, t) for n in nets if n != "searched" for t in threads]
    out = [("infer", n, b, t) for n in nets for b in (1, 64) for t in threads]
    out += [("infer", "mobile224", 1, t) for t in threads]
    return out


def section_nets(a, res, section):
    rows = []
    for mode, net, batch, threads in net_configs(section, a.quick):
        iters = 30 if mode == "infer" and batch == 1 and net != "mobile224" else 10
        common = ["--net", net, "--mode", mode, "--batch", str(batch), "--threads",
                  str(threads), "--iters", str(iters), "--net-config", NET_CONFIG]
        ours, theirs = timed_pair(a, [tool(a.build, "bench-net")] + common,
                                  {"torch": [TORCH_PYTHON, os.path.join(HERE, "torch_peer.py")]
                                   + common})
        row = dict(section=section, mode=mode, net=net, batch=batch, threads=threads,
                   ours_ms=med(ours, "ms"), torch_ms=med(theirs["torch"], "ms"),
                   ours_rss=med(ours, "peak_rss_mb"), torch_rss=med(theirs["torch"], "peak_rss_mb"))
        row["ratio"] = row["torch_ms"] / row["ours_ms"]
        rows.append(row)
        print(f"{mode:6} {net:10} b{batch:<3} t{threads}: libpnas {row['ours_ms']:9.3f} ms  "
              f"pytorch {row['torch_ms']:9.3f} ms  x{row['ratio']:.2f}", flush=True)
    res[section] = rows


def section_kernels(a, res):
    runs = {name: [run_lines([tool(a.build, name)]) for _ in range(3)]
            for name in ("bench-gemm", "bench-dwconv", "bench-bn", "bench-gemm-rows")}
    rows = []

    def add(kind, name, key):
        per = {}
        for t in (1, 2):
            per[t] = statistics.median(float(next(r for r in rs if r["threads"] == str(t))[key])
                                       for rs in runs[name])
        rows.append(dict(kernel=kind, ms1=per[1], ms2=per[2], speedup=per[1] / per[2]))

    add("1x1 conv forward (GEMM)", "bench-gemm", "fwd_ms")
    add("1x1 conv backward data (GEMM)", "bench-gemm", "bwd_data_ms")
    add("1x1 conv weight gradient (GEMM)", "bench-gemm", "bwd_weight_ms")
    add("eval 1x1 + stem with BN epilogue", "bench-gemm-rows", "fused_ms")
    add("depthwise forward", "bench-dwconv", "fwd_ms")
    add("depthwise backward (dx + dw)", "bench-dwconv", "bwd_ms")
    add("BN + ReLU6 training forward", "bench-bn", "fwd_ms")
    add("BN + ReLU6 backward", "bench-bn", "bwd_ms")
    res["bandwidth"] = {t: statistics.median(
        float(next(r for r in rs if r["threads"] == str(t))["stream_gbps"])
        for rs in runs["bench-bn"]) for t in (1, 2)}
    if "peak" in res:
        rows.append(dict(kernel="FMA peak (bench-peak)", ms1=1e3 / res["peak"][1],
                         ms2=1e3 / res["peak"][2], speedup=res["peak"][2] / res["peak"][1]))
    by = {(r["mode"], r["net"], r["threads"]): r for r in res.get("search", [])}
    for mode in ("weight", "two", "full_v2"):
        r1, r2 = by.get((mode, "supernet6", 1)), by.get((mode, "supernet6", 2))
        if r1 and r2:
            rows.append(dict(kernel=f"whole {mode} step", ms1=r1["ours_ms"], ms2=r2["ours_ms"],
                             speedup=r1["ours_ms"] / r2["ours_ms"]))
    res["kernels"] = rows
    for r in rows:
        print(f"{r['kernel']:34} {r['ms1']:9.3f} ms -> {r['ms2']:9.3f} ms  x{r['speedup']:.2f}",
              flush=True)


BLIS_KIND = "GEMM (1x1 convolutions, stem, classifier: BLIS and libpnas's kernels)"
KINDS = [  # (kind, symbol pattern); the first match wins; BLIS is matched by its library
    (BLIS_KIND, r"sgemm512|^panel|blocks_1x1|rows_conv|gemm_rows|^block[12]_|blocks_tn"),
    ("depthwise convolution", r"gather|tile_row|tile_group|forward_row|backward_data_row|weight_grad|dwconv"),
    ("batch norm + ReLU6", r"stats_rows|affine_rows|grad_sums_rows|bn_dx_rows|bn_|relu6"),
    ("stem im2col", r"im2col|col2im"),
    ("residual add, pool, classifier", r"add_range|avgpool|linear|xent|column_sums"),
    ("SGD and finiteness checks", r"sgd|finite|isfinite"),
    ("gate dot products", r"gate_dot|supernet_backward"),
]


def perf_samples(cmd, data):
    subprocess.run(["perf", "record", "-q", "-F", "1999", "-o", data, "--"] + cmd, check=True,
                   capture_output=True)
    out = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-n",
                          "--sort", "dso,symbol"], check=True, capture_output=True,
                         text=True).stdout
    counts = {}
    for line in out.splitlines():
        m = re.match(r"\s*[\d.]+%\s+(\d+)\s+(\S+)\s+\[(.)\]\s+(\S+)", line)
        if not m:
            continue
        samples, dso, _, sym = int(m.group(1)), m.group(2), m.group(3), m.group(4)
        if "blis" in dso:
            kind = BLIS_KIND
        elif "pnas" in dso:
            kind = next((k for k, pat in KINDS if re.search(pat, sym)), "other libpnas")
        elif "kernel" in dso:
            kind = "operating system (page faults, scheduling)"
        else:
            kind = "other (libc, libm, OpenMP runtime)"
        counts[kind] = counts.get(kind, 0) + samples
    return counts


def section_shares(a, res):
    """Samples of 22 steps minus samples of 2 steps (same start-up), so the
    shares are those of the steps alone."""
    try:
        subprocess.run(["perf", "stat", "-e", "task-clock", "true"], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        print("shares: perf cannot sample here; section skipped", flush=True)
        return
    shares = {}
    with tempfile.TemporaryDirectory() as tmp:
        for threads in (1, 2):
            base = [tool(a.build, "bench-supernet"), "--mode", "weight", "--threads",
                    str(threads), "--warmup", "1"]
            try:
                many = perf_samples(base + ["--iters", "22"], os.path.join(tmp, "many"))
                few = perf_samples(base + ["--iters", "2"], os.path.join(tmp, "few"))
            except subprocess.CalledProcessError as e:
                print(f"shares: perf failed ({(e.stderr or b'').strip()[:200]!r}); section "
                      "skipped", flush=True)
                return
            diff = {k: max(0, many.get(k, 0) - few.get(k, 0)) for k in set(many) | set(few)}
            total = sum(diff.values()) or 1
            shares[threads] = {k: v / total for k, v in diff.items()}
    res["shares"] = shares
    weight = {r["threads"]: r for r in res.get("search", [])
              if r["mode"] == "weight" and r["net"] == "supernet6"}
    if "peak" in res and "bandwidth" in res and weight:
        res["floors"] = {}
        for t, row in weight.items():
            # The machine's real peak: 512-bit FMAs where it has them.
            peak = res.get("peak512", res["peak"])[t]
            fl = supernet_model.floors(peak, res["bandwidth"][t])
            measured = {"GEMM": shares[t].get(BLIS_KIND, 0.0),
                        "depthwise": shares[t].get("depthwise convolution", 0.0),
                        "batch norm + ReLU6": shares[t].get("batch norm + ReLU6", 0.0)}
            for kind, v in fl.items():
                v["measured_ms"] = measured[kind] * row["ours_ms"]
            res["floors"][t] = fl
    for k in sorted(shares[1], key=lambda k: -shares[1][k]):
        print(f"{k:52} {100 * shares[1][k]:5.1f}% (1 thread) "
              f"{100 * shares[2].get(k, 0):5.1f}% (2 threads)", flush=True)


def target_of(row):
    if row["section"] == "search":
        return TARGETS.get(row["mode"])
    if row["section"] == "infer":
        if row["net"] == "mobile224":
            return TARGETS["mobile224"]
        return TARGETS["infer1"] if row["batch"] == 1 else TARGETS["infer64"]
    return None


def tables(res):
    out = []
    if "peak" in res:
        out += ["### Peak", "",
                f"Measured fp32 FMA peak (bench-peak): {res['peak'][1]:.1f} GFLOP/s on one "
                f"thread, {res['peak'][2]:.1f} GFLOP/s on two (256-bit FMAs)."]
        if "peak512" in res:
            out += [f"With 512-bit FMAs (AVX-512): {res['peak512'][1]:.1f} GFLOP/s on one "
                    f"thread, {res['peak512'][2]:.1f} GFLOP/s on two."]
        out += [""]
    if "search" in res:
        out += ["### Supernet steps (batch 64)", "",
                "| step | net | threads | libpnas ms | PyTorch ms | speed-up | PyTorch gates-only ms "
                "| speed-up | target | libpnas RSS MB | PyTorch RSS MB | RSS ratio |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in res["search"]:
            g = (f"{r['torch_gates_ms']:.1f} | {r['ratio_gates']:.2f}x"
                 if "ratio_gates" in r else "- | -")
            t = target_of(r)
            out.append(f"| {r['mode']} | {r['net']} | {r['threads']} | {r['ours_ms']:.1f} | "
                       f"{r['torch_ms']:.1f} | {r['ratio']:.2f}x | {g} | "
                       f"{f'{t:.0f}x' if t else '-'} | {r['ours_rss']:.1f} | "
                       f"{r['torch_rss']:.1f} | {r['rss_ratio']:.2f} |")
        flops = [r for r in res["search"] if "gflop_per_s" in r]
        if flops:
            out += ["", "| weight step | threads | GFLOP per step | GFLOP/s | share of peak "
                    "(256-bit) | share of peak (512-bit) |", "|---|---|---|---|---|---|"]
            for r in flops:
                share = f"{100 * r['peak_share']:.0f}%" if "peak_share" in r else "-"
                share512 = f"{100 * r['peak512_share']:.0f}%" if "peak512_share" in r else "-"
                out.append(f"| {r['net']} | {r['threads']} | {r['step_gflop']:.2f} | "
                           f"{r['gflop_per_s']:.1f} | {share} | {share512} |")
        out.append("")
    for section in ("infer", "train"):
        if section not in res:
            continue
        out += [f"### {'Inference' if section == 'infer' else 'Training'} of fixed networks", "",
                "| net | batch | threads | libpnas ms | PyTorch ms | speed-up | target | "
                "libpnas RSS MB | PyTorch RSS MB |", "|---|---|---|---|---|---|---|---|---|"]
        for r in res[section]:
            t = target_of(r)
            out.append(f"| {r['net']} | {r['batch']} | {r['threads']} | {r['ours_ms']:.3f} | "
                       f"{r['torch_ms']:.3f} | {r['ratio']:.2f}x | {f'{t:.0f}x' if t else '-'} | "
                       f"{r['ours_rss']:.1f} | {r['torch_rss']:.1f} |")
        out.append("")
    if "kernels" in res:
        out += ["### 1 -> 2 threads", "", "| kernel | 1 thread ms | 2 threads ms | speed-up |",
                "|---|---|---|---|"]
        for r in res["kernels"]:
            out.append(f"| {r['kernel']} | {r['ms1']:.3f} | {r['ms2']:.3f} | "
                       f"{r['speedup']:.2f}x |")
        out.append("")
    if "shares" in res:
        s = res["shares"]
        out += ["### Share of the weight step's time per kernel kind (perf samples)", "",
                "| kind | 1 thread | 2 threads |", "|---|---|---|"]
        for k in sorted(s[1], key=lambda k: -s[1][k]):
            out.append(f"| {k} | {100 * s[1][k]:.1f}% | {100 * s[2].get(k, 0):.1f}% |")
        out.append("")
    if "floors" in res:
        out += ["### Floors of the weight step's kernels (supernet6, batch 64)", "",
                "Expected work of a step at the start of a search (tests/bench/supernet_model.py); "
                f"compute at the measured peak ({'512' if 'peak512' in res else '256'}-bit FMAs), "
                "memory at the measured streaming bandwidth "
                f"({res['bandwidth'][1]:.1f} GB/s on one thread, {res['bandwidth'][2]:.1f} on "
                "two); measured = share of the perf samples x the step's median time.", "",
                "| kernel | threads | GFLOP | MB moved | compute floor ms | memory floor ms | "
                "measured ms | measured / floor |", "|---|---|---|---|---|---|---|---|"]
        for t in sorted(res["floors"]):
            for kind, v in res["floors"][t].items():
                out.append(f"| {kind} | {t} | {v['gflop']:.2f} | {v['mbytes']:.0f} | "
                           f"{v['compute_ms']:.1f} | {v['memory_ms']:.1f} | "
                           f"{v['measured_ms']:.1f} | {v['measured_ms'] / v['floor_ms']:.2f} |")
        out.append("")
    return "\n".join(out)


def chart(res, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        # Debian's matplotlib lives with Debian's python: draw from there.
        if os.path.realpath(sys.executable) != os.path.realpath(TORCH_PYTHON) and \
                os.path.exists(TORCH_PYTHON):
            data = os.path.join(os.path.dirname(path), "results.json")
            subprocess.run([TORCH_PYTHON, os.path.abspath(__file__), "--chart", data,
                            "--out", os.path.dirname(path)], check=False)
        else:
            print("chart: matplotlib missing (apt-get install python3-matplotlib); skipped")
        return
    rows = [r for s in ("search", "infer") for r in res.get(s, []) if r["mode"] != "train"]
    if not rows:
        return
    labels, values, targets, colors = [], [], [], []
    for r in rows:
        name = (f"{r['mode']} {r['net']}" if r["section"] == "search"
                else f"infer {r['net']} b{r['batch']}")
        labels.append(f"{name} t{r['threads']}")
        values.append(r["ratio"])
        targets.append(target_of(r))
        colors.append("#3b7dd8" if r["section"] == "search" else "#55a868")
    height = 0.3 * len(rows) + 1.6
    fig, ax = plt.subplots(figsize=(8, height))
    y = list(range(len(rows)))[::-1]
    ax.barh(y, values, color=colors, label="speed-up over PyTorch")
    gates = [(yy, r["ratio_gates"]) for yy, r in zip(y, rows) if "ratio_gates" in r]
    if gates:
        ax.scatter([g for _, g in gates], [yy for yy, _ in gates], marker="o", color="black",
                   zorder=3, s=14, label="vs PyTorch gates-only peer")
    for yy, t in zip(y, targets):
        if t:
            ax.plot([t, t], [yy - 0.4, yy + 0.4], color="#c44e52", linewidth=2)
    ax.plot([], [], color="#c44e52", linewidth=2, label="target")
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("PyTorch time / libpnas time (median of processes)")
    ax.axvline(1.0, color="gray", linewidth=0.8)
    ax.set_title("libpnas against PyTorch 1.13, same machine, same run", fontsize=10)
    fig.tight_layout(rect=(0, 0.45 / height, 1, 1))
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=8,
               frameon=False)
    fig.savefig(path, dpi=110)
    print(f"chart: {path}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "_build", "bench"))
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="fewer configurations")
    p.add_argument("--only", nargs="+", choices=SECTIONS, help="sections to run")
    p.add_argument("--out", default=os.path.join(ROOT, "_bench"))
    p.add_argument("--markdown", help="also write the tables to this file")
    p.add_argument("--chart", metavar="RESULTS_JSON", help="only draw DIR/ratios.png from a "
                   "results.json of an earlier run")
    a = p.parse_args()
    if a.chart:
        with open(a.chart) as f:
            res = json.load(f)
        chart(res, os.path.join(a.out, "ratios.png"))
        return
    sections = a.only or DEFAULT_SECTIONS
    os.makedirs(a.out, exist_ok=True)
    res = {}
    if "kernels" in sections and "peak" not in sections:
        sections = ["peak"] + sections
    for s in SECTIONS:
        if s not in sections:
            continue
        print(f"== {s}", flush=True)
        if s == "peak":
            section_peak(a, res)
        elif s == "search":
            section_search(a, res)
        elif s in ("infer", "train"):
            section_nets(a, res, s)
        elif s == "kernels":
            section_kernels(a, res)
        elif s == "shares":
            section_shares(a, res)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    text = tables(res)
    print(text)
    for path in [os.path.join(a.out, "tables.md")] + ([a.markdown] if a.markdown else []):
        with open(path, "w") as f:
            f.write(text + "\n")
    chart(res, os.path.join(a.out, "ratios.png"))


if __name__ == "__main__":
    main()
