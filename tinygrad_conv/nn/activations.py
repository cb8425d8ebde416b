"""Activation modules of version 2 (and ``Identity``): each calls one functional op."""
from .. import checks
from .. import functional as F
from .module import Module


class LeakyReLU(Module):
    """``x`` where positive, ``negative_slope * x`` elsewhere."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = checks.finite_number(negative_slope, "negative_slope", "LeakyReLU")

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = checks.finite_number(alpha, "alpha", "ELU")

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class SiLU(Module):
    """``x * sigmoid(x)``."""

    def forward(self, x):
        return F.silu(x)


class GELU(Module):
    """``x * Phi(x)``; ``approximate`` is ``"none"`` (exact, erf) or ``"tanh"``."""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = checks.one_of(approximate, ("none", "tanh"), "approximate", "GELU")

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. a shortcut with nothing to do)."""

    def forward(self, x):
        return x
