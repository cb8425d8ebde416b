"""conv_transpose2d forward + backward (float32, with bias, x requiring grad) against
PyTorch on decoder shapes, timed side by side (benchmarks/side_by_side.py).

Run: python benchmarks/bench_conv_transpose.py [repeats]
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

# (N, C_in, H, W, C_out, K, stride, padding, output_padding)
SHAPES = [
    (16, 32, 8, 8, 16, 4, 2, 1, 0),  # 8x8 -> 16x16, the DCGAN up-step
    (16, 32, 8, 8, 16, 2, 2, 0, 0),  # 8x8 -> 16x16, the U-Net up-step
    (16, 32, 8, 8, 16, 3, 2, 1, 1),  # 8x8 -> 16x16
    (32, 16, 16, 16, 16, 3, 1, 1, 0),  # stride 1: a 'same' 3x3
]


def steps(shape, seed=0):
    N, C, H, W, O, K, s, p, op = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = (rng.standard_normal((C, O, K, K)) / math.sqrt(C * K * K)).astype(np.float32)
    b = rng.standard_normal(O).astype(np.float32)
    Ho = (H - 1) * s - 2 * p + K + op
    g = rng.standard_normal((N, O, Ho, Ho)).astype(np.float32)
    params = dict(stride=s, padding=p, output_padding=op)
    ts = [tc.tensor(a, requires_grad=True) for a in (x, w, b)]
    gs = tc.tensor(g)

    def ours():
        for t in ts:
            t.grad = None
        F.conv_transpose2d(*ts, **params).backward(gs)

    if torch is None:
        return ours, None
    tt = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    gt = torch.tensor(g)

    def theirs():
        for t in tt:
            t.grad = None
        torch.nn.functional.conv_transpose2d(*tt, **params).backward(gt)

    return ours, theirs


def main(repeats=11):
    cases = [(str(s)[1:-1], *steps(s)) for s in SHAPES]
    extra = f", torch {torch.__version__} with {torch.get_num_threads()} threads" if torch else ", torch not installed"
    compare(cases, repeats, "conv_transpose2d forward+backward, float32 (N, C_in, H, W, C_out, K, s, p, op)" + extra)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 11)
