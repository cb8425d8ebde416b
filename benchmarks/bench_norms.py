"""Group, layer and instance norm, embedding and pixel shuffle forward + backward (float32,
the input and the weight and bias requiring grad) against PyTorch, timed side by side
(benchmarks/side_by_side.py) on sizes a CNN or a small transformer meets.

Run: python benchmarks/bench_norms.py [repeats]
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

# (label, x shape, function name, affine shape or None, keyword arguments): the same call on both sides
CASES = [
    ("group_norm G=8", (32, 64, 32, 32), "group_norm", (64,), dict(num_groups=8)),
    ("group_norm G=32", (16, 128, 16, 16), "group_norm", (128,), dict(num_groups=32)),
    ("instance_norm affine", (32, 64, 32, 32), "instance_norm", (64,), {}),
    ("instance_norm", (8, 32, 64, 64), "instance_norm", None, {}),
    ("layer_norm (512,)", (32, 128, 512), "layer_norm", (512,), dict(normalized_shape=(512,))),
    ("layer_norm (C, H, W)", (32, 64, 16, 16), "layer_norm", (64, 16, 16), dict(normalized_shape=(64, 16, 16))),
    ("pixel_shuffle r=2", (32, 256, 16, 16), "pixel_shuffle", None, dict(upscale_factor=2)),
    ("pixel_unshuffle r=2", (32, 64, 32, 32), "pixel_unshuffle", None, dict(downscale_factor=2)),
]
EMBEDDING = ("embedding 10000x256, (32, 128) tokens", (10000, 256), (32, 128))


def _affine_kwargs(lib, affine, rng):
    if affine is None:
        return {}, []
    w, b = (lib.tensor(rng.standard_normal(affine).astype(np.float32), requires_grad=True) for _ in range(2))
    return dict(weight=w, bias=b), [w, b]


def steps(shape, name, affine, params, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    sides = []
    for lib, fn in ((tc, getattr(F, name)), (torch, torch and getattr(torch.nn.functional, name))):
        if lib is None:
            sides.append(None)
            continue
        xt = lib.tensor(x, requires_grad=True)
        kwargs, leaves = _affine_kwargs(lib, affine, np.random.default_rng(seed))
        g = lib.tensor(np.random.default_rng(seed + 1).standard_normal(fn(xt, **params, **kwargs).shape).astype(np.float32))

        def step(fn=fn, xt=xt, kwargs=kwargs, leaves=leaves + [xt], g=g):
            for t in leaves:
                t.grad = None
            fn(xt, **params, **kwargs).backward(g)

        sides.append(step)
    return sides


def embedding_steps(weight_shape, index_shape, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(weight_shape).astype(np.float32)
    idx = rng.integers(0, weight_shape[0], index_shape)
    g = rng.standard_normal(index_shape + weight_shape[1:]).astype(np.float32)
    sides = []
    for lib, fn in ((tc, F.embedding), (torch, torch and torch.nn.functional.embedding)):
        if lib is None:
            sides.append(None)
            continue
        wt, it, gt = lib.tensor(w, requires_grad=True), lib.tensor(idx), lib.tensor(g)

        def step(fn=fn, wt=wt, it=it, gt=gt):
            wt.grad = None
            fn(it, wt).backward(gt)

        sides.append(step)
    return sides


def main(repeats=11):
    cases = [(f"{label} {shape}", *steps(shape, name, affine, params)) for label, shape, name, affine, params in CASES]
    cases.append((EMBEDDING[0], *embedding_steps(*EMBEDDING[1:])))
    extra = f", torch {torch.__version__} with {torch.get_num_threads()} threads" if torch else ", torch not installed"
    compare(cases, repeats, "normalisation, embedding and pixel shuffle forward+backward, float32" + extra)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 11)
