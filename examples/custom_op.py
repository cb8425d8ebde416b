"""A new op in a few lines: Softsign, ``x / (1 + |x|)``, with its own backward rule.

Defining the class registers it in ``tc.ops.registry``; ``tc.gradcheck``
proves its backward against central differences; then it trains in a model.
(The README shows another one, Swish.)

Run: python examples/custom_op.py
"""
import numpy as np

import tinygrad_conv as tc
from tinygrad_conv import nn, optim
from tinygrad_conv import functional as F


class Softsign(tc.ops.Op):
    """x / (1 + |x|), a smooth squashing to (-1, 1); the gradient is 1 / (1 + |x|)**2."""

    name = "my_softsign"  # the registry key; "softsign" is taken by the library's own (F.softsign)

    def forward(self, x):
        self.denom = 1 + np.abs(x)
        return x / self.denom

    def backward(self, grad):
        return (grad / (self.denom * self.denom),)


class SoftsignLayer(nn.Module):
    def forward(self, x):
        return Softsign.apply(x)


def main(steps=100, seed=0):
    """Gradcheck the op, then train a small CNN that uses it. Returns the losses."""
    tc.manual_seed(seed)
    x = tc.randn(4, 5, dtype=tc.float64, requires_grad=True)  # gradcheck wants float64
    print("registered as", repr(Softsign.name), "->", tc.ops.registry["my_softsign"].__name__)
    print("gradcheck:", tc.gradcheck(Softsign.apply, [x]))

    tc.manual_seed(seed)
    X, y = tc.data.make_lines(256, seed=seed)  # NumPy arrays
    X, y = tc.tensor(X), tc.tensor(y)  # float32 images, int64 labels
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), SoftsignLayer(), nn.GlobalAvgPool2d(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with tc.no_grad():
        accuracy = (model(X).argmax(1) == y).float().mean().item()
    print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}, training accuracy {accuracy:.1%}")
    return losses


if __name__ == "__main__":
    main()
