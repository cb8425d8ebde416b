"""Ops that move data without arithmetic: reshape, transpose, indexing, device copies."""
import numpy as np

from .. import backend
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
    """Tensors inside an index become integer arrays on ``a``'s device; report if any
    array index is present."""
    parts = index if isinstance(index, tuple) else (index,)
    has_array = False
    out = []
    for p in parts:
        if isinstance(p, Tensor):
            p = p.data.astype(np.int64) if p.dtype.kind == "f" else p.data
        if isinstance(p, (list, np.ndarray)) or backend.is_cuda(p):
            p = backend.like(p if backend.is_cuda(p) else np.asarray(p), a)
            has_array = True
        out.append(p)
    return (tuple(out) if isinstance(index, tuple) else out[0]), has_array


class GetItem(Op):
    """``a[index]`` with basic (ints, slices, None, ...) and integer-array indexing."""

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
        if self.advanced:
            xp.add.at(g, self.index, grad)  # repeated indices must add up
        else:
            g[self.index] = grad
        return (g,)
