"""Functions of several tensors: ``tc.cat``, ``tc.stack``, ``tc.where``, ``tc.maximum``, ``tc.minimum``."""
import numbers

import numpy as np

from . import backend, ops
from .tensor import Tensor


def _tensors(tensors, fn):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{fn}: expected a list or tuple of Tensors, got {type(tensors).__name__}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}: item {i} must be a Tensor, got {type(t).__name__}")
    if not tensors:
        raise ValueError(f"{fn}: expected at least one tensor, got an empty {type(tensors).__name__}")
    return tensors


def cat(tensors, axis=0):
    """Join tensors along an existing ``axis`` (``torch.cat``)."""
    return ops.Cat.apply(*_tensors(tensors, "cat"), axis=axis)


def stack(tensors, axis=0):
    """Join equal-shaped tensors along a new ``axis`` (``torch.stack``)."""
    return ops.Stack.apply(*_tensors(tensors, "stack"), axis=axis)


def _pair(a, b, fn):
    """``a`` and ``b`` as Tensors: a number takes the other side's dtype and device, as in
    arithmetic (``Tensor._wrap``)."""
    for x in (a, b):
        if not isinstance(x, Tensor) and (isinstance(x, bool) or not isinstance(x, numbers.Number)):
            raise TypeError(f"{fn}: expected Tensors or numbers, got {type(x).__name__}")
    ref = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else Tensor(a)
    return ref._wrap(a), ref._wrap(b)


def where(condition, a, b):
    """``a`` where ``condition`` (a boolean array) is True, else ``b``; ``a`` and ``b`` are
    Tensors or numbers, broadcast together with ``condition``."""
    a, b = _pair(a, b, "where")
    if isinstance(condition, Tensor):
        raise TypeError("where: condition must be a boolean array (e.g. x > 0), got a Tensor")
    if isinstance(condition, (list, tuple, bool, np.bool_)):
        condition = np.asarray(condition)
    if not (isinstance(condition, np.ndarray) or backend.is_cuda(condition)) or condition.dtype != bool:
        what = f"array of dtype {condition.dtype}" if hasattr(condition, "dtype") else type(condition).__name__
        raise TypeError(f"where: condition must be a boolean array, got {what}")
    reference = b.data if isinstance(a.data, np.generic) else a.data
    return ops.Where.apply(a, b, condition=backend.like(condition, reference))


def maximum(a, b):
    """Elementwise maximum of two tensors (broadcasting); ties split the gradient."""
    return ops.Maximum.apply(*_pair(a, b, "maximum"))


def minimum(a, b):
    """Elementwise minimum of two tensors (broadcasting); ties split the gradient."""
    return ops.Minimum.apply(*_pair(a, b, "minimum"))
