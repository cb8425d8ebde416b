"""Normalisation and regularisation: batch norm (one fused op) and dropout."""
import numpy as np

from .. import backend
from .base import Op


_CANCELLATION = 1e-5  # the relative error of var allowed to the one-pass formula (else two passes)


class BatchNorm(Op):
    """Batch normalisation over axis 1 of ``(N, C)`` or ``(N, C, H, W)`` (any ``(N, C, ...)``)::

        out = (x - mean) / sqrt(var + eps) * weight + bias        (per channel)

    ``training=True``: ``mean``/``var`` are the batch's (biased variance) over
    every axis but 1, and ``running_mean``/``running_var`` (arrays, if given) are
    updated in place as ``torch.nn.functional.batch_norm`` does:
    ``r = (1 - momentum) * r + momentum * batch_stat``, the variance unbiased
    (``* n / (n - 1)``). ``training=False``: the running arrays are used.

    Inputs ``x`` and optionally both ``weight`` and ``bias`` ``(C,)``. Backward, with
    ``xhat = (x - mean) * invstd`` and sums over the ``n`` values of a channel::

        d bias = sum(g)      d weight = sum(g * xhat)
        d x    = weight * invstd * (g - sum(g) / n - xhat * sum(g * xhat) / n)   (training)
        d x    = weight * invstd * g                                            (eval)

    Fast path: every per-channel sum is one pass (``einsum``), the statistics use
    ``var = sum(x**2) / n - mean**2`` (two passes, ``sum((x - mean)**2)``, for a channel
    whose mean is so large against its spread that this would cancel), and the
    full-size arrays are touched only by
    ``out = x * scale + shift`` and ``dx = g * a - x * b + c`` with per-channel
    ``scale, shift, a, b, c`` (computed in float64): the elementwise passes are the cost.
    """

    name = "batch_norm"
    updates = ("running_mean", "running_var")  # (see Op.updates)

    def forward(self, x, weight=None, bias=None, running_mean=None, running_var=None,
                training=False, momentum=0.1, eps=1e-5):
        xp = backend.xp(x)
        self.shape, self.view = x.shape, (1, x.shape[1]) + (1,) * (x.ndim - 2)
        x3 = x.reshape(x.shape[0], x.shape[1], -1)  # (N, C, L): per-channel sums are over n and l
        n = x3.shape[0] * x3.shape[2]
        if training:
            mean = xp.einsum("ncl->c", x3).astype(float) / n
            var = xp.maximum(xp.einsum("ncl,ncl->c", x3, x3).astype(float) / n - mean * mean, 0)
        else:
            mean, var = running_mean.astype(float), running_var.astype(float)
        origin = 0.0  # the point the saved x3 is measured from
        if bool((mean * mean > _CANCELLATION / np.finfo(x.dtype).eps * var).any()):
            # |mean| >> spread: E[x^2] - mean^2 and x * scale - mean * scale would cancel in
            # x's precision, so work with x - mean (nearly exact), in two passes.
            origin = mean.astype(x.dtype)
            x3 = x3 - origin.reshape(-1, 1)
            origin = origin.astype(float)
            if training:
                rest = xp.einsum("ncl->c", x3).astype(float) / n  # what the first sum rounded off
                var = xp.maximum(xp.einsum("ncl,ncl->c", x3, x3).astype(float) / n - rest * rest, 0)
                mean = origin + rest
        if training:
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += (momentum * mean).astype(running_mean.dtype, copy=False)
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += (momentum * n / (n - 1) * var).astype(running_var.dtype, copy=False)
        mean = mean - origin  # from here on, relative to x3's origin
        invstd = 1 / xp.sqrt(var + eps)
        scale = invstd if weight is None else invstd * weight
        shift = -mean * scale if bias is None else bias - mean * scale
        out = x3 * scale.astype(x.dtype).reshape(-1, 1)
        out += shift.astype(x.dtype).reshape(-1, 1)
        self.x3, self.n, self.training, self.eps, self.origin = x3, n, training, eps, origin
        self.mean, self.invstd, self.scale, self.has_weight = mean, invstd, scale, weight is not None
        return out.reshape(self.shape)

    def backward(self, grad):
        xp, x3, n, view, dtype = backend.xp(grad), self.x3, self.n, self.view, grad.dtype
        g3 = grad.reshape(x3.shape)
        sum_g = xp.einsum("ncl->c", g3).astype(float)
        need_x = self.needs_input_grad[0]
        need_w = self.has_weight and self.needs_input_grad[1]
        sum_gxhat = None
        if need_w or (need_x and self.training):  # sum(g * xhat) = invstd * (sum(g x) - mean sum(g))
            sum_gxhat = self.invstd * (xp.einsum("ncl,ncl->c", g3, x3).astype(float) - self.mean * sum_g)
        dx = None
        if need_x:
            a = self.scale  # d out / d x with the statistics held fixed
            dx = grad * a.astype(dtype).reshape(view)
            if self.training:  # minus the parts that flow through the batch mean and variance
                b = a * self.invstd * sum_gxhat / n  # times (x - mean) ...
                c = b * self.mean - a * sum_g / n  # ... and the constant part
                dx -= (x3 * b.astype(dtype).reshape(b.shape[0], 1)).reshape(self.shape)
                dx += c.astype(dtype).reshape(view)
        if not self.has_weight:
            return (dx,)
        dw = sum_gxhat.astype(dtype) if need_w else None
        return dx, dw, sum_g.astype(dtype)

    def backward_graph(self, grad, out):
        """The same gradients on Tensors, from differentiable ops: in training the batch
        mean and variance are recomputed from x, so the second derivatives include the
        paths through them (as PyTorch's batch norm double backward)::

            xhat = (x - mean) * invstd,  invstd = (var + eps) ** -0.5
            d bias = sum(g)   d weight = sum(g * xhat)
            d x = weight * invstd * (g - mean(g) - xhat * mean(g * xhat))   (training)
            d x = weight * invstd * g                                       (eval: constant statistics)
        """
        x = self.parents[0]
        weight = self.parents[1] if self.has_weight else None
        axes = (0,) + tuple(range(2, x.ndim))
        if self.training:
            centred = x - x.mean(axis=axes, keepdims=True)
            invstd = ((centred * centred).mean(axis=axes, keepdims=True) + self.eps) ** -0.5
        else:  # the running statistics: constants
            xp = backend.xp(x.array)
            centred = x - xp.asarray(self.mean + self.origin).astype(x.dtype).reshape(self.view)
            invstd = xp.asarray(self.invstd).astype(x.dtype).reshape(self.view)
        xhat = centred * invstd
        need_x = self.needs_input_grad[0]
        need_w = self.has_weight and self.needs_input_grad[1]
        dx = dw = db = None
        if need_x:
            scale = invstd if weight is None else invstd * weight.reshape(self.view)
            if self.training:
                g = grad - grad.mean(axis=axes, keepdims=True) - xhat * (grad * xhat).mean(axis=axes, keepdims=True)
            else:
                g = grad
            dx = g * scale
        if not self.has_weight:
            return (dx,)
        if need_w:
            dw = (grad * xhat).sum(axis=axes)
        if self.needs_input_grad[2]:
            db = grad.sum(axis=axes)
        return dx, dw, db


class Dropout(Op):
    """``a * mask``: ``mask`` (given, already scaled by ``1 / (1 - p)``, broadcastable
    to ``a``: per element for dropout, ``(N, C, 1, 1)`` for whole channels) is the
    derivative too."""

    saved = ()  # the mask is a constant

    def forward(self, a, mask):
        self.mask = mask
        return a * mask

    def backward(self, grad):
        return (grad * self.mask,)
