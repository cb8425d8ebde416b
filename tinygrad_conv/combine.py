"""Functions of several tensors: ``tc.cat``, ``tc.stack``, ``tc.where``, ``tc.maximum``, ``tc.minimum``."""
import numbers

import numpy as np

from . import backend, dtypes, ops
from .tensor import Tensor, _promoted


def _tensors(tensors, fn):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{fn}: expected a list or tuple of Tensors, got {type(tensors).__name__}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}: item {i} must be a Tensor, got {type(t).__name__}")
    if not tensors:
        raise ValueError(f"{fn}: expected at least one tensor, got an empty {type(tensors).__name__}")
    return tensors


def _promote_all(tensors):
    """The tensors cast to the dtype PyTorch's promotion gives them all."""
    first = tensors[0].array
    if all(t.array.dtype == first.dtype for t in tensors):
        return tensors
    dtype = dtypes.result_type(*[t.array for t in tensors])
    return [t._cast(dtype) for t in tensors]


def cat(tensors, dim=0, *, axis=None):
    """Join tensors along an existing ``dim`` (``torch.cat``)."""
    tensors = _promote_all(_tensors(tensors, "cat"))
    if any(t.ndim != 1 for t in tensors):  # PyTorch's legacy rule: 1-D empty tensors (shape (0,)) are skipped
        tensors = [t for t in tensors if t.shape != (0,)] or tensors
    return ops.Cat.apply(*tensors, axis=dim if axis is None else axis)


concat = concatenate = cat


def stack(tensors, dim=0, *, axis=None):
    """Join equal-shaped tensors along a new ``dim`` (``torch.stack``)."""
    tensors = _promote_all(_tensors(tensors, "stack"))
    return ops.Stack.apply(*tensors, axis=dim if axis is None else axis)


def _pair(a, b, fn):
    """``a`` and ``b`` as Tensors of their common dtype (PyTorch's promotion, as arithmetic's):
    a number takes the other side's dtype and device."""
    for x in (a, b):
        if not isinstance(x, Tensor) and (isinstance(x, bool) or not isinstance(x, numbers.Number)):
            raise TypeError(f"{fn}: expected Tensors or numbers, got {type(x).__name__}")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor(a)
    return _promoted(a, b)


def where(condition, a, b):
    """``a`` where ``condition`` (a bool tensor or array) is True, else ``b``; ``a`` and ``b``
    are Tensors or numbers, broadcast together with ``condition``."""
    a, b = _pair(a, b, "where")
    if isinstance(condition, Tensor):
        condition = condition.array
    if isinstance(condition, (list, tuple, bool, np.bool_)):
        condition = np.asarray(condition)
    if not (isinstance(condition, np.ndarray) or backend.is_cuda(condition)) or condition.dtype != bool:
        what = f"array of dtype {condition.dtype}" if hasattr(condition, "dtype") else type(condition).__name__
        raise TypeError(f"where: condition must be a boolean array, got {what}")
    reference = b.array if isinstance(a.array, np.generic) else a.array
    return ops.Where.apply(a, b, condition=backend.like(condition, reference))


def maximum(a, b):
    """Elementwise maximum of two tensors (broadcasting); ties split the gradient."""
    return ops.Maximum.apply(*_pair(a, b, "maximum"))


def minimum(a, b):
    """Elementwise minimum of two tensors (broadcasting); ties split the gradient."""
    return ops.Minimum.apply(*_pair(a, b, "minimum"))


def einsum(equation, *operands):
    """Einstein summation, as ``torch.einsum``: ``einsum("ij,jk->ik", a, b)`` is ``a @ b``;
    ``...`` stands for leading axes, and without ``->`` the output holds the letters seen
    once, sorted. Operands may also come as one list. Size-1 axes broadcast."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    operands = _promote_all(_tensors(list(operands), "einsum"))
    inputs, out = ops.einsum.parse(equation, [t.shape for t in operands])
    sizes = {}
    for s, t in zip(inputs, operands):
        for c, n in zip(s, t.shape):
            if sizes.setdefault(c, n) == 1:
                sizes[c] = n
            elif n not in (1, sizes[c]):
                raise ValueError(f"einsum: subscript {c!r} has size {n} in one operand and {sizes[c]} in another")
    # a size-1 axis against a longer one is expanded first, so the op sees one size per letter
    operands = [t.expand(*[sizes[c] for c in s]) if any(n != sizes[c] for c, n in zip(s, t.shape)) else t
                for s, t in zip(inputs, operands)]
    return ops.Einsum.apply(*operands, subscripts=",".join(inputs) + "->" + out)
