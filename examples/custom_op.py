"""A new op in a few lines: LeakyReLU with its own backward rule.

Defining the class registers it in ``tc.ops.registry``; ``tc.gradcheck``
proves its backward against central differences; then it trains in a model.
(The README shows another one, Swish.)

Run: python examples/custom_op.py
"""
import numpy as np

import tinygrad_conv as tc
from tinygrad_conv import Tensor, nn, optim
from tinygrad_conv import functional as F


class LeakyReLU(tc.ops.Op):
    """x if x > 0 else slope * x; the gradient is 1 or slope."""

    name = "leaky_relu"

    def forward(self, x, slope=0.01):
        self.scale = np.where(x > 0, 1.0, slope).astype(x.dtype)  # d out / d x
        return x * self.scale

    def backward(self, grad):
        return (grad * self.scale,)


class LeakyReLULayer(nn.Module):
    def __init__(self, slope=0.01):
        super().__init__()
        self.slope = slope

    def forward(self, x):
        return LeakyReLU.apply(x, slope=self.slope)


def main(steps=100, seed=0):
    """Gradcheck the op, then train a small CNN that uses it. Returns the losses."""
    x = Tensor(np.random.default_rng(seed).standard_normal((4, 5)), requires_grad=True, dtype=np.float64)
    print("registered as", repr(LeakyReLU.name), "->", tc.ops.registry["leaky_relu"].__name__)
    print("gradcheck:", tc.gradcheck(lambda t: LeakyReLU.apply(t, slope=0.1), [x]))

    tc.manual_seed(seed)
    X, y = tc.data.make_lines(256, seed=seed)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), LeakyReLULayer(0.1), nn.GlobalAvgPool2d(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(steps):
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
