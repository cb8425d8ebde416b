"""Handwritten digits: a small CNN on scikit-learn's 8x8 digits, trained with Adam.

1797 images ship with scikit-learn (no download); a quarter is held out, with
every class in proportion. Writes a confusion matrix and the misclassified
test images as PNGs to ``--out``.

Run: python examples/train_digits.py [--epochs N] [--seed S] [--out DIR] [--device cuda]
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")  # headless: figures go to files
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import tinygrad_conv as tc
from tinygrad_conv import nn, optim
from tinygrad_conv import functional as F


def digits_cnn():
    """(N, 1, 8, 8) -> (N, 10) logits; also the model of benchmarks/bench_train.py."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, 32, 4, 4)
        nn.Flatten(), nn.Linear(512, 10),
    )


def load_data(seed=0):
    """Train/test split of the digits as (N, 1, 8, 8) float32 in [0, 1] and int64 labels."""
    digits = load_digits()
    X = (digits.images / 16.0).astype(np.float32)[:, None]  # pixel values are 0..16
    return train_test_split(X, digits.target, test_size=0.25, stratify=digits.target, random_state=seed)


def plot_confusion(confusion, path):
    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.imshow(confusion, cmap="Blues")
    for (true, pred), count in np.ndenumerate(confusion):
        if count:
            color = "white" if count > confusion.max() / 2 else "black"
            ax.text(pred, true, count, ha="center", va="center", fontsize=8, color=color)
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true",
           title=f"Test set: {np.trace(confusion)}/{confusion.sum()} correct")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_mistakes(X, y, pred, path, n=8):
    wrong = np.flatnonzero(pred != y)[:n]
    fig, axes = plt.subplots(1, n, figsize=(1.3 * n, 2.0))
    for ax, i in zip(axes, list(wrong) + [None] * n):
        ax.axis("off")
        if i is not None:
            ax.imshow(X[i, 0], cmap="gray_r")
            ax.set_title(f"true {y[i]}\npred {pred[i]}", fontsize=9)
    if len(wrong) == 0:
        fig.text(0.5, 0.5, "no misclassified test images", ha="center", va="center")
    fig.suptitle(f"Misclassified test images ({(pred != y).sum()} in all)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(epochs=20, lr=3e-3, batch_size=64, seed=0, out="out", device="cpu"):
    """Train and test on ``device``; return per-epoch losses, test accuracy and figure paths."""
    X_train, X_test, y_train, y_test = load_data(seed)
    tc.manual_seed(seed)
    model = digits_cnn().to(device)
    opt = optim.Adam(model.parameters(), lr=lr)

    losses = []
    bar = tqdm(range(epochs), desc="digits", unit="epoch")
    for epoch in bar:
        batch_losses = []
        for xb, yb in tc.data.batches(X_train, y_train, batch_size, seed=seed + epoch):  # NumPy batches
            xb, yb = tc.tensor(xb, device=device), tc.tensor(yb, device=device)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            batch_losses.append(loss.item())
        losses.append(float(np.mean(batch_losses)))
        bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)

    with tc.no_grad():
        pred = model(tc.tensor(X_test, device=device)).argmax(1)
    accuracy = (pred == tc.tensor(y_test, device=device)).float().mean().item()
    pred = pred.cpu().numpy()  # NumPy from here on: the confusion matrix and the plots
    print(f"test accuracy {accuracy:.1%} ({len(y_test)} images), loss {losses[0]:.4f} -> {losses[-1]:.4f}")

    confusion = np.zeros((10, 10), dtype=int)
    np.add.at(confusion, (y_test, pred), 1)  # rows: true class, columns: predicted
    os.makedirs(out, exist_ok=True)
    figures = [os.path.join(out, "digits_confusion.png"), os.path.join(out, "digits_misclassified.png")]
    plot_confusion(confusion, figures[0])
    plot_mistakes(X_test, y_test, pred, figures[1])
    print("wrote", ", ".join(figures))
    return dict(losses=losses, accuracy=accuracy, confusion=confusion, figures=figures)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (needs CuPy)")
    args = parser.parse_args()
    try:
        main(epochs=args.epochs, seed=args.seed, out=args.out, device=args.device)
    except tc.cuda.UnavailableError as e:  # e.g. --device cuda without a usable GPU: say why, no traceback
        sys.exit(str(e))
