"""Classic 3x3 kernels in a Conv2d: Sobel, Laplacian and sharpen on a synthetic image.

The seed notebook's section 4: four hand-written kernels are set as the
weights of one ``nn.Conv2d(1, 4, 3, padding=1)``, which then runs a single
forward pass. Nothing is learned here; it shows what a conv filter computes.

Run: python examples/edge_detection.py [--out DIR]
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")  # headless: figures go to files
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_conv as tc
from tinygrad_conv import nn

KERNELS = {
    "Sobel X (vertical edges)": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "Sobel Y (horizontal edges)": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "Laplacian (all edges)": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "Sharpened": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
}


def create_test_image(size=32):
    """A vertical band (1.0), a horizontal band (0.5) and a diagonal stripe (0.7)."""
    i, j = np.mgrid[:size, :size]  # row and column index of every pixel
    img = np.zeros((size, size), dtype=np.float32)
    img[:, size // 4 : size // 2] = 1.0
    img[size // 4 : size // 2, :] = np.maximum(img[size // 4 : size // 2, :], 0.5)
    diagonal = (i + j > size) & (i + j < int(1.5 * size))
    img[diagonal] = np.maximum(img[diagonal], 0.7)
    return img


def main(size=32, out="out"):
    """Filter the test image; return the image, the four filter outputs and the figure path."""
    img = create_test_image(size)
    conv = nn.Conv2d(1, 4, 3, padding=1)
    with tc.no_grad():  # set the weights in place, untracked
        conv.weight[:, 0] = tc.tensor(list(KERNELS.values()), dtype=tc.float32)  # (4, 3, 3)
        conv.bias.zero_()
        output = conv(tc.from_numpy(img)[None, None])[0].numpy()  # (1, 1, H, W) -> (4, H, W), as NumPy to plot
    magnitude = np.sqrt(output[0] ** 2 + output[1] ** 2)
    print(f"input {img.shape} -> conv output {output.shape}, max edge magnitude {magnitude.max():.2f}")

    panels = [("Original image", img, dict(cmap="gray"))]
    for (title, _), out_map in zip(KERNELS.items(), output):
        style = dict(cmap="gray") if title == "Sharpened" else dict(cmap="RdBu", vmin=-2, vmax=2)
        panels.append((title, out_map, style))
    panels.append(("Edge magnitude (Sobel)", magnitude, dict(cmap="hot")))

    fig, axes = plt.subplots(2, 3, figsize=(9, 6.8))
    for ax, (title, image, style) in zip(axes.flat, panels):
        ax.imshow(image, **style)
        ax.set_title(title, fontsize=11)
        ax.axis("off")
    fig.suptitle("Convolutional layer: edge detection filters", fontsize=13, fontweight="bold")
    fig.tight_layout()
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "edges.png")
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print("wrote", path)
    return dict(image=img, output=output, magnitude=magnitude, figures=[path])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out")
    main(out=parser.parse_args().out)
