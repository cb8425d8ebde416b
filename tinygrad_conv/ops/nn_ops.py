"""Layer ops that are one fused step each: linear, softmax (the losses are in losses.py).

Fusing them (instead of composing matmul, add, exp, ...) gives one graph node
per layer, which is what keeps small models fast in Python.
"""
import math

from .. import backend, checks
from .base import Op


class Linear(Op):
    """``x @ weight.T + bias``: x ``(..., in)``, weight ``(out, in)``, bias ``(out,)``."""
    saved = ("x", "weight")

    def forward(self, x, weight, bias=None):
        checks.ndim(weight, 2, "linear", "weight", "(out_features, in_features)")
        if x.ndim < 1 or x.shape[-1] != weight.shape[1]:
            raise ValueError(
                f"linear: input shape {x.shape} must end in in_features={weight.shape[1]} "
                f"(weight shape {weight.shape})"
            )
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ValueError(f"linear: bias shape {bias.shape} must be ({weight.shape[0]},) for weight shape {weight.shape}")
        self.x, self.weight = x, weight
        out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    def backward(self, grad):
        need_x, need_w = self.needs_input_grad[:2]
        dx = grad @ self.weight if need_x else None
        g2 = _rows(grad)  # batch axes folded into one
        dw = g2.T @ _rows(self.x) if need_w else None
        if len(self.needs_input_grad) == 2:
            return dx, dw
        db = backend.sum_rows(g2.T) if self.needs_input_grad[2] else None
        return dx, dw, db


def _rows(a):
    """``(..., k)`` as ``(rows, k)``; sizes written out, as -1 is ambiguous when k is 0."""
    return a.reshape(math.prod(a.shape[:-1]), a.shape[-1])


def _log_softmax(x, axis):
    if x.size == 0:  # nothing to normalise (max over an empty axis has no identity)
        return x.copy()
    xp = backend.xp(x)
    shifted = x - x.max(axis=axis, keepdims=True)  # exp never overflows
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


def softmax_axis(x, axis, op):
    """``axis`` checked against ``x`` (a 0-d ``x`` takes 0 or -1, as in PyTorch: None, its only element)."""
    axis = checks.axis(axis, max(x.ndim, 1), op)
    return axis if x.ndim else None


class LogSoftmax(Op):
    """``x - logsumexp(x, axis)``, computed stably."""
    saved = ("out",)

    def forward(self, x, axis=-1):
        self.axis = softmax_axis(x, axis, "log_softmax")
        self.out = _log_softmax(x, self.axis)
        return self.out

    def backward(self, grad):
        softmax = backend.xp(self.out).exp(self.out)
        return (grad - softmax * grad.sum(axis=self.axis, keepdims=True),)


class Softmax(Op):
    """``exp(x) / sum(exp(x), axis)``, computed stably."""
    saved = ("out",)

    def forward(self, x, axis=-1):
        self.axis = softmax_axis(x, axis, "softmax")
        self.out = backend.xp(x).exp(_log_softmax(x, self.axis))
        return self.out

    def backward(self, grad):
        s = self.out
        return (s * (grad - (grad * s).sum(axis=self.axis, keepdims=True)),)
