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


# ----- issue 19: the rest of PyTorch's activation modules -------------------------------------
class _Activation(Module):
    """A module calling ``F.<fn>(x, **self.<args>)``; ``inplace`` where PyTorch has it.
    Subclasses name ``fn`` and their arguments (with PyTorch's defaults) in ``__init__``."""

    fn = None

    def __init__(self, inplace=None, **args):
        super().__init__()
        name = type(self).__name__
        for key, value in args.items():
            setattr(self, key, checks.finite_number(value, key, name))
        self._args = tuple(args)
        if inplace is not None:
            self.inplace = checks.boolean(inplace, "inplace", name)

    def forward(self, x):
        params = {key: getattr(self, key) for key in self._args}
        if getattr(self, "inplace", False):
            return apply_inplace(x, True, self.fn + "_", lambda t: getattr(F, self.fn)(t, **params))
        return getattr(F, self.fn)(x, **params)

    def extra_repr(self):
        s = ", ".join(f"{key}={getattr(self, key)}" for key in self._args)
        return _inplace_repr(self, s) if hasattr(self, "inplace") else s


class Hardtanh(_Activation):
    """``x`` clipped to ``[min_val, max_val]``."""

    fn = "hardtanh"

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__(inplace, min_val=min_val, max_val=max_val)
        if self.min_val > self.max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")


class ReLU6(_Activation):
    """``min(max(x, 0), 6)``."""

    fn = "relu6"

    def __init__(self, inplace=False):
        super().__init__(inplace)


class Softplus(_Activation):
    """``log(1 + exp(beta x)) / beta`` (``x`` above ``threshold``)."""

    fn = "softplus"

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__(beta=beta, threshold=threshold)


class Hardswish(_Activation):
    """``x * relu6(x + 3) / 6``."""

    fn = "hardswish"

    def __init__(self, inplace=False):
        super().__init__(inplace)


class Hardsigmoid(_Activation):
    """``relu6(x + 3) / 6``."""

    fn = "hardsigmoid"

    def __init__(self, inplace=False):
        super().__init__(inplace)


class Mish(_Activation):
    """``x * tanh(softplus(x))``."""

    fn = "mish"

    def __init__(self, inplace=False):
        super().__init__(inplace)


class SELU(_Activation):
    """``scale * elu(x, alpha)`` with PyTorch's constants."""

    fn = "selu"

    def __init__(self, inplace=False):
        super().__init__(inplace)


class CELU(_Activation):
    """``max(0, x) + min(0, alpha (exp(x / alpha) - 1))``."""

    fn = "celu"

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(inplace, alpha=alpha)


class LogSigmoid(_Activation):
    """``log(sigmoid(x))``, computed stably."""

    fn = "logsigmoid"


class Softsign(_Activation):
    """``x / (1 + |x|)``."""

    fn = "softsign"
