"""batch_norm forward + backward (training mode, float32, with weight and bias) against PyTorch.

Each step is ``y = batch_norm(x, running_mean, running_var, w, b, training=True)``
then ``y.backward(g)``, x requiring grad as in a hidden layer. Ours and
PyTorch run interleaved in one process, in alternating order, with the same
pauses and medians as bench_conv.py (see its docstring for why).

Run: python benchmarks/bench_norm.py [repeats]
"""
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import tinygrad_conv as tc  # noqa: E402
from tinygrad_conv import functional as F  # noqa: E402
from bench_conv import PAUSE, timed  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

SHAPES = [(64, 32, 16, 16), (256, 64, 8, 8), (64, 16)]


def make_case(shape, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    w, b = rng.standard_normal(shape[1]).astype(np.float32), rng.standard_normal(shape[1]).astype(np.float32)
    return x, w, b, g


def ours_step(x, w, b, g):
    xt, wt, bt = (tc.tensor(a, requires_grad=True) for a in (x, w, b))
    mean, var, gt = tc.zeros(x.shape[1]), tc.ones(x.shape[1]), tc.tensor(g)

    def step():
        xt.grad = wt.grad = bt.grad = None
        F.batch_norm(xt, mean, var, wt, bt, training=True).backward(gt)

    return step


def torch_step(x, w, b, g):
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    mean, var, gt = torch.zeros(x.shape[1]), torch.ones(x.shape[1]), torch.tensor(g)

    def step():
        xt.grad = wt.grad = bt.grad = None
        torch.nn.functional.batch_norm(xt, mean, var, wt, bt, training=True).backward(gt)

    return step


def main(repeats=11):
    cases = [make_case(s) for s in SHAPES]
    ours = [ours_step(*c) for c in cases]
    theirs = [torch_step(*c) for c in cases] if torch is not None else None
    inner = []
    for fn in ours:
        fn()
        inner.append(max(3, int(0.06 / timed(fn, 1))))
    times_ours, times_torch = [[] for _ in SHAPES], [[] for _ in SHAPES]
    for r in range(repeats):
        for i in range(len(SHAPES)):
            runs = [(ours[i], times_ours[i])] + ([(theirs[i], times_torch[i])] if theirs else [])
            for fn, times in runs if r % 2 == 0 else runs[::-1]:
                times.append(timed(fn, inner[i], PAUSE))
    print(f"batch_norm forward+backward (training), float32, median of {repeats} interleaved repeats"
          + (f", torch {torch.__version__} with {torch.get_num_threads()} threads" if torch else ", torch not installed"))
    print(f"{'shape':<22}{'ours ms':>10}" + (f"{'torch ms':>10}{'ours/torch':>12}" if torch else ""))
    for i, shape in enumerate(SHAPES):
        t = statistics.median(times_ours[i])
        row = f"{str(shape):<22}{t * 1e3:>10.3f}"
        if torch is not None:
            tt = statistics.median(times_torch[i])
            row += f"{tt * 1e3:>10.3f}{t / tt:>12.2f}"
        print(row)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 11)
