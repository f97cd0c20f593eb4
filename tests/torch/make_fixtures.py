#!/usr/bin/env python3
"""Writes the PyTorch agreement fixtures under tests/fixtures/torch/.

Run with Debian's PyTorch (python3-torch) only when the fixtures must change:

    /usr/bin/python3 tests/torch/make_fixtures.py

The fixtures are committed so that the test suite needs no PyTorch. Each file
is a sequence of named float32 tensors (format below), all in libpnas's
layouts: activations NHWC, full conv weights [k][k][cin][cout], 1x1
[cin][cout], depthwise [k][k][c], classifier [in][out].

File format (little endian): b"PNASFIX1", u32 count, then per tensor:
u32 name length, name bytes, u32 ndim, u32 dims[ndim], f32 data.
"""
import os
import struct

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "torch")


class Unit(nn.Module):
    """Conv (full, 1x1 or depthwise) + BN + optional ReLU6."""

    def __init__(self, cin, cout, k, stride, depthwise, relu):
        super().__init__()
        groups = cin if depthwise else 1
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.1)
        self.relu = relu
        self.depthwise = depthwise

    def forward(self, x):
        y = self.bn(self.conv(x))
        return torch.clamp(y, 0.0, 6.0) if self.relu else y


class MBConv(nn.Module):
    def __init__(self, cin, cout, k, e, stride):
        super().__init__()
        mid = round(cin * e)
        units = []
        if e != 1:
            units.append(Unit(cin, mid, 1, 1, False, True))
        units.append(Unit(mid, mid, k, stride, True, True))
        units.append(Unit(mid, cout, 1, 1, False, False))
        self.units = nn.ModuleList(units)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = x
        for u in self.units:
            y = u(y)
        return x + y if self.residual else y


class Net(nn.Module):
    def __init__(self, cin, stem, blocks, head, classes):
        super().__init__()
        self.stem = Unit(cin, stem, 3, 1, False, True)
        layers, c = [], stem
        for cout, k, e, s in blocks:
            layers.append(MBConv(c, cout, k, e, s))
            c = cout
        self.blocks = nn.ModuleList(layers)
        self.head = Unit(c, head, 1, 1, False, True) if head else None
        self.fc = nn.Linear(head or c, classes)

    def forward(self, x):
        y = self.stem(x)
        for b in self.blocks:
            y = b(y)
        if self.head is not None:
            y = self.head(y)
        return self.fc(y.mean(dim=(2, 3)))

    def units(self):
        yield self.stem
        for b in self.blocks:
            yield from b.units
        if self.head is not None:
            yield self.head


def conv_layout(u, w):
    """PyTorch conv weight (or its gradient) to libpnas's layout."""
    w = w.detach()
    if u.depthwise:  # [c][1][k][k] -> [k][k][c]
        return w[:, 0].permute(1, 2, 0).contiguous()
    if w.shape[2] == 1:  # [cout][cin][1][1] -> [cin][cout]
        return w[:, :, 0, 0].t().contiguous()
    return w.permute(2, 3, 1, 0).contiguous()  # -> [k][k][cin][cout]


def write(path, tensors):
    with open(path, "wb") as f:
        f.write(b"PNASFIX1")
        f.write(struct.pack("<I", len(tensors)))
        for name, t in tensors:
            t = t.detach().to(torch.float32).contiguous()
            data = name.encode()
            f.write(struct.pack("<I", len(data)))
            f.write(data)
            f.write(struct.pack("<I", t.dim()))
            f.write(struct.pack("<%dI" % t.dim(), *t.shape))
            f.write(t.numpy().astype("<f4").tobytes())


def make(name, hw, cin, stem, blocks, head, classes, batch, seed):
    torch.manual_seed(seed)
    net = Net(cin, stem, blocks, head, classes).train()
    with torch.no_grad():  # non-trivial BN parameters
        for u in net.units():
            u.bn.weight.uniform_(0.5, 1.5)
            u.bn.bias.uniform_(-0.2, 0.2)
    x = torch.randn(batch, cin, hw, hw, requires_grad=True)
    labels = torch.randint(0, classes, (batch,))
    logits = net(x)
    loss = nn.functional.cross_entropy(logits, labels, label_smoothing=0.1)
    loss.backward()

    t = [("input", x.detach().permute(0, 2, 3, 1)),
         ("labels", labels.to(torch.float32)),
         ("logits", logits), ("loss", loss.reshape(1)),
         ("dinput", x.grad.permute(0, 2, 3, 1))]
    for i, u in enumerate(net.units()):
        t += [(f"unit{i}.weight", conv_layout(u, u.conv.weight)),
              (f"unit{i}.gamma", u.bn.weight), (f"unit{i}.beta", u.bn.bias),
              (f"unit{i}.dweight", conv_layout(u, u.conv.weight.grad)),
              (f"unit{i}.dgamma", u.bn.weight.grad), (f"unit{i}.dbeta", u.bn.bias.grad),
              (f"unit{i}.running_mean", u.bn.running_mean),
              (f"unit{i}.running_var", u.bn.running_var)]
    t += [("fc.weight", net.fc.weight.t()), ("fc.bias", net.fc.bias),
          ("fc.dweight", net.fc.weight.grad.t()), ("fc.dbias", net.fc.bias.grad)]
    os.makedirs(OUT, exist_ok=True)
    write(os.path.join(OUT, name + ".bin"), t)
    print(f"{name}: {len(t)} tensors, loss {loss.item():.6f}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    # One MBConv block with its residual, between a stem and the classifier.
    make("mbconv", hw=6, cin=8, stem=8, blocks=[(8, 3, 6, 1)], head=0, classes=4,
         batch=3, seed=1)
    # A small whole network: k3/k5/k7, e1/e3/e6, stride 1 and 2, residuals, head.
    make("network", hw=10, cin=1, stem=8,
         blocks=[(8, 3, 1, 1), (12, 5, 3, 2), (12, 7, 6, 1), (16, 3, 3, 2)],
         head=32, classes=5, batch=4, seed=2)
    # Odd sizes: 7x7 input, stride 2 to 4x4, kernels as large as the map.
    make("oddnet", hw=7, cin=1, stem=4,
         blocks=[(3, 3, 1, 1), (5, 3, 3, 2), (5, 7, 6, 1), (6, 5, 3, 1)],
         head=8, classes=3, batch=3, seed=3)
