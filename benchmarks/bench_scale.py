"""Speed at real sizes: ops at H = 32 / 128 / 512 / 1024 and a ResNet and a U-Net epoch
on 32x32 three-channel images, each as a ratio to PyTorch CPU.

Ops: forward + backward in float32 on an input ``(2, 8, H, H)`` (``(1, 16, H, H)`` for
conv2d 3x3 16->16), measured side by side as benchmarks/side_by_side.py does
(interleaved, alternating order, idle pauses, median of repeats). Each row gives
ours/torch at every size and the exponent of growth from H=128 to H=512 of both
(time ~ pixels**p: p = 1 grows with the input, p = 2 with its square). Only public
functional APIs are called, so the table keeps working as the ops are rewritten.

Epochs: the ResNet of examples/resnet_digits.py and the U-Net of examples/segment_lines.py
with a three-channel first layer, built identically in PyTorch from the same initial
weights, trained one epoch on 256 random 32x32 images (batch 32; ResNet: AdamW on 10
classes, U-Net: Adam on per-pixel 2-class masks). As in bench_train.py each framework
runs in its own worker process (in one process their threads compete), alternating.

``--ops elementwise`` times the activations and broadcasting add/mul instead.

Run: python benchmarks/bench_scale.py [--ops relu,pad_reflect_2] [--sizes 32,128]
     [--repeats N] [--epochs-only | --ops-only] [--quick]
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import tinygrad_conv as tc  # noqa: E402
from tinygrad_conv import functional as F  # noqa: E402
from side_by_side import measure  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

SIZES = (32, 128, 512, 1024)


def _bn(lib, functional):
    """batch_norm in training mode with weight, bias and running statistics (of ``lib``)."""
    mean, var = lib.zeros(8), lib.ones(8)
    weight, bias = lib.ones(8, requires_grad=True), lib.zeros(8, requires_grad=True)
    return lambda x: functional.batch_norm(x, mean, var, weight, bias, training=True)


def _conv(lib, functional):
    rng = np.random.default_rng(1)
    weight = lib.tensor((rng.standard_normal((16, 16, 3, 3)) * 0.1).astype(np.float32), requires_grad=True)
    bias = lib.tensor(np.zeros(16, np.float32), requires_grad=True)
    return lambda x: functional.conv2d(x, weight, bias, padding=1)


# name: (channels, batch, builder(lib, functional) -> fn(x)); the same code drives both libraries
OPS = {
    "avg_pool2d_k2": (8, 2, lambda lib, f: lambda x: f.avg_pool2d(x, 2)),
    "avg_pool2d_k3s2p1": (8, 2, lambda lib, f: lambda x: f.avg_pool2d(x, 3, 2, 1)),
    "max_pool2d_k3s2p1": (8, 2, lambda lib, f: lambda x: f.max_pool2d(x, 3, 2, 1)),
    "adaptive_avg_pool2d_7": (8, 2, lambda lib, f: lambda x: f.adaptive_avg_pool2d(x, 7)),
    "pad_reflect_2": (8, 2, lambda lib, f: lambda x: f.pad(x, (2, 2, 2, 2), mode="reflect")),
    "pad_replicate_2": (8, 2, lambda lib, f: lambda x: f.pad(x, (2, 2, 2, 2), mode="replicate")),
    "interpolate_nearest_x2": (8, 2, lambda lib, f: lambda x: f.interpolate(x, scale_factor=2, mode="nearest")),
    "interpolate_bilinear_x2": (8, 2, lambda lib, f: lambda x: f.interpolate(
        x, scale_factor=2, mode="bilinear", align_corners=False)),
    "relu": (8, 2, lambda lib, f: f.relu),
    "conv2d_3x3_16": (16, 1, _conv),
    "batch_norm": (8, 2, _bn),
}
ISSUE_TABLE = list(OPS)  # the default rows; the elementwise group below runs with --ops elementwise


def _bcast(name):
    """x (op) b with b of shape (1, 8, 1, 1) requiring grad: its gradient is a broadcast sum."""
    def build(lib, functional):
        b = lib.tensor(np.linspace(0.5, 1.5, 8, dtype=np.float32).reshape(1, 8, 1, 1), requires_grad=True)
        return (lambda x: x + b) if name == "add" else (lambda x: x * b)
    return build


ELEMENTWISE = {
    "leaky_relu": (8, 2, lambda lib, f: lambda x: f.leaky_relu(x, 0.1)),
    "elu": (8, 2, lambda lib, f: f.elu),
    "silu": (8, 2, lambda lib, f: f.silu),
    "gelu": (8, 2, lambda lib, f: f.gelu),
    "gelu_tanh": (8, 2, lambda lib, f: lambda x: f.gelu(x, approximate="tanh")),
    "sigmoid": (8, 2, lambda lib, f: lambda x: x.sigmoid()),
    "tanh": (8, 2, lambda lib, f: lambda x: x.tanh()),
    "add_bcast": (8, 2, _bcast("add")),
    "mul_bcast": (8, 2, _bcast("mul")),
}
OPS.update(ELEMENTWISE)
GROUPS = {"issue": ISSUE_TABLE, "elementwise": ["relu"] + list(ELEMENTWISE)}


def _step(lib, functional, fn_builder, x_np):
    """A closure running fn(x) forward and backward (with a fixed upstream gradient)."""
    x = lib.tensor(x_np, requires_grad=True)
    fn = fn_builder(lib, functional)
    g = lib.tensor(np.random.default_rng(2).standard_normal(tuple(fn(x).shape)).astype(np.float32))

    def step():
        x.grad = None
        fn(x).backward(g)

    return step


def op_table(names, sizes, repeats):
    cases, keys = [], []
    for name in names:
        channels, batch, builder = OPS[name]
        for h in sizes:
            x = np.random.default_rng(0).standard_normal((batch, channels, h, h)).astype(np.float32)
            theirs = _step(torch, torch.nn.functional, builder, x) if torch is not None else None
            cases.append((f"{name} H={h}", _step(tc, F, builder, x), theirs))
            keys.append((name, h))
    times = dict(zip(keys, measure(cases, repeats)))
    print(f"ops forward+backward, float32, ours/torch, median of {repeats} interleaved repeats"
          + (f"; torch {torch.__version__} with {torch.get_num_threads()} threads" if torch else ""))
    grow = 128 in sizes and 512 in sizes
    header = f"{'op':<26}" + "".join(f"{'H=' + str(h):>8}" for h in sizes)
    if grow:
        header += f"{'p ours':>8}{'p torch':>8}{'growth':>8}"
    print(header + f"{'ms ours@' + str(sizes[-1]):>14}")
    for name in names:
        row = f"{name:<26}"
        for h in sizes:
            ours_s, torch_s = times[name, h]
            row += f"{ours_s / torch_s:>8.2f}" if torch_s else f"{'-':>8}"
        if grow:  # time ~ pixels**p between H=128 and H=512 (16x the pixels)
            o, t = times[name, 128], times[name, 512]
            row += f"{math.log(t[0] / o[0]) / math.log(16):>8.2f}"
            if t[1] and o[1]:
                row += f"{math.log(t[1] / o[1]) / math.log(16):>8.2f}{(t[0] / o[0]) / (t[1] / o[1]):>8.2f}"
        print(row + f"{times[name, sizes[-1]][0] * 1e3:>14.2f}")
    if grow:
        print("p: exponent of time in pixel count, H=128 -> 512; growth: ours' growth over torch's (target <= 1.25)")
    return times


# ----- epochs ----------------------------------------------------------------------------------
IMAGES, BATCH, SIZE = 256, 32, 32


def _example(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, "..", "examples", name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ours_model(model_name):
    nn = tc.nn
    if model_name == "resnet":
        model = _example("resnet_digits").ResNet()
        model.stem[0] = nn.Conv2d(3, 32, 3, padding=1, bias=False)
    else:
        unet = _example("segment_lines")
        model = unet.UNet()
        model.enc1[0] = unet.block(3, 8)
    return model


def torch_unet(width=8):
    """examples/segment_lines.py's U-Net (three input channels) in PyTorch, with the same names."""
    tnn = torch.nn

    def block(c_in, c_out):
        return tnn.Sequential(tnn.Conv2d(c_in, c_out, 3, padding=1), tnn.ReLU())

    class UNet(tnn.Module):
        def __init__(self, w):
            super().__init__()
            self.enc1 = tnn.Sequential(block(3, w), block(w, w))
            self.enc2 = block(w, 2 * w)
            self.bottom = block(2 * w, 4 * w)
            self.up2 = tnn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
            self.dec2 = block(2 * w, 2 * w)
            self.up1 = tnn.ConvTranspose2d(2 * w, w, 2, stride=2)
            self.dec1 = block(w, w)
            self.head = tnn.Conv2d(w, 2, 1)

        def forward(self, x):
            s1 = self.enc1(x)
            s2 = self.enc2(torch.nn.functional.max_pool2d(s1, 2))
            x = self.bottom(torch.nn.functional.max_pool2d(s2, 2))
            x = self.dec2(self.up2(x) + s2)
            x = self.dec1(self.up1(x) + s1)
            return self.head(x)

    return UNet(width)


def torch_model(model_name):
    if model_name == "unet":
        return torch_unet()
    from bench_train import torch_resnet

    model = torch_resnet()
    model.stem[0] = torch.nn.Conv2d(3, 32, 3, padding=1, bias=False)
    return model


def epoch_data(model_name):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((IMAGES, 3, SIZE, SIZE)).astype(np.float32)
    y = rng.integers(0, 10, IMAGES) if model_name == "resnet" else rng.integers(0, 2, (IMAGES, SIZE, SIZE))
    return [(X[i:i + BATCH], y[i:i + BATCH].astype(np.int64)) for i in range(0, IMAGES, BATCH)]


def trainer(framework, model_name):
    """One epoch's closure for ``framework`` ("ours" or "torch"), from our initial weights."""
    tc.manual_seed(0)
    model = ours_model(model_name)
    optimizer = "AdamW" if model_name == "resnet" else "Adam"
    lib, functional, opt_module = tc, F, tc.optim
    if framework == "torch":
        weights = {k: torch.tensor(np.asarray(v)) for k, v in model.state_dict().items()}
        model = torch_model(model_name)
        model.load_state_dict(weights)
        lib, functional, opt_module = torch, torch.nn.functional, torch.optim
    opt = getattr(opt_module, optimizer)(model.parameters(), lr=1e-3)
    batches = [(lib.from_numpy(xb), lib.from_numpy(yb)) for xb, yb in epoch_data(model_name)]

    def epoch():
        for xb, yb in batches:
            loss = functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return loss.item()

    return epoch


def worker(framework, model_name, epochs):
    """In a child process: one warm-up epoch, then time ``epochs`` epochs; print JSON."""
    epoch = trainer(framework, model_name)
    loss = epoch()
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - t0)
    print(json.dumps(dict(times=times, first_loss=loss)))


def epoch_table(models, rounds, epochs):
    frameworks = ["ours", "torch"] if torch is not None else ["ours"]
    print(f"one epoch, {IMAGES} images 3x{SIZE}x{SIZE}, batch {BATCH}; median of {rounds} x {epochs} epochs, "
          "alternating worker processes")
    print(f"{'model':<10}{'ours ms':>10}{'torch ms':>10}{'ours/torch':>12}   first-epoch loss ours / torch")
    results = {}
    for name in models:
        times, loss = {fw: [] for fw in frameworks}, {}
        for _ in range(rounds):
            for fw in frameworks:
                cmd = [sys.executable, os.path.abspath(__file__), "--worker", fw, "--model", name, "--epochs", str(epochs)]
                info = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
                times[fw] += info["times"]
                loss[fw] = info["first_loss"]
        ours_s = statistics.median(times["ours"])
        row = f"{name:<10}{ours_s * 1e3:>10.1f}"
        if "torch" in times:
            torch_s = statistics.median(times["torch"])
            row += f"{torch_s * 1e3:>10.1f}{ours_s / torch_s:>12.2f}   {loss['ours']:.4f} / {loss['torch']:.4f}"
        print(row)
        results[name] = times
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", help=f"comma-separated ops or groups (issue: the default; elementwise): {', '.join(OPS)}")
    parser.add_argument("--sizes", help="comma-separated H values (default 32,128,512,1024)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats per op and size")
    parser.add_argument("--models", default="resnet,unet", help="epochs to time: resnet,unet")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the epoch workers")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per worker")
    parser.add_argument("--ops-only", action="store_true", help="skip the epochs")
    parser.add_argument("--epochs-only", action="store_true", help="skip the op table")
    parser.add_argument("--quick", action="store_true", help="H = 32,128,512, 3 repeats, 2 rounds of 1 epoch")
    parser.add_argument("--torch-threads", type=int, help="torch.set_num_threads for the op table (default: torch's; "
                        "1 is steadier when other jobs load the machine)")
    parser.add_argument("--worker", choices=["ours", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--model", choices=["resnet", "unet"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.model, args.epochs)
    names = [n for group in (args.ops or "issue").split(",") for n in GROUPS.get(group, [group])]
    unknown = [n for n in names if n not in OPS]
    if unknown:
        parser.error(f"unknown ops {unknown}; choose from {', '.join(OPS)}")
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else (SIZES[:3] if args.quick else SIZES)
    repeats, rounds, epochs = (3, 2, 1) if args.quick else (args.repeats, args.rounds, args.epochs)
    if args.torch_threads and torch is not None:
        torch.set_num_threads(args.torch_threads)
    if not args.epochs_only:
        op_table(names, sizes, repeats)
        print()
    if not args.ops_only:
        epoch_table(args.models.split(","), rounds, epochs)


if __name__ == "__main__":
    main()
