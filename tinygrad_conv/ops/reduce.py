"""Reductions: sum, mean, max over an axis, several axes or everything."""
import math

from .. import backend, checks
from .base import Op


def _expand_to_input(grad, axes, keepdims, shape):
    """Put back the reduced axes of ``grad`` so it broadcasts against the input."""
    if not keepdims and shape:
        grad = backend.xp(grad).expand_dims(grad, axes)
    return grad


class Sum(Op):
    def forward(self, a, axis=None, keepdims=False):
        self.axes = checks.axes(axis, a.ndim, "sum")
        self.keepdims, self.shape = keepdims, a.shape
        return a.sum(axis=self.axes, keepdims=keepdims)

    def backward(self, grad):
        g = _expand_to_input(grad, self.axes, self.keepdims, self.shape)
        return (backend.xp(g).broadcast_to(g, self.shape),)


class Mean(Op):
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

    def forward(self, a, axis=None, keepdims=False):
        self.axes = checks.axes(axis, a.ndim, self.name)
        if a.size == 0:
            raise ValueError(f"{self.name}: cannot reduce an empty tensor of shape {a.shape}")
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

    def forward(self, a, axis=None, keepdims=False, correction=1):
        self.axes = checks.axes(axis, a.ndim, "var")
        self.keepdims, self.shape = keepdims, a.shape
        divisor = math.prod(a.shape[i] for i in self.axes) - correction
        self.scale = 1.0 / divisor if divisor > 0 else float("nan")  # PyTorch: nan, not an error
        self.centered = a - a.mean(axis=self.axes, keepdims=True)
        return (self.centered * self.centered).sum(axis=self.axes, keepdims=keepdims) * self.scale

    def backward(self, grad):
        g = _expand_to_input(grad, self.axes, self.keepdims, self.shape)
        return (g * (2 * self.scale) * self.centered,)
