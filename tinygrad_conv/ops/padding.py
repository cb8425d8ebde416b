"""``pad``: widen the last axes with a constant, their mirror image, or their edge values."""
import numpy as np

from .. import backend
from .base import Op

PAD_MODES = ("constant", "reflect", "replicate")
_NUMPY_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}


def _source_matrix(n, before, after, mode, dtype):
    """``(n + before + after, n)`` 0/1 matrix: row ``j`` marks the input position that
    output position ``j`` copies (an all-zero row for a constant pad position).
    ``out = M @ x`` along the axis, so the gradient is ``M.T @ grad``, which adds
    up every copy of an input (replicate copies an edge many times)."""
    source = np.pad(np.arange(n), (before, after), mode=_NUMPY_MODE[mode]) if mode != "constant" else (
        np.concatenate([np.full(before, -1), np.arange(n), np.full(after, -1)]))
    return (source[:, None] == np.arange(n)[None, :]).astype(dtype)


class Pad(Op):
    """Pad the last ``len(pad) // 2`` axes: ``pad = (left, right)`` for the last axis,
    ``(left, right, top, bottom)`` for the last two, as ``torch.nn.functional.pad``.
    ``(..., H, W) -> (..., H + top + bottom, W + left + right)``.

    Modes: ``"constant"`` (fill with ``value``), ``"reflect"`` (mirror without
    repeating the edge: ``[1, 2, 3] -> [3, 2, 1, 2, 3, 2, 1]``, each width below
    the axis length), ``"replicate"`` (repeat the edge: ``[1, 1, 1, 2, 3, 3, 3]``).
    """

    # The backward is a slice, or products with constant 0/1 matrices: linear in grad, with
    # operators and backend.xp(grad) functions only, so it runs on Tensors as written.
    saved = ()

    def forward(self, a, pad, mode="constant", value=0.0):
        widths = [(0, 0)] * a.ndim
        for k in range(len(pad) // 2):  # pad pairs run from the last axis backwards
            axis = a.ndim - 1 - k
            before, after = pad[2 * k], pad[2 * k + 1]
            if mode == "reflect" and max(before, after) >= a.shape[axis]:
                raise ValueError(
                    f"pad: reflect padding ({before}, {after}) must be smaller than the axis it pads, "
                    f"which has length {a.shape[axis]} (input shape {a.shape})"
                )
            if mode == "replicate" and a.shape[axis] == 0 and before + after:
                raise ValueError(f"pad: cannot replicate the edge of an empty axis (input shape {a.shape})")
            widths[axis] = (before, after)
        self.widths, self.mode, self.shape = widths, mode, a.shape
        xp = backend.xp(a)
        if mode == "constant":
            return xp.pad(a, widths, mode="constant", constant_values=a.dtype.type(value))
        return xp.pad(a, widths, mode=_NUMPY_MODE[mode])

    def backward(self, grad):
        if self.mode == "constant":  # the input is one block of the output
            return (grad[tuple(slice(b, b + n) for (b, _), n in zip(self.widths, self.shape))],)
        xp = backend.xp(grad)
        for axis, (before, after) in enumerate(self.widths):
            if before or after:
                m = backend.like(_source_matrix(self.shape[axis], before, after, self.mode, grad.dtype), grad)
                grad = xp.moveaxis(xp.moveaxis(grad, axis, -1) @ m, -1, axis)  # M.T @ grad along `axis`
        return (grad,)
