"""pad and interpolate forward + backward (float32, x requiring grad) against PyTorch, timed
side by side (benchmarks/side_by_side.py) at H = 32 ... 1024, to see that their cost
grows with the image, not its square (issues 20 and 21).

Shapes: (2, 8, H, H) for H = 32, 128, 512, 1024 and (8, 16, H, H) for H = 32, 128, 512
((8, 16, 1024, 1024) upsampled by 2 needs ~6 GB, more than a shared machine should give).
The last table gives ours/PyTorch per op and size, and the growth of that ratio from
H = 128 to 512 (the target: at most 1.25).

Run: python benchmarks/bench_resample.py [repeats] [largest H] [largest H at (8, 16, H, H)]
(BENCH_TORCH_THREADS sets PyTorch's threads, 2 by default as in issue 21.)
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from side_by_side import compare, functional_steps  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

# (label, function name, keyword arguments): the same call on both sides
OPS = [
    ("pad reflect 2", "pad", dict(pad=(2, 2, 2, 2), mode="reflect")),
    ("pad replicate 2", "pad", dict(pad=(2, 2, 2, 2), mode="replicate")),
    ("pad circular 2", "pad", dict(pad=(2, 2, 2, 2), mode="circular")),
    ("nearest x2", "interpolate", dict(scale_factor=2, mode="nearest")),
    ("bilinear x2", "interpolate", dict(scale_factor=2, mode="bilinear")),
    ("bicubic x2", "interpolate", dict(scale_factor=2, mode="bicubic")),
    ("bilinear 0.75", "interpolate", dict(scale_factor=0.75, mode="bilinear")),
]
SHAPES = [(2, 8, h, h) for h in (32, 128, 512, 1024)] + [(8, 16, h, h) for h in (32, 128, 512)]


def main(repeats=5, largest=1024, largest_wide=512):
    if torch is not None:
        torch.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", "2")))
    table = {}
    shapes = [s for s in SHAPES if s[-1] <= (largest if s[1] == 8 else largest_wide)]
    for shape in shapes:
        cases, labels = [], []
        for label, name, params in OPS:
            try:
                cases.append((f"{label} {shape}", *functional_steps(shape, name, params)))
                labels.append(label)
            except (ValueError, TypeError) as e:  # an older version without this mode
                print(f"skipped {label}: {e}")
        ratios = compare(cases, repeats, f"pad / interpolate fwd+bwd float32 at {shape}")
        table.update({(label, shape): ratio for label, ratio in zip(labels, ratios)})
        print()
    if not table:
        return
    for batch in sorted({s[:2] for s in SHAPES}):
        sizes = [s for s in shapes if s[:2] == batch]
        if not sizes:
            continue
        print(f"ours/torch at ({batch[0]}, {batch[1]}, H, H): " + "  ".join(f"H={s[-1]}" for s in sizes) + "  growth 128->512")
        for label, _, _ in OPS:
            cells = [f"{table[label, s]:.2f}" if (label, s) in table else "-" for s in sizes]
            h = {s[-1]: table[label, s] for s in sizes if (label, s) in table}
            growth = f"{h[512] / h[128]:.2f}" if 128 in h and 512 in h else "-"
            print(f"  {label:<16}" + "  ".join(f"{c:>6}" for c in cells) + f"  {growth:>6}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
