"""Weight initialisers with ``torch.nn.init``'s names, formulas, fans and gains.

Each fills its tensor in place, outside any graph (as under ``no_grad``), keeps
its dtype and device, and returns it. Draws are made on the host from the
library generator (``tc.manual_seed``), or from ``generator=`` (an
``np.random.Generator``), so they are the same whichever device the tensor is on.

Fans of a weight of shape ``(out, in, *kernel)``, as PyTorch computes them:
``fan_in = in * prod(kernel)`` (the inputs each output sums over) and
``fan_out = out * prod(kernel)``. A ConvTranspose2d weight ``(in, out/groups, kh, kw)``
gets the same formula, so its ``fan_in`` is ``out/groups * kh * kw``, as in PyTorch.
"""
import math
import numbers
import warnings

import numpy as np

from .. import backend, checks, engine
from ..factories import _generator  # None: the library's generator (tc.manual_seed)
from ..tensor import Tensor

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def calculate_gain(nonlinearity, param=None):
    """The gain that keeps activations' variance steady through ``nonlinearity`` (PyTorch's table):

    ========================  =========================
    linear, conv*, sigmoid    1
    tanh                      5/3
    relu                      sqrt(2)
    leaky_relu                sqrt(2 / (1 + slope**2)), slope ``param`` (default 0.01)
    selu                      3/4
    ========================  =========================
    """
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, numbers.Real) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r} (expected one of "
                     f"{', '.join(_LINEAR)}, sigmoid, tanh, relu, leaky_relu, selu)")


# ----- helpers -------------------------------------------------------------------------------------
def _tensor(tensor, fn):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}: expected a Tensor, got {type(tensor).__name__}")
    return tensor


def _draw_dtype(tensor):
    # The generator draws float32 or float64 directly; other dtypes get float64, cast on assignment.
    return np.float32 if tensor.dtype == np.float32 else np.float64


def _fill(tensor, values):
    """Write ``values`` (a host array or a number) into ``tensor`` in place, outside any graph."""
    if isinstance(values, np.ndarray):
        values = backend.like(values.astype(tensor.dtype, copy=False), tensor.array)
    if isinstance(tensor.array, np.generic):  # a NumPy scalar (a full reduction's result) has no [...] to write
        tensor.array = np.asarray(values, tensor.dtype)
    else:
        tensor.array[...] = values
    engine.tick(tensor)
    return tensor


def _calculate_fan_in_and_fan_out(tensor, fn="init"):
    _tensor(tensor, fn)
    if tensor.ndim < 2:
        raise ValueError(f"{fn}: fan in and fan out need a tensor with at least 2 dims, got shape {tensor.shape}")
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode, fn="init"):
    if not isinstance(mode, str) or mode.lower() not in ("fan_in", "fan_out"):
        raise ValueError(f"{fn}: mode {mode!r} not supported, please use one of 'fan_in', 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor, fn)
    return fan_in if mode.lower() == "fan_in" else fan_out


# ----- plain distributions and constants ------------------------------------------------------------
def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with draws from U(a, b)."""
    _tensor(tensor, "uniform_")
    a = checks.finite_number(a, "a", "uniform_")
    b = checks.finite_number(b, "b", "uniform_")
    if b < a:
        raise ValueError(f"uniform_: need a <= b, got a={a}, b={b}")
    draw = _generator(generator, "uniform_").random(tensor.shape, dtype=_draw_dtype(tensor)) * (b - a) + a
    return _fill(tensor, np.asarray(draw))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with draws from N(mean, std**2)."""
    _tensor(tensor, "normal_")
    mean = checks.finite_number(mean, "mean", "normal_")
    std = checks.finite_number(std, "std", "normal_", minimum=0)
    draw = _generator(generator, "normal_").standard_normal(tensor.shape, dtype=_draw_dtype(tensor)) * std + mean
    return _fill(tensor, np.asarray(draw))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with draws from N(mean, std**2) truncated to ``[a, b]`` (absolute bounds, as in
    PyTorch). Drawn by rejection: each value is a normal draw that fell inside ``[a, b]``,
    so the distribution is exactly the truncated normal."""
    _tensor(tensor, "trunc_normal_")
    mean = checks.finite_number(mean, "mean", "trunc_normal_")
    std = checks.finite_number(std, "std", "trunc_normal_", minimum=0)
    a = checks.finite_number(a, "a", "trunc_normal_")
    b = checks.finite_number(b, "b", "trunc_normal_")
    if b < a:
        raise ValueError(f"trunc_normal_: need a <= b, got a={a}, b={b}")
    if std == 0 or a == b:
        return _fill(tensor, np.full(tensor.shape, min(max(mean, a), b)))
    cdf = lambda v: 0.5 * (1 + math.erf((v - mean) / (std * math.sqrt(2))))
    accept = cdf(b) - cdf(a)
    if accept < 1e-4:
        raise ValueError(f"trunc_normal_: [a, b] = [{a}, {b}] holds only {accept:.2e} of N({mean}, {std}**2); "
                         "move mean closer to the interval")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("trunc_normal_: mean is more than 2 std from [a, b]; the distribution may be far "
                      "from a normal's shape", stacklevel=2)
    g = _generator(generator, "trunc_normal_")
    n = tensor.numel()
    kept = np.empty(0)
    while kept.size < n:  # each round draws enough for the rest, on average, plus a margin
        want = n - kept.size
        draw = g.standard_normal(int(want / accept * 1.1) + 16) * std + mean
        kept = np.concatenate([kept, draw[(draw >= a) & (draw <= b)][:want]])
    return _fill(tensor, kept.reshape(tensor.shape))


def constant_(tensor, val):
    """Fill with the number ``val``."""
    _tensor(tensor, "constant_")
    if isinstance(val, Tensor):
        val = val.item()
    if isinstance(val, bool) or not isinstance(val, numbers.Number):
        raise TypeError(f"constant_: val must be a number, got {type(val).__name__}")
    return _fill(tensor, val)


def ones_(tensor):
    """Fill with ones."""
    return constant_(_tensor(tensor, "ones_"), 1)


def zeros_(tensor):
    """Fill with zeros."""
    return constant_(_tensor(tensor, "zeros_"), 0)


def eye_(tensor):
    """Fill a 2-D tensor with the identity (ones on the diagonal; rectangular is fine)."""
    _tensor(tensor, "eye_")
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only tensors with 2 dimensions are supported, got shape {tensor.shape}")
    return _fill(tensor, np.eye(*tensor.shape))


def dirac_(tensor, groups=1):
    """Fill a 3-, 4- or 5-D conv weight with the Dirac delta: a convolution that keeps
    as many input channels as it can (per group), unchanged."""
    _tensor(tensor, "dirac_")
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: only tensors with 3, 4 or 5 dimensions are supported, got shape {tensor.shape}")
    groups = checks.positive_int(groups, "groups", "dirac_")
    if tensor.shape[0] % groups:
        raise ValueError(f"dirac_: dim 0 ({tensor.shape[0]}) must be divisible by groups={groups}")
    out_per_group = tensor.shape[0] // groups
    values = np.zeros(tensor.shape)
    centre = tuple(k // 2 for k in tensor.shape[2:])
    for g in range(groups):
        for d in range(min(out_per_group, tensor.shape[1])):
            values[(g * out_per_group + d, d) + centre] = 1
    return _fill(tensor, values)


# ----- variance-scaling initialisers -------------------------------------------------------------
def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot & Bengio (2010): U(-b, b), ``b = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor, "xavier_uniform_")
    gain = checks.finite_number(gain, "gain", "xavier_uniform_", minimum=0)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot & Bengio (2010): N(0, std**2), ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor, "xavier_normal_")
    gain = checks.finite_number(gain, "gain", "xavier_normal_", minimum=0)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity, fn):
    fan = _calculate_correct_fan(tensor, mode, fn)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def _empty(tensor, fn):
    if 0 in tensor.shape:
        warnings.warn(f"{fn}: initializing a zero-element tensor is a no-op", stacklevel=3)
        return True
    return False


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He et al. (2015): U(-b, b), ``b = sqrt(3) * gain / sqrt(fan)``; ``gain`` from
    ``nonlinearity`` (leaky_relu with slope ``a``: the default a=0 gives sqrt(2)),
    ``fan`` is ``fan_in`` or ``fan_out`` by ``mode``."""
    if _empty(_tensor(tensor, "kaiming_uniform_"), "kaiming_uniform_"):
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He et al. (2015): N(0, std**2), ``std = gain / sqrt(fan)`` (see ``kaiming_uniform_``)."""
    if _empty(_tensor(tensor, "kaiming_normal_"), "kaiming_normal_"):
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_"), generator)


def orthogonal_(tensor, gain=1, generator=None):
    """Saxe et al. (2013): the tensor, flattened to ``(rows, cols)``, gets orthonormal rows
    or columns (whichever are fewer) times ``gain``: the Q of a QR decomposition of a
    normal draw, signs fixed by R's diagonal so Q is uniformly distributed."""
    _tensor(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape {tensor.shape}")
    gain = checks.finite_number(gain, "gain", "orthogonal_")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _generator(generator, "orthogonal_").standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))
