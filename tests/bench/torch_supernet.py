#!/usr/bin/env python3
"""The PyTorch peer of bench_supernet.c: the same reference supernet, the same
sampling and the same arch steps, so that libpnas is timed against an honest
framework implementation of ProxylessNAS on the same machine.

    /usr/bin/python3 torch_supernet.py --mode weight|two|full_v2 [--candidates 6|12]
                                       [--batch 64] [--threads 2] [--iters 10]
                                       [--gates-only]

- weight: one candidate per layer drawn from softmax(alpha); forward and
  backward through that path only; SGD (Nesterov, weight decay) on the
  parameters that got a gradient (set_to_none keeps the others untouched).
- two: a pair per layer drawn without replacement, the active one from the
  pair's renormalised q; both run (the inactive one without weight
  gradients), binary gates carry dL/dg; BinaryConnect alpha gradient, Adam
  with beta1 = 0, then the pair shift that keeps other probabilities.
- full_v2: only the active path is kept; in backward every other candidate is
  re-run on the saved input without gradients for its gate gradient.
Arch steps call loss.backward() as the official ProxylessNAS code does (it
also computes the weight gradients, which the arch step then ignores). With
--gates-only they ask autograd for the gate gradients alone
(torch.autograd.grad on the gates, or on the active outputs for full_v2), so
that, like libpnas, they compute no weight gradient and stop at the first
mixed layer: the strictest peer.
Prints one key=value line like bench-supernet.
"""
import argparse
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def unit(cin, cout, k, stride, groups=1, relu=True):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout, eps=1e-3, momentum=0.1)]
    if relu:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    def __init__(self, cin, cout, k, e, stride):
        super().__init__()
        mid = round(cin * e)
        layers = [] if e == 1 else [unit(cin, mid, 1, 1)]
        layers += [unit(mid, mid, k, stride, groups=mid), unit(mid, cout, 1, 1, relu=False)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


class MixedOp(nn.Module):
    def __init__(self, cin, cout, stride, ops):
        super().__init__()
        self.residual = stride == 1 and cin == cout
        # The zero op has no module; nn.Identity keeps the list's indices.
        self.ops = nn.ModuleList([MBConv(cin, cout, k, e, stride) if k else nn.Identity()
                                  for k, e in ops])
        self.zero = [k == 0 for k, _ in ops]
        self.alpha = nn.Parameter(torch.randn(len(ops)) * 1e-3)

    def out(self, j, x):
        return torch.zeros_like(x) if self.zero[j] else self.ops[j](x)


class Supernet(nn.Module):
    def __init__(self, candidates):
        super().__init__()
        exps = (3, 6) if candidates == 6 else (3, 4, 5, 6)
        ops = [(k, e) for k in (3, 5, 7) for e in exps]
        self.stem = unit(1, 16, 3, 1)
        self.first = MBConv(16, 8, 3, 1, 1)
        layers, c = [], 8
        for width, stride in zip((24, 40, 80, 96), (2, 2, 1, 1)):
            layers.append(MixedOp(c, width, stride, ops))
            layers.append(MixedOp(width, width, 1, ops + [(0, 0)]))
            c = width
        self.layers = nn.ModuleList(layers)
        self.head = unit(c, 256, 1, 1)
        self.fc = nn.Linear(256, 10)

    def weights(self):
        return [p for n, p in self.named_parameters() if not n.endswith("alpha")]

    def alphas(self):
        return [m.alpha for m in self.layers]


def weight_step(net, opt, x, y):
    opt.zero_grad(set_to_none=True)
    h = net.first(net.stem(x))
    for m in net.layers:
        with torch.no_grad():
            j = torch.multinomial(F.softmax(m.alpha, 0), 1).item()
        if not m.zero[j]:
            o = m.ops[j](h)
            h = h + o if m.residual else o
    loss = F.cross_entropy(net.fc(net.head(h).mean((2, 3))), y, label_smoothing=0.1)
    loss.backward()
    opt.step()


def arch_step(net, adam, x, y, mode, gates_only):
    adam.zero_grad(set_to_none=True)
    h = net.first(net.stem(x))
    records, wrt = [], []
    for m in net.layers:
        p = F.softmax(m.alpha.detach(), 0)
        if mode == "two":
            pair = torch.multinomial(p, 2, replacement=False).tolist()
            q = F.softmax(m.alpha.detach()[pair], 0)
            a = pair[torch.multinomial(q, 1).item()]
            b = pair[0] if a == pair[1] else pair[1]
            gates = torch.tensor([1.0, 0.0], requires_grad=True)
            oa = m.out(a, h)
            with torch.no_grad():
                ob = m.out(b, h)
            o = gates[0] * oa + gates[1] * ob
            records.append((m, "two", pair, (a, b), len(wrt), q))
            wrt.append(gates)
        else:
            a = torch.multinomial(p, 1).item()
            x_in = h.detach()
            o = m.out(a, h)
            if m.zero[a]:  # zero active: the layer gets no update (official rule)
                records.append((m, "skip"))
            else:
                box = {"index": len(wrt)}
                wrt.append(o)
                records.append((m, "full", a, x_in, box, p))
        h = h + o if m.residual else o
    loss = F.cross_entropy(net.fc(net.head(h).mean((2, 3))), y)
    if gates_only:
        grads = torch.autograd.grad(loss, wrt) if wrt else []
    else:
        for t in wrt:
            t.retain_grad()
        loss.backward()
        grads = [t.grad for t in wrt]
    shifts = []
    for rec in records:
        m = rec[0]
        grad = torch.zeros_like(m.alpha)
        if rec[1] == "skip":
            pass
        elif rec[1] == "two":
            _, _, pair, (a, b), index, q = rec
            g = grads[index]
            idx = [a, b]
            w = torch.stack([q[pair.index(a)], q[pair.index(b)]])
            for i in range(2):
                grad[idx[i]] = sum(g[k] * w[k] * (float(i == k) - w[i]) for k in range(2))
            shifts.append((m, idx, m.alpha.detach()[idx].clone()))
        else:
            _, _, a, x_in, box, p = rec
            dy = grads[box["index"]]
            gate = torch.zeros(len(m.zero))
            with torch.no_grad():
                for j in range(len(m.zero)):
                    oj = m.out(j, x_in)
                    gate[j] = (dy * oj).sum()
            grad = (gate * p) - p * (gate * p).sum()
        m.alpha.grad = grad
    adam.step()
    with torch.no_grad():
        for m, idx, old in shifts:
            new = m.alpha[idx]
            c = torch.logsumexp(new, 0) - torch.logsumexp(old, 0)
            m.alpha[idx] -= c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="weight")
    ap.add_argument("--candidates", type=int, default=6)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--gates-only", action="store_true",
                    help="arch steps: autograd.grad on the gates instead of loss.backward()")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    net = Supernet(a.candidates).train()
    x = torch.rand(a.batch, 1, 28, 28) - 0.5
    y = torch.arange(a.batch) % 10
    opt = torch.optim.SGD(net.weights(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=4e-5)
    adam = torch.optim.Adam(net.alphas(), lr=1e-3, betas=(0.0, 0.999), eps=1e-8)
    times = []
    for i in range(a.warmup + a.iters):
        t0 = time.perf_counter()
        if a.mode == "weight":
            weight_step(net, opt, x, y)
        else:
            arch_step(net, adam, x, y, a.mode, a.gates_only)
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"impl=pytorch-{torch.__version__} net=supernet{a.candidates} mode={a.mode} "
          f"batch={a.batch} threads={a.threads} ms={1e3 * med:.4f} "
          f"images_per_s={a.batch / med:.1f} peak_rss_mb={rss:.1f}")


if __name__ == "__main__":
    main()
