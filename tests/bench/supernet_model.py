"""Work and memory traffic of one weight step of the reference supernet, per
kernel kind, counted analytically: the floor of each kernel for
run_bench.py's table (time >= max(FLOPs / peak, bytes / bandwidth)).

The reference supernet (bench_supernet.c): stem 3x3 1->16 at 28x28, MBConv
(k3, e1) 16->8, four stages of two mixed layers (widths 24, 40, 80, 96;
first-layer strides 2, 2, 1, 1) over MBConv {3, 5, 7} x {3, 6} (plus zero on
the second layers), head 1x1 96->256, pool, FC 256->10. A weight step trains
one path drawn from softmax(alpha); at the start of a search alpha is near 0,
so every candidate is about equally likely and the expected work is the
mean over each layer's candidates.

Counting, per image and batch B:
- 1x1 convolution (GEMM), R = B*H*W rows: 2*R*cin*cout flops in each of the
  forward, backward data (not for the stem) and weight gradient; bytes: the
  forward reads x and writes z, backward data reads dz and writes dx, the
  weight gradient reads x and dz (4 bytes a float; weights are small).
- depthwise k x k: 2*R_out*c*k*k flops per pass, three passes; bytes: reads
  x and writes z, reads dz and writes dx, reads x and dz.
- batch norm + ReLU6 on an R x c output: forward reads it twice and writes
  once (3 tensors), backward reads input and gradient twice and writes once
  (5 tensors); its flops are negligible.
"""

F = 4  # bytes per float


def _mbconv(acc, batch, h, cin, cout, k, e, stride):
    oh = (h - 1) // stride + 1
    mid = cin * e
    r_in, r_out = batch * h * h, batch * oh * oh
    if e != 1:
        _gemm(acc, r_in, cin, mid, data=True)
        _bn(acc, r_in, mid)
    acc["dw_flops"] += 3 * 2 * r_out * mid * k * k
    acc["dw_bytes"] += F * (2 * (r_in * mid + r_out * mid) + r_in * mid + r_out * mid)
    _bn(acc, r_out, mid)
    _gemm(acc, r_out, mid, cout, data=True)
    _bn(acc, r_out, cout)
    return oh


def _gemm(acc, rows, cin, cout, data):
    passes = 3 if data else 2
    acc["gemm_flops"] += passes * 2 * rows * cin * cout
    acc["gemm_bytes"] += F * (rows * cin + rows * cout) * passes


def _bn(acc, rows, c):
    acc["bn_bytes"] += F * rows * c * (3 + 5)


def _blank():
    return {"gemm_flops": 0.0, "gemm_bytes": 0.0, "dw_flops": 0.0, "dw_bytes": 0.0,
            "bn_bytes": 0.0}


def weight_step(batch=64, candidates=((3, 3), (3, 6), (5, 3), (5, 6), (7, 3), (7, 6))):
    """Expected FLOPs and bytes of one weight step per kernel kind."""
    acc = _blank()
    # stem: im2col (9 columns) + GEMM, no backward data; its BN
    rows = batch * 28 * 28
    _gemm(acc, rows, 9, 16, data=False)
    _bn(acc, rows, 16)
    _mbconv(acc, batch, 28, 16, 8, 3, 1, 1)
    h, c = 28, 8
    for width, stride in zip((24, 40, 80, 96), (2, 2, 1, 1)):
        for layer in range(2):
            s = stride if layer == 0 else 1
            ops = list(candidates) + ([None] if layer == 1 else [])
            mean = _blank()
            for op in ops:
                one = _blank()
                if op is not None:
                    _mbconv(one, batch, h, c, width, op[0], op[1], s)
                for key in mean:
                    mean[key] += one[key] / len(ops)
            for key in acc:
                acc[key] += mean[key]
            h = (h - 1) // s + 1
            c = width
    _gemm(acc, batch * h * h, c, 256, data=True)
    _bn(acc, batch * h * h, 256)
    return acc


def floors(peak_gflops, bandwidth_gbs, batch=64):
    """Floor in ms per kind: max(compute, memory) at the given rates."""
    w = weight_step(batch)
    out = {}
    for kind, fl, by in (("GEMM", w["gemm_flops"], w["gemm_bytes"]),
                         ("depthwise", w["dw_flops"], w["dw_bytes"]),
                         ("batch norm + ReLU6", 0.0, w["bn_bytes"])):
        compute = 1e3 * fl / (peak_gflops * 1e9)
        memory = 1e3 * by / (bandwidth_gbs * 1e9)
        out[kind] = {"gflop": fl * 1e-9, "mbytes": by * 1e-6, "compute_ms": compute,
                     "memory_ms": memory, "floor_ms": max(compute, memory)}
    return out


if __name__ == "__main__":
    for kind, v in floors(46.9, 12.0).items():
        print(kind, {k: round(x, 2) for k, x in v.items()})
