"""Vertical or horizontal line? The seed notebook's experiment, then a small CNN.

Both models learn from ``tc.data.make_lines`` images with ``loss.backward()``
and ``optim.SGD``, and are scored on fresh images they never saw:

  seed  the notebook's own set-up: one ``Conv2d(1, 2, 3)``, global average
        pooling, the prediction ``(p0 - p1 + 1) / 2`` fitted to the label with
        MSE; SGD lr 0.01, batch 32, 50 epochs, 200 images of 16x16.
  cnn   two conv layers, max pooling, a linear head and cross-entropy.

Writes the loss curves and the learned 3x3 filters as PNGs to ``--out``.

Run: python examples/train_lines.py [--model {seed,cnn,both}] [--epochs N] [--seed S] [--out DIR] [--device cuda]
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")  # headless: figures go to files
import matplotlib.pyplot as plt
import numpy as np
from tqdm import tqdm

import tinygrad_conv as tc
from tinygrad_conv import nn, optim
from tinygrad_conv import functional as F


class SeedModel(nn.Module):
    """The notebook's model: a score in [0, 1] from the difference of two channel means.

    It is weak by design: a linear 3x3 filter averaged over the whole image gives
    nearly the same number for a vertical and a horizontal line (both are 3 x 16
    pixels of +1), so only border effects tell them apart. Even the best such
    filter (least squares) is right on only ~58% of new images.
    """

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        nn.init.xavier_normal_(self.conv.weight)  # the notebook's initialisation (not PyTorch's default)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x):
        p = F.global_avg_pool2d(self.conv(x))  # (N, 2)
        return (p[:, 0] - p[:, 1] + 1) / 2  # (N,): 1 = vertical, 0 = horizontal


def small_cnn():
    """The fix: ReLU and max pooling between the convs, so the final average keeps
    *where* each filter fired strongly instead of cancelling it out."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.GlobalAvgPool2d(),
        nn.Linear(16, 2),
    )


# Per model: how to build it, its loss, how its output becomes a 0/1 label, and SGD settings.
SETUPS = {
    "seed": dict(
        build=SeedModel,
        loss=lambda out, y: F.mse_loss(out, y.float()),
        predict=lambda out: (out > 0.5).long(),
        lr=0.01, momentum=0.0, epochs=50,
    ),
    "cnn": dict(
        build=small_cnn,
        loss=F.cross_entropy,
        predict=lambda out: out.argmax(1),
        lr=0.05, momentum=0.9, epochs=20,
    ),
}


def train(name, X, y, X_test, y_test, epochs=None, seed=0, batch_size=32, device="cpu"):
    """Train one model on ``device``; return its per-epoch mean loss, held-out accuracy and first conv."""
    setup = SETUPS[name]
    epochs = setup["epochs"] if epochs is None else epochs
    tc.manual_seed(seed)
    model = setup["build"]().to(device)
    opt = optim.SGD(model.parameters(), lr=setup["lr"], momentum=setup["momentum"])

    losses = []
    bar = tqdm(range(epochs), desc=f"{name:>4}", unit="epoch")
    for epoch in bar:
        batch_losses = []
        for xb, yb in tc.data.batches(X, y, batch_size, seed=seed + epoch):  # NumPy batches
            xb, yb = tc.tensor(xb, device=device), tc.tensor(yb, device=device)
            loss = setup["loss"](model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            batch_losses.append(loss.item())
        losses.append(float(np.mean(batch_losses)))
        bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)

    with tc.no_grad():
        pred = setup["predict"](model(tc.tensor(X_test, device=device)))
        accuracy = (pred == tc.tensor(y_test, device=device)).float().mean().item()
    first_conv = model.conv if name == "seed" else model[0]
    return dict(losses=losses, accuracy=accuracy, filters=first_conv.weight.numpy()[:, 0].copy())


def plot_losses(results, path):
    fig, axes = plt.subplots(1, len(results), figsize=(4.5 * len(results), 3.2), squeeze=False)
    labels = {"seed": "MSE loss", "cnn": "cross-entropy loss"}
    for ax, (name, r) in zip(axes[0], results.items()):
        ax.plot(np.arange(1, len(r["losses"]) + 1), r["losses"], lw=2)
        if name == "seed":  # the loss of a model that always answers 0.5
            ax.axhline(0.25, color="gray", ls="--", lw=1, label="always 0.5")
            ax.legend(loc="lower left")
        ax.set(xlabel="epoch", ylabel=labels[name], title=f"{name}: held-out accuracy {r['accuracy']:.1%}")
        ax.set_ylim(0, 1.15 * max(r["losses"]))
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_filters(results, path):
    """One row of filters per model; each row has its own symmetric colour scale, shown by its bar."""
    cols = max(len(r["filters"]) for r in results.values())
    fig, axes = plt.subplots(len(results), cols, figsize=(1.3 * cols + 1, 1.5 * len(results)), squeeze=False,
                             layout="constrained")
    for row, (name, r) in zip(axes, results.items()):
        vmax = np.abs(r["filters"]).max()
        for i, ax in enumerate(row):
            ax.axis("off")
            if i < len(r["filters"]):
                image = ax.imshow(r["filters"][i], cmap="RdBu", vmin=-vmax, vmax=vmax)
                ax.set_title(f"{name} {i + 1}", fontsize=9)
        fig.colorbar(image, ax=list(row), shrink=0.9, label="weight")
    fig.suptitle("Learned 3x3 filters of the first conv layer (red < 0 < blue; one colour scale per row)",
                 fontsize=10)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(model="both", epochs=None, seed=0, out="out", n_train=200, n_test=1000, device="cpu"):
    """Train ``model`` ("seed", "cnn" or "both") on ``device``; return losses, accuracies and figure paths."""
    X, y = tc.data.make_lines(n_train, size=16, seed=seed)
    X_test, y_test = tc.data.make_lines(n_test, size=16, seed=seed + 1)  # unseen images
    names = ["seed", "cnn"] if model == "both" else [model]
    results = {name: train(name, X, y, X_test, y_test, epochs, seed, device=device) for name in names}
    for name, r in results.items():
        print(f"{name:>4}: loss {r['losses'][0]:.4f} -> {r['losses'][-1]:.4f}, "
              f"held-out accuracy {r['accuracy']:.1%} ({n_test} images)")

    os.makedirs(out, exist_ok=True)
    figures = [os.path.join(out, "lines_loss.png"), os.path.join(out, "lines_filters.png")]
    plot_losses(results, figures[0])
    plot_filters(results, figures[1])
    print("wrote", ", ".join(figures))
    return dict(results, figures=figures)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["seed", "cnn", "both"], default="both")
    parser.add_argument("--epochs", type=int, default=None, help="default: 50 for seed, 20 for cnn")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (needs CuPy)")
    args = parser.parse_args()
    try:
        main(model=args.model, epochs=args.epochs, seed=args.seed, out=args.out, device=args.device)
    except tc.cuda.UnavailableError as e:  # e.g. --device cuda without a usable GPU: say why, no traceback
        sys.exit(str(e))
