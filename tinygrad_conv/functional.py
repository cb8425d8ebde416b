"""Functional ops on NCHW Tensors: ``from tinygrad_conv import functional as F``.

Each function is a thin call into a registered op (``tinygrad_conv/ops``),
which holds the forward and backward rules and checks its arguments.
"""
import numpy as np

from . import checks, ops
from .tensor import Tensor


def _tensor(x, name, fn):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: {name} must be a Tensor, got {type(x).__name__}")
    return x


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation. x ``(N, C_in, H, W)``, weight ``(C_out, C_in/groups, K_h, K_w)``,
    bias ``(C_out,)`` -> ``(N, C_out, H_out, W_out)``,
    ``H_out = floor((H + 2*pad - dil*(K_h - 1) - 1) / stride) + 1``."""
    _tensor(x, "input", "conv2d")
    _tensor(weight, "weight", "conv2d")
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    if bias is None:
        return ops.Conv2d.apply(x, weight, **params)
    return ops.Conv2d.apply(x, weight, _tensor(bias, "bias", "conv2d"), **params)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean over each window (zero padding counts). ``(N, C, H, W) -> (N, C, H_out, W_out)``."""
    return ops.AvgPool2d.apply(_tensor(x, "input", "avg_pool2d"), kernel_size=kernel_size, stride=stride, padding=padding)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Maximum over each window; the gradient goes to the first maximum. ``(N, C, H, W) -> (N, C, H_out, W_out)``."""
    return ops.MaxPool2d.apply(_tensor(x, "input", "max_pool2d"), kernel_size=kernel_size, stride=stride, padding=padding)


def global_avg_pool2d(x):
    """Mean over height and width: ``(N, C, H, W) -> (N, C)``."""
    checks.ndim(_tensor(x, "input", "global_avg_pool2d").data, 4, "global_avg_pool2d", layout="(N, C, H, W)")
    return x.mean(axis=(2, 3))


def linear(x, weight, bias=None):
    """``x @ weight.T + bias``: x ``(..., in)``, weight ``(out, in)``, bias ``(out,)``."""
    _tensor(x, "input", "linear")
    _tensor(weight, "weight", "linear")
    if bias is None:
        return ops.Linear.apply(x, weight)
    return ops.Linear.apply(x, weight, _tensor(bias, "bias", "linear"))


def relu(x):
    """``max(x, 0)`` elementwise."""
    return ops.ReLU.apply(_tensor(x, "input", "relu"))


def sigmoid(x):
    """``1 / (1 + exp(-x))`` elementwise."""
    return ops.Sigmoid.apply(_tensor(x, "input", "sigmoid"))


def tanh(x):
    """``tanh(x)`` elementwise."""
    return ops.Tanh.apply(_tensor(x, "input", "tanh"))


def log_softmax(x, axis=-1):
    """``x - logsumexp(x, axis)``."""
    return ops.LogSoftmax.apply(_tensor(x, "input", "log_softmax"), axis=axis)


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x), axis)``."""
    return ops.Softmax.apply(_tensor(x, "input", "softmax"), axis=axis)


def mse_loss(pred, target, reduction="mean"):
    """Squared error, reduced by ``"mean"`` (default), ``"sum"`` or ``"none"``.
    ``pred`` and ``target`` must have equal shapes (never broadcast)."""
    _tensor(pred, "pred", "mse_loss")
    if not isinstance(target, Tensor):
        target = Tensor(np.asarray(target), dtype=pred.dtype)
    return ops.MSELoss.apply(pred, target, reduction=reduction)


def cross_entropy(logits, target):
    """Mean cross-entropy of logits ``(N, C)`` against class indices ``(N,)``
    (a NumPy array or Tensor)."""
    _tensor(logits, "logits", "cross_entropy")
    if isinstance(target, Tensor):
        target = target.data
    return ops.CrossEntropy.apply(logits, target=target)


# ----- version 2: padding and more activations -------------------------------------------------
def pad(x, pad, mode="constant", value=0.0):
    """Pad the last axes: ``pad = (left, right)`` for the last axis or ``(left, right,
    top, bottom)`` for the last two, as in PyTorch. ``mode``: ``"constant"`` (fill
    with ``value``), ``"reflect"`` (mirror; each width below the axis length) or
    ``"replicate"`` (repeat the edge)."""
    _tensor(x, "input", "pad")
    if not isinstance(pad, (tuple, list)) or len(pad) not in (2, 4) or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: pad must be (left, right) or (left, right, top, bottom) for a tensor with enough axes, got {pad!r} for shape {x.shape}")
    pad = tuple(checks.integer(p, "pad", "pad", minimum=0) for p in pad)
    checks.one_of(mode, ops.padding.PAD_MODES, "mode", "pad")
    value = checks.finite_number(value, "value", "pad") if mode == "constant" else 0.0
    return ops.Pad.apply(x, pad=pad, mode=mode, value=value)


def leaky_relu(x, negative_slope=0.01):
    """``x`` where positive, ``negative_slope * x`` elsewhere."""
    slope = checks.finite_number(negative_slope, "negative_slope", "leaky_relu")
    return ops.LeakyReLU.apply(_tensor(x, "input", "leaky_relu"), negative_slope=slope)


def elu(x, alpha=1.0):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""
    alpha = checks.finite_number(alpha, "alpha", "elu")
    return ops.ELU.apply(_tensor(x, "input", "elu"), alpha=alpha)


def silu(x):
    """``x * sigmoid(x)`` (also called swish)."""
    return ops.SiLU.apply(_tensor(x, "input", "silu"))


def gelu(x, approximate="none"):
    """``x * Phi(x)`` with Phi the standard normal CDF: ``approximate="none"`` is the
    exact erf form, ``"tanh"`` the tanh approximation, as in PyTorch."""
    checks.one_of(approximate, ("none", "tanh"), "approximate", "gelu")
    return ops.GELU.apply(_tensor(x, "input", "gelu"), approximate=approximate)
