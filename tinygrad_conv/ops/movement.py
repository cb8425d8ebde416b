"""Ops that move data without arithmetic: reshape, transpose, indexing, device copies."""
import numpy as np

from .. import backend, checks
from .base import Op, unbroadcast
from ..tensor import Tensor


class ToDevice(Op):
    """A copy of ``a`` on ``device`` ("cpu" or "cuda:N"); the gradient goes back to ``a``'s device."""

    def forward(self, a, device):
        self.source = backend.device_of(a)
        return backend.to_device(a, device)

    def backward(self, grad):
        return (backend.to_device(grad, self.source),)

    def backward_graph(self, grad, out):
        return (grad.to(self.source),)


class Reshape(Op):
    saved = ()

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
    saved = ()

    def forward(self, a, axes=None):
        if axes is not None and sorted(int(x) % max(a.ndim, 1) for x in axes) != list(range(a.ndim)):
            raise ValueError(f"transpose: axes {tuple(axes)} are not a permutation of the {a.ndim} axes of shape {a.shape}")
        self.axes = axes
        return backend.xp(a).transpose(a, axes)

    def backward(self, grad):
        inverse = None if self.axes is None else tuple(np.argsort([int(x) % grad.ndim for x in self.axes]).tolist())
        return (backend.xp(grad).transpose(grad, inverse),)


def index_arrays(index, a):
    """Tensors and lists inside an index become arrays on ``a``'s device. Returns the
    index and whether integer arrays are in it (their repeats must add up in backward).

    Integer and bool tensors index (``x[idx]``, ``x[x > 0]``); a float index (a
    number, a float array or a float tensor) is a ``TypeError``.
    """
    parts = index if isinstance(index, tuple) else (index,)
    has_int_array = False
    out = []
    for p in parts:
        if isinstance(p, Tensor):
            if p.ndim == 0 and p.dtype.kind in "iu":  # a 0-d integer tensor indexes as an int
                p = int(p.array)
            else:
                p = p.array
        if isinstance(p, (float, np.floating)):
            raise TypeError(f"getitem: indices must be integers, slices or boolean masks, got float {p!r}")
        if isinstance(p, (list, np.ndarray)) or backend.is_cuda(p):
            empty_list = isinstance(p, list) and not p  # x[[]]: no rows (NumPy would make it float)
            p = backend.like(p if backend.is_cuda(p) else np.asarray(p, np.int64 if empty_list else None), a)
            if p.dtype.kind not in "biu":
                raise TypeError(f"getitem: index tensors must be integer or bool, got dtype {p.dtype}")
            has_int_array = has_int_array or p.dtype.kind != "b"
        out.append(p)
    return (tuple(out) if isinstance(index, tuple) else out[0]), has_int_array


class GetItem(Op):
    """``a[index]`` with basic (ints, slices, None, ...), integer-array and boolean-mask indexing."""
    saved = ()

    name = "getitem"

    def forward(self, a, index):
        index, self.advanced = index_arrays(index, a)
        self.index, self.shape, self.dtype = index, a.shape, a.dtype
        try:
            return a[index]
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor shape {a.shape})") from None

    def backward(self, grad):
        g = backend.zeros(self.shape, self.dtype, like=grad)
        if self.advanced:  # repeated integer indices must add up; masks become their positions
            index = self.index if isinstance(self.index, tuple) else (self.index,)
            index = tuple(q for p in index for q in (p.nonzero() if getattr(p, "dtype", None) == bool else (p,)))
            return (index_add(g, index, grad),)
        g[self.index] = grad
        return (g,)


class SetItem(Op):
    """A copy of ``a`` with ``a[index] = value``: the gradient of the overwritten
    elements goes to ``value`` (summed over its broadcast), the rest to ``a``."""
    saved = ()

    name = "setitem"

    def forward(self, a, value, index):
        index, self.advanced = index_arrays(index, a)
        self.index, self.value_shape = index, value.shape
        out = a.copy()
        try:
            out[index] = value
        except (IndexError, ValueError) as e:
            raise type(e)(f"setitem: {e} (tensor shape {a.shape}, value shape {value.shape})") from None
        return out

    def backward(self, grad):
        ga = gv = None
        if self.needs_input_grad[1]:
            gv = grad[self.index]
            if gv.shape != self.value_shape:
                gv = unbroadcast(gv, self.value_shape)
        if self.needs_input_grad[0]:
            ga = backend.xp(grad).copy(grad)
            ga[self.index] = 0
        return ga, gv


class Cast(Op):
    """``a`` as another float dtype; the gradient is cast back."""
    saved = ()

    def forward(self, a, dtype):
        self.dtype = a.dtype
        return a.astype(dtype)

    def backward(self, grad):
        return (grad.astype(self.dtype),)


class Clone(Op):
    """A copy of ``a`` in its own memory."""
    saved = ()

    def forward(self, a):
        return a.copy()

    def backward(self, grad):
        return (grad,)


class Expand(Op):
    """``a`` broadcast to ``shape`` (a read-only view); the engine sums the gradient back."""
    saved = ()

    def forward(self, a, shape):
        try:
            return backend.xp(a).broadcast_to(a, shape)
        except ValueError:
            raise ValueError(f"expand: shape {a.shape} cannot be expanded to {tuple(shape)}") from None

    def backward(self, grad):
        return (grad,)


class Repeat(Op):
    """``a`` tiled ``repeats[i]`` times along each dim (``torch.Tensor.repeat``)."""
    saved = ()

    def forward(self, a, repeats):
        if any(r < 0 for r in repeats):
            raise ValueError(f"repeat: repeats must be >= 0, got {tuple(repeats)}")
        self.shape = (1,) * (len(repeats) - a.ndim) + a.shape
        self.repeats = repeats
        return backend.xp(a).tile(a.reshape(self.shape), repeats)

    def backward(self, grad):
        # (r0*s0, r1*s1, ...) -> (r0, s0, r1, s1, ...): sum over the repeat axes
        split = tuple(n for r, s in zip(self.repeats, self.shape) for n in (r, s))
        g = grad.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return (g,)


class Gather(Op):
    """``out[i][j] = a[index[i][j]][j]`` along ``axis`` (``torch.gather``); ``index`` may be
    smaller than ``a`` along the other axes. Repeated indices add their gradients."""
    saved = ()

    def forward(self, a, axis, index):
        xp = backend.xp(a)
        self.index_shape, self.input_shape = index.shape, a.shape
        a = a.reshape(a.shape or (1,))
        index = index.reshape(index.shape or (1,))
        for d, (n, m) in enumerate(zip(a.shape, index.shape)):
            if d != axis and m > n:
                raise ValueError(f"gather: index shape {index.shape} exceeds input shape {a.shape} at dim {d}")
        n = a.shape[axis]
        if index.size and (int(index.min()) < -n or int(index.max()) >= n):
            raise IndexError(f"gather: index out of range for dim {axis} of size {n}")
        self.shape, self.out_shape = a.shape, index.shape
        # the positions gathered: index along `axis`, the element's own position elsewhere
        grid = list(xp.ogrid[tuple(slice(0, m) for m in index.shape)])
        grid[axis] = index % n
        self.positions = tuple(grid)
        return a[self.positions].reshape(self.index_shape)

    def backward(self, grad):
        g = backend.zeros(self.shape, grad.dtype, like=grad)
        return (index_add(g, self.positions, grad.reshape(self.out_shape)).reshape(self.input_shape),)


def index_add(target, index, values):
    """``target`` with ``values`` added at ``index`` (repeated positions add up): in place on
    arrays; on Tensors (a backward differentiated again) the recorded op ``IndexAdd``."""
    if isinstance(values, Tensor) or isinstance(target, Tensor):
        return IndexAdd.apply(target, values, index=index)
    backend.xp(target).add.at(target, index, values)
    return target


class IndexAdd(Op):
    """A copy of ``a`` with ``values`` added at ``index`` (repeats add up): the backward of
    indexing; its own backward is indexing again."""

    saved = ()

    def forward(self, a, values, index):
        self.index = index
        out = a.copy()
        backend.xp(a).add.at(out, index, values)
        return out

    def backward(self, grad):
        return grad, grad[self.index]


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
    saved = ()

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
    saved = ()

    def forward(self, *arrays, axis=0):
        self.axis = checks.axis(axis, arrays[0].ndim + 1 if arrays else 1, "stack")
        _check_joinable(arrays, None, "stack", same_axis_size=True)
        return backend.xp(arrays[0]).stack(arrays, axis=self.axis)

    def backward(self, grad):
        lead = (slice(None),) * self.axis
        return tuple(grad[lead + (i,)] for i in range(grad.shape[self.axis]))
