"""Batch normalisation and dropout modules: they behave differently in ``train()`` and ``eval()``."""
import numpy as np

from .. import backend, checks
from .. import functional as F
from . import init
from .activations import apply_inplace
from .module import Module, Parameter, _float_dtype


def _dtype(dtype, where):
    return np.dtype(np.float32) if dtype is None else _float_dtype(dtype, where)


def _affine_parameters(layer, shape, affine, bias, dtype, where):
    """``layer.weight`` (ones) and ``layer.bias`` (zeros, None when ``bias=False``) of
    ``shape`` when ``affine``, else both None: PyTorch's normalisation layers' parameters."""
    layer.weight = Parameter(np.ones(shape, dtype)) if affine else None
    layer.bias = Parameter(np.zeros(shape, dtype)) if affine and checks.boolean(bias, "bias", where) else None


def _reset_affine(layer):
    """Weight 1 and bias 0 (PyTorch's default), for the ones the layer has."""
    if layer.weight is not None:
        init.ones_(layer.weight)
    if layer.bias is not None:
        init.zeros_(layer.bias)


class _BatchNorm(Module):
    """Shared by BatchNorm1d/2d: parameters ``weight`` (ones) and ``bias`` (zeros) when
    ``affine``; buffers ``running_mean`` (zeros), ``running_var`` (ones) and
    ``num_batches_tracked`` when ``track_running_stats``, as in PyTorch.
    ``momentum=None`` makes the running statistics a cumulative average."""

    layouts = ()  # the accepted input dimensions, e.g. (4,) for BatchNorm2d
    layout = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        where = type(self).__name__
        dtype = _dtype(dtype, where)
        device = None if device is None else backend.device(device)
        self.num_features = checks.positive_int(num_features, "num_features", where)
        self.eps = checks.finite_number(eps, "eps", where, minimum=0)
        self.momentum = None if momentum is None else checks.finite_number(momentum, "momentum", where, minimum=0)
        self.affine = checks.boolean(affine, "affine", where)
        self.track_running_stats = checks.boolean(track_running_stats, "track_running_stats", where)
        _affine_parameters(self, (self.num_features,), self.affine, bias, dtype, where)
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype))
            self.register_buffer("num_batches_tracked", np.array(0, np.int64))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None
        if device is not None:
            self.to(device)

    def reset_running_stats(self):
        """Running mean 0, variance 1, no batches counted."""
        if self.track_running_stats:
            for buf, value in ((self.running_mean, 0), (self.running_var, 1), (self.num_batches_tracked, 0)):
                buf.array[...] = value

    def reset_parameters(self):
        """``reset_running_stats`` and, when ``affine``, weight 1 and bias 0 (PyTorch's defaults)."""
        self.reset_running_stats()
        _reset_affine(self)

    def forward(self, x):
        where = type(self).__name__
        if x.ndim not in self.layouts:
            raise ValueError(f"{where}: input must be {self.layout}, got shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{where}: input has {x.shape[1]} channels (shape {x.shape}) "
                f"but the layer expects {self.num_features} (num_features={self.num_features})"
            )
        momentum = 0.0 if self.momentum is None else self.momentum
        counting = self.training and self.track_running_stats
        if counting and self.momentum is None:  # cumulative moving average
            momentum = 1.0 / (int(self.num_batches_tracked) + 1)
        use_batch_stats = self.training or not self.track_running_stats
        out = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                           training=use_batch_stats, momentum=momentum, eps=self.eps)
        if counting:
            self.num_batches_tracked.array[...] += 1  # in place: the buffer stays the same
        return out

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm of ``(N, C)`` or ``(N, C, L)`` over all but the channel axis."""

    layouts, layout = (2, 3), "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm of ``(N, C, H, W)`` per channel, over the batch and the pixels."""

    layouts, layout = (4,), "(N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch norm of ``(N, C, D, H, W)`` per channel, over the batch and the voxels."""

    layouts, layout = (5,), "(N, C, D, H, W)"


class _InstanceNorm(_BatchNorm):
    """Shared by InstanceNorm1d/2d/3d: each sample's channels normalised over their own
    pixels (``F.instance_norm``). Parameters and buffers as batch norm's, but off by default
    (``affine=False, track_running_stats=False``), as in PyTorch; with running statistics
    tracked, ``eval()`` normalises with them. An input without the batch dim is one sample."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None,
                 dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, x):
        where = type(self).__name__
        if x.ndim not in self.layouts:
            raise ValueError(f"{where}: input must be {self.layout}, got shape {x.shape}")
        channels = x.shape[x.ndim - self.layouts[0]]  # 0 for one sample, else 1
        if channels != self.num_features and self.affine:
            raise ValueError(f"{where}: input has {channels} channels (shape {x.shape}) "
                             f"but the layer expects {self.num_features} (num_features={self.num_features})")
        unbatched = x.ndim == self.layouts[0]
        x = x.unsqueeze(0) if unbatched else x
        momentum = 0.0 if self.momentum is None else self.momentum
        out = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                              self.training or not self.track_running_stats, momentum, self.eps)
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Instance norm of ``(N, C, L)`` (or one sample ``(C, L)``) over ``L``."""

    layouts, layout = (2, 3), "(N, C, L) or (C, L)"


class InstanceNorm2d(_InstanceNorm):
    """Instance norm of ``(N, C, H, W)`` (or one sample ``(C, H, W)``) over the pixels."""

    layouts, layout = (3, 4), "(N, C, H, W) or (C, H, W)"


class InstanceNorm3d(_InstanceNorm):
    """Instance norm of ``(N, C, D, H, W)`` (or one sample ``(C, D, H, W)``) over the voxels."""

    layouts, layout = (4, 5), "(N, C, D, H, W) or (C, D, H, W)"


class GroupNorm(Module):
    """``F.group_norm``: ``(N, C, *)`` normalised over groups of ``C / num_groups`` channels,
    with per-channel ``weight`` (ones) and ``bias`` (zeros) when ``affine``, as PyTorch's."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        where = "GroupNorm"
        self.num_groups = checks.positive_int(num_groups, "num_groups", where)
        self.num_channels = checks.positive_int(num_channels, "num_channels", where)
        if num_channels % num_groups:
            raise ValueError(f"{where}: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.eps = checks.finite_number(eps, "eps", where, minimum=0)
        self.affine = checks.boolean(affine, "affine", where)
        _affine_parameters(self, (num_channels,), self.affine, bias, _dtype(dtype, where), where)
        if device is not None:
            self.to(backend.device(device))

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, x):
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.bias is not None}"


class LayerNorm(Module):
    """``F.layer_norm`` over the last dims (``normalized_shape``, an int or a tuple), with
    elementwise ``weight`` (ones) and ``bias`` (zeros) of that shape when
    ``elementwise_affine``, as PyTorch's."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        where = "LayerNorm"
        self.normalized_shape = checks.sizes((normalized_shape,), where)
        if not self.normalized_shape:
            raise ValueError(f"{where}: normalized_shape must hold at least one size, got ()")
        self.eps = checks.finite_number(eps, "eps", where, minimum=0)
        self.elementwise_affine = checks.boolean(elementwise_affine, "elementwise_affine", where)
        _affine_parameters(self, self.normalized_shape, self.elementwise_affine, bias, _dtype(dtype, where), where)
        if device is not None:
            self.to(backend.device(device))

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class Dropout(Module):
    """``F.dropout`` in ``train()``, the identity in ``eval()``; ``inplace=True`` writes the
    result into the input (the same values, from the same random draws)."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p = checks.finite_number(p, "p", type(self).__name__)
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must be a probability in [0, 1], got {p}")
        self.inplace = checks.boolean(inplace, "inplace", type(self).__name__)

    def _dropout(self, x):
        return F.dropout(x, self.p, self.training)

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return self._dropout(x)  # the identity (and F's checks)
        return apply_inplace(x, self.inplace, "dropout_", self._dropout)

    def extra_repr(self):
        return f"p={self.p}" + (", inplace=True" if self.inplace else "")


class Dropout2d(Dropout):
    """``F.dropout2d`` (whole channels) in ``train()``, the identity in ``eval()``."""

    def _dropout(self, x):
        return F.dropout2d(x, self.p, self.training)
