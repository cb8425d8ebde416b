"""Weight initialisers, PyTorch's ``torch.nn.init`` semantics.

Each fills ``tensor.array`` in place (its dtype and device kept), draws on the
host from the library generator (``tc.manual_seed`` makes them reproducible,
and the same whichever device the tensor is on) and returns the tensor.

Fans of a weight of shape ``(out, in, *kernel)``: ``fan_in = in * prod(kernel)``
(the inputs each output sums over) and ``fan_out = out * prod(kernel)``.
"""
import math

import numpy as np

from .. import backend, checks
from ..random import generator
from ..tensor import Tensor


def calculate_gain(nonlinearity, param=None):
    """The gain that keeps activations' variance steady through ``nonlinearity``:
    1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2) for relu,
    sqrt(2 / (1 + a**2)) for leaky_relu with slope ``param`` (default 0.01), 3/4 for selu."""
    if nonlinearity in ("linear", "identity", "sigmoid", "conv1d", "conv2d", "conv3d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else checks.finite_number(param, "negative slope", "calculate_gain")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unknown nonlinearity {nonlinearity!r} (expected linear, sigmoid, "
        "tanh, relu, leaky_relu, selu or conv1d/2d/3d)"
    )


def _fans(tensor, fn):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}: expected a Tensor, got {type(tensor).__name__}")
    if tensor.ndim < 2:
        raise ValueError(f"{fn}: fan in and fan out need a tensor with at least 2 dims, got shape {tensor.shape}")
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _draw_dtype(tensor):
    # The generator draws float32 or float64 directly; other dtypes get float64, cast on assignment.
    return np.float32 if tensor.dtype == np.float32 else np.float64


def normal_(tensor, mean=0.0, std=1.0):
    """Fill with draws from N(mean, std**2)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"normal_: expected a Tensor, got {type(tensor).__name__}")
    mean = checks.finite_number(mean, "mean", "normal_")
    std = checks.finite_number(std, "std", "normal_", minimum=0)
    draw = generator().standard_normal(tensor.shape, dtype=_draw_dtype(tensor)) * std + mean
    tensor.array[...] = backend.like(draw, tensor.array)
    return tensor


def uniform_(tensor, a=0.0, b=1.0):
    """Fill with draws from U(a, b)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"uniform_: expected a Tensor, got {type(tensor).__name__}")
    a = checks.finite_number(a, "a", "uniform_")
    b = checks.finite_number(b, "b", "uniform_")
    if b < a:
        raise ValueError(f"uniform_: need a <= b, got a={a}, b={b}")
    draw = generator().random(tensor.shape, dtype=_draw_dtype(tensor)) * (b - a) + a
    tensor.array[...] = backend.like(draw, tensor.array)
    return tensor


def zeros_(tensor):
    """Fill with zeros."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"zeros_: expected a Tensor, got {type(tensor).__name__}")
    tensor.array[...] = 0
    return tensor


def xavier_normal_(tensor, gain=1.0):
    """Glorot & Bengio (2010): N(0, std**2), ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    gain = checks.finite_number(gain, "gain", "xavier_normal_", minimum=0)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def xavier_uniform_(tensor, gain=1.0):
    """Glorot & Bengio (2010): U(-b, b), ``b = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    gain = checks.finite_number(gain, "gain", "xavier_uniform_", minimum=0)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def _kaiming_std(tensor, a, mode, nonlinearity, fn):
    fan_in, fan_out = _fans(tensor, fn)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{fn}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    gain = calculate_gain(nonlinearity, a)
    return gain / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """He et al. (2015): N(0, std**2), ``std = gain / sqrt(fan)``; ``gain`` from
    ``nonlinearity`` (leaky_relu with slope ``a``; the default a=0 gives sqrt(2))."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_"))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """He et al. (2015): U(-b, b), ``b = sqrt(3) * gain / sqrt(fan)`` (same variance as kaiming_normal_)."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    return uniform_(tensor, -bound, bound)
