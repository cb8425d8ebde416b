"""Per-op overhead: the engine's own cost on tiny tensors, against PyTorch.

(a) MLP 16-32-32-4 with ReLU, batch 8: forward + MSE + backward + SGD step.
(b) a 200-op elementwise chain on a 4x4 tensor: forward + backward.

Both frameworks run interleaved in one process; each figure is the median
over repeats of the mean time per iteration. Run: python benchmarks/bench_overhead.py
"""
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import tinygrad_conv as tc  # noqa: E402
from tinygrad_conv import functional as F, nn, optim  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

CHAIN = 200
rng = np.random.default_rng(0)
X = rng.standard_normal((8, 16)).astype(np.float32)
Y = rng.standard_normal((8, 4)).astype(np.float32)
SHAPES = [(32, 16), (32, 32), (4, 32)]
W0 = [rng.standard_normal(s).astype(np.float32) * 0.1 for s in SHAPES]
B0 = [np.zeros(s[0], np.float32) for s in SHAPES]
C0 = rng.standard_normal((4, 4)).astype(np.float32)


def chain_ops(x):
    """200 elementwise ops, cycling through mul, add, tanh, sub-with-number."""
    for i in range(CHAIN // 4):
        x = x * 0.9
        x = x + 0.1
        x = x.tanh()
        x = x - 0.05
    return x


def ours_mlp():
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4))
    with tc.no_grad():
        for layer, w, b in zip(model[::2], W0, B0):
            layer.weight.copy_(tc.tensor(w))
            layer.bias.copy_(tc.tensor(b))
    opt = optim.SGD(model.parameters(), lr=0.01)
    x, y = tc.tensor(X), tc.tensor(Y)

    def step():
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def ours_chain():
    x = tc.tensor(C0, requires_grad=True)

    def step():
        x.grad = None
        chain_ops(x).sum().backward()

    return step


def torch_mlp():
    nn_ = torch.nn
    model = nn_.Sequential(nn_.Linear(16, 32), nn_.ReLU(), nn_.Linear(32, 32), nn_.ReLU(), nn_.Linear(32, 4))
    with torch.no_grad():
        for layer, w, b in zip(model[::2], W0, B0):
            layer.weight.copy_(torch.tensor(w))
            layer.bias.copy_(torch.tensor(b))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.tensor(X), torch.tensor(Y)

    def step():
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def torch_chain():
    x = torch.tensor(C0, requires_grad=True)

    def step():
        x.grad = None
        chain_ops(x).sum().backward()

    return step


def per_iter(step, iters):
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    return (time.perf_counter() - t0) / iters


def bench(name, ours, theirs, iters, repeats=15):
    a, b = ours(), theirs() if theirs else None
    a(), b and b()  # warm up
    ta, tb = [], []
    for _ in range(repeats):  # interleaved, so both see the same machine load
        ta.append(per_iter(a, iters))
        if b:
            tb.append(per_iter(b, iters))
    ma = statistics.median(ta) * 1e6
    if b:
        mb = statistics.median(tb) * 1e6
        print(f"{name:<34} {ma:10.1f} us {mb:10.1f} us {ma / mb:7.2f}x")
    else:
        print(f"{name:<34} {ma:10.1f} us {'-':>13} {'-':>8}")


if __name__ == "__main__":
    print(f"{'benchmark':<34} {'tinygrad_conv':>13} {'PyTorch':>13} {'ratio':>8}")
    bench("MLP 16-32-32-4, batch 8, SGD step", ours_mlp, torch_mlp if torch else None, 200)
    bench(f"{CHAIN}-op chain on 4x4, fwd+bwd", ours_chain, torch_chain if torch else None, 20)
