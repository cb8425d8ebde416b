"""Functional ops on NCHW Tensors: ``from tinygrad_conv import functional as F``.

Each function is a thin call into a registered op (``tinygrad_conv/ops``),
which holds the forward and backward rules and checks its arguments.
"""
import numpy as np

from . import backend, checks, dtypes, ops, random
from . import combine, tensor as tensor_module
from .ops.pool import adaptive_max, max_pool_indices
from .tensor import Tensor


def _tensor(x, name, fn):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: {name} must be a Tensor, got {type(x).__name__}")
    return x


def _same_dtype(fn, x, *others):
    """Convolutions and matrix products take one float dtype, as PyTorch's: a float64 input to
    a float32 layer is a ``TypeError`` naming both (no silent promotion). Operands on two
    devices are a ``ValueError`` naming the function and both devices."""
    for name, t in others:
        # (until CuPy is in use every array is a NumPy one: no device to compare)
        if t is not None and backend.cuda_loaded and t.device != x.device:
            raise ValueError(f"{fn}: input is on {x.device} but {name} on {t.device}")
        if t is not None and t.dtype != x.dtype:
            raise TypeError(f"{fn}: input dtype {x.dtype} and {name} dtype {t.dtype} must be the same "
                            f"(convert one with .to({t.dtype}) or .to({x.dtype}))")
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: expected a floating point input, got {x.dtype} (convert it with .float())")


def _floating(x, fn):
    """``x``, checked to be a floating point Tensor (integers would meet NumPy's casting errors)."""
    _same_dtype(fn, _tensor(x, "input", fn))
    return x


_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


def _conv_operands(fn, d, x, weight, bias, kind="(C_out, C_in // groups"):
    """Check a conv's Tensors (types, one float dtype, ranks) and batch an unbatched input:
    ``(x with a batch axis, whether it had none)``."""
    _tensor(x, "input", fn)
    _tensor(weight, "weight", fn)
    if bias is not None:
        _tensor(bias, "bias", fn)
    _same_dtype(fn, x, ("weight", weight), ("bias", bias))
    kernel = ", ".join("K_" + a.lower() for a in _SPATIAL[d].split(", "))
    if weight.ndim != d + 2:
        raise ValueError(f"{fn}: weight must be {kind}, {kernel}), got shape {tuple(weight.shape)}")
    if x.ndim not in (d + 1, d + 2):
        raise ValueError(f"{fn}: expected {d + 1}D (unbatched) or {d + 2}D (batched) input, (C_in, {_SPATIAL[d]}) "
                         f"or (N, C_in, {_SPATIAL[d]}), but got input of shape {tuple(x.shape)}")
    unbatched = x.ndim == d + 1
    return (x.unsqueeze(0) if unbatched else x), unbatched


def _string_padding(fn, padding, weight, stride, dilation, d):
    """PyTorch's ``padding="valid"|"same"``: ``(padding per axis, axes to crop)``. "same" pads
    ``dilation (K - 1)`` in all, the odd one on the right: as the conv pads both sides alike, an
    odd total gets one more on the left too, and the first output of that axis is dropped."""
    if padding == "valid":
        return 0, ()
    if padding != "same":
        raise ValueError(f"{fn}: invalid padding string {padding!r}, should be one of ('valid', 'same')")
    if checks.ntuple(stride, d, "stride", fn) != (1,) * d:
        raise ValueError(f"{fn}: padding='same' is not supported for strided convolutions (stride {stride!r})")
    totals = [dl * (k - 1) for dl, k in zip(checks.ntuple(dilation, d, "dilation", fn), weight.shape[2:])]
    return tuple(-(-t // 2) for t in totals), tuple(i for i, t in enumerate(totals) if t % 2)


def _conv(fn, d, x, weight, bias, stride, padding, dilation, groups):
    """conv1d/2d/3d: one registered N-d op."""
    x, unbatched = _conv_operands(fn, d, x, weight, bias)
    crop = ()
    if isinstance(padding, str):
        padding, crop = _string_padding(fn, padding, weight, stride, dilation, d)
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    out = ops.ConvNd.apply(*((x, weight) if bias is None else (x, weight, bias)), **params)
    if crop:
        out = out[(slice(None), slice(None)) + tuple(slice(1 if i in crop else 0, None) for i in range(d))]
    return out[0] if unbatched else out


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation. x ``(N, C_in, L)`` or unbatched ``(C_in, L)``, weight
    ``(C_out, C_in/groups, K)``, bias ``(C_out,)`` -> ``(N, C_out, L_out)``,
    ``L_out = floor((L + 2*pad - dil*(K - 1) - 1) / stride) + 1``; ``padding`` may be
    ``"valid"`` or ``"same"`` (stride 1)."""
    return _conv("conv1d", 1, x, weight, bias, stride, padding, dilation, groups)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation. x ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``, weight
    ``(C_out, C_in/groups, K_h, K_w)``, bias ``(C_out,)`` -> ``(N, C_out, H_out, W_out)``,
    ``H_out = floor((H + 2*pad - dil*(K_h - 1) - 1) / stride) + 1``; ``padding`` may be
    ``"valid"`` or ``"same"`` (stride 1)."""
    return _conv("conv2d", 2, x, weight, bias, stride, padding, dilation, groups)


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D cross-correlation. x ``(N, C_in, D, H, W)`` or unbatched ``(C_in, D, H, W)``, weight
    ``(C_out, C_in/groups, K_d, K_h, K_w)``, bias ``(C_out,)`` -> ``(N, C_out, D_out, H_out, W_out)``;
    sizes and ``padding`` as ``conv2d``'s, per axis."""
    return _conv("conv3d", 3, x, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(fn, d, x, weight, bias, stride, padding, output_padding, groups, dilation):
    """conv_transpose1d/2d/3d: one registered N-d op."""
    x, unbatched = _conv_operands(fn, d, x, weight, bias, kind="(C_in, C_out // groups")
    params = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    out = ops.ConvTransposeNd.apply(*((x, weight) if bias is None else (x, weight, bias)), **params)
    return out[0] if unbatched else out


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 1-D convolution, the adjoint of ``conv1d``. x ``(N, C_in, L)`` or ``(C_in, L)``,
    weight ``(C_in, C_out/groups, K)`` -> ``(N, C_out, L_out)``,
    ``L_out = (L - 1)*stride - 2*pad + dil*(K - 1) + output_padding + 1``."""
    return _conv_transpose("conv_transpose1d", 1, x, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution, the adjoint of ``conv2d``. x ``(N, C_in, H, W)`` or
    ``(C_in, H, W)``, weight ``(C_in, C_out/groups, K_h, K_w)``, bias ``(C_out,)`` ->
    ``(N, C_out, H_out, W_out)``, ``H_out = (H - 1)*stride - 2*pad + dil*(K_h - 1) + output_padding + 1``."""
    return _conv_transpose("conv_transpose2d", 2, x, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose3d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 3-D convolution, the adjoint of ``conv3d``. x ``(N, C_in, D, H, W)`` or
    ``(C_in, D, H, W)``, weight ``(C_in, C_out/groups, K_d, K_h, K_w)`` -> ``(N, C_out, D_out, H_out, W_out)``."""
    return _conv_transpose("conv_transpose3d", 3, x, weight, bias, stride, padding, output_padding, groups, dilation)


def _patch_weight(channels, kernel, dtype, device):
    """The identity kernel that makes a grouped conv copy patches: ``(C K, 1, *kernel)``,
    output channel ``c K + k`` reads offset k of channel c (PyTorch's unfold order)."""
    K = int(np.prod(kernel))
    eye = np.tile(np.eye(K, dtype=dtype), (channels, 1)).reshape((channels * K, 1) + tuple(kernel))
    return Tensor(eye).to(device)


def _patch_arguments(fn, kernel_size, dilation, padding, stride):
    return dict(kernel=checks.pair(kernel_size, "kernel_size", fn), dilation=checks.pair(dilation, "dilation", fn),
                padding=checks.pair(padding, "padding", fn, minimum=0), stride=checks.pair(stride, "stride", fn))


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: the sliding blocks of ``(N, C, H, W)`` (or ``(C, H, W)``) as columns
    ``(N, C K_h K_w, L)``, L the number of blocks, rows in (c, kh, kw) order, as PyTorch's.
    A grouped conv2d with an identity kernel, so it has every conv's gradients."""
    _tensor(x, "input", "unfold")
    a = _patch_arguments("unfold", kernel_size, dilation, padding, stride)
    if x.ndim not in (3, 4):
        raise ValueError(f"unfold: only 3D (C, H, W) or 4D (N, C, H, W) input is supported, got shape {tuple(x.shape)}")
    batched = x if x.ndim == 4 else x.unsqueeze(0)
    weight = _patch_weight(batched.shape[1], a["kernel"], x.dtype, x.device)
    cols = conv2d(batched, weight, None, a["stride"], a["padding"], a["dilation"], groups=batched.shape[1])
    cols = cols.flatten(2)  # not reshape(N, CK, -1): -1 is ambiguous when N == 0
    return cols if x.ndim == 4 else cols[0]


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im, the adjoint of ``unfold``: columns ``(N, C K_h K_w, L)`` (or ``(C K_h K_w, L)``)
    summed back into ``(N, C, *output_size)``, overlapping blocks adding up."""
    _tensor(x, "input", "fold")
    a = _patch_arguments("fold", kernel_size, dilation, padding, stride)
    size = checks.pair(output_size, "output_size", "fold")
    if x.ndim not in (2, 3):
        raise ValueError(f"fold: only 2D (C*K, L) or 3D (N, C*K, L) input is supported, got shape {tuple(x.shape)}")
    batched = x if x.ndim == 3 else x.unsqueeze(0)
    K = a["kernel"][0] * a["kernel"][1]
    if batched.shape[1] % K:
        raise ValueError(f"fold: expected size of input's dimension 1 ({batched.shape[1]}) to be divisible by the "
                         f"product of kernel_size {a['kernel']} ({K})")
    blocks = [(n + 2 * p - dl * (k - 1) - 1) // s + 1
              for n, p, dl, k, s in zip(size, a["padding"], a["dilation"], a["kernel"], a["stride"])]
    if min(blocks) < 1 or batched.shape[2] != blocks[0] * blocks[1]:
        raise ValueError(f"fold: given output_size={size}, kernel_size={a['kernel']}, dilation={a['dilation']}, "
                         f"padding={a['padding']}, stride={a['stride']}, expected size of input's dimension 2 to "
                         f"match the number of sliding blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, "
                         f"but got {batched.shape[2]}")
    C = batched.shape[1] // K
    extra = [n + 2 * p - dl * (k - 1) - 1 - (b - 1) * s
             for n, p, dl, k, b, s in zip(size, a["padding"], a["dilation"], a["kernel"], blocks, a["stride"])]
    weight = _patch_weight(C, a["kernel"], x.dtype, x.device)
    out = conv_transpose2d(batched.reshape(batched.shape[0], C * K, *blocks), weight, None, a["stride"],
                           a["padding"], tuple(extra), C, a["dilation"])
    return out if x.ndim == 3 else out[0]


def _avg_pool(op, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override=None):
    params = dict(kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode,
                  count_include_pad=count_include_pad, divisor_override=divisor_override)
    if _tensor(x, "input", op.name).dtype == np.int64:
        # PyTorch averages int64 by integer division, rounding toward zero. The float64 mean of a
        # window of d ints is within 1e-12 of S/d, which is an integer or at least 1/d from one.
        mean = op.apply(x.double(), **params).array
        xp = backend.xp(mean)
        return Tensor._make(xp.trunc(mean + xp.sign(mean) * 1e-9).astype(np.int64), None)
    if x.dtype.kind != "f":
        raise TypeError(f"{op.name}: expected a floating point or int64 input, got {x.dtype}")
    return op.apply(x, **params)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over each window: ``(N, C, L) -> (N, C, L_out)`` (or unbatched ``(C, L)``), as PyTorch's."""
    return _avg_pool(ops.AvgPool1d, x, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """Mean over each window (zero padding counts unless ``count_include_pad=False``; a
    ``divisor_override`` replaces the count). ``(N, C, H, W) -> (N, C, H_out, W_out)`` (or
    unbatched ``(C, H, W)``); ``ceil_mode`` rounds the output size up."""
    return _avg_pool(ops.AvgPool2d, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """Mean over each window, ``(N, C, D, H, W) -> (N, C, D_out, H_out, W_out)``, as avg_pool2d."""
    return _avg_pool(ops.AvgPool3d, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def _max_pool(op, dims, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    params = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    checks.boolean(return_indices, "return_indices", op.name)
    out = op.apply(_tensor(x, "input", op.name), **params)
    return (out, Tensor(max_pool_indices(x.array, dims, op.name, **params)[1])) if return_indices else out


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Maximum over each window: ``(N, C, L) -> (N, C, L_out)`` (or unbatched), as max_pool2d."""
    return _max_pool(ops.MaxPool1d, 1, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Maximum over each window; the gradient goes to the first maximum. ``(N, C, H, W) -> (N, C, H_out, W_out)``
    (or unbatched). With ``return_indices``: ``(out, indices)``, indices the winners' flat positions in each
    ``H*W`` plane (an int64 Tensor), as PyTorch's. Padding never wins, even over -inf."""
    return _max_pool(ops.MaxPool2d, 2, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Maximum over each window, ``(N, C, D, H, W) -> (N, C, D_out, H_out, W_out)``, as max_pool2d."""
    return _max_pool(ops.MaxPool3d, 3, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def adaptive_avg_pool1d(x, output_size):
    """Mean over PyTorch's adaptive windows: ``(N, C, L) -> (N, C, output_size)``."""
    return ops.AdaptiveAvgPool1d.apply(_floating(x, "adaptive_avg_pool1d"), output_size=output_size)


def adaptive_avg_pool2d(x, output_size):
    """Mean over PyTorch's adaptive windows: ``(N, C, H, W) -> (N, C, *output_size)``
    (an int or ``(h, w)``; None in a pair keeps that axis)."""
    return ops.AdaptiveAvgPool2d.apply(_floating(x, "adaptive_avg_pool2d"), output_size=output_size)


def adaptive_avg_pool3d(x, output_size):
    """Mean over PyTorch's adaptive windows: ``(N, C, D, H, W) -> (N, C, *output_size)``."""
    return ops.AdaptiveAvgPool3d.apply(_floating(x, "adaptive_avg_pool3d"), output_size=output_size)


def _adaptive_max_pool(op, dims, x, output_size, return_indices):
    checks.boolean(return_indices, "return_indices", op.name)
    out = op.apply(_tensor(x, "input", op.name), output_size=output_size)
    return (out, Tensor(adaptive_max(x.array, dims, output_size, op.name)[1])) if return_indices else out


def adaptive_max_pool1d(x, output_size, return_indices=False):
    """Maximum over PyTorch's adaptive windows: ``(N, C, L) -> (N, C, output_size)``."""
    return _adaptive_max_pool(ops.AdaptiveMaxPool1d, 1, x, output_size, return_indices)


def adaptive_max_pool2d(x, output_size, return_indices=False):
    """Maximum over PyTorch's adaptive windows: ``(N, C, H, W) -> (N, C, *output_size)``;
    with ``return_indices``: ``(out, indices)`` as for ``max_pool2d``."""
    return _adaptive_max_pool(ops.AdaptiveMaxPool2d, 2, x, output_size, return_indices)


def adaptive_max_pool3d(x, output_size, return_indices=False):
    """Maximum over PyTorch's adaptive windows: ``(N, C, D, H, W) -> (N, C, *output_size)``."""
    return _adaptive_max_pool(ops.AdaptiveMaxPool3d, 3, x, output_size, return_indices)


def _max_unpool(op, x, indices, kernel_size, stride, padding, output_size):
    if indices is None or checks.optional_array(indices, "indices", op.name) is None:
        raise TypeError(f"{op.name}: indices must be a Tensor (max_pool's return_indices=True), got None")
    indices = indices.array if isinstance(indices, Tensor) else indices
    return op.apply(_tensor(x, "input", op.name), indices=indices, kernel_size=kernel_size, stride=stride,
                    padding=padding, output_size=output_size)


def max_unpool1d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of ``max_pool1d``: x ``(N, C, L)`` placed at ``indices`` (max_pool1d's) in zeros
    ``(N, C, L_out)``, ``L_out = (L - 1) stride - 2 padding + kernel_size`` unless ``output_size``."""
    return _max_unpool(ops.MaxUnpool1d, x, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of ``max_pool2d``: x ``(N, C, H, W)`` placed at ``indices`` (flat in each output
    ``H_out*W_out`` plane) in zeros, sizes as ``max_unpool1d`` along each axis."""
    return _max_unpool(ops.MaxUnpool2d, x, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of ``max_pool3d``, as ``max_unpool2d`` in three dimensions."""
    return _max_unpool(ops.MaxUnpool3d, x, indices, kernel_size, stride, padding, output_size)


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                antialias=False):
    """Resize ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)`` to ``size`` or by ``scale_factor``
    (exactly one; one value or one per spatial axis), as PyTorch. ``mode``: ``"nearest"``,
    ``"nearest-exact"``, ``"area"``, ``"linear"`` (3-D), ``"bilinear"``/``"bicubic"`` (4-D) or
    ``"trilinear"`` (5-D); ``align_corners`` for the last four only."""
    return ops.Interpolate.apply(_tensor(x, "input", "interpolate"), size=size, scale_factor=scale_factor, mode=mode,
                                 align_corners=align_corners, recompute_scale_factor=recompute_scale_factor,
                                 antialias=antialias)


def global_avg_pool2d(x):
    """Mean over height and width: ``(N, C, H, W) -> (N, C)``."""
    checks.ndim(_tensor(x, "input", "global_avg_pool2d").array, 4, "global_avg_pool2d", layout="(N, C, H, W)")
    return x.mean(axis=(2, 3))


def linear(x, weight, bias=None):
    """``x @ weight.T + bias``: x ``(..., in)``, weight ``(out, in)``, bias ``(out,)``."""
    _tensor(x, "input", "linear")
    _tensor(weight, "weight", "linear")
    if bias is not None:
        _tensor(bias, "bias", "linear")
    _same_dtype("linear", x, ("weight", weight), ("bias", bias))
    if bias is None:
        return ops.Linear.apply(x, weight)
    return ops.Linear.apply(x, weight, bias)


def _maybe_inplace(x, inplace, fn, compute):
    """``compute(x)``; with ``inplace=True`` (PyTorch's argument) written into ``x``, which
    is returned (``nn.activations.apply_inplace``: the input takes the result's place in a
    recorded graph, so gradients stay correct)."""
    from .nn.activations import apply_inplace  # (imported here: nn.activations imports this module)

    if fn not in ("relu", "hardtanh", "relu6", "threshold"):  # PyTorch computes only these on integers
        _floating(x, fn)
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
    _floating(x, fn)
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{fn}: got both dim={dim!r} and its alias axis={axis!r}")
        return axis
    return dim if dim is not None else (0 if x.ndim in (0, 1, 3) else 1)


def log_softmax(x, dim=None, *, axis=None, dtype=None):
    """``x - logsumexp(x, dim)``."""
    x = x if dtype is None else _tensor(x, "input", "log_softmax").to(dtypes.dtype(dtype, "log_softmax"))
    return ops.LogSoftmax.apply(x, axis=_softmax_dim(x, dim, axis, "log_softmax"))


def softmax(x, dim=None, *, axis=None, dtype=None):
    """``exp(x) / sum(exp(x), dim)``."""
    x = x if dtype is None else _tensor(x, "input", "softmax").to(dtypes.dtype(dtype, "softmax"))
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


def _unbatched(scores, target, fn):
    """PyTorch's unbatched form: scores ``(C,)`` with a class index ``()`` or probabilities
    ``(C,)``, made a batch of one; returns (scores, target, whether to drop the batch axis)."""
    if scores.ndim != 1:
        return scores, target, False
    if isinstance(target, Tensor):
        return scores.unsqueeze(0), target.unsqueeze(0), True
    target = np.asarray(target) if not backend.is_cuda(target) else target
    if target.ndim not in (0, 1):
        raise ValueError(f"{fn}: unbatched input of shape {scores.shape} needs a target of shape () or "
                         f"{scores.shape}, got {target.shape}")
    return scores.unsqueeze(0), target[None], True


def cross_entropy(logits, target, weight=None, reduction="mean", label_smoothing=0.0, ignore_index=-100):
    """Cross-entropy of logits ``(N, C)``, per-pixel ``(N, C, d1, ...)`` or unbatched ``(C,)``
    against class indices ``(N,)`` / ``(N, d1, ...)`` / ``()`` or class probabilities shaped
    like the logits (array or Tensor; a Tensor that requires grad is differentiated, as for
    distillation), with class ``weight`` ``(C,)`` (the mean is then divided by the targets'
    summed weights), ``reduction``, ``label_smoothing`` and ``ignore_index``, as
    ``torch.nn.functional.cross_entropy``."""
    _floating(logits, "cross_entropy")
    ignore_index = checks.integer(ignore_index, "ignore_index", "cross_entropy")
    logits, target, squeeze = _unbatched(logits, target, "cross_entropy")
    if isinstance(target, Tensor) and target.requires_grad and target.ndim == logits.ndim:
        loss = _soft_cross_entropy(logits, target, _labels(weight), reduction, label_smoothing)
    else:
        loss = ops.CrossEntropy.apply(logits, target=_labels(target), weight=_labels(weight), reduction=reduction,
                                      label_smoothing=label_smoothing, ignore_index=ignore_index)
    return loss.squeeze(0) if squeeze and reduction == "none" else loss


def _soft_cross_entropy(logits, target, weight, reduction, label_smoothing):
    """Cross-entropy against probabilities that need a gradient, composed of differentiable
    ops: ``-sum_c w_c ((1 - eps) p_c + eps / C) log_softmax(z)_c``, the mean over ``size / C``."""
    from .ops.losses import REDUCTIONS, _check_classes, class_weights, probability_rows, smoothing_share

    eps = _check_classes(logits.array, "cross_entropy", reduction, label_smoothing)
    C = logits.shape[1]
    if target.shape != logits.shape:
        raise ValueError(f"cross_entropy: a probability target must have the logits' shape {logits.shape}, "
                         f"got {target.shape}")
    p = target if target.dtype == logits.dtype else target.to(logits.dtype)
    if eps:
        p = p * (1 - eps) + smoothing_share(eps, C)
    w = class_weights(weight, C, logits.array, "cross_entropy")
    if w is not None:
        p = p * Tensor._make(w.reshape((1, C) + (1,) * (logits.ndim - 2)), None)
    loss = -(p * logits.log_softmax(1)).sum(1)
    checks.one_of(reduction, REDUCTIONS, "reduction", "cross_entropy")
    if reduction == "none":
        return loss
    rows = probability_rows(logits.numel(), C)
    return loss.sum() if reduction == "sum" else loss.sum() / rows if rows else loss.sum() * float("nan")


def nll_loss(log_probs, target, weight=None, reduction="mean", ignore_index=-100):
    """``-weight[t] * log_probs[n, t]`` at class indices t, reduced (the mean divides by the
    summed weights), as ``torch.nn.functional.nll_loss``; unbatched ``(C,)`` with a target ``()`` too."""
    _floating(log_probs, "nll_loss")
    ignore_index = checks.integer(ignore_index, "ignore_index", "nll_loss")
    log_probs, target, squeeze = _unbatched(log_probs, target, "nll_loss")
    loss = ops.NLLLoss.apply(log_probs, target=_labels(target), weight=_labels(weight), reduction=reduction,
                             ignore_index=ignore_index)
    return loss.squeeze(0) if squeeze and reduction == "none" else loss


def binary_cross_entropy_with_logits(logits, target, weight=None, reduction="mean", pos_weight=None):
    """Binary cross-entropy on ``sigmoid(logits)``, computed stably from the logits; ``weight``
    (broadcast) scales each element's loss, ``pos_weight`` (broadcast along the last axis) the
    positive term, as in PyTorch."""
    fn = "binary_cross_entropy_with_logits"
    _floating(logits, fn)
    checks.optional_array(weight, "weight", fn)
    checks.optional_array(pos_weight, "pos_weight", fn)
    return ops.BinaryCrossEntropyWithLogits.apply(logits, _target(target, logits), reduction=reduction,
                                                  pos_weight=_labels(pos_weight), weight=_labels(weight))


# ----- version 2: padding and more activations -------------------------------------------------
def pad(x, pad, mode="constant", value=None):
    """Pad the last ``len(pad) // 2`` axes, as PyTorch: ``pad = (left, right)`` for the last
    axis, ``(left, right, top, bottom)`` for the last two, and so on; negative widths crop.
    ``mode``: ``"constant"`` (fill with ``value``, default 0; may be -inf), ``"reflect"``
    (mirror; widths below the axis length), ``"replicate"`` (repeat the edge) or
    ``"circular"`` (wrap around). Every mode pads any number of axes (PyTorch's
    non-constant modes take 1 to 3)."""
    _tensor(x, "input", "pad")
    if not isinstance(pad, (tuple, list)):
        raise TypeError(f"pad: pad must be a tuple of ints, got {type(pad).__name__} {pad!r}")
    pad = tuple(checks.integer(p, "pad", "pad") for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: pad must hold a (before, after) pair per padded axis, at most {x.ndim} pairs "
                         f"for input shape {x.shape}, got {pad!r}")
    checks.one_of(mode, ops.padding.PAD_MODES, "mode", "pad")
    if value is not None and not (isinstance(value, (int, float, np.number)) and not isinstance(value, bool)):
        raise TypeError(f"pad: value must be a number, got {type(value).__name__} {value!r}")
    if mode != "constant" and value:
        raise ValueError(f"pad: mode {mode!r} takes no value (it fills from the input), got value={value!r}")
    return ops.Pad.apply(x, pad=pad, mode=mode, value=0.0 if value is None else float(value))


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
    return ops.GELU.apply(_floating(x, "gelu"), approximate=approximate)


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
    # updated in place, so it cannot be a copy on x's device (no device to compare until CuPy is in use)
    if backend.cuda_loaded and backend.device_of(a) != x.device:
        raise ValueError(f"{fn}: input is on {x.device} but {name} on {backend.device_of(a)}")
    return a


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel (axis 1 of ``(N, C)`` or ``(N, C, H, W)``) to zero mean and
    unit variance, then scale by ``weight`` and shift by ``bias`` (``(C,)`` Tensors).

    ``training=True`` uses the batch statistics (biased variance) and updates
    ``running_mean``/``running_var`` (arrays, or None) in place with momentum,
    the variance unbiased, as ``torch.nn.functional.batch_norm``;
    ``training=False`` normalises with the running arrays."""
    _floating(x, "batch_norm")
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
    if training and eps <= 0:  # PyTorch's check: 1 / sqrt(var + 0) of a constant channel is inf
        raise ValueError(f"batch_norm: eps must be positive when training, got {eps}")
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


# ----- group, layer and instance norm, embedding, pixel shuffle (issue 19) -----------------------
def _norm_affine(fn, x, weight, bias, shape):
    """``(weight, bias)`` checked to have ``shape`` and ``x``'s dtype, or ``()`` when both are
    None; a missing one of the two becomes its neutral constant (ones or zeros)."""
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and _tensor(t, name, fn).shape != shape:
            raise ValueError(f"{fn}: {name} must have shape {shape}, got {t.shape}")
    _same_dtype(fn, x, ("weight", weight), ("bias", bias))
    if weight is None and bias is None:
        return ()
    weight = Tensor(np.ones(shape, x.dtype), device=x.device) if weight is None else weight
    return weight, Tensor(np.zeros(shape, x.dtype), device=x.device) if bias is None else bias


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise ``(N, C, *)`` over each of ``num_groups`` groups of ``C / num_groups``
    channels (and all of ``*``), per sample, then scale and shift per channel
    (``weight``, ``bias``: ``(C,)``), as ``torch.nn.functional.group_norm``."""
    _tensor(x, "input", "group_norm")
    if x.ndim < 2:
        raise ValueError(f"group_norm: input must be (N, C, *), got shape {x.shape}")
    groups = checks.positive_int(num_groups, "num_groups", "group_norm")
    eps = checks.finite_number(eps, "eps", "group_norm")  # any value, as PyTorch (negative: NaN where var < -eps)
    n, c = x.shape[:2]
    if c % groups:
        raise ValueError(f"group_norm: input has {c} channels (shape {x.shape}), not divisible by num_groups={groups}")
    view = (n, groups, c // groups, int(np.prod(x.shape[2:])))
    if n * view[2] * view[3] == 1:  # PyTorch's check (a batch-norm rule it applies here too)
        raise ValueError(f"group_norm: expected more than 1 value per group over the batch, got input shape {x.shape}")
    affine = _norm_affine("group_norm", x, weight, bias, (c,))
    return ops.GroupNorm.apply(x, *affine, view=view, eps=eps)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last dims of ``x`` (``normalized_shape``, an int or a tuple, must
    be their sizes), then scale and shift elementwise (``weight``, ``bias``: that shape),
    as ``torch.nn.functional.layer_norm``."""
    _tensor(x, "input", "layer_norm")
    shape = checks.sizes((normalized_shape,), "layer_norm")
    if not shape:
        raise ValueError("layer_norm: normalized_shape must hold at least one size, got ()")
    eps = checks.finite_number(eps, "eps", "layer_norm")  # any value, as PyTorch (negative: NaN where var < -eps)
    k = len(shape)
    if x.ndim < k or x.shape[x.ndim - k:] != shape:
        raise ValueError(f"layer_norm: normalized_shape={shape} must be the last dims of the input, got shape {x.shape}")
    affine = _norm_affine("layer_norm", x, weight, bias, shape)
    view = (int(np.prod(x.shape[:x.ndim - k])), 1, int(np.prod(shape)), 1)
    return ops.GroupNorm.apply(x, *affine, view=view, eps=eps)


def instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalise each channel of each sample of ``(N, C, *)`` over ``*``, then scale and shift per
    channel, as ``torch.nn.functional.instance_norm``. ``use_input_stats=True`` updates
    ``running_mean``/``running_var`` (arrays or Tensors ``(C,)``, or None) in place with the
    batch average of the instances' statistics (the variance unbiased); ``False`` normalises
    with them instead (as batch norm in eval mode)."""
    _tensor(x, "input", "instance_norm")
    if x.ndim < 2:
        raise ValueError(f"instance_norm: input must be (N, C, *), got shape {x.shape}")
    use_input_stats = checks.boolean(use_input_stats, "use_input_stats", "instance_norm")
    if not use_input_stats:
        return batch_norm(x, running_mean, running_var, weight, bias, training=False, momentum=momentum, eps=eps)
    momentum = checks.finite_number(momentum, "momentum", "instance_norm")  # unchecked in PyTorch too
    eps = checks.finite_number(eps, "eps", "instance_norm")  # any value, as PyTorch (negative: NaN where var < -eps)
    spatial = int(np.prod(x.shape[2:]))
    if spatial == 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element when using input stats, got shape {x.shape}")
    n, c = x.shape[:2]
    running = [_channel_array(r, name, x, "instance_norm")
               for r, name in ((running_mean, "running_mean"), (running_var, "running_var"))]
    affine = _norm_affine("instance_norm", x, weight, bias, (c,))
    return ops.GroupNorm.apply(x, *affine, view=(n, c, 1, spatial), eps=eps, running_mean=running[0],
                               running_var=running[1], momentum=momentum)


def _renorm_rows(weight, rows, max_norm, norm_type):
    """Scale the ``rows`` of ``weight`` (an array) whose ``norm_type``-norm exceeds ``max_norm``
    down to ``max_norm``, in place, as PyTorch's ``embedding_renorm_``."""
    xp = backend.xp(weight)
    rows = xp.unique(rows)
    norms = xp.linalg.norm(weight[rows].astype(float), ord=norm_type, axis=1)
    over = norms > max_norm
    weight[rows[over]] *= (max_norm / (norms[over] + 1e-7)).astype(weight.dtype)[:, None]


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight (V, D)`` picked by the integer Tensor ``input (*)``: ``(*, D)``, as
    ``torch.nn.functional.embedding``. Row ``padding_idx`` gets no gradient;
    ``max_norm`` first rescales (in place) the picked rows whose ``norm_type``-norm exceeds
    it; ``scale_grad_by_freq`` divides each row's gradient by its count in ``input``."""
    _tensor(input, "input", "embedding")
    _tensor(weight, "weight", "embedding")
    if input.dtype.kind not in "iu":
        raise TypeError(f"embedding: input must be an integer (int64 or int32) tensor of indices, got {input.dtype}")
    if weight.ndim != 2 or weight.dtype.kind != "f":
        raise ValueError(f"embedding: weight must be a 2-D float (num_embeddings, embedding_dim) tensor, "
                         f"got shape {weight.shape} and dtype {weight.dtype}")
    if checks.boolean(sparse, "sparse", "embedding"):
        raise NotImplementedError("embedding: sparse=True is not supported (there are no sparse gradients here); "
                                  "use sparse=False, which gives the same values as a dense gradient")
    scale_grad_by_freq = checks.boolean(scale_grad_by_freq, "scale_grad_by_freq", "embedding")
    v = weight.shape[0]
    indices = input.array
    if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= v):
        raise IndexError(f"embedding: indices must be in [0, {v}) for a weight of shape {weight.shape}, "
                         f"got values in [{int(indices.min())}, {int(indices.max())}]")
    if padding_idx is not None:
        padding_idx = checks.integer(padding_idx, "padding_idx", "embedding")
        if not -v <= padding_idx < v:
            raise ValueError(f"embedding: padding_idx must be in [-{v}, {v}) (num_embeddings={v}), got {padding_idx}")
        padding_idx %= v
    if max_norm is not None:
        max_norm = checks.finite_number(max_norm, "max_norm", "embedding", minimum=0)
        norm_type = checks.finite_number(norm_type, "norm_type", "embedding")
        if indices.size:
            _renorm_rows(weight.array, indices.reshape(-1), max_norm, norm_type)
    xp = backend.xp(indices)
    row_scale = None
    if scale_grad_by_freq:
        counts = xp.bincount(indices.reshape(-1), minlength=v)
        row_scale = (1.0 / xp.maximum(counts, 1))[indices].astype(weight.dtype)
    return ops.Embedding.apply(weight, indices=indices, row_scale=row_scale, padding_idx=padding_idx)


def _shuffle_factor(x, factor, name, fn):
    _tensor(x, "input", fn)
    if x.ndim < 3:
        raise ValueError(f"{fn}: input must be (*, C, H, W), got shape {x.shape}")
    return checks.positive_int(factor, name, fn)


def pixel_shuffle(x, upscale_factor):
    """``(*, C * r * r, H, W) -> (*, C, H * r, W * r)`` with ``r = upscale_factor``: each group of
    ``r * r`` channels becomes an ``r x r`` block of pixels, as ``torch.nn.functional.pixel_shuffle``."""
    r = _shuffle_factor(x, upscale_factor, "upscale_factor", "pixel_shuffle")
    *lead, c, h, w = x.shape
    if c % (r * r):
        raise ValueError(f"pixel_shuffle: input has {c} channels (shape {x.shape}), not divisible by "
                         f"upscale_factor**2 = {r * r}")
    k = len(lead)  # (*, C, r, r, H, W) -> (*, C, H, r, W, r)
    y = x.reshape(*lead, c // (r * r), r, r, h, w).permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return y.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(x, downscale_factor):
    """``(*, C, H * r, W * r) -> (*, C * r * r, H, W)`` with ``r = downscale_factor``, the inverse
    of ``pixel_shuffle``, as ``torch.nn.functional.pixel_unshuffle``."""
    r = _shuffle_factor(x, downscale_factor, "downscale_factor", "pixel_unshuffle")
    *lead, c, h, w = x.shape
    if h % r or w % r:
        raise ValueError(f"pixel_unshuffle: height and width of shape {x.shape} must be divisible by "
                         f"downscale_factor={r}")
    k = len(lead)  # (*, C, H, r, W, r) -> (*, C, r, r, H, W)
    y = x.reshape(*lead, c, h // r, r, w // r, r).permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return y.reshape(*lead, c * r * r, h // r, w // r)


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


# ----- issue 19: more activations (ops/activation.py) ---------------------------------------------
def _activation(x, inplace, fn, op, **params):
    """``op`` on ``x`` (in place into ``x`` with ``inplace=True``), as PyTorch's ``F.<fn>``."""
    return _maybe_inplace(x, inplace, fn, lambda t: op.apply(_tensor(t, "input", fn), **params))


def hardtanh(x, min_val=-1.0, max_val=1.0, inplace=False):
    """``x`` clipped to ``[min_val, max_val]``."""
    min_val = checks.number(min_val, "min_val", "hardtanh")  # +-inf: clamp one side only
    max_val = checks.number(max_val, "max_val", "hardtanh")
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    return _activation(x, inplace, "hardtanh", ops.Hardtanh, min_val=min_val, max_val=max_val)


def relu6(x, inplace=False):
    """``min(max(x, 0), 6)``: ``hardtanh(x, 0, 6)``."""
    return _activation(x, inplace, "relu6", ops.Hardtanh, min_val=0.0, max_val=6.0)


def softplus(x, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``."""
    beta = checks.finite_number(beta, "beta", "softplus")
    if beta == 0:
        raise ValueError("softplus: beta must be nonzero, got 0")
    threshold = checks.number(threshold, "threshold", "softplus")  # inf: never linear
    return ops.Softplus.apply(_floating(x, "softplus"), beta=beta, threshold=threshold)


def hardswish(x, inplace=False):
    """``x * relu6(x + 3) / 6``."""
    return _activation(x, inplace, "hardswish", ops.Hardswish)


def hardsigmoid(x, inplace=False):
    """``relu6(x + 3) / 6``."""
    return _activation(x, inplace, "hardsigmoid", ops.Hardsigmoid)


def mish(x, inplace=False):
    """``x * tanh(softplus(x))``."""
    return _activation(x, inplace, "mish", ops.Mish)


def selu(x, inplace=False):
    """``scale * (max(0, x) + min(0, alpha (exp(x) - 1)))`` with PyTorch's alpha and scale."""
    from .ops.activation import _SELU_ALPHA, _SELU_SCALE

    return _activation(x, inplace, "selu", ops.CELU, alpha=_SELU_ALPHA, scale=_SELU_SCALE)


def celu(x, alpha=1.0, inplace=False):
    """``max(0, x) + min(0, alpha (exp(x / alpha) - 1))``."""
    alpha = checks.finite_number(alpha, "alpha", "celu")
    if alpha == 0:
        raise ValueError("celu: alpha must be nonzero (x / alpha), got 0")
    return _activation(x, inplace, "celu", ops.CELU, alpha=alpha, input_scale=1 / alpha)


def logsigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, computed stably."""
    return ops.LogSigmoid.apply(_floating(x, "logsigmoid"))


def softsign(x):
    """``x / (1 + |x|)``."""
    return ops.Softsign.apply(_tensor(x, "input", "softsign"))


# ----- issue 19: more losses, cosine similarity, normalize ----------------------------------------
def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """``-weight [y log x + (1 - y) log(1 - x)]`` on probabilities x in [0, 1] (each log
    clamped at -100, as PyTorch), reduced; ``weight`` broadcasts to the input."""
    _floating(input, "binary_cross_entropy")
    checks.optional_array(weight, "weight", "binary_cross_entropy")
    return ops.BinaryCrossEntropy.apply(input, _target(target, input), weight=_labels(weight), reduction=reduction)


def kl_div(input, target, reduction="mean", log_target=False):
    """KL divergence with log-probabilities ``input``: ``target (log target - input)`` pointwise
    (``exp(target) (target - input)`` with ``log_target``), reduced by "mean", "sum", "none"
    or "batchmean" (the sum divided by the batch size, the true KL divergence)."""
    _floating(input, "kl_div")
    checks.boolean(log_target, "log_target", "kl_div")
    return ops.KLDiv.apply(*tensor_module._common_dtype(input, _target(target, input)), reduction=reduction,
                           log_target=log_target)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """``d**2 / 2`` where ``|d| < delta``, else ``delta (|d| - delta / 2)`` (d = input - target), reduced."""
    _floating(input, "huber_loss")
    delta = checks.finite_number(delta, "delta", "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return ops.HuberLoss.apply(input, _target(target, input), reduction=reduction, delta=delta)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """``input / max(||input||_p, eps)`` along ``dim``, as ``torch.nn.functional.normalize``."""
    _floating(input, "normalize")
    p = 2.0 if p is None else checks.number(p, "p", "normalize")
    eps = checks.finite_number(eps, "eps", "normalize", minimum=0)
    return input / _vector_norm(input, p, dim).clamp(min=eps)


def _vector_norm(x, p, dim):
    """``||x||_p`` along ``dim`` (kept), with PyTorch's gradient 0 at a zero vector (the root's
    derivative is infinite there: it is taken at 1 and the result masked)."""
    if p in (float("inf"), -float("inf"), 1):
        return x.norm(p, dim, keepdim=True)
    if p == 0:  # the count of nonzeros, as torch.linalg.vector_norm: a step, so no gradient
        return (x.detach() != 0).type_as(x).sum(dim, keepdim=True)
    total = (x * x if p == 2 else x.abs() ** p).sum(dim, keepdim=True)
    positive = total > 0
    safe = combine.where(positive, total, 1.0)
    return combine.where(positive, safe.sqrt() if p == 2 else safe ** (1.0 / p), 0.0)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """``x1 . x2 / (max(||x1||, eps) max(||x2||, eps))`` along ``dim`` (the inputs broadcast),
    as ``torch.nn.functional.cosine_similarity``."""
    _tensor(x1, "x1", "cosine_similarity")
    _tensor(x2, "x2", "cosine_similarity")
    eps = checks.finite_number(eps, "eps", "cosine_similarity", minimum=0)
    x1, x2 = tensor_module._common_dtype(x1, x2)
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)  # broadcast first: dim counts in the common shape
    except ValueError:
        raise ValueError(f"cosine_similarity: shapes {x1.shape} and {x2.shape} cannot be broadcast together") from None
    x1, x2 = (t if t.shape == shape else t.expand(*shape) for t in (x1, x2))
    dim = checks.axis(dim, max(len(shape), 1), "cosine_similarity")
    return (normalize(x1, 2.0, dim, eps) * normalize(x2, 2.0, dim, eps)).sum(dim)


# ----- activations composed of other ops (issue 19's OpInfo sweep); their gradients come from the parts -----
def softmin(x, dim=None, _stacklevel=3, dtype=None):
    """``softmax(-x, dim)``."""
    return softmax(-_tensor(x, "input", "softmin"), dim, dtype=dtype)


def tanhshrink(x):
    """``x - tanh(x)``."""
    return x - _tensor(x, "input", "tanhshrink").tanh()


def threshold(x, threshold, value, inplace=False):
    """``value`` where ``x <= threshold``, else ``x`` (NaN stays NaN)."""
    threshold = checks.number(threshold, "threshold", "threshold")
    value = checks.number(value, "value", "threshold", nan=True)  # the fill may be anything, NaN too
    return _maybe_inplace(x, inplace, "threshold",
                          lambda t: combine.where(_tensor(t, "input", "threshold").array <= threshold, value, t))


def hardshrink(x, lambd=0.5):
    """``x`` where ``|x| > lambd``, else 0 (NaN stays NaN)."""
    lambd = checks.finite_number(lambd, "lambd", "hardshrink")
    a = _floating(x, "hardshrink").array
    return combine.where((a >= -lambd) & (a <= lambd), 0.0, x)


def softshrink(x, lambd=0.5):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0."""
    lambd = checks.finite_number(lambd, "lambd", "softshrink", minimum=0)
    a = _floating(x, "softshrink").array
    return combine.where(a > lambd, x - lambd, combine.where(a < -lambd, x + lambd, 0.0))


def glu(x, dim=-1):
    """``a * sigmoid(b)`` for the halves ``a, b`` of ``x`` along ``dim`` (its size must be even)."""
    _floating(x, "glu")
    dim = checks.axis(dim, x.ndim, "glu")
    if x.shape[dim] % 2:
        raise ValueError(f"glu: the size of dim {dim} must be even, got shape {x.shape}")
    a, b = x.chunk(2, dim)
    return a * b.sigmoid()


def prelu(x, weight):
    """``x`` where ``x > 0``, else ``weight * x``; ``weight`` has 1 or C (= ``x.shape[1]``) entries."""
    _tensor(x, "input", "prelu")
    _tensor(weight, "weight", "prelu")
    _same_dtype("prelu", x, ("weight", weight))  # PyTorch: no type promotion here
    channels = x.shape[1] if x.ndim >= 2 else 1
    if weight.numel() == 1:
        w = weight.reshape(())
    elif weight.ndim == 1 and weight.shape[0] == channels:
        w = weight.reshape((channels,) + (1,) * (x.ndim - 2))
    else:
        raise ValueError(f"prelu: weight must have 1 or {channels} (input channels) entries, got shape {weight.shape}")
    return combine.where(x.array > 0, x, w * x)
