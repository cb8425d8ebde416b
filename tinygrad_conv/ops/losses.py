"""Losses, each one fused op with PyTorch's semantics and its stable gradient.

Reductions: ``"mean"``, ``"sum"`` or ``"none"`` (the per-element losses).

Regression losses on ``d = pred - target`` (equal shapes, never broadcast), one
pointwise rule each, reduced by the shared ``_Pointwise``:

    mse_loss        d**2                                   d' = 2 d
    l1_loss         |d|                                    d' = sign(d)
    smooth_l1_loss  d**2 / (2 beta) if |d| < beta          d' = d / beta
                    else |d| - beta / 2                         sign(d)

Classification losses with logits z ``(N, C)`` or ``(N, C, d1, ...)`` (classes on axis 1)
and log-probabilities ``L = log_softmax(z, axis=1)``: every form of cross-entropy is
``loss[n, ...] = -sum_c A[n, c, ...] L[n, c, ...]`` for a coefficient array A, and its
gradient is ``dz = softmax(z) * sum_c A - A`` (times the reduction's scale):

    class indices t:  A = (1 - eps) w[t] onehot(t) + eps / C * w     mean: / sum of w[t]
    probabilities p:  A = w ((1 - eps) p + eps / C)                   mean: / (size / C)

with class weights w (ones by default) and label smoothing eps, exactly as ATen's
``cross_entropy`` (targets equal to ``ignore_index`` count nowhere). ``nll_loss`` is
the same with the log-probabilities given: ``loss = -sum_c A L``, ``dL = -A``.
"""
import math

import numpy as np

from .. import backend, checks
from . import losses_cuda
from . import pointwise_f32 as f32
from .activation import rerun_backward
from .base import Op
from .elementwise import sign
from .nn_ops import _log_softmax

REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss, reduction, denominator=None):
    """Per-element ``loss`` reduced: summed, divided by ``denominator`` (default: its size) for "mean"."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    denominator = loss.size if denominator is None else denominator
    return total / denominator if denominator else total * float("nan")  # all ignored: NaN, as PyTorch


def _scale(grad, reduction, denominator):
    """dL/d(per-element loss) for a reduced loss: grad / denominator for "mean" (0 when nothing
    counted, as PyTorch's gradient then), grad for "sum"."""
    if reduction != "mean":
        return grad
    return grad / denominator if denominator else grad * 0


class _Pointwise:
    """A regression loss of ``d = pred - target``: ops mixing this in give ``rule(d) -> (loss,
    dloss/dd)``, and may give ``rule_sum(d) -> (sum of the losses, dloss/dd)`` for large float32
    arrays. (Not an Op itself, so the registry lists only the real losses.)"""

    def forward(self, pred, target, reduction="mean", **params):
        checks.one_of(reduction, REDUCTIONS, "reduction", self.name)
        checks.same_shape(pred, target, self.name, ("pred", "target"))
        self.reduction, self.params, self.count = reduction, params, pred.size
        d = pred - target
        if reduction != "none" and f32.takes(d) and hasattr(self, "rule_sum"):  # the total without the losses
            total, self.slope = self.rule_sum(d, **params)
            return total if reduction == "sum" else total / d.size
        loss, self.slope = self.rule(d, **params)
        return _reduce(loss, reduction)

    def backward(self, grad):
        scale = _scale(grad, self.reduction, self.count)
        g = self.slope * backend.xp(self.slope).asarray(scale, self.slope.dtype)
        return g, (-g if self.needs_input_grad[1] else None)

    def backward_graph(self, grad, out):
        # the same rule on Tensors: the slope recomputed from the inputs (its kinks are constant)
        pred, target = self.parents
        return rerun_backward(self, grad, slope=self.rule(pred - target, **self.params)[1])


class MSELoss(_Pointwise, Op):
    """``(pred - target)**2``, reduced; equal shapes only."""

    name = "mse_loss"

    def rule(self, d):
        return d * d, d * d.dtype.type(2)


class L1Loss(_Pointwise, Op):
    """``|pred - target|``, reduced; the gradient at 0 is 0, as PyTorch's."""

    name = "l1_loss"

    def rule(self, d):
        return abs(d), sign(d)  # (0 at NaN, as PyTorch's)


class SmoothL1Loss(_Pointwise, Op):
    """Huber-like: ``d**2 / (2 beta)`` where ``|d| < beta``, else ``|d| - beta / 2`` (beta=0: L1)."""

    name = "smooth_l1_loss"

    def rule(self, d, beta=1.0):
        beta = checks.finite_number(beta, "beta", "smooth_l1_loss", minimum=0)
        xp = backend.xp(d)
        if beta == 0:
            return abs(d), xp.sign(d)
        if f32.takes(d):  # Huber's passes (below), divided by beta: no where, no sign
            loss, slope = _clipped(d, beta)
            loss /= d.dtype.type(beta)
            slope /= d.dtype.type(beta)
            return loss, slope
        a = abs(d)
        small = a < beta
        loss = backend.where(small, d * d * d.dtype.type(0.5 / beta), a - d.dtype.type(beta / 2))
        return loss, backend.where(small, d * d.dtype.type(1 / beta), xp.sign(d))

    def rule_sum(self, d, beta=1.0):
        """Huber's sum and slope (two dot products) divided by beta; beta = 0 is L1's rule."""
        if checks.finite_number(beta, "beta", "smooth_l1_loss", minimum=0) == 0:
            loss, slope = self.rule(d, beta)
            return loss.sum(), slope
        total, slope = _clipped_sum(d, beta)
        slope /= d.dtype.type(beta)
        return d.dtype.type(total / beta), slope


def class_weights(weight, C, ref, op):
    """The per-class weight array ``(C,)`` on ``ref``'s device and dtype (None stays None: all 1)."""
    if weight is None:
        return None
    weight = weight if backend.is_cuda(weight) else np.asarray(weight)
    if weight.shape != (C,):
        raise ValueError(f"{op}: weight shape {weight.shape} must be ({C},), one per class")
    return backend.like(weight, ref).astype(ref.dtype, copy=False)


def class_indices(target, scores, op, ignore_index):
    """``target`` checked as integer class indices for ``scores (N, C, ...)``: shape ``(N, ...)``,
    each in ``[0, C)`` or equal to ``ignore_index``. Returns it as int64 on the scores' device,
    and whether some entry is ``ignore_index``."""
    target = target if backend.is_cuda(target) else np.asarray(target)  # checked where it is
    expected = scores.shape[:1] + scores.shape[2:]
    if target.shape != expected:
        raise ValueError(f"{op}: target shape {target.shape} must be {expected} for input shape {scores.shape}")
    if target.dtype.kind == "f":
        if not bool((target == target.round()).all()):
            raise ValueError(f"{op}: target must hold integer class indices (or probabilities shaped like the input)")
        target = target.astype(np.int64)
    elif target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got dtype {target.dtype}")
    C = scores.shape[1]
    lo, hi = (int(target.min()), int(target.max())) if target.size else (0, 0)  # (an empty batch: nothing to check)
    if lo < 0 or hi >= C:
        bad = ((target < 0) | (target >= C)) & (target != ignore_index)
        if bool(bad.any()):
            raise ValueError(
                f"{op}: class index {int(target[bad][0])} is out of range for {C} classes (expected 0..{C - 1}"
                f" or ignore_index={ignore_index})"
            )
    ignored = lo <= ignore_index <= hi and bool((target == ignore_index).any())
    return backend.like(target.astype(np.int64, copy=False), scores), ignored


def smoothing_share(eps, C):
    """Label smoothing's share for each of C classes, ``eps / C`` (any number when C = 0: it then
    multiplies an empty class axis; the NaN PyTorch gives there is ``empty_class_loss``'s)."""
    return eps / max(C, 1)


def probability_rows(size, C):
    """What "mean" divides by for probability targets, ``size / C`` (the rows): 0 when C = 0, so
    the mean is NaN, as PyTorch's 0 / (0 / 0)."""
    return size // C if C else 0


def empty_class_loss(loss, eps, C):
    """The per-element loss for class-index targets when there is no class at all: PyTorch adds
    label smoothing as ``eps / C * (a sum over the classes)``, inf times an empty sum, so with
    ``eps > 0`` every element is NaN (ignored ones too); without smoothing, the loss is untouched."""
    if eps and not C:
        return loss + backend.xp(loss).asarray(np.nan, loss.dtype)
    return loss


def index_coefficients(target, ignore_index, ignored, weight, eps, shape, dtype):
    """A for class-index targets (see the module docstring) and the "mean" denominator.
    ``shape``: the scores'; ``ignored``: whether some target is ``ignore_index`` (its row of A is 0)."""
    xp = backend.xp(target)
    C = shape[1]
    classes = (1, C) + (1,) * (len(shape) - 2)  # classes on axis 1
    if ignored:
        keep = target != ignore_index
        target = backend.where(keep, target, 0)
    onehot = xp.arange(C).reshape(classes) == xp.expand_dims(target, 1)
    if weight is None and not ignored and not eps:  # the common case: A is the one-hot
        return onehot.astype(dtype), target.size
    w = xp.ones(C, dtype) if weight is None else weight
    w_t = w[target] if C else xp.zeros(target.shape, dtype)  # (N, ...); no class: every target was ignore_index
    w_t = w_t * keep if ignored else w_t
    A = onehot * xp.expand_dims(w_t * dtype.type(1 - eps), 1)
    if eps:
        smooth = w.reshape(classes) * dtype.type(smoothing_share(eps, C))
        A = A + (smooth * xp.expand_dims(keep, 1) if ignored else smooth)
    return A, w_t.sum()


def _target_positions(target, shape):
    """The flat position, in an array of ``shape`` ``(N, C, d1, ...)``, of each target's class
    (``target`` ``(N, d1, ...)`` of valid class indices), ``(N * d1 * ...,)``."""
    N, C, L = shape[0], shape[1], math.prod(shape[2:])
    rows = target.reshape(N, L) * L + np.arange(L)
    rows += (np.arange(N) * (C * L))[:, None]
    return rows.reshape(-1)


def _check_classes(scores, op, reduction, label_smoothing=0.0):
    checks.one_of(reduction, REDUCTIONS, "reduction", op)
    if scores.ndim < 2:
        raise ValueError(f"{op}: input must be (N, C) or (N, C, d1, ...), got shape {scores.shape}")
    eps = checks.finite_number(label_smoothing, "label_smoothing", op, minimum=0)
    if eps > 1:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {eps}")
    return eps


class CrossEntropy(Op):
    """Cross-entropy of logits ``(N, C)`` or ``(N, C, d1, ...)`` against class indices
    ``(N, d1, ...)`` or class probabilities shaped like the logits (parameters, not
    differentiated), as ``torch.nn.functional.cross_entropy``:
    ``CrossEntropy.apply(logits, target=t, weight=None, reduction="mean",
    label_smoothing=0.0, ignore_index=-100)``."""

    def forward(self, logits, target, weight=None, reduction="mean", label_smoothing=0.0, ignore_index=-100):
        op = "cross_entropy"
        eps = _check_classes(logits, op, reduction, label_smoothing)
        C = logits.shape[1]
        w = class_weights(weight, C, logits, op)
        target_ndim = getattr(target, "ndim", np.ndim(target))
        if target_ndim == logits.ndim:  # class probabilities
            target = backend.like(target if backend.is_cuda(target) else np.asarray(target), logits)
            if target.shape != logits.shape:
                raise ValueError(
                    f"{op}: a probability target must have the logits' shape {logits.shape}, got {target.shape}"
                )
            if target.dtype.kind != "f":
                raise TypeError(f"{op}: a probability target must be floating point, got dtype {target.dtype}")
            target = target.astype(logits.dtype, copy=False)
            if eps:
                target = target * logits.dtype.type(1 - eps) + logits.dtype.type(smoothing_share(eps, C))
            A = target if w is None else target * w.reshape((1, C) + (1,) * (logits.ndim - 2))
            denominator, self.unit_rows, self.onehot = probability_rows(logits.size, C), False, False
        else:
            target, ignored = class_indices(target, logits, op, ignore_index)
            if backend.is_cuda(logits) and logits.ndim == 2 and w is None and not (ignored or eps) \
                    and reduction == "mean":  # the common case in two launches instead of a dozen
                self.target = target
                loss, self.log_probs = losses_cuda.cross_entropy(logits, target)
                return loss
            if type(logits) is np.ndarray and w is None and not (ignored or eps):  # the common case
                return self._forward_picked(logits, target, reduction)
            A, denominator = index_coefficients(target, ignore_index, ignored, w, eps, logits.shape, logits.dtype)
            self.unit_rows = w is None and not ignored  # every row of A sums to 1
            self.onehot = self.unit_rows and not eps
        self.log_probs, self.A, self.reduction = _log_softmax(logits, axis=1), A, reduction
        self.denominator = denominator
        with np.errstate(invalid="ignore"):  # 0 * -inf at a masked class (logit -inf): replaced next
            terms = A * self.log_probs
        terms = backend.where(A == 0, 0, terms)  # a masked class adds 0, as in PyTorch
        loss = -terms.sum(axis=1)
        if target.ndim < logits.ndim:  # class indices
            loss = empty_class_loss(loss, eps, C)
        return _reduce(loss, reduction, denominator)

    def _forward_picked(self, logits, target, reduction):
        """Class indices, no weights, smoothing or ignored targets (NumPy): the loss is minus
        each target's log-probability, picked at its flat position (no one-hot matrix, no
        ``where`` over every class). The same values as the one-hot rule, NaN and inf included."""
        self.log_probs, self.target, self.reduction = _log_softmax(logits, axis=1), target, reduction
        self.A, self.unit_rows, self.onehot, self.denominator = None, True, True, target.size
        self.picked = _target_positions(target, logits.shape)
        loss = -self.log_probs.reshape(-1)[self.picked].reshape(target.shape)
        return _reduce(loss, reduction, self.denominator)

    def backward(self, grad):
        picked = getattr(self, "picked", None)
        if picked is not None and type(self.log_probs) is np.ndarray:  # _forward_picked's case
            softmax = np.exp(self.log_probs)
            with np.errstate(invalid="ignore"):  # (inf - inf = NaN at a target, as PyTorch's, silently)
                if self.reduction == "none":  # softmax * scale, minus scale at the targets (as below)
                    s = softmax * np.expand_dims(grad, 1)
                    s.reshape(-1)[picked] -= grad.reshape(-1)
                else:
                    scale = np.asarray(_scale(grad, self.reduction, self.denominator), softmax.dtype)
                    s = softmax * scale
                    s.reshape(-1)[picked] -= scale
            return (s,)
        if getattr(self, "A", None) is None:  # the CUDA kernel's case
            return (losses_cuda.cross_entropy_backward(self.log_probs, self.target, grad),)
        xp, A = backend.xp(self.log_probs), self.A
        softmax = xp.exp(self.log_probs)
        if self.reduction == "none":
            scale = xp.expand_dims(grad, 1)
        else:
            scale = xp.asarray(_scale(grad, self.reduction, self.denominator), softmax.dtype)
        # In PyTorch's order, so an inf upstream gradient gives what it gives there: for a
        # one-hot A, softmax * scale minus scale at the targets only (inf - inf = NaN there).
        if self.onehot:
            s = softmax * scale
            return (backend.where(A != 0, s - scale, s),)
        if (xp is np or backend.is_cuda(scale)) and not bool(xp.isfinite(scale).all()):
            # an infinite or NaN upstream gradient: in PyTorch's order only the nonzero
            # coefficients meet it (its nll_loss scatters them), so 0 * inf adds no NaN
            with np.errstate(invalid="ignore"):  # (NaN where PyTorch's is, silently)
                g = A * scale
                g = backend.where(A != 0, g, xp.zeros((), g.dtype))
                return (softmax * g.sum(axis=1, keepdims=True) - g,)
        if not self.unit_rows:
            softmax = softmax * A.sum(axis=1, keepdims=True)
        return (softmax * scale - A * scale,)

    def backward_graph(self, grad, out):
        # A is constant; the log-probabilities are recomputed on Tensors (log_softmax's own
        # backward is differentiable), then the same rule runs
        log_probs = self.parents[0].log_softmax(axis=1)
        if getattr(self, "picked", None) is not None:  # _forward_picked's case: the one-hot rule on Tensors
            A, _ = index_coefficients(self.target, -100, False, None, 0.0, self.log_probs.shape, self.log_probs.dtype)
            return rerun_backward(self, grad, log_probs=log_probs, A=A, picked=None)
        if getattr(self, "A", None) is None:  # forward ran the CUDA kernel: its case, as arrays
            A, denominator = index_coefficients(self.target, -100, False, None, 0.0, self.log_probs.shape,
                                                self.log_probs.dtype)
            return rerun_backward(self, grad, log_probs=log_probs, A=A, denominator=denominator, reduction="mean",
                                  unit_rows=True, onehot=True)
        return rerun_backward(self, grad, log_probs=log_probs)


class NLLLoss(Op):
    """Negative log-likelihood of log-probabilities ``(N, C)`` or ``(N, C, d1, ...)`` at class
    indices ``(N, d1, ...)``, as ``torch.nn.functional.nll_loss``: ``-w[t] L[n, t]``, the mean
    divided by the summed weights. ``NLLLoss.apply(log_probs, target=t, weight=None,
    reduction="mean", ignore_index=-100)``."""

    name = "nll_loss"
    saved = ()  # the rule is linear in grad, with constant coefficients

    def forward(self, log_probs, target, weight=None, reduction="mean", ignore_index=-100):
        op = "nll_loss"
        _check_classes(log_probs, op, reduction)
        C = log_probs.shape[1]
        w = class_weights(weight, C, log_probs, op)
        target, ignored = class_indices(target, log_probs, op, ignore_index)
        self.A, self.denominator = index_coefficients(target, ignore_index, ignored, w, 0.0, log_probs.shape,
                                                      log_probs.dtype)
        self.reduction = reduction
        with np.errstate(invalid="ignore"):  # 0 * NaN/inf at a class no target picks: replaced next
            terms = self.A * log_probs
        terms = backend.where(self.A == 0, 0, terms)  # only the picked classes count, as PyTorch
        return _reduce(-terms.sum(axis=1), reduction, self.denominator)

    def backward(self, grad):
        xp = backend.xp(grad)
        if self.reduction == "none":
            g = -self.A * xp.expand_dims(grad, 1)
        else:
            g = self.A * xp.asarray(-_scale(grad, self.reduction, self.denominator), self.A.dtype)
        # classes outside A get exactly 0, as PyTorch's scatter gives them (0 * NaN would be NaN)
        return (backend.where(self.A != 0, g, g.dtype.type(0)),)


class BinaryCrossEntropyWithLogits(Op):
    """``-[pw y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))]`` per element, reduced, with
    ``pos_weight`` pw (broadcast along the last axis, default 1) and each element's loss times
    ``weight`` (broadcast), as ``torch.nn.functional.binary_cross_entropy_with_logits``. Stable for
    any x: ``(1 - y) x + (1 + (pw - 1) y) softplus(-x)``, ``softplus(-x) = max(-x, 0) + log1p(exp(-|x|))``.
    ``BinaryCrossEntropyWithLogits.apply(logits, target, reduction="mean", pos_weight=None, weight=None)``."""

    name = "binary_cross_entropy_with_logits"

    def forward(self, x, y, reduction="mean", pos_weight=None, weight=None):
        op = self.name
        checks.one_of(reduction, REDUCTIONS, "reduction", op)
        checks.same_shape(x, y, op, ("logits", "target"))
        xp, one = backend.xp(x), x.dtype.type(1)
        pw_1 = x.dtype.type(0)  # pw - 1
        if pos_weight is not None:
            pw_1 = _weight(pos_weight, x, op, "pos_weight", "logits'") - one
        e = xp.exp(-abs(x))
        softplus = xp.maximum(-x, 0) + xp.log1p(e)  # softplus(-x) = -log sigmoid(x)
        lw = pw_1 * y + one  # 1 + (pw - 1) y
        self.x, self.y, self.lw, self.pw_1, self.softplus = x, y, lw, pw_1, softplus
        self.sig_neg = backend.where(x >= 0, e, one) / (one + e)  # sigmoid(-x), no overflow
        self.reduction, self.count = reduction, x.size
        self.w = _weight(weight, x, op, of="logits'")  # issue 19: a per-element weight, broadcast
        loss = (one - y) * x + lw * softplus
        return _reduce(loss if self.w is None else loss * self.w, reduction)

    def backward(self, grad):
        x, one = self.x, self.x.dtype.type(1)
        scale = backend.xp(x).asarray(_scale(grad, self.reduction, self.count), x.dtype)
        if self.w is not None:
            scale = scale * self.w
        dx = (one - self.y - self.lw * self.sig_neg) * scale
        dy = (self.pw_1 * self.softplus - x) * scale if self.needs_input_grad[1] else None
        return dx, dy

    def backward_graph(self, grad, out):
        # what forward derived from x and y, recomputed on Tensors; then the same rule
        x, y = self.parents
        softplus = (-x).relu() + (1 + (-x.abs()).exp()).log()  # softplus(-x), stable
        return rerun_backward(self, grad, x=x, y=y, lw=self.pw_1 * y + 1, softplus=softplus,
                              sig_neg=(-x).sigmoid())


# ----- issue 19: Huber, binary cross-entropy on probabilities, KL divergence ----------------------
class HuberLoss(_Pointwise, Op):
    """``d**2 / 2`` where ``|d| < delta``, else ``delta (|d| - delta / 2)``: smooth L1 times delta."""

    name = "huber_loss"

    def rule(self, d, delta=1.0):
        if f32.takes(d):
            return _clipped(d, delta)
        xp, a = backend.xp(d), abs(d)
        small = a < delta
        loss = backend.where(small, d * d * d.dtype.type(0.5), (a - d.dtype.type(delta / 2)) * d.dtype.type(delta))
        return loss, backend.where(small, d, xp.sign(d) * d.dtype.type(delta))

    def rule_sum(self, d, delta=1.0):
        return _clipped_sum(d, delta)


# Huber's loss on large float32 arrays (smooth L1 divides both by beta): the same values
# without where (~3 ms each on 512k values here), from the clipped slope c = clip(d, -delta, delta)
def _clipped(d, delta):
    """The losses ``|c| (|d| - |c| / 2)`` and the slope c (+-delta from |d| = delta on; NaN stays NaN)."""
    slope = np.clip(d, -delta, delta)
    c = np.abs(slope)
    loss = c * d.dtype.type(0.5)
    np.subtract(np.abs(d), loss, out=loss)
    loss *= c
    return loss, slope


def _clipped_sum(d, delta):
    """The sum of the losses as ``sum(c d) - sum(c c) / 2`` (``c d = |c| |d|``): two dot
    products, no array of losses; at most half is subtracted, so nothing cancels."""
    slope = np.clip(d, -delta, delta)
    return d.dtype.type(f32.dot(slope, d) - f32.dot(slope, slope) / 2), slope


def _weight(weight, like, op, name="weight", of="input's"):
    """An optional per-element weight array broadcast against ``like`` (on its device, in its dtype)."""
    if weight is None:
        return None
    w = backend.like(weight if backend.is_cuda(weight) else np.asarray(weight), like).astype(like.dtype, copy=False)
    if w.ndim > like.ndim or any(a not in (1, b) for a, b in zip(w.shape[::-1], like.shape[::-1])):
        raise ValueError(f"{op}: {name} shape {w.shape} does not broadcast to the {of} shape {like.shape}")
    return w


class BinaryCrossEntropy(Op):
    """``-w [y log x + (1 - y) log(1 - x)]`` on probabilities x in [0, 1], each log clamped
    at -100 as PyTorch's, reduced. d/dx = ``w (x - y) / max(x (1 - x), 1e-12)``,
    d/dy = ``w (log(1 - x) - log x)`` (not clamped, as PyTorch's). ``weight`` broadcasts to x."""

    saved = ("x", "y")

    def forward(self, x, y, weight=None, reduction="mean"):
        op = self.name
        checks.one_of(reduction, REDUCTIONS, "reduction", op)
        checks.same_shape(x, y, op, ("input", "target"))
        if x.size and not bool(((x >= 0) & (x <= 1)).all()):
            raise ValueError(f"{op}: all elements of input should be between 0 and 1 (probabilities; "
                             "for logits use binary_cross_entropy_with_logits)")
        self.x, self.y, self.w = x, y, _weight(weight, x, op)
        self.reduction, self.count = reduction, x.size
        xp = backend.xp(x)
        with np.errstate(divide="ignore"):  # log 0 = -inf, clamped next
            log_x, log_1mx = xp.maximum(xp.log(x), -100), xp.maximum(xp.log1p(-x), -100)
        loss = -(y * log_x + (1 - y) * log_1mx)
        return _reduce(loss if self.w is None else loss * self.w, reduction)


    def backward(self, grad):
        xp, x, y = backend.xp(grad), self.x, self.y
        scale = grad if self.reduction == "none" else xp.asarray(_scale(grad, self.reduction, self.count), x.dtype)
        if self.w is not None:
            scale = scale * self.w
        dx = scale * (x - y) / xp.maximum(x * (1 - x), 1e-12)
        dy = None
        if self.needs_input_grad[1]:  # PyTorch's logs here are not clamped: ±inf at x = 0 or 1
            with np.errstate(divide="ignore"):
                dy = scale * (xp.log1p(-x) - xp.log(x))
        return dx, dy


class KLDiv(Op):
    """Pointwise KL divergence of log-probabilities x from a target t, as
    ``torch.nn.functional.kl_div``: ``t (log t - x)`` (``xlogy``: 0 where t = 0), or with
    ``log_target`` ``exp(t) (t - x)``; reduced by "mean", "sum", "none" or "batchmean" (the sum
    over the first axis's length). x and t broadcast."""

    name = "kl_div"
    saved = ("x", "t")

    def forward(self, x, t, reduction="mean", log_target=False):
        op = self.name
        checks.one_of(reduction, REDUCTIONS + ("batchmean",), "reduction", op)
        xp = backend.xp(x)
        self.x, self.t, self.log_target = x, t, log_target
        with np.errstate(divide="ignore", invalid="ignore"):
            try:
                loss = xp.exp(t) * (t - x) if log_target else backend.where(t == 0, 0, t * xp.log(t)) - t * x
            except ValueError:
                raise ValueError(f"{op}: input shape {x.shape} and target shape {t.shape} do not broadcast") from None
        self.shape = loss.shape
        self.reduction, self.denominator = reduction, loss.size
        if reduction == "batchmean":
            self.reduction, self.denominator = ("mean", x.shape[0]) if x.ndim else ("sum", None)
        return _reduce(loss, self.reduction, self.denominator)

    def backward(self, grad):
        xp, x, t = backend.xp(grad), self.x, self.t
        scale = grad if self.reduction == "none" else xp.asarray(_scale(grad, self.reduction, self.denominator), x.dtype)
        e = xp.exp(t) if self.log_target else t
        dx = xp.broadcast_to(-e * scale, self.shape)
        dt = None
        if self.needs_input_grad[1]:
            if self.log_target:
                dt = e * (t - x + 1) * scale
            else:  # xlogy(t, t)'s derivative as PyTorch takes it: log t (0 at t = 0) + t / t
                with np.errstate(divide="ignore", invalid="ignore"):
                    dt = (backend.where(t == 0, 0, xp.log(t)) + t / t - x) * scale
            dt = xp.broadcast_to(dt, self.shape)
        return dx, dt
