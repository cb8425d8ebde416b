"""A/B of the activations, forward + backward in float32: an old copy of tinygrad_conv (say
main before a change) against this tree, on 1 and 2 threads (tc.set_num_threads), wall and
CPU time (CPU: all threads of the process; on a loaded machine it moves less than wall),
PyTorch on 1 and 2 threads as the yardstick. In one process, every variant of a row
interleaved (order reversed every other repeat), median of the repeats.

Run: git -C /path/to/repo worktree add /tmp/old main   (or any checkout)
     python benchmarks/bench_activations_ab.py /tmp/old [--ops gelu,silu] [--shapes 2x8x512x512] [--repeats 7]
"""
import argparse
import importlib
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import tinygrad_conv as new  # noqa: E402

OPS = {"relu": {}, "tanh": {}, "sigmoid": {}, "gelu": {}, "gelu_tanh": {"approximate": "tanh"}, "silu": {},
       "elu": {}, "leaky_relu": {}, "hardtanh": {}, "relu6": {}, "hardsigmoid": {}, "hardswish": {},
       "softplus": {}, "selu": {}, "celu": {}, "logsigmoid": {}, "mish": {}}
SHAPES = "2x8x128x128,2x8x512x512,64x32x16x16"
COLUMNS = ("old1", "new1", "old2", "new2", "torch1", "torch2")


def import_old(checkout):
    """The package of ``checkout`` imported as ``tinygrad_conv_old`` (its imports are relative)."""
    where = tempfile.mkdtemp()
    shutil.copytree(os.path.join(checkout, "tinygrad_conv"), os.path.join(where, "tinygrad_conv_old"))
    sys.path.insert(0, where)
    return importlib.import_module("tinygrad_conv_old")


def step(lib, fn, params, x, g):
    xt, gt = lib.tensor(x, requires_grad=True), lib.tensor(g)

    def run():
        xt.grad = None
        fn(xt, **params).backward(gt)
    return run


def timed(fn, inner):
    fn()  # untimed warm-up
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - wall) / inner * 1e3, (time.process_time() - cpu) / inner * 1e3


def row(name, old, torch, x, g, repeats):
    fname, params = ("gelu" if name == "gelu_tanh" else name), OPS[name]
    torch_fn = getattr(torch, fname) if name in ("tanh", "sigmoid") else getattr(torch.nn.functional, fname)
    variants = {}
    for n in (1, 2):  # (a setter, then the step)
        variants[f"old{n}"] = (lambda n=n: old.set_num_threads(n), step(old, getattr(old.nn.functional, fname), params, x, g))
        variants[f"new{n}"] = (lambda n=n: new.set_num_threads(n), step(new, getattr(new.nn.functional, fname), params, x, g))
        variants[f"torch{n}"] = (lambda n=n: torch.set_num_threads(n), step(torch, torch_fn, params, x, g))
    inner = max(1, 400_000 // x.size)
    times = {k: [] for k in variants}
    for r in range(repeats):
        for k in (COLUMNS if r % 2 == 0 else COLUMNS[::-1]):
            setup, fn = variants[k]
            setup()
            times[k].append(timed(fn, inner))
    return {k: (statistics.median(t[0] for t in v), statistics.median(t[1] for t in v)) for k, v in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="a checkout holding the old tinygrad_conv package")
    parser.add_argument("--ops", default=",".join(OPS))
    parser.add_argument("--shapes", default=SHAPES)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    import torch
    old = import_old(args.old)
    threads = new.get_num_threads()
    print(f"ms, median of {args.repeats}; wall: {' '.join(COLUMNS)} | CPU: {' '.join(COLUMNS[:4])} | new/old wall 1 and 2 threads, "
          "new2/torch2")
    for shape in args.shapes.split(","):
        shape = tuple(int(s) for s in shape.split("x"))
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        g = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
        for name in args.ops.split(","):
            t = row(name, old, torch, x, g, args.repeats)
            print(f"{name} {'x'.join(map(str, shape))} | " + " ".join(f"{t[k][0]:.3f}" for k in COLUMNS) + " | "
                  + " ".join(f"{t[k][1]:.3f}" for k in COLUMNS[:4])
                  + f" | {t['new1'][0] / t['old1'][0]:.2f} {t['new2'][0] / t['old2'][0]:.2f} {t['new2'][0] / t['torch2'][0]:.2f}",
                  flush=True)
    new.set_num_threads(threads)


if __name__ == "__main__":
    main()
