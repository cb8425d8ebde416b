"""Layers: Modules that hold their parameters and call one functional op.

Arguments are checked when the layer is built, so a bad configuration fails at
the line that wrote it, not at the first forward pass.
"""
import math

import numpy as np

from .. import backend, checks
from .. import functional as F
from . import init
from .activations import apply_inplace
from .loss import constant_array, legacy_reduction
from .module import Module, Parameter, _float_dtype
from ..ops.interpolate import MODES as INTERPOLATE_MODES
from ..ops.losses import REDUCTIONS


# ----- layers with parameters -----------------------------------------------------------------
def _factory(dtype, device, where):
    """The dtype and device of a layer's parameters: float32 on the CPU unless given."""
    dt = np.dtype(np.float32) if dtype is None else _float_dtype(dtype, where)
    return dt, (None if device is None else backend.device(device))


def _reset_weight_and_bias(layer):
    """PyTorch's default for Conv2d, ConvTranspose2d and Linear: weight from
    ``kaiming_uniform_(a=sqrt(5))``, that is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and bias from
    the same bound (``fan_in`` of the weight, computed as ``init`` does)."""
    init.kaiming_uniform_(layer.weight, a=math.sqrt(5))
    if layer.bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(layer.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(layer.bias, -bound, bound)


def _make_parameters(layer, weight_shape, out_features, bias, dtype, device):
    """``layer.weight`` (and ``layer.bias`` unless ``bias`` is False), initialised by the
    layer's ``reset_parameters`` as PyTorch's, then moved to ``device``."""
    layer.weight = Parameter(np.empty(weight_shape, dtype))
    layer.bias = Parameter(np.empty(out_features, dtype)) if bias else None
    layer.reset_parameters()
    if device is not None:
        layer.to(device)


class Linear(Module):
    """``x @ weight.T + bias``: ``(..., in_features) -> (..., out_features)``.

    Initialised as PyTorch's ``nn.Linear``: weight and bias both from
    ``U(-1/sqrt(in_features), 1/sqrt(in_features))`` (for the weight that is
    ``kaiming_uniform_(a=sqrt(5))``).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        dtype, device = _factory(dtype, device, "Linear")
        self.in_features = checks.positive_int(in_features, "in_features", "Linear")
        self.out_features = checks.positive_int(out_features, "out_features", "Linear")
        checks.boolean(bias, "bias", "Linear")
        _make_parameters(self, (out_features, in_features), out_features, bias, dtype, device)

    def reset_parameters(self):
        _reset_weight_and_bias(self)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


# ----- activations ------------------------------------------------------------------------------
class ReLU(Module):
    """``max(x, 0)`` elementwise; ``inplace=True`` overwrites the input (same values)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = checks.boolean(inplace, "inplace", "ReLU")

    def forward(self, x):
        return apply_inplace(x, self.inplace, "relu_", F.relu)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` elementwise."""

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    """``tanh(x)`` elementwise."""

    def forward(self, x):
        return F.tanh(x)


class Softmax(Module):
    """``F.softmax(x, dim)``: exponentials normalised to sum to 1 along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = None if dim is None else checks.integer(dim, "dim", type(self).__name__)

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """``F.log_softmax(x, dim)``: ``x - logsumexp(x, dim)``, computed stably."""

    def forward(self, x):
        return F.log_softmax(x, self.dim)


# ----- pooling (the pool modules are in pooling.py) and reshaping ----------------------------
class Upsample(Module):
    """``F.interpolate(x, size, scale_factor, mode, align_corners, recompute_scale_factor)``:
    resize ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)`` to ``size`` or by
    ``scale_factor`` (exactly one), in any of F.interpolate's modes."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
        super().__init__()
        where = "Upsample"
        if (size is None) == (scale_factor is None):
            raise ValueError(f"{where}: give exactly one of size and scale_factor, got size={size!r}, "
                             f"scale_factor={scale_factor!r}")
        sizes = size if isinstance(size, (tuple, list)) else () if size is None else (size,)
        for s in sizes:
            checks.positive_int(s, "size", where)
        self.size = tuple(size) if isinstance(size, (tuple, list)) else size
        self.scale_factor = scale_factor
        self.mode = checks.one_of(mode, INTERPOLATE_MODES, "mode", where)
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self):
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return what + f", mode={self.mode!r}" + ("" if self.align_corners is None else f", align_corners={self.align_corners}")


class GlobalAvgPool2d(Module):
    """Mean over height and width: ``(N, C, H, W) -> (N, C)``."""

    def forward(self, x):
        return F.global_avg_pool2d(x)


class Flatten(Module):
    """Merge dims ``start_dim`` to ``end_dim``: ``(N, C, H, W) -> (N, C*H*W)`` by default."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = checks.integer(start_dim, "start_dim", "Flatten")
        self.end_dim = checks.integer(end_dim, "end_dim", "Flatten")

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``: ``Unflatten(1, (C, H, W))`` maps
    ``(N, C*H*W)`` to ``(N, C, H, W)`` (the inverse of ``Flatten``)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim = checks.integer(dim, "dim", "Unflatten")
        if not isinstance(unflattened_size, (tuple, list)) or not unflattened_size:
            raise TypeError(f"Unflatten: unflattened_size must be a non-empty tuple or list of ints, "
                            f"got {unflattened_size!r}")
        self.unflattened_size = tuple(checks.integer(s, "unflattened_size", "Unflatten", minimum=-1)
                                      for s in unflattened_size)

    def forward(self, x):
        return x.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


# ----- containers -----------------------------------------------------------------------------
class Sequential(Module):
    """Modules applied in order: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Children are named ``"0"``, ``"1"``, ... (so parameters are ``"0.weight"``).
    ``seq[i]`` is a child (negative ``i`` counts from the end); ``seq[i:j]`` is a
    new Sequential sharing those children under their original names, as in PyTorch.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):  # Sequential(OrderedDict(name=module, ...))
            for name, module in modules[0].items():
                if not isinstance(module, Module):
                    raise TypeError(f"Sequential: {name!r} must be an nn.Module, got {type(module).__name__}")
                self.add_module(name, module)
            return
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {i} must be an nn.Module, got {type(module).__name__}")
            setattr(self, str(i), module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):
            out = Sequential()
            for name, module in items[index]:
                setattr(out, name, module)
            return out
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"Sequential indices must be ints or slices, got {type(index).__name__}")
        if not -len(items) <= index < len(items):
            raise IndexError(f"Sequential index {index} is out of range for {len(items)} modules")
        return items[index][1]

    def append(self, module):
        """Add ``module`` at the end (named by its position); returns self."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected an nn.Module, got {type(module).__name__}")
        name = str(len(self._modules))
        while name in self._modules:  # after slicing, names need not be 0..len-1
            name = str(int(name) + 1)
        setattr(self, name, module)
        return self

    def extend(self, modules):
        """Append each module of an iterable; returns self."""
        for module in list(modules):
            self.append(module)
        return self

    def __setitem__(self, index, module):
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: can only assign an nn.Module, got {type(module).__name__}")
        self[index]  # the same checks as reading
        setattr(self, list(self._modules)[index], module)


# ----- losses ----------------------------------------------------------------------------------
class MSELoss(Module):
    """``F.mse_loss(pred, target, reduction)``; ``reduction`` is "mean", "sum" or "none"."""

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = checks.one_of(reduction, REDUCTIONS, "reduction", "MSELoss")

    def forward(self, pred, target):
        return F.mse_loss(pred, target, self.reduction)

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class L1Loss(MSELoss):
    """``F.l1_loss(pred, target, reduction)``."""

    def forward(self, pred, target):
        return F.l1_loss(pred, target, self.reduction)


class SmoothL1Loss(MSELoss):
    """``F.smooth_l1_loss(pred, target, reduction, beta)``."""

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = checks.finite_number(beta, "beta", "SmoothL1Loss", minimum=0)

    def forward(self, pred, target):
        return F.smooth_l1_loss(pred, target, self.reduction, self.beta)


class CrossEntropyLoss(Module):
    """``F.cross_entropy(logits, target, weight, reduction, label_smoothing, ignore_index)``:
    logits ``(N, C)`` or ``(N, C, H, W)``, class indices or probabilities; ``weight`` a
    ``(C,)`` array of class weights (kept as a NumPy array, not a parameter)."""

    def __init__(self, weight=None, reduction="mean", label_smoothing=0.0, ignore_index=-100):
        super().__init__()
        self.weight = None if weight is None else np.asarray(weight.array if hasattr(weight, "array") else weight)
        self.reduction = checks.one_of(reduction, REDUCTIONS, "reduction", "CrossEntropyLoss")
        self.label_smoothing = checks.finite_number(label_smoothing, "label_smoothing", "CrossEntropyLoss", minimum=0)
        self.ignore_index = checks.integer(ignore_index, "ignore_index", "CrossEntropyLoss")

    def forward(self, logits, target):
        return F.cross_entropy(logits, target, self.weight, self.reduction, self.label_smoothing, self.ignore_index)

    def extra_repr(self):
        s = "" if self.reduction == "mean" else f"reduction={self.reduction!r}"
        return s + (f", label_smoothing={self.label_smoothing}" if self.label_smoothing else "")


class NLLLoss(Module):
    """``F.nll_loss(log_probs, target, weight, reduction, ignore_index)``."""

    def __init__(self, weight=None, reduction="mean", ignore_index=-100):
        super().__init__()
        self.weight = None if weight is None else np.asarray(weight.array if hasattr(weight, "array") else weight)
        self.reduction = checks.one_of(reduction, REDUCTIONS, "reduction", "NLLLoss")
        self.ignore_index = checks.integer(ignore_index, "ignore_index", "NLLLoss")

    def forward(self, log_probs, target):
        return F.nll_loss(log_probs, target, self.weight, self.reduction, self.ignore_index)


class BCEWithLogitsLoss(Module):
    """``F.binary_cross_entropy_with_logits(logits, target, weight, reduction, pos_weight)``
    (PyTorch's argument order; ``size_average``/``reduce`` are its deprecated spelling of ``reduction``)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        super().__init__()
        self.reduction = legacy_reduction(size_average, reduce, reduction, "BCEWithLogitsLoss")
        where = "BCEWithLogitsLoss"
        self.weight, self.pos_weight = constant_array(weight, "weight", where), constant_array(pos_weight, "pos_weight", where)

    def forward(self, logits, target):
        return F.binary_cross_entropy_with_logits(logits, target, self.weight, self.reduction, self.pos_weight)
