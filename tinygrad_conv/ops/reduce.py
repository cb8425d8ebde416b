"""Reductions: sum, mean, max over an axis, several axes or everything."""
import math

from .. import backend, checks
from ..tensor import Tensor
from .base import Op


def _expand_to_input(grad, axes, keepdims, shape):
    """Put back the reduced axes of ``grad`` so it broadcasts against the input."""
    if not keepdims and shape:
        grad = backend.xp(grad).expand_dims(grad, axes)
    return grad


class Sum(Op):
    saved = ()

    def forward(self, a, axis=None, keepdims=False):
        self.axes = checks.axes(axis, a.ndim, "sum")
        self.keepdims, self.shape = keepdims, a.shape
        return a.sum(axis=self.axes, keepdims=keepdims)

    def backward(self, grad):
        g = _expand_to_input(grad, self.axes, self.keepdims, self.shape)
        return (backend.xp(g).broadcast_to(g, self.shape),)


class Mean(Op):
    saved = ()

    def forward(self, a, axis=None, keepdims=False):
        self.axes = checks.axes(axis, a.ndim, "mean")
        self.keepdims, self.shape = keepdims, a.shape
        self.count = math.prod(a.shape[i] for i in self.axes)
        return a.mean(axis=self.axes, keepdims=keepdims)

    def backward(self, grad):
        g = _expand_to_input(grad, self.axes, self.keepdims, self.shape)
        g = g / self.count
        return (backend.xp(g).broadcast_to(g, self.shape),)


class Max(Op):
    """Maximum; tied maxima share the gradient equally (as ``torch.amax``)."""
    saved = ()

    def forward(self, a, axis=None, keepdims=False):
        self.axes = checks.axes(axis, a.ndim, self.name)
        if any(a.shape[i] == 0 for i in self.axes):  # (other axes may be empty: an empty result)
            raise ValueError(f"{self.name}: cannot reduce over an axis of size 0 (shape {a.shape}, axes {self.axes})")
        self.keepdims, self.a = keepdims, a
        self.out_kept = self._extremum(a)
        return self.out_kept if keepdims else self.out_kept.squeeze(axis=self.axes)

    def _extremum(self, a):
        return a.max(axis=self.axes, keepdims=True)

    def backward(self, grad):
        mask = self.a == self.out_kept
        count = mask.sum(axis=self.axes, keepdims=True)
        g = _expand_to_input(grad, self.axes, self.keepdims, self.a.shape)
        return (mask * (g / count),)


class Min(Max):
    """Minimum; tied minima share the gradient equally (as ``torch.amin``)."""

    def _extremum(self, a):
        return a.min(axis=self.axes, keepdims=True)


class Var(Op):
    """Variance over ``axis``: ``sum((a - mean)**2) / (n - correction)`` (``correction=1``:
    unbiased, as ``torch.var``); d/da = ``2 (a - mean) / (n - correction)``."""
    saved = ("a",)

    def forward(self, a, axis=None, keepdims=False, correction=1):
        self.axes = checks.axes(axis, a.ndim, "var")
        self.keepdims, self.shape = keepdims, a.shape
        divisor = math.prod(a.shape[i] for i in self.axes) - correction
        # no degrees of freedom left: PyTorch divides by max(divisor, 0), so inf (NaN for 0 / 0)
        self.scale = 1.0 / divisor if divisor > 0 else float("inf")
        self.a = a
        centered = a - a.mean(axis=self.axes, keepdims=True)
        return (centered * centered).sum(axis=self.axes, keepdims=keepdims) * self.scale

    def backward(self, grad):
        g = _expand_to_input(grad, self.axes, self.keepdims, self.shape)
        centered = self.a - self.a.mean(axis=self.axes, keepdims=True)
        return (g * (2 * self.scale) * centered,)


class Prod(Op):
    """Product over ``axis`` (one axis, or all when None). d/da_i is the product of the
    others, computed from exclusive running products, so zeros need no division."""

    def forward(self, a, axis=None, keepdims=False):
        xp = backend.xp(a)
        self.shape, self.keepdims = a.shape, keepdims
        if axis is None:
            self.axis, flat = None, a.reshape(-1)
        else:
            self.axis = checks.axis(axis, max(a.ndim, 1), "prod")
            flat = xp.moveaxis(a.reshape(a.shape or (1,)), self.axis, -1)
        self.flat = flat
        out = flat.prod(axis=-1)
        if axis is not None and keepdims and a.ndim:
            return xp.expand_dims(out, self.axis)
        return out.reshape((1,) * a.ndim) if keepdims else out

    def backward(self, grad):
        xp, f = backend.xp(grad), self.flat
        if f.size == 0:  # an empty input has an empty gradient (the running products below need n >= 1)
            return (xp.zeros(self.shape, f.dtype),)
        ones = xp.ones(f.shape[:-1] + (1,), f.dtype)
        before = xp.cumprod(xp.concatenate([ones, f[..., :-1]], axis=-1), axis=-1)
        after = xp.flip(xp.cumprod(xp.flip(xp.concatenate([f[..., 1:], ones], axis=-1), -1), axis=-1), -1)
        if self.axis is None:
            return ((grad.reshape(()) * before * after).reshape(self.shape),)
        g = grad if not self.keepdims else xp.squeeze(grad, self.axis)
        g = xp.moveaxis(g.reshape(g.shape + (1,)) * before * after, -1, self.axis)
        return (g.reshape(self.shape),)

    def backward_graph(self, grad, out):
        """On Tensors: the product of the others at each position is the product over a
        copy of the row with that position set to 1 (an (n, n) table per row; n^2 work,
        paid only when differentiating twice)."""
        (x,) = self.parents
        flat = x.reshape(-1) if self.axis is None else x.reshape(x.shape or (1,)).movedim(self.axis, -1)
        n = flat.shape[-1]
        table = flat.unsqueeze(-2).expand(flat.shape[:-1] + (n, n))
        eye = backend.xp(x.array).eye(n, dtype=bool)
        others = table.masked_fill(Tensor._make(eye, None), 1.0).prod(-1)
        g = grad.reshape(()) if self.axis is None else (grad.squeeze(self.axis) if self.keepdims else grad)
        g = g.unsqueeze(-1) * others if self.axis is not None else g * others
        if self.axis is not None:
            g = g.movedim(-1, self.axis)
        return (g.reshape(self.shape),)


class CumSum(Op):
    """Running sums along ``axis``; the gradient is the running sum from the other end."""
    saved = ()

    name = "cumsum"

    def forward(self, a, axis):
        self.axis = checks.axis(axis, max(a.ndim, 1), "cumsum")
        self.shape = a.shape
        return backend.xp(a).cumsum(a.reshape(a.shape or (1,)), axis=self.axis).reshape(a.shape)

    def backward(self, grad):
        xp = backend.xp(grad)
        g = xp.flip(grad.reshape(grad.shape or (1,)), self.axis)
        return (xp.flip(xp.cumsum(g, axis=self.axis), self.axis).reshape(self.shape),)
