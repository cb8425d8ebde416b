"""Seeing inside the line CNN: its summary, its graph, its feature maps, its gradients.

The small CNN of ``train_lines.py`` (vertical or horizontal line?) looked at
with the library's inspection tools:

  1. ``tc.summary``: every layer, its output shape and parameter count.
  2. ``tc.viz.draw_graph``: the graph one loss recorded, which ``backward`` walks
     (an SVG with Graphviz's ``dot`` installed, else the ``.dot`` source).
  3. ``Tensor.register_hook`` on every parameter: the gradient norm of each layer
     at every training step.
  4. ``Module.register_forward_hook`` on both conv layers: their feature maps for
     one image after training.

Writes inspect_summary.txt, inspect_graph.svg, inspect_grad_norms.png and
inspect_feature_maps.png to ``--out``.

Run: python examples/inspect_cnn.py [--epochs N] [--seed S] [--out DIR]
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")  # headless: figures go to files
import matplotlib.pyplot as plt
import numpy as np
from tqdm import tqdm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tinygrad_conv as tc  # noqa: E402
from tinygrad_conv import optim  # noqa: E402
from tinygrad_conv import functional as F  # noqa: E402
from train_lines import small_cnn  # noqa: E402  (the model of examples/train_lines.py)

LAYERS = {"0": "conv 1", "3": "conv 2", "6": "linear"}  # the modules holding parameters


def train_recording_gradients(model, X, y, epochs, seed, batch_size=32):
    """SGD as in train_lines.py; a hook on every parameter adds its squared gradient
    to its layer's total, giving one gradient norm per layer and step."""
    squares = {layer: 0.0 for layer in LAYERS}
    for name, p in model.named_parameters():
        layer = name.split(".")[0]

        def add(grad, layer=layer):
            squares[layer] += (grad.double() ** 2).sum().item()  # read it, return None: unchanged

        p.register_hook(add)

    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    norms = {layer: [] for layer in LAYERS}
    for epoch in tqdm(range(epochs), desc="train", unit="epoch"):
        for xb, yb in tc.data.batches(X, y, batch_size, seed=seed + epoch):  # NumPy batches
            loss = F.cross_entropy(model(tc.tensor(xb)), tc.tensor(yb))
            opt.zero_grad()
            loss.backward()  # the hooks fire here, once per parameter
            opt.step()
            for layer in LAYERS:
                norms[layer].append(np.sqrt(squares[layer]))
                squares[layer] = 0.0
    return norms


def feature_maps(model, image):
    """Outputs of both conv layers for one image, caught by forward hooks."""
    maps = {}
    handles = [
        model[i].register_forward_hook(lambda m, inputs, out, i=i: maps.__setitem__(i, out[0].numpy()))
        for i in (0, 3)
    ]
    with tc.no_grad():
        logits = model(tc.tensor(image[None]))
    for h in handles:
        h.remove()  # the model runs without them again
    return maps[0], maps[3], logits[0]


def plot_grad_norms(norms, steps_per_epoch, path):
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for layer, values in norms.items():
        ax.plot(np.arange(1, len(values) + 1) / steps_per_epoch, values, lw=1.5, label=LAYERS[layer])
    ax.set(xlabel="epoch", ylabel="gradient norm (weight and bias)", yscale="log",
           title="Gradient norm per layer at every SGD step")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_feature_maps(image, maps1, maps2, label, path):
    """The input, then each conv layer's maps on one colour scale per layer (its colour bar)."""
    cols = 8
    layers = [("conv 1", maps1), ("conv 2", maps2)]
    rows = 1 + sum(-(-len(maps) // cols) for _, maps in layers)
    fig, axes = plt.subplots(rows, cols, figsize=(1.25 * cols + 1, 1.35 * rows), layout="constrained")
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].imshow(image[0], cmap="gray")
    axes[0, 0].set_title(f"input ({label})", fontsize=8)
    row = 1
    for name, maps in layers:
        vmax = max(np.abs(maps).max(), 1e-6)  # shared by the layer's maps, so they compare
        for i, m in enumerate(maps):
            image_ = axes[row + i // cols, i % cols].imshow(m, cmap="RdBu", vmin=-vmax, vmax=vmax)
            axes[row + i // cols, i % cols].set_title(f"{name} #{i + 1}", fontsize=7)
        layer_rows = -(-len(maps) // cols)
        fig.colorbar(image_, ax=list(axes[row:row + layer_rows].ravel()), shrink=0.9, label=f"{name} output")
        row += layer_rows
    fig.suptitle("Feature maps of both conv layers (before ReLU; red < 0 < blue; one colour scale per layer)",
                 fontsize=10)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(epochs=20, seed=0, out="out", n_train=200, batch_size=32):
    """Inspect the line CNN; return its summary, paths, gradient norms and feature maps."""
    os.makedirs(out, exist_ok=True)
    X, y = tc.data.make_lines(n_train, size=16, seed=seed)
    tc.manual_seed(seed)
    model = small_cnn()

    table = tc.summary(model, (1, 1, 16, 16))
    print(table)
    summary_path = os.path.join(out, "inspect_summary.txt")
    with open(summary_path, "w") as f:
        f.write(table + "\n")

    loss = F.cross_entropy(model(tc.tensor(X[:4])), tc.tensor(y[:4]))  # one loss, drawn before any backward
    graph_path = tc.viz.draw_graph(loss, os.path.join(out, "inspect_graph.svg"), params=dict(model.named_parameters()))

    norms = train_recording_gradients(model, X, y, epochs, seed, batch_size)

    X_new, y_new = tc.data.make_lines(1, size=16, seed=seed + 1)
    maps1, maps2, logits = feature_maps(model, X_new[0])
    label = "vertical" if y_new[0] == 1 else "horizontal"
    print(f"one new {label} line: predicted {'vertical' if logits.argmax().item() == 1 else 'horizontal'}")

    figures = [os.path.join(out, "inspect_grad_norms.png"), os.path.join(out, "inspect_feature_maps.png")]
    plot_grad_norms(norms, -(-n_train // batch_size), figures[0])
    plot_feature_maps(X_new[0], maps1, maps2, label, figures[1])
    print("wrote", ", ".join([summary_path, graph_path] + figures))
    return dict(summary=table, graph=graph_path, figures=figures, grad_norms=norms,
                feature_maps=(maps1, maps2), logits=logits, label=int(y_new[0]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out")
    args = parser.parse_args()
    main(epochs=args.epochs, seed=args.seed, out=args.out)
