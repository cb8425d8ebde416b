"""conv2d forward + backward (float32, with bias) against PyTorch and the loop reference.

Each step is ``y = conv2d(x, w, b)`` then ``y.backward(g)``, with x requiring
grad as in a hidden layer. Ours and PyTorch run interleaved in one process
(the machine is shared and noisy, so only ratios measured side by side mean
anything), in alternating order; each figure is the median over repeats of
the mean time of a ~60 ms block of calls. Before each block the process idles
BENCH_PAUSE seconds (default 0.2): after its last call, each framework's worker
threads keep spinning on the cores for a while (OpenBLAS ~0.1 s), which
measured up to 2-6x slower timings for whichever framework ran next.
The direct-loop reference (tests/reference.py) runs once, on the small shapes
only. PyTorch is optional: without it the script prints our times alone.

Run: python benchmarks/bench_conv.py [repeats]
"""
import math
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))
import tinygrad_conv as tc  # noqa: E402
from tinygrad_conv.ops.conv import Conv2d  # noqa: E402
import reference  # noqa: E402  (tests/reference.py)

try:
    import torch
except ImportError:
    torch = None

# (N, C_in, H, W, C_out, K, stride, pad)
SHAPES = [
    (32, 1, 16, 16, 2, 3, 1, 0),
    (64, 6, 14, 14, 16, 5, 1, 0),
    (32, 16, 32, 32, 32, 3, 1, 1),
    (16, 32, 32, 32, 64, 3, 2, 1),
    (8, 64, 16, 16, 64, 3, 1, 1),
    (128, 3, 32, 32, 16, 3, 1, 1),
    (64, 16, 8, 8, 32, 3, 1, 1),  # the digits CNN's second layer (issue 21)
]
REFERENCE_SHAPES = SHAPES[:2]
PAUSE = float(os.environ.get("BENCH_PAUSE", "0.2"))  # seconds of idle before each timing


def make_case(shape, seed=0):
    N, C, H, W, O, K, s, p = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = (rng.standard_normal((O, C, K, K)) / math.sqrt(C * K * K)).astype(np.float32)
    b = rng.standard_normal(O).astype(np.float32)
    Ho, Wo = (H + 2 * p - K) // s + 1, (W + 2 * p - K) // s + 1
    g = rng.standard_normal((N, O, Ho, Wo)).astype(np.float32)
    return x, w, b, g


def ours_step(shape, x, w, b, g):
    s, p = shape[6], shape[7]
    xt = tc.tensor(x, requires_grad=True)
    wt = tc.tensor(w, requires_grad=True)
    bt = tc.tensor(b, requires_grad=True)
    gt = tc.tensor(g)

    def step():
        xt.grad = wt.grad = bt.grad = None
        y = Conv2d.apply(xt, wt, bt, stride=(s, s), padding=(p, p))
        y.backward(gt)

    return step


def torch_step(shape, x, w, b, g):
    s, p = shape[6], shape[7]
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    gt = torch.tensor(g)

    def step():
        xt.grad = wt.grad = bt.grad = None
        y = torch.nn.functional.conv2d(xt, wt, bt, stride=s, padding=p)
        y.backward(gt)

    return step


def reference_time(shape, x, w, b, g):
    s, p = shape[6], shape[7]
    t0 = time.perf_counter()
    reference.conv2d(x, w, b, stride=s, padding=p)
    reference.conv2d_backward(x, w, g, stride=s, padding=p)
    return time.perf_counter() - t0


def timed(fn, inner, pause=0.0):
    time.sleep(pause)  # let the other framework's spinning worker threads go to sleep
    fn()  # untimed warm-up
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def main(repeats=11):
    cases = [make_case(s) for s in SHAPES]
    ours = [ours_step(s, *c) for s, c in zip(SHAPES, cases)]
    theirs = [torch_step(s, *c) for s, c in zip(SHAPES, cases)] if torch is not None else None
    # Enough calls per timing that each block lasts about 60 ms (steady state).
    inner = []
    for fn in ours:
        fn()
        inner.append(max(3, int(0.06 / timed(fn, 1))))
    times_ours = [[] for _ in SHAPES]
    times_torch = [[] for _ in SHAPES]
    for r in range(repeats):  # interleaved: every shape, both frameworks, every repeat
        for i in range(len(SHAPES)):
            runs = [(ours[i], times_ours[i])]
            if theirs is not None:
                runs.append((theirs[i], times_torch[i]))
            for fn, times in runs if r % 2 == 0 else runs[::-1]:
                times.append(timed(fn, inner[i], PAUSE))

    header = f"{'N, C_in, H, W, C_out, K, s, p':<32}{'ours ms':>10}{'loop ref ms':>13}"
    if torch is not None:
        header += f"{'torch ms':>10}{'ours/torch':>12}"
    print(f"conv2d forward+backward, float32, median of {repeats} interleaved repeats, {PAUSE} s idle before each"
          + (f", torch {torch.__version__} with {torch.get_num_threads()} threads" if torch else ", torch not installed"))
    print(header)
    ratios = []
    for i, shape in enumerate(SHAPES):
        t_ours = statistics.median(times_ours[i])
        ref = f"{reference_time(shape, *cases[i]) * 1e3:.0f}" if shape in REFERENCE_SHAPES else "-"
        row = f"{str(shape)[1:-1]:<32}{t_ours * 1e3:>10.3f}{ref:>13}"
        if torch is not None:
            t_torch = statistics.median(times_torch[i])
            ratios.append(t_ours / t_torch)
            row += f"{t_torch * 1e3:>10.3f}{ratios[-1]:>12.2f}"
        print(row)
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        worst = max(range(len(ratios)), key=ratios.__getitem__)
        print(f"geometric mean ours/torch: {geo:.2f}   worst: {ratios[worst]:.2f} at {SHAPES[worst]}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 11)
