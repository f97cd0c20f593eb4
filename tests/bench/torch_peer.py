#!/usr/bin/env python3
"""The PyTorch peer of bench_net.c: the same networks, modes and timing.

    /usr/bin/python3 torch_peer.py --net k3e3 --mode train --batch 64 --threads 2

Prints one line in bench-net's key=value format. Uses Debian's python3-torch
on the CPU, NCHW (PyTorch's default and fastest CPU layout for these ops),
SGD with Nesterov momentum and label smoothing as libpnas's training step.
"""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn as nn


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
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


class Net(nn.Module):
    def __init__(self, cin, stem, stem_stride, blocks, head, classes):
        super().__init__()
        layers, c = [unit(cin, stem, 3, stem_stride)], stem
        for cout, k, e, s in blocks:
            if cout is None:  # identity (a searched zero op)
                continue
            layers.append(MBConv(c, cout, k, e, s))
            c = cout
        if head:
            layers.append(unit(c, head, 1, 1))
            c = head
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


def fmnist_net(layers):
    """layers: (kernel, expand) of the eight stage layers; None is a zero op."""
    blocks = [(8, 3, 1, 1)]
    widths = [w for w in (24, 40, 80, 96) for _ in range(2)]
    strides = [s for st in (2, 2, 1, 1) for s in (st, 1)]
    for (width, stride, layer) in zip(widths, strides, layers):
        blocks.append((None, 0, 0, 0) if layer is None else (width, layer[0], layer[1], stride))
    return Net(1, 16, 1, blocks, 256, 10), (1, 28, 28)


# The network the default search found (docs/results.md).
SEARCHED = [(7, 3), None, (7, 3), None, (7, 3), None, (3, 3), None]


def net_config_net(path):
    cfg = json.load(open(path))
    blocks = []
    for b in cfg["blocks"]:
        m = b["mobile_inverted_conv"]
        if m["name"] == "ZeroLayer":
            blocks.append((None, 0, 0, 0))
        else:
            blocks.append((m["out_channels"], m["kernel_size"], m["expand_ratio"], m["stride"]))
    fc = cfg["first_conv"]
    net = Net(fc["in_channels"], fc["out_channels"], fc["stride"], blocks,
              cfg["feature_mix_layer"]["out_channels"], cfg["classifier"]["out_features"])
    return net, (fc["in_channels"], 224, 224)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--net", default="k3e3")
    p.add_argument("--mode", default="train")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--net-config")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    if a.net == "mobile224":
        net, shape = net_config_net(a.net_config)
    elif a.net == "searched":
        net, shape = fmnist_net(SEARCHED)
    else:
        net, shape = fmnist_net([(int(a.net[1]), int(a.net[3]))] * 8)
    x = torch.rand(a.batch, *shape) - 0.5
    labels = torch.arange(a.batch) % net.fc.out_features
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True,
                          weight_decay=4e-5)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    times = []
    if a.mode == "train":
        net.train()
        for i in range(a.warmup + a.iters):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), labels)
            loss.backward()
            opt.step()
            if i >= a.warmup:
                times.append(time.perf_counter() - t0)
    else:
        net.eval()
        with torch.inference_mode():
            for i in range(a.warmup + a.iters):
                t0 = time.perf_counter()
                net(x)
                if i >= a.warmup:
                    times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"impl=pytorch-{torch.__version__} net={a.net} mode={a.mode} batch={a.batch} "
          f"threads={a.threads} ms={1e3 * median:.4f} images_per_s={a.batch / median:.1f} "
          f"peak_rss_mb={rss_mb:.1f}")


if __name__ == "__main__":
    main()
