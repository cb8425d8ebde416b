"""Layer ops that are one fused step each: linear, softmax, losses.

Fusing them (instead of composing matmul, add, exp, ...) gives one graph node
per layer, which is what keeps small models fast in Python, and lets the
losses use the numerically stable form of their gradients.
"""
import numpy as np

from .. import backend, checks
from . import losses_cuda
from .base import Op

REDUCTIONS = ("mean", "sum", "none")  # of mse_loss


class Linear(Op):
    """``x @ weight.T + bias``: x ``(..., in)``, weight ``(out, in)``, bias ``(out,)``."""

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
        g2 = grad.reshape(-1, grad.shape[-1])  # batch axes folded into one
        dw = g2.T @ self.x.reshape(-1, self.x.shape[-1]) if need_w else None
        if len(self.needs_input_grad) == 2:
            return dx, dw
        db = backend.sum_rows(g2.T) if self.needs_input_grad[2] else None
        return dx, dw, db


def _log_softmax(x, axis):
    xp = backend.xp(x)
    shifted = x - x.max(axis=axis, keepdims=True)  # exp never overflows
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class LogSoftmax(Op):
    """``x - logsumexp(x, axis)``, computed stably."""

    def forward(self, x, axis=-1):
        self.axis = axis
        self.out = _log_softmax(x, axis)
        return self.out

    def backward(self, grad):
        softmax = backend.xp(self.out).exp(self.out)
        return (grad - softmax * grad.sum(axis=self.axis, keepdims=True),)


class Softmax(Op):
    """``exp(x) / sum(exp(x), axis)``, computed stably."""

    def forward(self, x, axis=-1):
        self.axis = axis
        self.out = backend.xp(x).exp(_log_softmax(x, axis))
        return self.out

    def backward(self, grad):
        s = self.out
        return (s * (grad - (grad * s).sum(axis=self.axis, keepdims=True)),)


class MSELoss(Op):
    """``(pred - target)**2`` reduced by ``"mean"``, ``"sum"`` or ``"none"``; equal shapes only."""

    name = "mse_loss"

    def forward(self, pred, target, reduction="mean"):
        checks.one_of(reduction, REDUCTIONS, "reduction", "mse_loss")
        checks.same_shape(pred, target, "mse_loss", ("pred", "target"))
        self.diff, self.reduction = pred - target, reduction
        sq = self.diff * self.diff
        if reduction == "none":
            return sq
        total = sq.sum()
        return total / sq.size if reduction == "mean" else total

    def backward(self, grad):
        scale = 2.0 / self.diff.size if self.reduction == "mean" else 2.0
        g = self.diff * (grad * scale).astype(self.diff.dtype)
        return g, (-g if self.needs_input_grad[1] else None)


class CrossEntropy(Op):
    """Mean over the batch of ``-log_softmax(logits)[n, target[n]]``.

    logits ``(N, C)``; ``target`` integer class indices ``(N,)``, a parameter
    (not differentiable).
    """

    def forward(self, logits, target):
        checks.ndim(logits, 2, "cross_entropy", "logits", "(N, C)")
        n, c = logits.shape
        xp = backend.xp(logits)
        target = target if backend.is_cuda(target) else np.asarray(target)  # checked where it is
        if target.shape != (n,):
            raise ValueError(f"cross_entropy: target shape {target.shape} must be ({n},) for logits shape {logits.shape}")
        if target.dtype.kind == "f":
            if not bool((target == target.round()).all()):
                raise ValueError("cross_entropy: target must hold integer class indices")
            target = target.astype(np.int64)
        elif target.dtype.kind not in "iu":
            raise TypeError(f"cross_entropy: target must hold integer class indices, got dtype {target.dtype}")
        if n and (int(target.min()) < 0 or int(target.max()) >= c):
            bad = int(target[(target < 0) | (target >= c)][0])
            raise ValueError(f"cross_entropy: class index {bad} is out of range for {c} classes (expected 0..{c - 1})")
        if n == 0:
            raise ValueError("cross_entropy: the batch is empty")
        self.target = target = backend.like(target.astype(np.int64, copy=False), logits)
        if backend.is_cuda(logits):  # two launches instead of a dozen
            loss, self.log_probs = losses_cuda.cross_entropy(logits, target)
            return loss
        self.log_probs = _log_softmax(logits, axis=1)
        return -self.log_probs[xp.arange(n), target].mean()

    def backward(self, grad):
        if backend.is_cuda(grad):
            return (losses_cuda.cross_entropy_backward(self.log_probs, self.target, grad),)
        n = len(self.target)
        xp = backend.xp(self.log_probs)
        scale = (grad / n).astype(self.log_probs.dtype)
        # softmax * scale, minus scale at the targets: in PyTorch's order, so an inf
        # upstream gradient gives NaN at the targets as it does there, not -inf.
        g = xp.exp(self.log_probs) * scale
        g[xp.arange(n), self.target] -= scale
        return (g,)
