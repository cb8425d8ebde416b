"""One training epoch of the digits CNN and of the digits ResNet, against the same models in PyTorch.

Models: "digits": Conv2d(1,16,3,p=1), ReLU, Conv2d(16,32,3,p=1), ReLU,
MaxPool2d(2), Flatten, Linear(512,10), with Adam lr 1e-3. "resnet": the
ResNet of examples/resnet_digits.py (3 basic blocks of 32-64 channels with
batch norm, a strided 1x1 shortcut, dropout 0.2 before the head), with AdamW
lr 1e-3 (no augmentation and no schedule here: the timing is the model's).
Batch 64; 1347 images of 8x8 (the scikit-learn digits less a 25% test split;
random images of that shape if scikit-learn is missing: the timing does not
depend on the pixels). The ResNet's losses differ a little between the two,
as their dropout masks differ.

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
from tinygrad_conv import nn, optim  # noqa: E402
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


def ours_resnet():
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "resnet_digits.py")
    spec = importlib.util.spec_from_file_location("resnet_digits", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ResNet()


def torch_resnet():
    """examples/resnet_digits.py's ResNet in PyTorch, with the same parameter and buffer names."""
    import torch

    tnn = torch.nn

    class BasicBlock(tnn.Module):
        def __init__(self, cin, cout, stride=1):
            super().__init__()
            self.conv1 = tnn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.bn1 = tnn.BatchNorm2d(cout)
            self.conv2 = tnn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.bn2 = tnn.BatchNorm2d(cout)
            down = stride != 1 or cin != cout
            self.shortcut = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride=stride, bias=False), tnn.BatchNorm2d(cout)) if down else tnn.Identity()

        def forward(self, x):
            out = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))

    class ResNet(tnn.Module):
        def __init__(self, width=32):
            super().__init__()
            self.stem = tnn.Sequential(tnn.Conv2d(1, width, 3, padding=1, bias=False), tnn.BatchNorm2d(width), tnn.ReLU())
            self.blocks = tnn.Sequential(BasicBlock(width, width), BasicBlock(width, 2 * width, 2), BasicBlock(2 * width, 2 * width))
            self.dropout = tnn.Dropout(0.2)
            self.head = tnn.Linear(2 * width, 10)

        def forward(self, x):
            return self.head(self.dropout(self.blocks(self.stem(x)).mean(dim=(2, 3))))

    return ResNet()


MODELS = {  # name: (our model, its PyTorch twin, optimizer name)
    "digits": (lambda: ours_model(), None, "Adam"),
    "resnet": (ours_resnet, torch_resnet, "AdamW"),
}


def ours_trainer(batches, model_name="digits"):
    tc.manual_seed(0)
    model = MODELS[model_name][0]()
    opt = getattr(optim, MODELS[model_name][2])(model.parameters(), lr=1e-3)
    batches = [(tc.from_numpy(xb), tc.from_numpy(yb.astype(np.int64))) for xb, yb in batches]

    def epoch():
        for xb, yb in batches:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return loss.item()

    return epoch


def torch_trainer(batches, model_name="digits"):
    import torch

    tnn = torch.nn
    if MODELS[model_name][1] is None:
        model = tnn.Sequential(
            tnn.Conv2d(1, 16, 3, padding=1), tnn.ReLU(),
            tnn.Conv2d(16, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Flatten(), tnn.Linear(512, 10),
        )
    else:
        model = MODELS[model_name][1]()
    tc.manual_seed(0)  # start from our model's initial weights
    model.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in MODELS[model_name][0]().state_dict().items()})
    opt = getattr(torch.optim, MODELS[model_name][2])(model.parameters(), lr=1e-3)
    batches = [(torch.from_numpy(xb), torch.from_numpy(yb.astype(np.int64))) for xb, yb in batches]

    def epoch():
        for xb, yb in batches:
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return loss.item()

    return epoch


def worker(framework, epochs, model_name="digits"):
    """In a child process: one warm-up epoch, then time ``epochs`` epochs; print JSON."""
    X, y = load_train_set()
    batches = list(tc.data.batches(X, y, BATCH, seed=0))  # the same batches every epoch
    epoch = (ours_trainer if framework == "ours" else torch_trainer)(batches, model_name)
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


def run_worker(framework, epochs, model_name="digits"):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework, "--epochs", str(epochs), "--model", model_name]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


TITLES = {"digits": "digits CNN, 1 epoch ({images} imgs, batch {batch}, Adam)",
          "resnet": "digits ResNet, 1 epoch ({images} imgs, batch {batch}, AdamW)"}


def main(rounds=5, epochs=3, models=("digits", "resnet")):
    try:
        import torch  # noqa: F401  (only to know whether to compare)

        frameworks = ["ours", "torch"]
    except ImportError:
        frameworks = ["ours"]
    print(f"{'benchmark':<46} {'tinygrad_conv':>13} {'PyTorch':>13} {'ratio':>8}")
    results = {}
    for model_name in models:
        times, info = {fw: [] for fw in frameworks}, {}
        for _ in range(rounds):  # alternate, so both see the same machine load
            for fw in frameworks:
                info[fw] = run_worker(fw, epochs, model_name)
                times[fw] += info[fw]["times"]
        ours_s, ours_info = statistics.median(times["ours"]), info["ours"]
        title = TITLES[model_name].format(images=ours_info["images"], batch=BATCH)
        torch_s = None
        if "torch" in times:
            torch_s, torch_info = statistics.median(times["torch"]), info["torch"]
            print(f"{title:<46} {ours_s * 1e3:10.1f} ms {torch_s * 1e3:10.1f} ms {ours_s / torch_s:7.2f}x")
            print(f"  last-batch loss after {epochs + 1} epochs: tinygrad_conv {ours_info['loss']:.4f}, "
                  f"PyTorch {torch_info['loss']:.4f}")
        else:
            print(f"{title:<46} {ours_s * 1e3:10.1f} ms {'-':>13} {'-':>8}")
        results[model_name] = dict(ours_s=ours_s, torch_s=torch_s)
    if "torch" in frameworks:
        print(f"(median of {rounds} x {epochs} epochs, alternating worker processes; "
              f"PyTorch {torch_info['version']}, {torch_info['threads']} threads)")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternations of the two workers")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per worker")
    parser.add_argument("--model", choices=sorted(MODELS), help="one model (default: all)")
    parser.add_argument("--worker", choices=["ours", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.epochs, args.model or "digits")
    else:
        main(rounds=args.rounds, epochs=args.epochs, models=[args.model] if args.model else tuple(MODELS))
