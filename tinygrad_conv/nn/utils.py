"""Gradient clipping, as ``torch.nn.utils``: call between ``backward()`` and ``step()``."""
import math

from .. import backend, checks
from ..tensor import Tensor


def _grads(parameters, where):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    try:
        parameters = list(parameters)
    except TypeError:
        raise TypeError(f"{where}: parameters must be a Tensor or an iterable of Tensors, got {type(parameters).__name__}") from None
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: parameter {i} must be a Tensor, got {type(p).__name__}")
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients together so that their joint ``norm_type``-norm (the norm of
    the per-parameter norms) is at most ``max_norm``; returns that norm before clipping
    as a Python float. Gradients are scaled by ``max_norm / (norm + 1e-6)`` when that is
    below 1, as in PyTorch. ``norm_type`` may be ``float("inf")`` (largest ``|g|``).
    A NaN norm makes every gradient NaN, as in PyTorch, unless ``error_if_nonfinite``
    (then a NaN or inf norm raises RuntimeError, nothing changed). ``foreach`` is accepted
    and ignored (one implementation)."""
    max_norm = checks.finite_number(max_norm, "max_norm", "clip_grad_norm_", minimum=0)
    error_if_nonfinite = checks.boolean(error_if_nonfinite, "error_if_nonfinite", "clip_grad_norm_")
    norm_type = float("inf") if norm_type == "inf" else checks.number(norm_type, "norm_type", "clip_grad_norm_")  # 'inf' as PyTorch
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be a positive number or inf, got {norm_type!r}")
    params = _grads(parameters, "clip_grad_norm_")
    if not params:
        return 0.0
    xp = backend.xp(params[0].grad.array)
    if math.isinf(norm_type):
        per_param = [float(xp.abs(p.grad.array).max()) if p.grad.numel() else 0.0 for p in params]
        total = math.nan if any(map(math.isnan, per_param)) else max(per_param)  # (Python's max drops NaN)
    else:
        per_param = [float((xp.abs(p.grad.array.astype(float, copy=False)) ** norm_type).sum()) for p in params]
        total = math.fsum(per_param) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}, so they cannot be "
            "clipped; set error_if_nonfinite=False to clip anyway"
        )
    coefficient = max_norm / (total + 1e-6)
    if not coefficient >= 1.0:  # (NaN too: every gradient becomes NaN, as PyTorch's clamp keeps NaN)
        for p in params:
            p.grad.array *= p.grad.dtype.type(coefficient)
    return total


def clip_grad_value_(parameters, clip_value):
    """Clip every gradient element to ``[-clip_value, clip_value]``, in place."""
    clip_value = checks.finite_number(clip_value, "clip_value", "clip_grad_value_", minimum=0)
    for p in _grads(parameters, "clip_grad_value_"):
        xp = backend.xp(p.grad.array)
        xp.clip(p.grad.array, -clip_value, clip_value, out=p.grad.array)
