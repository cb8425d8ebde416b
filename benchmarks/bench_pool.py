"""Pooling forward + backward (float32, x requiring grad) against PyTorch, timed side by
side (benchmarks/side_by_side.py): plain 2x2 max pooling on the digits CNN's and
bench_conv's layer shapes, then the options (ceil_mode, dilation, padding,
count_include_pad=False, adaptive).

Run: python benchmarks/bench_pool.py [repeats]
"""
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

# (label, x shape, function name, keyword arguments): the same call on both sides
CASES = [
    ("max 2x2, digits CNN", (64, 32, 8, 8), "max_pool2d", dict(kernel_size=2)),
    ("max 2x2, bench_conv", (32, 32, 32, 32), "max_pool2d", dict(kernel_size=2)),
    ("max 3x3 s2 p1 ceil", (32, 32, 32, 32), "max_pool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("max 2x2 dilation 2", (8, 64, 16, 16), "max_pool2d", dict(kernel_size=2, stride=1, dilation=2)),
    ("avg 3x3 s2 p1 no pad count", (32, 32, 32, 32), "avg_pool2d",
     dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ("avg 2x2 ceil, digits CNN", (64, 32, 7, 7), "avg_pool2d", dict(kernel_size=2, ceil_mode=True)),
    ("adaptive avg 5x5", (8, 64, 16, 16), "adaptive_avg_pool2d", dict(output_size=5)),
    ("adaptive max 5x5", (8, 64, 16, 16), "adaptive_max_pool2d", dict(output_size=5)),
]


def steps(shape, name, params, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    ours_fn = getattr(F, name)
    xt = tc.tensor(x, requires_grad=True)
    out_shape = ours_fn(xt, **params).shape
    g = tc.ones(out_shape)

    def ours():
        xt.grad = None
        ours_fn(xt, **params).backward(g)

    if torch is None:
        return ours, None
    torch_fn = getattr(torch.nn.functional, name)
    tt, gt = torch.tensor(x, requires_grad=True), torch.ones(out_shape)

    def theirs():
        tt.grad = None
        torch_fn(tt, **params).backward(gt)

    return ours, theirs


def main(repeats=11):
    cases = [(f"{label} {shape}", *steps(shape, name, params)) for label, shape, name, params in CASES]
    extra = f", torch {torch.__version__} with {torch.get_num_threads()} threads" if torch else ", torch not installed"
    compare(cases, repeats, "pooling forward+backward, float32" + extra)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 11)
