"""Normalisation and regularisation: batch norm (one fused op) and dropout."""
from .. import backend
from .base import Op


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
    """

    name = "batch_norm"

    def forward(self, x, weight=None, bias=None, running_mean=None, running_var=None,
                training=False, momentum=0.1, eps=1e-5):
        xp = backend.xp(x)
        axes = (0,) + tuple(range(2, x.ndim))
        view = (1, x.shape[1]) + (1,) * (x.ndim - 2)  # a per-channel array as a broadcastable view
        n = x.size // x.shape[1]
        f = x.dtype.type
        if training:
            mean = x.mean(axis=axes)
            centered = x - mean.reshape(view)
            var = (centered * centered).mean(axis=axes)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += (momentum * mean).astype(running_mean.dtype, copy=False)
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += (momentum * n / (n - 1) * var).astype(running_var.dtype, copy=False)
        else:
            mean, var = running_mean.astype(x.dtype, copy=False), running_var.astype(x.dtype, copy=False)
            centered = x - mean.reshape(view)
        invstd = 1 / xp.sqrt(var + f(eps))
        scale = invstd if weight is None else invstd * weight
        out = centered * scale.reshape(view)
        if bias is not None:
            out += bias.reshape(view)
        self.training, self.axes, self.view, self.n = training, axes, view, n
        self.centered, self.invstd, self.weight = centered, invstd, weight
        return out

    def backward(self, grad):
        axes, view, invstd, xc = self.axes, self.view, self.invstd, self.centered
        sum_g = grad.sum(axis=axes)
        need_x, need_w = self.needs_input_grad[0], len(self.needs_input_grad) > 1 and self.needs_input_grad[1]
        sum_gxc = (grad * xc).sum(axis=axes) if (self.training and need_x) or need_w else None
        scale = invstd if self.weight is None else invstd * self.weight
        dx = None
        if need_x:
            dx = grad * scale.reshape(view)
            if self.training:  # minus the parts that flow through the batch mean and variance
                dx -= xc * (scale * invstd * invstd * sum_gxc / self.n).reshape(view)
                dx -= (scale * sum_g / self.n).reshape(view)
        if self.weight is None:
            return (dx,)
        return dx, (invstd * sum_gxc if need_w else None), sum_g


class Dropout(Op):
    """``a * mask``: ``mask`` (given, already scaled by ``1 / (1 - p)``, broadcastable
    to ``a``: per element for dropout, ``(N, C, 1, 1)`` for whole channels) is the
    derivative too."""

    def forward(self, a, mask):
        self.mask = mask
        return a * mask

    def backward(self, grad):
        return (grad * self.mask,)
