"""The array-module interface (``xp``) on Tensors, so a backward rule runs on Tensors.

A backward rule is written once, on arrays: ``grad * (1 - self.out * self.out)``,
``xp.broadcast_to(g, shape)`` with ``xp = backend.xp(grad)``. Under
``backward(create_graph=True)`` the engine hands the rule Tensors instead
(the gradient, and the op's inputs and output in place of the arrays it saved):
operators work on Tensors already, and ``backend.xp(tensor)`` returns this
module, whose functions mirror NumPy's on Tensors and record the graph. The
rule's result is then itself differentiable.

Only what backward rules use is here; each function is a Tensor method or op.
"""
import numpy as np

from . import backend, combine, factories
from .tensor import Tensor


def _t(x, like=None):
    """``x`` as a Tensor: a Tensor itself, an array or number as a constant."""
    if isinstance(x, Tensor):
        return x
    if like is not None:
        return like._wrap(x)
    return Tensor._make(x if hasattr(x, "dtype") else np.asarray(x), None)


def _const(array):
    return Tensor._make(array, None)


def asarray(x, dtype=None):
    x = _t(x)
    return x if dtype is None else x.to(dtype)


def exp(x):
    return x.exp()


def log(x):
    return x.log()


def sqrt(x):
    return x.sqrt()


def tanh(x):
    return x.tanh()


def abs(x):  # noqa: A001  (NumPy's name)
    return x.abs()


def sign(x):
    """Piecewise constant: no gradient flows through it."""
    return _const(backend.xp(x.array).sign(x.array))


def where(condition, a, b):
    condition = condition.array if isinstance(condition, Tensor) else condition
    ref = a if isinstance(a, Tensor) else b
    return combine.where(condition, _t(a, ref), _t(b, ref))


def maximum(a, b):
    return combine.maximum(a, b)


def minimum(a, b):
    return combine.minimum(a, b)


def broadcast_to(x, shape):
    return x.expand(tuple(shape))


def expand_dims(x, axis):
    axes = sorted(a % (x.ndim + len(axis)) for a in axis) if isinstance(axis, (tuple, list)) else [axis]
    for a in axes:
        x = x.unsqueeze(a)
    return x


def squeeze(x, axis=None):
    return x.squeeze(axis)


def transpose(x, axes=None):
    return x.T if axes is None else x.permute(*axes)


def moveaxis(x, source, destination):
    order = [d for d in range(x.ndim) if d != source % x.ndim]
    order.insert(destination % x.ndim, source % x.ndim)
    return x.permute(*order)


def flip(x, axis):
    index = [slice(None)] * x.ndim
    index[axis] = slice(None, None, -1)
    return x[tuple(index)]


def cumsum(x, axis):
    return x.cumsum(axis)


def concatenate(tensors, axis=0):
    return combine.cat(list(tensors), axis)


def stack(tensors, axis=0):
    return combine.stack(list(tensors), axis)


def zeros(shape, dtype=None, device=None):
    return factories.zeros(shape, dtype=dtype, device=device)


def ones(shape, dtype=None, device=None):
    return factories.ones(shape, dtype=dtype, device=device)


def copy(x):
    return x.clone()


def zeros_like(x, dtype=None):
    return factories.zeros_like(x, dtype=dtype)


def ones_like(x, dtype=None):
    return factories.ones_like(x, dtype=dtype)


def isnan(x):
    return x.isnan()


def isfinite(x):
    return x.isfinite()


# issue 19 (activations, sin/cos): the values are exact enough for a second derivative
def log1p(x):
    return (1 + x).log()


def expm1(x):
    return x.exp() - 1


def sin(x):
    return x.sin()


def cos(x):
    return x.cos()


def einsum(subscripts, *operands, optimize=False):
    from .ops.einsum import Einsum  # (ops import this module's users)

    ref = next(o for o in operands if isinstance(o, Tensor))
    return Einsum.apply(*[_t(o, ref) for o in operands], subscripts=subscripts)
