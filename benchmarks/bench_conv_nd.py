"""conv1d/conv2d/conv3d and their transposes, forward + backward (float32, with bias, x
requiring grad) against PyTorch, timed side by side (benchmarks/side_by_side.py): the
issue-19 goal is conv1d and conv3d at conv2d's ratio.

Run: python benchmarks/bench_conv_nd.py [repeats]
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import tinygrad_conv as tc  # noqa: E402
from tinygrad_conv import functional as F  # noqa: E402
from side_by_side import compare  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

# (function, N, C_in, spatial size, C_out, K, stride, padding)
CASES = [
    ("conv1d", 32, 16, (256,), 32, 3, 1, 1),
    ("conv1d", 64, 8, (128,), 16, 5, 2, 2),
    ("conv2d", 32, 16, (32, 32), 32, 3, 1, 1),
    ("conv3d", 8, 8, (16, 16, 16), 16, 3, 1, 1),
    ("conv3d", 8, 16, (8, 8, 8), 32, 3, 2, 1),
    ("conv_transpose1d", 32, 32, (64,), 16, 4, 2, 1),
    ("conv_transpose2d", 16, 32, (8, 8), 16, 4, 2, 1),
    ("conv_transpose3d", 8, 16, (8, 8, 8), 8, 4, 2, 1),
]


def steps(case, seed=0):
    name, N, C, size, O, K, s, p = case
    d, transposed = len(size), "transpose" in name
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C) + size).astype(np.float32)
    w_shape = ((C, O) if transposed else (O, C)) + (K,) * d
    w = (rng.standard_normal(w_shape) / math.sqrt(C * K**d)).astype(np.float32)
    b = rng.standard_normal(O).astype(np.float32)
    params = dict(stride=s, padding=p)
    out = getattr(F, name)(tc.tensor(x), tc.tensor(w), tc.tensor(b), **params)
    g = rng.standard_normal(out.shape).astype(np.float32)
    ts, gs = [tc.tensor(a, requires_grad=True) for a in (x, w, b)], tc.tensor(g)

    def ours():
        for t in ts:
            t.grad = None
        getattr(F, name)(*ts, **params).backward(gs)

    if torch is None:
        return ours, None
    tt, gt = [torch.tensor(a, requires_grad=True) for a in (x, w, b)], torch.tensor(g)

    def theirs():
        for t in tt:
            t.grad = None
        getattr(torch.nn.functional, name)(*tt, **params).backward(gt)

    return ours, theirs


def main(repeats=11):
    cases = [(f"{c[0]} {str(c[1:])[1:-1]}", *steps(c)) for c in CASES]
    extra = f", torch {torch.__version__} with {torch.get_num_threads()} threads" if torch else ", torch not installed"
    compare(cases, repeats, "N-d convs forward+backward, float32 (fn, N, C_in, size, C_out, K, s, p)" + extra)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 11)
