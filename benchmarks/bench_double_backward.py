"""The cost of backward(create_graph=True) against backward() on the digits CNN, ours and
PyTorch's, side by side: forward + backward of a batch of 64, then the same with
create_graph=True, and an input-gradient penalty step (grad of the penalty, three
passes). Interleaved, median of repeats. Run: python benchmarks/bench_double_backward.py
"""
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import tinygrad_conv as tc  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


def model(nn):
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(512, 10),
    )


def steps(m):
    """The three measured steps for library ``m`` (tc or torch), on the same batch."""
    rng = np.random.default_rng(0)
    x0 = rng.random((64, 1, 8, 8), dtype=np.float32)
    y = m.tensor(rng.integers(0, 10, 64))
    net = model(m.nn)
    F = m.nn.functional

    def plain():
        F.cross_entropy(net(m.tensor(x0)), y).backward()

    def create_graph():
        F.cross_entropy(net(m.tensor(x0)), y).backward(create_graph=True)

    def penalty():
        x = m.tensor(x0, requires_grad=True)
        loss = F.cross_entropy(net(x), y)
        (gx,) = m.autograd.grad(loss, x, create_graph=True)
        (loss + 0.1 * (gx * gx).sum()).backward()

    return {"backward()": plain, "backward(create_graph=True)": create_graph, "penalty step": penalty}


def main(repeats=11, number=5):
    libs = {"tinygrad_conv": steps(tc)}
    if torch is not None:
        torch.set_num_threads(2)
        libs["PyTorch"] = steps(torch)
    times = {(lib, name): [] for lib in libs for name in libs[lib]}
    for _ in range(repeats):
        for lib, fns in libs.items():
            for name, fn in fns.items():
                fn()  # warm
                t = time.perf_counter()
                for _ in range(number):
                    fn()
                times[lib, name].append((time.perf_counter() - t) / number * 1e3)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{'digits CNN, batch 64':32s}" + "".join(f"{lib:>16s}" for lib in libs) + "   ours/PyTorch")
    for name in libs["tinygrad_conv"]:
        row = "".join(f"{med[lib, name]:13.2f} ms" for lib in libs)
        ratio = f"{med['tinygrad_conv', name] / med['PyTorch', name]:12.2f}x" if torch is not None else ""
        print(f"{name:32s}{row}{ratio}")
    for lib in libs:
        base = med[lib, "backward()"]
        print(f"{lib}: create_graph / plain = {med[lib, 'backward(create_graph=True)'] / base:.2f}, "
              f"penalty step / plain = {med[lib, 'penalty step'] / base:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 11)
