"""On a CUDA GPU: conv2d forward+backward and a digits-CNN training epoch, against PyTorch CUDA.

Equal precision on both sides: float32 with TF32 off (CuPy's matmul does not
use TF32 unless asked, so PyTorch's cuDNN and cuBLAS are told not to either).
Every timing ends with a device synchronisation; ours and PyTorch alternate
(interleaved) and each figure is the median over repeats of the mean time of
a block of calls.

conv2d shapes: the six of bench_conv.py plus three larger 3x3 'same' layers.
The digits epoch uses bench_train.py's model, batches and Adam; each batch is
copied from host to GPU inside the timed loop on both sides.

Run (on a machine with CuPy and a GPU): python benchmarks/bench_gpu.py [repeats]
"""
import math
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tinygrad_conv as tc  # noqa: E402
from tinygrad_conv import optim  # noqa: E402
from tinygrad_conv import functional as F  # noqa: E402
from bench_conv import SHAPES as CPU_SHAPES, make_case  # noqa: E402
from bench_train import BATCH, load_train_set, ours_model  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

SHAPES = CPU_SHAPES + [
    (128, 64, 32, 32, 64, 3, 1, 1),
    (256, 128, 16, 16, 128, 3, 1, 1),
    (64, 256, 8, 8, 256, 3, 1, 1),
]


def sync():
    tc.cuda.synchronize()
    if torch is not None:
        torch.cuda.synchronize()


def timed(fn, inner):
    fn()  # warm-up
    sync()
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    sync()
    return (time.perf_counter() - t0) / inner


def ours_conv(shape, x, w, b, g):
    s, p = shape[6], shape[7]
    xt, wt, bt = (tc.tensor(a, device="cuda", requires_grad=True) for a in (x, w, b))
    gt = tc.tensor(g, device="cuda")

    def step():
        xt.grad = wt.grad = bt.grad = None
        F.conv2d(xt, wt, bt, stride=s, padding=p).backward(gt)

    return step


def torch_conv(shape, x, w, b, g):
    s, p = shape[6], shape[7]
    xt, wt, bt = (torch.tensor(a, device="cuda", requires_grad=True) for a in (x, w, b))
    gt = torch.tensor(g, device="cuda")

    def step():
        xt.grad = wt.grad = bt.grad = None
        torch.nn.functional.conv2d(xt, wt, bt, stride=s, padding=p).backward(gt)

    return step


def ours_epoch(batches):
    tc.manual_seed(0)
    model = ours_model().to("cuda")
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def epoch():
        for xb, yb in batches:
            x, y = tc.from_numpy(xb).cuda(), tc.from_numpy(yb.astype(np.int64)).cuda()
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return loss

    return epoch


def torch_epoch(batches):
    tnn = torch.nn
    model = tnn.Sequential(
        tnn.Conv2d(1, 16, 3, padding=1), tnn.ReLU(),
        tnn.Conv2d(16, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(512, 10),
    )
    tc.manual_seed(0)  # the same initial weights as ours
    model.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in ours_model().state_dict().items()})
    model.cuda()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def epoch():
        for xb, yb in batches:
            x, y = torch.from_numpy(xb).cuda(), torch.from_numpy(yb.astype(np.int64)).cuda()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return loss

    return epoch


def compare(name, ours, theirs, inner, repeats):
    """Median seconds of ours and theirs, alternating which goes first."""
    t_ours, t_theirs = [], []
    for r in range(repeats):
        pair = [(ours, t_ours), (theirs, t_theirs)] if theirs else [(ours, t_ours)]
        for fn, times in pair if r % 2 == 0 else pair[::-1]:
            times.append(timed(fn, inner))
    return statistics.median(t_ours), (statistics.median(t_theirs) if theirs else None)


def main(repeats=9):
    if not tc.cuda.is_available():
        sys.exit("bench_gpu.py needs CuPy and a GPU (tc.cuda.is_available() is False)")
    if torch is not None:
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.benchmark = True  # PyTorch's best algorithm for each shape
        name = torch.cuda.get_device_name()
    else:
        name = "GPU"
    print(f"conv2d forward+backward on {name}, float32, TF32 off, median of {repeats} interleaved repeats"
          + (f", torch {torch.__version__}" if torch else ", torch not installed"))
    print(f"| N, C_in, H, W, C_out, K, s, p | ours ms | PyTorch ms | ours / PyTorch |\n| --- | ---: | ---: | ---: |")
    ratios = []
    for shape in SHAPES:
        case = make_case(shape)
        theirs = torch_conv(shape, *case) if torch else None
        t_ours, t_torch = compare(shape, ours_conv(shape, *case), theirs, 20, repeats)
        row = f"| {str(shape)[1:-1]} | {t_ours * 1e3:.3f} | "
        if t_torch:
            ratios.append(t_ours / t_torch)
            row += f"{t_torch * 1e3:.3f} | {ratios[-1]:.2f} |"
        print(row + ("" if t_torch else "- | - |"))
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        print(f"geometric mean ours/PyTorch {geo:.2f}, worst {max(ratios):.2f}")

    X, y = load_train_set()
    batches = list(tc.data.batches(X, y, BATCH, seed=0))
    t_ours, t_torch = compare("digits", ours_epoch(batches), torch_epoch(batches) if torch else None, 3, repeats)
    print(f"\ndigits CNN, one epoch ({len(X)} images, batch {BATCH}, Adam) on {name}: "
          f"ours {t_ours * 1e3:.1f} ms" + (f", PyTorch {t_torch * 1e3:.1f} ms, ratio {t_ours / t_torch:.2f}x" if t_torch else ""))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 9)
