"""A new op in a few lines: Swish, x * sigmoid(x), with its own backward rule.

Defining the class registers it in ``tc.ops.registry``; ``tc.gradcheck``
proves its backward against central differences; then it trains in a model.

Run: python examples/custom_op.py
"""
import numpy as np

import tinygrad_conv as tc
from tinygrad_conv import Tensor, nn, optim
from tinygrad_conv import functional as F


class Swish(tc.ops.Op):
    """swish(x) = x * sigmoid(x); d/dx = s + x * s * (1 - s)."""

    def forward(self, x):
        self.x, self.s = x, 0.5 + 0.5 * np.tanh(0.5 * x)  # sigmoid without overflow
        return x * self.s

    def backward(self, grad):
        s = self.s
        return (grad * (s + self.x * s * (1 - s)),)


class SwishLayer(nn.Module):
    def forward(self, x):
        return Swish.apply(x)


def main(steps=200, seed=0):
    x = Tensor(np.random.default_rng(seed).standard_normal((4, 5)), requires_grad=True, dtype=np.float64)
    print("registered as", repr(Swish.name), "->", tc.ops.registry["swish"].__name__)
    print("gradcheck:", tc.gradcheck(Swish.apply, [x]))

    tc.manual_seed(seed)
    X, y = tc.data.make_lines(256, seed=seed)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), SwishLayer(), nn.GlobalAvgPool2d(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for step in range(steps):
        loss = F.cross_entropy(model(Tensor(X)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with tc.no_grad():
        accuracy = (model(Tensor(X)).data.argmax(axis=1) == y).mean()
    print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}, training accuracy {accuracy:.1%}")
    return losses


if __name__ == "__main__":
    main()
