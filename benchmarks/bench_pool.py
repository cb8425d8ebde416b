"""Pooling forward + backward (float32, x requiring grad) against PyTorch, timed side by
side (benchmarks/side_by_side.py).

Two tables:
- options (default): plain 2x2 max pooling on the digits CNN's and bench_conv's layer
  shapes, then the options (ceil_mode, dilation, padding, count_include_pad=False, adaptive);
- scale (``--scale``): every pooling op on (2, 8, H, H) and (8, 16, H, H) for
  H = 32 / 128 / 512 / 1024, with the growth of each side's time from H=128 to H=512
  (the input grows 16x; a time that grows with the input grows 16x too).

Run: python benchmarks/bench_pool.py [--scale] [repeats] [max_H]
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from side_by_side import compare, functional_steps  # noqa: E402

try:
    import torch

    if os.environ.get("BENCH_TORCH_THREADS"):  # e.g. 1 on a loaded machine, where 2 threads spin
        torch.set_num_threads(int(os.environ["BENCH_TORCH_THREADS"]))
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
    ("max1d k3 s2 p1", (16, 32, 4096), "max_pool1d", dict(kernel_size=3, stride=2, padding=1)),
    ("avg3d k2", (4, 16, 32, 32, 32), "avg_pool3d", dict(kernel_size=2)),
    ("max3d k3 s2 p1", (4, 16, 32, 32, 32), "max_pool3d", dict(kernel_size=3, stride=2, padding=1)),
]

# the ops of the scale table (issue 21)
SCALE_OPS = [
    ("avg k2", "avg_pool2d", dict(kernel_size=2)),
    ("avg k3 s2 p1", "avg_pool2d", dict(kernel_size=3, stride=2, padding=1)),
    ("max k2", "max_pool2d", dict(kernel_size=2)),
    ("max k3 s2 p1", "max_pool2d", dict(kernel_size=3, stride=2, padding=1)),
    ("adaptive avg 7", "adaptive_avg_pool2d", dict(output_size=7)),
    ("adaptive max 7", "adaptive_max_pool2d", dict(output_size=7)),
]


def options(repeats):
    cases = [(f"{label} {shape}", *functional_steps(shape, name, params)) for label, shape, name, params in CASES]
    extra = f", torch {torch.__version__} with {torch.get_num_threads()} threads" if torch else ", torch not installed"
    compare([c for c in cases if c[1] is not None], repeats, "pooling forward+backward, float32" + extra)


def scale(repeats, max_h=1024):
    sizes = [h for h in (32, 128, 512, 1024) if h <= max_h]
    for batch in ((2, 8), (8, 16)):
        labels, cases = [], []
        for label, name, params in SCALE_OPS:
            for h in sizes:
                labels.append((label, h))
                cases.append((f"{label} {batch + (h, h)}", *functional_steps(batch + (h, h), name, params)))
        threads = f", torch {torch.get_num_threads()} threads" if torch else ""
        ratios = compare(cases, repeats, f"pooling fwd+bwd at scale, batch {batch}, float32{threads}")
        table = {key: r for key, r in zip(labels, ratios)}
        print(f"\nratio ours/torch, {batch + ('H', 'H')}")
        print(f"{'op':<16}" + "".join(f"{'H=' + str(h):>9}" for h in sizes))
        for label, _, _ in SCALE_OPS:
            print(f"{label:<16}" + "".join(f"{table[(label, h)]:>9.2f}" for h in sizes))
        if 128 in sizes and 512 in sizes:  # our growth 128 -> 512 over torch's is the ratio of the ratios
            print("growth H=128 -> 512, ours over torch's: "
                  + ", ".join(f"{label} {table[(label, 512)] / table[(label, 128)]:.2f}" for label, _, _ in SCALE_OPS))
        print()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    repeats = int(args[0]) if args else (5 if "--scale" in sys.argv else 11)
    if "--scale" in sys.argv:
        scale(repeats, int(args[1]) if len(args) > 1 else 1024)
    else:
        options(repeats)
