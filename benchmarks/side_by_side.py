"""Time steps of ours and PyTorch's side by side, as bench_conv.py does: interleaved in
one process, alternating order, BENCH_PAUSE seconds idle before each ~60 ms block of
calls (so the other framework's spinning worker threads sleep), median over repeats.

``compare(cases, repeats, title)`` takes ``(label, ours_step, torch_step or None)`` and
prints one row per case and the geometric mean of the ratios; it returns the ratios.
``measure(cases, repeats)`` only times them: the median seconds ``(ours, torch or None)`` per case.
``functional_steps`` builds the two steps for a ``functional`` op of one input.
"""
import math
import os
import statistics
import time

PAUSE = float(os.environ.get("BENCH_PAUSE", "0.2"))


def functional_steps(shape, name, params, seed=0):
    """``(ours, theirs)``: forward + backward of ``F.<name>(x, **params)`` on a float32 input
    of ``shape`` with a fixed random upstream gradient, in tinygrad_conv and in PyTorch
    (``theirs`` None without torch; ``ours`` None where tinygrad_conv lacks the op)."""
    import numpy as np
    import tinygrad_conv as tc
    from tinygrad_conv import functional as F
    try:
        import torch
    except ImportError:
        torch = None
    ours_fn = getattr(F, name, None)
    if ours_fn is None:
        return None, None
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    xt = tc.tensor(x, requires_grad=True)
    g = np.random.default_rng(seed + 1).standard_normal(ours_fn(xt, **params).shape).astype(np.float32)
    gt_ours = tc.tensor(g)

    def ours():
        xt.grad = None
        ours_fn(xt, **params).backward(gt_ours)

    if torch is None:
        return ours, None
    torch_fn = getattr(torch.nn.functional, name)
    tt, gt = torch.tensor(x, requires_grad=True), torch.tensor(g)

    def theirs():
        tt.grad = None
        torch_fn(tt, **params).backward(gt)

    return ours, theirs


def timed(fn, inner, pause=0.0):
    time.sleep(pause)
    fn()  # untimed warm-up
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def measure(cases, repeats):
    inner = [max(3, int(0.06 / timed(ours, 1))) for _, ours, _ in cases]
    times = [([], []) for _ in cases]
    for r in range(repeats):
        for i, (_, ours, theirs) in enumerate(cases):
            runs = [(ours, times[i][0])] + ([(theirs, times[i][1])] if theirs is not None else [])
            for fn, out in runs if r % 2 == 0 else runs[::-1]:
                out.append(timed(fn, inner[i], PAUSE))
    return [(statistics.median(o), statistics.median(t) if t else None) for o, t in times]


def compare(cases, repeats, title):
    times = measure(cases, repeats)
    print(f"{title}, median of {repeats} interleaved repeats, {PAUSE} s idle before each")
    width = max(len(label) for label, _, _ in cases) + 2
    print(f"{'case':<{width}}{'ours ms':>10}{'torch ms':>10}{'ours/torch':>12}")
    ratios = []
    for (label, _, theirs), (ours_t, torch_t) in zip(cases, times):
        row = f"{label:<{width}}{ours_t * 1e3:>10.3f}"
        if theirs is not None:
            ratios.append(ours_t / torch_t)
            row += f"{torch_t * 1e3:>10.3f}{ratios[-1]:>12.2f}"
        print(row)
    if ratios:
        print(f"geometric mean ours/torch: {math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f}")
    return ratios
