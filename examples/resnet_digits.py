"""A small ResNet on scikit-learn's 8x8 digits: batch norm, residual blocks,
dropout, random-shift augmentation, AdamW and a one-cycle learning rate.

Three basic blocks (conv, batch norm, ReLU, conv, batch norm, add the input,
ReLU); the second halves the resolution and doubles the channels, so its
shortcut is a strided 1x1 convolution with batch norm. Global average pooling
and dropout feed the linear head. Each training image is shifted by up to one
pixel (pad by one, crop a random 8x8 window), and the loss uses label
smoothing 0.1 (without it, seeds ended between 98.9% and 99.6%). The split is
the one of train_digits.py (a stratified quarter held out). Writes a figure of the loss
and test accuracy per epoch with the learning rate under them.

Run: python examples/resnet_digits.py [--epochs N] [--seed S] [--device cpu|cuda] [--out DIR]
"""
import argparse
import os
import sys
import time

import numpy as np

import tinygrad_conv as tc
from tinygrad_conv import nn, optim
from tinygrad_conv import functional as F


def load_data(seed=0):
    """train_digits.py's split (imported by path: examples/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_digits", os.path.join(os.path.dirname(__file__), "train_digits.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load_data(seed)


class BasicBlock(nn.Module):
    """``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))``; the shortcut is the identity,
    or a strided 1x1 convolution with batch norm when the shape changes."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out_channels))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """(N, 1, 8, 8) -> (N, 10) logits: stem, blocks of 32, 64 (stride 2), 64 channels, head."""

    def __init__(self, width=32, dropout=0.2):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.blocks = nn.Sequential(BasicBlock(width, width), BasicBlock(width, 2 * width, stride=2),
                                    BasicBlock(2 * width, 2 * width))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * width, 10)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.head(self.dropout(F.global_avg_pool2d(x)))


def random_shift(x, max_shift=1):
    """Shift each image of ``x`` (a Tensor, (N, C, H, W)) by up to ``max_shift`` pixels:
    zero-pad, then crop a window at a random offset per image (library generator)."""
    n, c, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4)
    dy, dx = tc.randint(0, 2 * max_shift + 1, (2, n), device=x.device)
    rows = (dy[:, None] + tc.arange(h, device=x.device))[:, None, :, None]  # (N, 1, H, 1)
    cols = (dx[:, None] + tc.arange(w, device=x.device))[:, None, None, :]  # (N, 1, 1, W)
    images = tc.arange(n, device=x.device)[:, None, None, None]
    channels = tc.arange(c, device=x.device)[None, :, None, None]
    return padded[images, channels, rows, cols]


def evaluate(model, X, y, device, batch_size=500):
    """Accuracy on the NumPy arrays ``X``, ``y``, in batches."""
    model.eval()
    correct = 0
    with tc.no_grad():
        for i in range(0, len(X), batch_size):
            pred = model(tc.tensor(X[i:i + batch_size], device=device)).argmax(1)
            correct += (pred == tc.tensor(y[i:i + batch_size], device=device)).sum().item()
    model.train()
    return correct / len(X)


def plot_history(history, path):
    import matplotlib

    matplotlib.use("Agg")  # headless: figures go to files
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 4.6), sharex=True, gridspec_kw=dict(height_ratios=[2, 1]))
    top.plot(epochs, history["loss"], color="tab:blue", label="training loss")
    top.set_ylabel("training loss (label-smoothed)", color="tab:blue")
    top.set_yscale("log")
    err = top.twinx()  # error on a log scale: the last epochs' fraction of a percent stays visible
    n_test = history["n_test"]
    err.plot(epochs, np.maximum(100 * (1 - np.array(history["accuracy"])), 100 / n_test), color="tab:green")
    err.set_yscale("log")
    err.set_ylabel("test error (%)", color="tab:green")
    top.set_title(f"ResNet on the digits: {100 * history['accuracy'][-1]:.2f}% test accuracy")
    steps = np.arange(1, len(history["lr"]) + 1) / history["steps_per_epoch"]
    bottom.plot(steps, history["lr"], color="tab:red")
    bottom.set(xlabel="epoch", ylabel="learning rate")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(epochs=30, max_lr=0.005, weight_decay=5e-4, label_smoothing=0.1, dropout=0.2, batch_size=64, seed=0,
         device="cpu", out="out", n_train=None):
    """Train and test; return the per-epoch history, the final test accuracy and the figure path."""
    from tqdm import tqdm

    X_train, X_test, y_train, y_test = load_data(0)  # the split of train_digits.py
    X_train, y_train = X_train[:n_train], y_train[:n_train]
    tc.manual_seed(seed)
    model = ResNet(dropout=dropout).to(device)
    opt = optim.AdamW(model.parameters(), lr=max_lr, weight_decay=weight_decay)
    steps_per_epoch = -(-len(X_train) // batch_size)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=epochs * steps_per_epoch)

    history = dict(loss=[], accuracy=[], lr=[], steps_per_epoch=steps_per_epoch, n_test=len(y_test))
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc="resnet", unit="epoch")
    for epoch in bar:
        losses = []
        for xb, yb in tc.data.batches(X_train, y_train, batch_size, seed=seed * 1000 + epoch):  # NumPy batches
            xb, yb = tc.tensor(xb, device=device), tc.tensor(yb, device=device)
            logits = model(random_shift(xb))
            loss = F.cross_entropy(logits, yb, label_smoothing=label_smoothing)
            opt.zero_grad()
            loss.backward()
            opt.step()
            history["lr"].append(sched.get_last_lr()[0])
            sched.step()
            losses.append(loss.item())
        history["loss"].append(float(np.mean(losses)))
        history["accuracy"].append(evaluate(model, X_test, y_test, device))
        bar.set_postfix(loss=f"{history['loss'][-1]:.4f}", acc=f"{history['accuracy'][-1]:.1%}", refresh=False)
    seconds = time.perf_counter() - start
    accuracy = history["accuracy"][-1]
    print(f"test accuracy {accuracy:.2%} ({len(y_test)} images) after {epochs} epochs in {seconds:.1f} s")

    os.makedirs(out, exist_ok=True)
    figure = os.path.join(out, "resnet_digits.png")
    plot_history(history, figure)
    print("wrote", figure)
    return dict(history=history, accuracy=accuracy, seconds=seconds, figures=[figure], model=model)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="out")
    args = parser.parse_args()
    try:
        main(epochs=args.epochs, seed=args.seed, device=args.device, out=args.out)
    except tc.cuda.UnavailableError as e:  # e.g. --device cuda without a usable GPU: say why, no traceback
        sys.exit(str(e))
