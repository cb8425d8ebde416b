"""``tc.detect_anomaly()``: stop at the first op that makes a NaN, and say where.

Inside the context, every op checks its forward output (in ``Op.apply``) and
the gradients its backward returns (in ``Tensor.backward``) for NaN and raises
``AnomalyError`` naming the op, its input shapes and the line of YOUR code that
called it (the first stack frame outside tinygrad_conv). For backward, that
line is recorded at forward time, so the error points at the forward call
whose backward went wrong. Outside the context the only cost is one flag read
per op (``anomaly.enabled``). Like PyTorch's, the mode is process-wide.
"""
import os
import sys

from . import backend
from .grad_mode import switch

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class AnomalyError(FloatingPointError):
    """An op produced NaN inside ``tc.detect_anomaly()``."""


enabled = False  # read by every op call: a module global is the cheapest read


class detect_anomaly(switch):
    """Context manager and decorator: the first op whose forward or backward produces
    NaN raises ``tc.AnomalyError``.

    >>> with tc.detect_anomaly():
    ...     loss = model(x).log().mean()
    ...     loss.backward()       # raises at the op that made the NaN
    """

    def __enter__(self):
        global enabled
        self._previous, enabled = enabled, True
        return self

    def _restore(self):
        global enabled
        enabled = self._previous


def user_site():
    """``"file:line"`` of the innermost caller outside tinygrad_conv."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _has_nan(a):
    if getattr(a, "dtype", None) is None or a.dtype.kind not in "fc":  # None, or no floats
        return False
    return bool(backend.xp(a).isnan(a).any())  # NumPy or CuPy


def checked_forward(op, arrays, params):
    """``op.forward`` as ``Op.apply`` runs it in anomaly mode: raise if its output holds
    NaN, else remember where the op was called for its backward. Arrays the op updates in
    place (``op.updates``) are updated on copies, written back only after the check."""
    staged = {k: params[k] for k in op.updates if params.get(k) is not None}
    if staged:
        params = dict(params, **{k: a.copy() for k, a in staged.items()})
    out = op.forward(*arrays, **params)
    op.anomaly_site = user_site(), [tuple(a.shape) for a in arrays]
    if _has_nan(out):
        site, shapes = op.anomaly_site
        raise AnomalyError(f"anomaly: op {op.name!r} produced NaN in its forward; input shapes {shapes}; called at {site}")
    for k, a in staged.items():
        a[...] = params[k]
    return out


def check_backward(op, grads):
    """Called by ``Tensor.backward`` in anomaly mode, after ``op.backward``."""
    for i, (g, needed) in enumerate(zip(grads, op.needs_input_grad)):
        if needed and _has_nan(g):
            site, shapes = getattr(op, "anomaly_site", ("<unknown: the forward ran outside detect_anomaly>", "?"))
            raise AnomalyError(
                f"anomaly: op {op.name!r} produced NaN in its backward (the gradient of input {i}); "
                f"input shapes {shapes}; the forward was called at {site}"
            )
