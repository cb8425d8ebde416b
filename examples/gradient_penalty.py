"""Double backprop: a digits classifier trained with an input-gradient penalty.

The same small network (an MLP, or a CNN with ``--model cnn``) is trained twice on
scikit-learn's 8x8 digits (train_digits.py's split): once on cross-entropy alone, once on
cross-entropy plus
``lam * mean_i ||d loss_i / d x_i||^2``. The penalty is itself a function of a gradient:
``tc.autograd.grad(..., create_graph=True)`` returns the input gradient as a Tensor
with its own graph, so ``loss.backward()`` differentiates through it (a second
derivative, through the network and the loss). Flat input gradients mean
small input changes barely move the loss, so the penalised model should keep its
accuracy better when Gaussian noise is added to the test images.

Prints, for both models: test accuracy, the mean input-gradient norm on the test
set, accuracy under noise at several levels, and training time. Writes a figure
(accuracy vs noise level, and the distribution of input-gradient norms) to ``--out``.

Run: python examples/gradient_penalty.py [--epochs N] [--lam L] [--model mlp|cnn] [--seed S] [--out DIR] [--device cuda]
"""
import argparse
import os
import sys
import time

import numpy as np

import tinygrad_conv as tc
from tinygrad_conv import nn, optim
from tinygrad_conv import functional as F

NOISE_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)  # std of the Gaussian noise; pixels are in [0, 1]


def load_data(seed=0):
    """train_digits.py's split (imported by path: examples/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_digits", os.path.join(os.path.dirname(__file__), "train_digits.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load_data(seed)


def make_model(kind="mlp"):
    """(N, 1, 8, 8) -> (N, 10) logits: a one-hidden-layer MLP, or a small CNN (whose penalty
    differentiates conv2d and max pooling twice)."""
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    if kind == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, 8, 4, 4)
            nn.Flatten(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10),
        )
    raise ValueError(f"model must be 'mlp' or 'cnn', got {kind!r}")


def input_gradients(model, x, y, create_graph=False):
    """d loss_i / d x_i for every example: the gradient of the summed cross-entropy (each
    example's loss depends on its own image only), shape of ``x``."""
    x = x.detach().requires_grad_(True)
    logits = model(x)
    (gx,) = tc.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), x, create_graph=create_graph)
    return logits, gx


def train(X, y, lam, epochs, lr, batch_size, seed, device, kind="mlp"):
    """A fresh model trained on cross-entropy + lam * mean squared input-gradient norm."""
    tc.manual_seed(seed)
    model = make_model(kind).to(device)
    opt = optim.Adam(model.parameters(), lr=lr)
    losses, start = [], time.perf_counter()
    for epoch in range(epochs):
        batch_losses = []
        for xb, yb in tc.data.batches(X, y, batch_size, seed=seed + epoch):
            xb, yb = tc.tensor(xb, device=device), tc.tensor(yb, device=device)
            if lam:
                logits, gx = input_gradients(model, xb, yb, create_graph=True)  # gx has a graph
                penalty = (gx * gx).sum((1, 2, 3)).mean()
                loss = F.cross_entropy(logits, yb) + lam * penalty
            else:
                loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()  # through the penalty: second derivatives of the network
            opt.step()
            batch_losses.append(loss.item())
        losses.append(float(np.mean(batch_losses)))
    return model, losses, time.perf_counter() - start


def evaluate(model, X, y, noise_levels, n_draws, seed, device):
    """Test accuracy, per-example input-gradient norms, and accuracy under each noise level
    (averaged over ``n_draws`` seeded draws of the noise)."""
    xt, yt = tc.tensor(X, device=device), tc.tensor(y, device=device)
    logits, gx = input_gradients(model, xt, yt)
    accuracy = (logits.argmax(1) == yt).float().mean().item()
    norms = gx.reshape(len(y), -1).norm(dim=1).cpu().numpy()
    rng = np.random.default_rng(seed)
    noisy = []
    with tc.no_grad():
        for sigma in noise_levels:
            hits = []
            for _ in range(n_draws):
                xn = tc.tensor((X + sigma * rng.standard_normal(X.shape)).astype(np.float32), device=device)
                hits.append((model(xn).argmax(1) == yt).float().mean().item())
            noisy.append(float(np.mean(hits)))
    return dict(accuracy=accuracy, grad_norms=norms, grad_norm=float(norms.mean()), noisy_accuracy=noisy)


def plot(results, noise_levels, path):
    import matplotlib

    matplotlib.use("Agg")  # headless: figures go to files
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    for (label, r), color in zip(results.items(), ["tab:blue", "tab:orange"]):
        ax1.plot(noise_levels, np.array(r["noisy_accuracy"]) * 100, "o-", color=color, label=label)
        logs = np.log10(np.maximum(r["grad_norms"], 1e-12))
        ax2.hist(logs, bins=30, alpha=0.6, color=color, label=f"{label}: mean {r['grad_norm']:.3g}")
        ax2.axvline(np.log10(r["grad_norm"]), color=color, linestyle="--")
    ax1.set(xlabel="std of Gaussian noise added to the test images", ylabel="test accuracy (%)",
            title="Accuracy under input noise")
    ax1.grid(alpha=0.3)
    ax1.legend()
    ax2.set(xlabel=r"$\log_{10}\ \|\partial\, \mathrm{loss}_i / \partial x_i\|$ on the test set", ylabel="images",
            title="Input-gradient norms (dashed: mean)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(epochs=30, lam=0.1, model="mlp", lr=3e-3, batch_size=64, seed=0, n_train=None,
         noise_levels=NOISE_LEVELS, n_draws=5, out="out", device="cpu"):
    """Train without and with the penalty; return both models' measurements and the figure path."""
    X_train, X_test, y_train, y_test = load_data(seed)
    if n_train is not None:
        X_train, y_train = X_train[:n_train], y_train[:n_train]
    results = {}
    for label, weight in [("plain", 0.0), (f"penalty (lambda={lam:g})", lam)]:
        net, losses, seconds = train(X_train, y_train, weight, epochs, lr, batch_size, seed, device, model)
        r = evaluate(net, X_test, y_test, noise_levels, n_draws, seed, device)
        r.update(losses=losses, seconds=seconds)
        results[label] = r
        noisy = ", ".join(f"{s:g}: {a:.1%}" for s, a in zip(noise_levels, r["noisy_accuracy"]))
        print(f"{label:>22}: test accuracy {r['accuracy']:.1%}, mean input-gradient norm {r['grad_norm']:.4f}, "
              f"trained in {seconds:.1f} s\n{'':>24}accuracy under noise (std: accuracy) {noisy}")
    os.makedirs(out, exist_ok=True)
    figure = os.path.join(out, "gradient_penalty.png")
    plot(results, noise_levels, figure)
    print("wrote", figure)
    return dict(results=results, noise_levels=list(noise_levels), figures=[figure])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lam", type=float, default=0.1, help="weight of the input-gradient penalty")
    parser.add_argument("--model", default="mlp", choices=["mlp", "cnn"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (needs CuPy)")
    args = parser.parse_args()
    try:
        main(epochs=args.epochs, lam=args.lam, model=args.model, seed=args.seed, out=args.out, device=args.device)
    except tc.cuda.UnavailableError as e:  # e.g. --device cuda without a usable GPU: say why, no traceback
        sys.exit(str(e))
