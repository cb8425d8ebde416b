"""Ops that move data without arithmetic: reshape, transpose, indexing."""
import numpy as np

from .base import Op
from ..tensor import Tensor


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
        return np.transpose(a, axes)

    def backward(self, grad):
        inverse = None if self.axes is None else np.argsort([int(x) % grad.ndim for x in self.axes])
        return (np.transpose(grad, inverse),)


def _index_arrays(index):
    """Tensors inside an index become integer arrays; report if any array index is present."""
    parts = index if isinstance(index, tuple) else (index,)
    has_array = False
    out = []
    for p in parts:
        if isinstance(p, Tensor):
            p = p.data.astype(np.int64) if p.dtype.kind == "f" else p.data
        if isinstance(p, (list, np.ndarray)):
            p = np.asarray(p)
            has_array = True
        out.append(p)
    return (tuple(out) if isinstance(index, tuple) else out[0]), has_array


class GetItem(Op):
    """``a[index]`` with basic (ints, slices, None, ...) and integer-array indexing."""

    name = "getitem"

    def forward(self, a, index):
        index, self.advanced = _index_arrays(index)
        self.index, self.shape, self.dtype = index, a.shape, a.dtype
        try:
            return a[index]
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor shape {a.shape})") from None

    def backward(self, grad):
        g = np.zeros(self.shape, dtype=self.dtype)
        if self.advanced:
            np.add.at(g, self.index, grad)  # repeated indices must add up
        else:
            g[self.index] = grad
        return (g,)
