"""Which pixels belong to the line? A tiny U-Net labels every pixel of noisy line images.

``tc.data.make_lines(..., return_masks=True)`` gives each image's mask (1 on the
3-pixel wide line, 0 elsewhere). At noise 1.0 the line is as faint as the noise
around it (see the figure), so a single pixel says little: the network must look
along the whole line. The U-Net does that with two down steps (max pooling) and
two up steps (``ConvTranspose2d``), joining each up step with the encoder's
features of the same size (skip connections), and learns with per-pixel
cross-entropy (logits ``(N, 2, H, W)`` against masks ``(N, H, W)``).

Scored by the intersection-over-union of the line class on held-out images.
Writes a grid of input, true mask and predicted mask as a PNG to ``--out``.

Run: python examples/segment_lines.py [--epochs N] [--seed S] [--out DIR] [--device cuda]
"""
import argparse
import os
import sys
import time

import matplotlib

matplotlib.use("Agg")  # headless: figures go to files
import matplotlib.pyplot as plt
import numpy as np
from tqdm import tqdm

import tinygrad_conv as tc
from tinygrad_conv import nn, optim
from tinygrad_conv import functional as F


def block(c_in, c_out):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU())


def join(up, skip):
    """A skip connection. Joined by addition (same channels); with ``tc.cat`` the U-Net's
    concatenation is ``tc.cat([up, skip], dim=1)`` and the next block takes twice the channels."""
    return up + skip


class UNet(nn.Module):
    """16x16 -> 8x8 -> 4x4 and back up, a skip connection at each size; 2 logits per pixel."""

    def __init__(self, width=8):
        super().__init__()
        w = width
        self.enc1 = nn.Sequential(block(1, w), block(w, w))  # 16x16
        self.enc2 = block(w, 2 * w)  # 8x8
        self.bottom = block(2 * w, 4 * w)  # 4x4
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)  # 4x4 -> 8x8
        self.dec2 = block(2 * w, 2 * w)
        self.up1 = nn.ConvTranspose2d(2 * w, w, 2, stride=2)  # 8x8 -> 16x16
        self.dec1 = block(w, w)
        self.head = nn.Conv2d(w, 2, 1)

    def forward(self, x):
        s1 = self.enc1(x)
        s2 = self.enc2(F.max_pool2d(s1, 2))
        x = self.bottom(F.max_pool2d(s2, 2))
        x = self.dec2(join(self.up2(x), s2))
        x = self.dec1(join(self.up1(x), s1))
        return self.head(x)


def iou(pred, masks):
    """Intersection over union of the line class (1) over all pixels of all images."""
    pred, masks = pred.astype(bool), masks.astype(bool)
    return float((pred & masks).sum() / max(1, (pred | masks).sum()))


def predict(model, X, device, batch_size=250):
    """The predicted class of every pixel of the NumPy images ``X``, as a NumPy array ``(N, H, W)``."""
    with tc.no_grad():
        return tc.cat([model(tc.tensor(X[i : i + batch_size], device=device)).argmax(1)
                       for i in range(0, len(X), batch_size)]).cpu().numpy()


def plot_examples(X, masks, pred, path, n=6):
    fig, axes = plt.subplots(3, n, figsize=(1.6 * n, 5.0))
    for j in range(n):
        for row, (img, title) in enumerate([(X[j, 0], "input"), (masks[j], "true mask"), (pred[j], "predicted")]):
            ax = axes[row, j]
            ax.imshow(img, cmap="gray" if row == 0 else "viridis", vmin=None if row == 0 else 0, vmax=None if row == 0 else 1)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(title, fontsize=10)
        axes[2, j].set_title(f"IoU {iou(pred[j], masks[j]):.2f}", fontsize=9, y=-0.25)
    fig.suptitle("U-Net segmentation of held-out lines at noise 1.0", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(epochs=8, seed=0, out="out", n_train=2000, n_test=500, noise=1.0, batch_size=32, lr=1e-2, device="cpu"):
    """Train the U-Net; return per-epoch losses, the held-out IoU, seconds taken and figure paths."""
    X, _, masks = tc.data.make_lines(n_train, size=16, noise=noise, seed=seed, return_masks=True)
    X_test, _, masks_test = tc.data.make_lines(n_test, size=16, noise=noise, seed=seed + 1, return_masks=True)
    tc.manual_seed(seed)
    model = UNet().to(device)
    opt = optim.Adam(model.parameters(), lr=lr)

    start, losses = time.perf_counter(), []
    bar = tqdm(range(epochs), desc="U-Net", unit="epoch")
    for epoch in bar:
        batch_losses = []
        for xb, mb in tc.data.batches(X, masks, batch_size, seed=seed + epoch):  # NumPy batches
            xb, mb = tc.tensor(xb, device=device), tc.tensor(mb, device=device)
            loss = F.cross_entropy(model(xb), mb)  # per pixel: (N, 2, H, W) vs (N, H, W)
            opt.zero_grad()
            loss.backward()
            opt.step()
            batch_losses.append(loss.item())
        losses.append(float(np.mean(batch_losses)))
        bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
    seconds = time.perf_counter() - start

    pred = predict(model, X_test, device)
    score = iou(pred, masks_test)
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}; held-out IoU of the line class {score:.3f} "
          f"({n_test} images, noise {noise}); trained in {seconds:.1f} s")
    os.makedirs(out, exist_ok=True)
    figures = [os.path.join(out, "segment_lines.png")]
    plot_examples(X_test, masks_test, pred, figures[0])
    print("wrote", ", ".join(figures))
    return dict(losses=losses, iou=score, seconds=seconds, figures=figures)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    try:
        main(epochs=args.epochs, seed=args.seed, out=args.out, device=args.device)
    except tc.cuda.UnavailableError as e:  # e.g. --device cuda without a usable GPU: say why, no traceback
        sys.exit(str(e))
