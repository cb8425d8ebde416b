"""Ops that move data without arithmetic: reshape, transpose, indexing, device copies."""
import numpy as np

from .. import backend, checks
from .base import Op
from ..tensor import Tensor


class ToDevice(Op):
    """A copy of ``a`` on ``device`` ("cpu" or "cuda:N"); the gradient goes back to ``a``'s device."""

    def forward(self, a, device):
        self.source = backend.device_of(a)
        return backend.to_device(a, device)

    def backward(self, grad):
        return (backend.to_device(grad, self.source),)


class Reshape(Op):
    def forward(self, a, shape):
        self.shape = a.shape
        try:
            return a.reshape(shape)
        except (ValueError, TypeError) as e:
            raise ValueError(f"reshape: cannot reshape shape {a.shape} (size {a.size}) into {shape}: {e}") from None

    def backward(self, grad):
        return (grad.reshape(self.shape),)


class Transpose(Op):
    """Permute axes like ``np.transpose``; ``axes=None`` reverses them."""

    def forward(self, a, axes=None):
        if axes is not None and sorted(int(x) % max(a.ndim, 1) for x in axes) != list(range(a.ndim)):
            raise ValueError(f"transpose: axes {tuple(axes)} are not a permutation of the {a.ndim} axes of shape {a.shape}")
        self.axes = axes
        return backend.xp(a).transpose(a, axes)

    def backward(self, grad):
        inverse = None if self.axes is None else tuple(np.argsort([int(x) % grad.ndim for x in self.axes]).tolist())
        return (backend.xp(grad).transpose(grad, inverse),)


def _index_arrays(index, a):
    """Tensors and lists inside an index become arrays on ``a``'s device. Returns the
    index and whether integer arrays are in it (their repeats must add up in backward).

    A float index (a number, a float array, or a Tensor, which holds floats) is a
    ``TypeError``; boolean arrays (``x[x > 0]``) select by mask.
    """
    parts = index if isinstance(index, tuple) else (index,)
    has_int_array = False
    out = []
    for p in parts:
        if isinstance(p, Tensor):
            raise TypeError(
                f"getitem: a Tensor index holds floats (shape {p.shape}); index with an integer or "
                "boolean array instead, e.g. t.argmax(...) or t > 0"
            )
        if isinstance(p, (float, np.floating)):
            raise TypeError(f"getitem: indices must be integers, slices or boolean masks, got float {p!r}")
        if isinstance(p, (list, np.ndarray)) or backend.is_cuda(p):
            p = backend.like(p if backend.is_cuda(p) else np.asarray(p), a)
            if p.dtype.kind not in "biu":
                raise TypeError(f"getitem: index arrays must be integer or boolean, got dtype {p.dtype}")
            has_int_array = has_int_array or p.dtype.kind != "b"
        out.append(p)
    return (tuple(out) if isinstance(index, tuple) else out[0]), has_int_array


class GetItem(Op):
    """``a[index]`` with basic (ints, slices, None, ...), integer-array and boolean-mask indexing."""

    name = "getitem"

    def forward(self, a, index):
        index, self.advanced = _index_arrays(index, a)
        self.index, self.shape, self.dtype = index, a.shape, a.dtype
        try:
            return a[index]
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor shape {a.shape})") from None

    def backward(self, grad):
        xp = backend.xp(grad)
        g = xp.zeros(self.shape, dtype=self.dtype)
        if self.advanced:  # repeated integer indices must add up; masks become their positions
            index = self.index if isinstance(self.index, tuple) else (self.index,)
            index = tuple(q for p in index for q in (p.nonzero() if getattr(p, "dtype", None) == bool else (p,)))
            xp.add.at(g, index, grad)
        else:
            g[self.index] = grad
        return (g,)


# ----- joining and splitting ------------------------------------------------------------------
def _check_joinable(arrays, axis, op, same_axis_size):
    """The shapes of ``arrays`` must agree on every axis except ``axis`` (cat) or on all (stack)."""
    if not arrays:
        raise ValueError(f"{op}: expected at least one tensor, got none")
    first = arrays[0].shape
    for i, a in enumerate(arrays[1:], 1):
        rest = [d for k, d in enumerate(a.shape) if same_axis_size or k != axis]
        rest0 = [d for k, d in enumerate(first) if same_axis_size or k != axis]
        if a.ndim != len(first) or rest != rest0:
            what = "all axes" if same_axis_size else f"every axis but {axis}"
            raise ValueError(f"{op}: tensor {i} has shape {a.shape} but tensor 0 has {first}; they must agree on {what}")


class Cat(Op):
    """Join ``(..., n_i, ...)`` arrays along ``axis`` into ``(..., sum n_i, ...)``;
    each input gets back its own slice of the gradient."""

    def forward(self, *arrays, axis=0):
        self.axis = checks.axis(axis, arrays[0].ndim if arrays else 1, "cat")
        _check_joinable(arrays, self.axis, "cat", same_axis_size=False)
        self.bounds = np.cumsum([0] + [a.shape[self.axis] for a in arrays]).tolist()
        return backend.xp(arrays[0]).concatenate(arrays, axis=self.axis)

    def backward(self, grad):
        lead = (slice(None),) * self.axis
        return tuple(grad[lead + (slice(lo, hi),)] for lo, hi in zip(self.bounds, self.bounds[1:]))


class Stack(Op):
    """Join equal-shaped arrays ``S`` along a new ``axis``: ``k x S -> (..., k, ...)``."""

    def forward(self, *arrays, axis=0):
        self.axis = checks.axis(axis, arrays[0].ndim + 1 if arrays else 1, "stack")
        _check_joinable(arrays, None, "stack", same_axis_size=True)
        return backend.xp(arrays[0]).stack(arrays, axis=self.axis)

    def backward(self, grad):
        lead = (slice(None),) * self.axis
        return tuple(grad[lead + (i,)] for i in range(grad.shape[self.axis]))
