"""Batch normalisation and dropout modules: they behave differently in ``train()`` and ``eval()``."""
import numpy as np

from .. import backend, checks
from .. import functional as F
from . import init
from .activations import apply_inplace
from .module import Module, Parameter, _float_dtype


class _BatchNorm(Module):
    """Shared by BatchNorm1d/2d: parameters ``weight`` (ones) and ``bias`` (zeros) when
    ``affine``; buffers ``running_mean`` (zeros), ``running_var`` (ones) and
    ``num_batches_tracked`` when ``track_running_stats``, as in PyTorch.
    ``momentum=None`` makes the running statistics a cumulative average."""

    layouts = ()  # the accepted input dimensions, e.g. (4,) for BatchNorm2d
    layout = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None):
        super().__init__()
        where = type(self).__name__
        dtype = np.dtype(np.float32) if dtype is None else _float_dtype(dtype, where)
        device = None if device is None else backend.device(device)
        self.num_features = checks.positive_int(num_features, "num_features", where)
        self.eps = checks.finite_number(eps, "eps", where, minimum=0)
        self.momentum = None if momentum is None else checks.finite_number(momentum, "momentum", where, minimum=0)
        self.affine = checks.boolean(affine, "affine", where)
        self.track_running_stats = checks.boolean(track_running_stats, "track_running_stats", where)
        if self.affine:
            self.weight = Parameter(np.ones(num_features, dtype))
            self.bias = Parameter(np.zeros(num_features, dtype))
        else:
            self.weight = self.bias = None
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
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

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
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm of ``(N, C)`` or ``(N, C, L)`` over all but the channel axis."""

    layouts, layout = (2, 3), "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm of ``(N, C, H, W)`` per channel, over the batch and the pixels."""

    layouts, layout = (4,), "(N, C, H, W)"


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
