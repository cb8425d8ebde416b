"""Functional ops on NCHW Tensors: ``from tinygrad_conv import functional as F``.

Each function is a thin call into a registered op (``tinygrad_conv/ops``),
which holds the forward and backward rules and checks its arguments.
"""
import numpy as np

from . import backend, checks, ops, random
from .ops.pool import adaptive_max, max_pool2d_indices
from .tensor import Tensor


def _tensor(x, name, fn):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: {name} must be a Tensor, got {type(x).__name__}")
    return x


def _same_dtype(fn, x, *others):
    """Convolutions and matrix products take one float dtype, as PyTorch's: a float64 input to
    a float32 layer is a ``TypeError`` naming both (no silent promotion)."""
    for name, t in others:
        if t is not None and t.dtype != x.dtype:
            raise TypeError(f"{fn}: input dtype {x.dtype} and {name} dtype {t.dtype} must be the same "
                            f"(convert one with .to({t.dtype}) or .to({x.dtype}))")
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: expected a floating point input, got {x.dtype} (convert it with .float())")


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation. x ``(N, C_in, H, W)``, weight ``(C_out, C_in/groups, K_h, K_w)``,
    bias ``(C_out,)`` -> ``(N, C_out, H_out, W_out)``,
    ``H_out = floor((H + 2*pad - dil*(K_h - 1) - 1) / stride) + 1``."""
    _tensor(x, "input", "conv2d")
    _tensor(weight, "weight", "conv2d")
    _same_dtype("conv2d", x, ("weight", weight), ("bias", bias))
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    if bias is None:
        return ops.Conv2d.apply(x, weight, **params)
    return ops.Conv2d.apply(x, weight, _tensor(bias, "bias", "conv2d"), **params)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution, the adjoint of ``conv2d``. x ``(N, C_in, H, W)``, weight
    ``(C_in, C_out/groups, K_h, K_w)``, bias ``(C_out,)`` -> ``(N, C_out, H_out, W_out)``,
    ``H_out = (H - 1)*stride - 2*pad + dil*(K_h - 1) + output_padding + 1``."""
    _tensor(x, "input", "conv_transpose2d")
    _tensor(weight, "weight", "conv_transpose2d")
    _same_dtype("conv_transpose2d", x, ("weight", weight), ("bias", bias))
    params = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    if bias is None:
        return ops.ConvTranspose2d.apply(x, weight, **params)
    return ops.ConvTranspose2d.apply(x, weight, _tensor(bias, "bias", "conv_transpose2d"), **params)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over each window (zero padding counts unless ``count_include_pad=False``).
    ``(N, C, H, W) -> (N, C, H_out, W_out)``; ``ceil_mode`` rounds the output size up."""
    return ops.AvgPool2d.apply(
        _tensor(x, "input", "avg_pool2d"), kernel_size=kernel_size, stride=stride, padding=padding,
        ceil_mode=ceil_mode, count_include_pad=count_include_pad,
    )


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Maximum over each window; the gradient goes to the first maximum. ``(N, C, H, W) -> (N, C, H_out, W_out)``.
    With ``return_indices``: ``(out, indices)``, indices the winners' flat positions in each
    ``H*W`` plane (an int64 array), as PyTorch's."""
    params = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    checks.boolean(return_indices, "return_indices", "max_pool2d")
    out = ops.MaxPool2d.apply(_tensor(x, "input", "max_pool2d"), **params)
    return (out, max_pool2d_indices(x.array, out.array, **params)) if return_indices else out


def adaptive_avg_pool2d(x, output_size):
    """Mean over PyTorch's adaptive windows: ``(N, C, H, W) -> (N, C, *output_size)``
    (an int or ``(h, w)``; None in a pair keeps that axis)."""
    return ops.AdaptiveAvgPool2d.apply(_tensor(x, "input", "adaptive_avg_pool2d"), output_size=output_size)


def adaptive_max_pool2d(x, output_size, return_indices=False):
    """Maximum over PyTorch's adaptive windows: ``(N, C, H, W) -> (N, C, *output_size)``;
    with ``return_indices``: ``(out, indices)`` as for ``max_pool2d``."""
    checks.boolean(return_indices, "return_indices", "adaptive_max_pool2d")
    out = ops.AdaptiveMaxPool2d.apply(_tensor(x, "input", "adaptive_max_pool2d"), output_size=output_size)
    return (out, adaptive_max(x.array, output_size)[1]) if return_indices else out


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Resize ``(N, C, H, W)`` to ``size`` or by ``scale_factor`` (exactly one), by ``"nearest"``
    or ``"bilinear"`` interpolation (``align_corners`` for bilinear only), as PyTorch."""
    return ops.Interpolate.apply(_tensor(x, "input", "interpolate"), size=size, scale_factor=scale_factor, mode=mode,
                                 align_corners=align_corners)


def global_avg_pool2d(x):
    """Mean over height and width: ``(N, C, H, W) -> (N, C)``."""
    checks.ndim(_tensor(x, "input", "global_avg_pool2d").array, 4, "global_avg_pool2d", layout="(N, C, H, W)")
    return x.mean(axis=(2, 3))


def linear(x, weight, bias=None):
    """``x @ weight.T + bias``: x ``(..., in)``, weight ``(out, in)``, bias ``(out,)``."""
    _tensor(x, "input", "linear")
    _tensor(weight, "weight", "linear")
    _same_dtype("linear", x, ("weight", weight), ("bias", bias))
    if bias is None:
        return ops.Linear.apply(x, weight)
    return ops.Linear.apply(x, weight, _tensor(bias, "bias", "linear"))


def _maybe_inplace(x, inplace, fn, compute):
    """``compute(x)``; with ``inplace=True`` (PyTorch's argument) written into ``x``, which
    is returned (``nn.activations.apply_inplace``: the input takes the result's place in a
    recorded graph, so gradients stay correct)."""
    from .nn.activations import apply_inplace  # (imported here: nn.activations imports this module)

    return apply_inplace(x, checks.boolean(inplace, "inplace", fn), fn + "_", compute)


def relu(x, inplace=False):
    """``max(x, 0)`` elementwise."""
    return _maybe_inplace(x, inplace, "relu", lambda t: ops.ReLU.apply(_tensor(t, "input", "relu")))


def sigmoid(x):
    """``1 / (1 + exp(-x))`` elementwise."""
    return ops.Sigmoid.apply(_tensor(x, "input", "sigmoid"))


def tanh(x):
    """``tanh(x)`` elementwise."""
    return ops.Tanh.apply(_tensor(x, "input", "tanh"))


def _softmax_dim(x, dim, axis, fn):
    """``dim`` (or its alias ``axis``); without either, PyTorch's legacy choice: 0 for
    0-, 1- and 3-D input, else 1."""
    _tensor(x, "input", fn)
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{fn}: got both dim={dim!r} and its alias axis={axis!r}")
        return axis
    return dim if dim is not None else (0 if x.ndim in (0, 1, 3) else 1)


def log_softmax(x, dim=None, *, axis=None, dtype=None):
    """``x - logsumexp(x, dim)``."""
    x = x if dtype is None else x.to(dtype)
    return ops.LogSoftmax.apply(x, axis=_softmax_dim(x, dim, axis, "log_softmax"))


def softmax(x, dim=None, *, axis=None, dtype=None):
    """``exp(x) / sum(exp(x), dim)``."""
    x = x if dtype is None else x.to(dtype)
    return ops.Softmax.apply(x, axis=_softmax_dim(x, dim, axis, "softmax"))


def _target(target, like):
    """A loss target as a Tensor of ``like``'s dtype (arrays, numbers and integer tensors are
    converted; a float tensor of another dtype promotes with ``like``, as in PyTorch)."""
    if isinstance(target, Tensor):
        return target if target.dtype.kind == "f" else target._cast(like.dtype)
    return Tensor(target, dtype=like.dtype, device=like.device)


def _labels(target):
    """Class indices or probabilities: a parameter of the loss, as an array."""
    return target.array if isinstance(target, Tensor) else target


def mse_loss(pred, target, reduction="mean"):
    """Squared error, reduced by ``"mean"`` (default), ``"sum"`` or ``"none"``.
    ``pred`` and ``target`` must have equal shapes (never broadcast)."""
    _tensor(pred, "pred", "mse_loss")
    return ops.MSELoss.apply(pred, _target(target, pred), reduction=reduction)


def l1_loss(pred, target, reduction="mean"):
    """Absolute error ``|pred - target|``, reduced; equal shapes."""
    _tensor(pred, "pred", "l1_loss")
    return ops.L1Loss.apply(pred, _target(target, pred), reduction=reduction)


def smooth_l1_loss(pred, target, reduction="mean", beta=1.0):
    """``0.5 d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (d = pred - target), reduced."""
    _tensor(pred, "pred", "smooth_l1_loss")
    return ops.SmoothL1Loss.apply(pred, _target(target, pred), reduction=reduction, beta=beta)


def cross_entropy(logits, target, weight=None, reduction="mean", label_smoothing=0.0, ignore_index=-100):
    """Cross-entropy of logits ``(N, C)`` or per-pixel ``(N, C, H, W)`` against class indices
    ``(N,)`` / ``(N, H, W)`` or class probabilities shaped like the logits (array or Tensor),
    with class ``weight`` ``(C,)`` (the mean is then divided by the targets' summed weights),
    ``reduction`` and ``label_smoothing``, as ``torch.nn.functional.cross_entropy``."""
    _tensor(logits, "logits", "cross_entropy")
    return ops.CrossEntropy.apply(logits, target=_labels(target), weight=_labels(weight), reduction=reduction,
                                  label_smoothing=label_smoothing, ignore_index=ignore_index)


def nll_loss(log_probs, target, weight=None, reduction="mean", ignore_index=-100):
    """``-weight[t] * log_probs[n, t]`` at class indices t, reduced (the mean divides by the
    summed weights), as ``torch.nn.functional.nll_loss``."""
    _tensor(log_probs, "log_probs", "nll_loss")
    return ops.NLLLoss.apply(log_probs, target=_labels(target), weight=_labels(weight), reduction=reduction,
                             ignore_index=ignore_index)


def binary_cross_entropy_with_logits(logits, target, reduction="mean", pos_weight=None):
    """Binary cross-entropy on ``sigmoid(logits)``, computed stably from the logits; ``pos_weight``
    (broadcast along the last axis) weighs the positive term, as in PyTorch."""
    _tensor(logits, "logits", "binary_cross_entropy_with_logits")
    return ops.BinaryCrossEntropyWithLogits.apply(logits, _target(target, logits), reduction=reduction,
                                                  pos_weight=_labels(pos_weight))


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


def leaky_relu(x, negative_slope=0.01, inplace=False):
    """``x`` where positive, ``negative_slope * x`` elsewhere."""
    slope = checks.finite_number(negative_slope, "negative_slope", "leaky_relu")
    return _maybe_inplace(x, inplace, "leaky_relu",
                          lambda t: ops.LeakyReLU.apply(_tensor(t, "input", "leaky_relu"), negative_slope=slope))


def elu(x, alpha=1.0, inplace=False):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""
    alpha = checks.finite_number(alpha, "alpha", "elu")
    return _maybe_inplace(x, inplace, "elu", lambda t: ops.ELU.apply(_tensor(t, "input", "elu"), alpha=alpha))


def silu(x, inplace=False):
    """``x * sigmoid(x)`` (also called swish)."""
    return _maybe_inplace(x, inplace, "silu", lambda t: ops.SiLU.apply(_tensor(t, "input", "silu")))


def gelu(x, approximate="none"):
    """``x * Phi(x)`` with Phi the standard normal CDF: ``approximate="none"`` is the
    exact erf form, ``"tanh"`` the tanh approximation, as in PyTorch."""
    checks.one_of(approximate, ("none", "tanh"), "approximate", "gelu")
    return ops.GELU.apply(_tensor(x, "input", "gelu"), approximate=approximate)


# ----- version 2: batch norm and dropout -------------------------------------------------------
def _channel_array(a, name, x, fn):
    """A per-channel array (or Tensor) as an array of shape ``(C,)`` on ``x``'s device, or None."""
    if a is None:
        return None
    a = a.array if isinstance(a, Tensor) else a
    if not hasattr(a, "shape") or not hasattr(a, "dtype"):
        raise TypeError(f"{fn}: {name} must be an array or Tensor, got {type(a).__name__}")
    channels = x.shape[1]
    if a.shape != (channels,):
        raise ValueError(f"{fn}: input has {channels} channels but {name} has shape {a.shape}")
    if backend.device_of(a) != x.device:  # updated in place: it cannot be a copy on x's device
        raise ValueError(f"{fn}: input is on {x.device} but {name} on {backend.device_of(a)}")
    return a


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel (axis 1 of ``(N, C)`` or ``(N, C, H, W)``) to zero mean and
    unit variance, then scale by ``weight`` and shift by ``bias`` (``(C,)`` Tensors).

    ``training=True`` uses the batch statistics (biased variance) and updates
    ``running_mean``/``running_var`` (arrays, or None) in place with momentum,
    the variance unbiased, as ``torch.nn.functional.batch_norm``;
    ``training=False`` normalises with the running arrays."""
    _tensor(x, "input", "batch_norm")
    if x.ndim < 2:
        raise ValueError(f"batch_norm: input must be (N, C) or (N, C, ...), got shape {x.shape}")
    channels = x.shape[1]
    training = checks.boolean(training, "training", "batch_norm")
    momentum = checks.finite_number(momentum, "momentum", "batch_norm", minimum=0)
    eps = checks.finite_number(eps, "eps", "batch_norm", minimum=0)
    running_mean = _channel_array(running_mean, "running_mean", x, "batch_norm")
    running_var = _channel_array(running_var, "running_var", x, "batch_norm")
    for name, a in (("running_mean", running_mean), ("running_var", running_var)):
        if a is not None and a.dtype.kind != "f":  # updated with fractions in place
            raise TypeError(f"batch_norm: {name} must be floating point, got dtype {a.dtype}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None:
            _channel_array(_tensor(t, name, "batch_norm"), name, x, "batch_norm")
    if training and x.numel() // max(channels, 1) <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input shape {x.shape}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: running_mean and running_var are needed when not training")
    affine = ()
    if weight is not None or bias is not None:  # one without the other: the missing one is neutral
        xp_ones = np.ones(channels, x.dtype)
        weight = Tensor(xp_ones, device=x.device) if weight is None else weight
        bias = Tensor(xp_ones * 0, device=x.device) if bias is None else bias
        affine = (weight, bias)
    return ops.BatchNorm.apply(x, *affine, running_mean=running_mean, running_var=running_var,
                               training=training, momentum=momentum, eps=eps)


def _dropout(x, p, training, fn, mask_shape, inplace):
    _tensor(x, "input", fn)
    p = checks.finite_number(p, "p", fn)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{fn}: p must be a probability in [0, 1], got {p}")
    training = checks.boolean(training, "training", fn)
    inplace = checks.boolean(inplace, "inplace", fn)
    if not training or p == 0.0:
        return x
    keep = random.generator().random(mask_shape, dtype=np.float32) >= p
    mask = backend.like(keep.astype(x.dtype) * (1.0 / (1.0 - p) if p < 1.0 else 0.0), x.array)
    return _maybe_inplace(x, inplace, fn, lambda t: ops.Dropout.apply(t, mask=mask))


def dropout(x, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``
    (the identity when not training); masks come from the library's generator.
    ``inplace=True`` writes the result into ``x`` and returns it."""
    return _dropout(x, p, training, "dropout", _tensor(x, "input", "dropout").shape, inplace)


def dropout2d(x, p=0.5, training=True, inplace=False):
    """Zero whole channels of ``(N, C, H, W)`` with probability ``p``, scale the rest by ``1 / (1 - p)``."""
    checks.ndim(_tensor(x, "input", "dropout2d").array, 4, "dropout2d", layout="(N, C, H, W)")
    return _dropout(x, p, training, "dropout2d", x.shape[:2] + (1, 1), inplace)


# ----- version 3 ----------------------------------------------------------------------------------
def one_hot(tensor, num_classes=-1):
    """Class indices ``(*)`` (an integer Tensor) as one-hot rows ``(*, num_classes)``, int64, as
    ``torch.nn.functional.one_hot``; ``num_classes=-1`` uses ``max + 1``. Not differentiable
    (indices carry no gradient): call ``.float()`` on the result to use it as a target."""
    _tensor(tensor, "tensor", "one_hot")
    if tensor.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer (int64) tensor of class indices, got {tensor.dtype}")
    num_classes = checks.integer(num_classes, "num_classes", "one_hot", minimum=-1)
    a = tensor.array
    if num_classes == -1:
        if a.size == 0:
            raise ValueError("one_hot: cannot infer the number of classes from an empty tensor; give num_classes")
        num_classes = int(a.max()) + 1
    if a.size and int(a.min()) < 0:
        raise ValueError(f"one_hot: class values must be non-negative, got {int(a.min())}")
    if a.size and int(a.max()) >= num_classes:
        raise ValueError(f"one_hot: class values must be smaller than num_classes={num_classes}, got {int(a.max())}")
    xp = backend.xp(a)
    return Tensor._make((a[..., None] == xp.arange(num_classes)).astype(np.int64), None)
