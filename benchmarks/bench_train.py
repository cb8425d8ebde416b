"""One training epoch of the digits CNN, against the same model in PyTorch.

Model: Conv2d(1,16,3,p=1), ReLU, Conv2d(16,32,3,p=1), ReLU, MaxPool2d(2),
Flatten, Linear(512,10); Adam lr 1e-3; batch 64; 1347 images of 8x8 (the
scikit-learn digits less a 25% test split; random images of that shape if
scikit-learn is missing: the timing does not depend on the pixels).

Both frameworks start from the same weights and see the same batches, so their
losses must agree. Each runs in its own worker process: in one process NumPy's
BLAS threads and PyTorch's threads compete for the cores, which made PyTorch
2-3x slower than on its own. The workers alternate (ours, PyTorch, ours, ...),
so both see the same machine load; each times a few epochs after a warm-up one,
and each figure is the median over all timed epochs. PyTorch uses its default
number of threads. Run: python benchmarks/bench_train.py [--rounds R] [--epochs E]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import tinygrad_conv as tc  # noqa: E402
from tinygrad_conv import Tensor, nn, optim  # noqa: E402
from tinygrad_conv import functional as F  # noqa: E402

BATCH = 64


def load_train_set():
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        rng = np.random.default_rng(0)
        return rng.random((1347, 1, 8, 8), dtype=np.float32), rng.integers(0, 10, 1347)
    digits = load_digits()
    X = (digits.images / 16.0).astype(np.float32)[:, None]
    X_train, _, y_train, _ = train_test_split(X, digits.target, test_size=0.25, stratify=digits.target, random_state=0)
    return X_train, y_train


def ours_model():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(512, 10),
    )


def ours_trainer(batches):
    tc.manual_seed(0)
    model = ours_model()
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def epoch():
        for xb, yb in batches:
            loss = F.cross_entropy(model(Tensor(xb)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return loss.item()

    return epoch


def torch_trainer(batches):
    import torch

    tnn = torch.nn
    model = tnn.Sequential(
        tnn.Conv2d(1, 16, 3, padding=1), tnn.ReLU(),
        tnn.Conv2d(16, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(512, 10),
    )
    tc.manual_seed(0)  # start from our model's initial weights
    model.load_state_dict({k: torch.tensor(v) for k, v in ours_model().state_dict().items()})
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = [(torch.from_numpy(xb), torch.from_numpy(yb.astype(np.int64))) for xb, yb in batches]

    def epoch():
        for xb, yb in batches:
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return loss.item()

    return epoch


def worker(framework, epochs):
    """In a child process: one warm-up epoch, then time ``epochs`` epochs; print JSON."""
    X, y = load_train_set()
    batches = list(tc.data.batches(X, y, BATCH, seed=0))  # the same batches every epoch
    epoch = (ours_trainer if framework == "ours" else torch_trainer)(batches)
    epoch()
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        loss = epoch()
        times.append(time.perf_counter() - t0)
    info = dict(times=times, loss=loss, images=len(X))
    if framework == "torch":
        import torch

        info.update(version=torch.__version__, threads=torch.get_num_threads())
    print(json.dumps(info))


def run_worker(framework, epochs):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework, "--epochs", str(epochs)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def main(rounds=5, epochs=3):
    try:
        import torch  # noqa: F401  (only to know whether to compare)

        frameworks = ["ours", "torch"]
    except ImportError:
        frameworks = ["ours"]
    times, info = {fw: [] for fw in frameworks}, {}
    for _ in range(rounds):  # alternate, so both see the same machine load
        for fw in frameworks:
            info[fw] = run_worker(fw, epochs)
            times[fw] += info[fw]["times"]

    ours_s, ours_info = statistics.median(times["ours"]), info["ours"]
    title = f"digits CNN, 1 epoch ({ours_info['images']} imgs, batch {BATCH}, Adam)"
    print(f"{'benchmark':<46} {'tinygrad_conv':>13} {'PyTorch':>13} {'ratio':>8}")
    if "torch" in times:
        torch_s, torch_info = statistics.median(times["torch"]), info["torch"]
        print(f"{title:<46} {ours_s * 1e3:10.1f} ms {torch_s * 1e3:10.1f} ms {ours_s / torch_s:7.2f}x")
        print(f"last-batch loss after {epochs + 1} epochs: tinygrad_conv {ours_info['loss']:.4f}, "
              f"PyTorch {torch_info['loss']:.4f}")
        print(f"(median of {rounds} x {epochs} epochs, alternating worker processes; "
              f"PyTorch {torch_info['version']}, {torch_info['threads']} threads)")
    else:
        torch_s = None
        print(f"{title:<46} {ours_s * 1e3:10.1f} ms {'-':>13} {'-':>8}")
    return dict(ours_s=ours_s, torch_s=torch_s)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternations of the two workers")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per worker")
    parser.add_argument("--worker", choices=["ours", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.epochs)
    else:
        main(rounds=args.rounds, epochs=args.epochs)
