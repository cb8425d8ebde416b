"""Activation modules of version 2 (and ``Identity``): each calls one functional op.

``inplace=True`` (PyTorch's argument) writes the result into the input tensor
and returns it: the same values as out of place. In a recorded graph the input
takes the result's place (``Tensor._inplace``), so gradients stay correct.
"""
from .. import checks
from .. import functional as F
from ..tensor import Tensor
from .module import Module


def apply_inplace(x, inplace, name, fn):
    """``fn(x)``, written into ``x`` when ``inplace`` (then ``x`` is returned)."""
    if inplace and isinstance(x, Tensor):
        return x._inplace(name, fn)
    return fn(x)  # (a non-Tensor gets fn's own TypeError)


def _inplace_repr(module, s=""):
    return s + (", inplace=True" if s else "inplace=True") if module.inplace else s


class LeakyReLU(Module):
    """``x`` where positive, ``negative_slope * x`` elsewhere."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = checks.finite_number(negative_slope, "negative_slope", "LeakyReLU")
        self.inplace = checks.boolean(inplace, "inplace", "LeakyReLU")

    def forward(self, x):
        return apply_inplace(x, self.inplace, "leaky_relu_", lambda t: F.leaky_relu(t, self.negative_slope))

    def extra_repr(self):
        return _inplace_repr(self, f"negative_slope={self.negative_slope}")


class ELU(Module):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = checks.finite_number(alpha, "alpha", "ELU")
        self.inplace = checks.boolean(inplace, "inplace", "ELU")

    def forward(self, x):
        return apply_inplace(x, self.inplace, "elu_", lambda t: F.elu(t, self.alpha))

    def extra_repr(self):
        return _inplace_repr(self, f"alpha={self.alpha}")


class SiLU(Module):
    """``x * sigmoid(x)``."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = checks.boolean(inplace, "inplace", "SiLU")

    def forward(self, x):
        return apply_inplace(x, self.inplace, "silu_", F.silu)

    def extra_repr(self):
        return _inplace_repr(self)


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
