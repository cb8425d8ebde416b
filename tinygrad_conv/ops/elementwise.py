"""Elementwise ops. Binary ops broadcast like NumPy; the engine sums each
gradient back to its input's shape, so backward here ignores broadcasting."""
import numpy as np

from .. import backend
from ..tensor import Tensor
from .base import Op


def _broadcast_error(op, a, b):
    return ValueError(f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together")


class Add(Op):
    saved = ()

    def forward(self, a, b):
        try:
            return a + b
        except ValueError:
            raise _broadcast_error("add", a, b) from None

    def backward(self, grad):
        return grad, grad


class Sub(Op):
    saved = ()

    def forward(self, a, b):
        try:
            return a - b
        except ValueError:
            raise _broadcast_error("sub", a, b) from None

    def backward(self, grad):
        return grad, -grad if self.needs_input_grad[1] else None


class Mul(Op):
    saved = ("a", "b")

    def forward(self, a, b):
        self.a, self.b = a, b
        try:
            return a * b
        except ValueError:
            raise _broadcast_error("mul", a, b) from None

    def backward(self, grad):
        ga, gb = self.needs_input_grad
        return (grad * self.b if ga else None), (grad * self.a if gb else None)


class Div(Op):
    saved = ("b", "out")

    def forward(self, a, b):
        try:
            out = a / b
        except ValueError:
            raise _broadcast_error("div", a, b) from None
        self.b, self.out = b, out
        return out

    def backward(self, grad):
        ga = grad / self.b                      # d(a/b)/da = 1/b
        gb = -ga * self.out if self.needs_input_grad[1] else None  # d(a/b)/db = -(a/b)/b
        return ga, gb


class Neg(Op):
    saved = ()

    def forward(self, a):
        return -a

    def backward(self, grad):
        return (-grad,)


class Pow(Op):
    """``a ** exponent`` with a constant number ``exponent``."""
    saved = ("a",)

    def forward(self, a, exponent):
        self.a, self.exponent = a, exponent
        return power(a, exponent)

    def backward(self, grad):
        p = self.exponent
        if p == 0:  # d/da a**0 = 0 everywhere (p * a**-1 would be 0 * inf = NaN at a = 0)
            return (backend.xp(grad).zeros_like(grad),)
        return (grad * (p * power(self.a, p - 1)),)


def power(a, p):
    """``a ** p``, with p = 1/2 and -1/2 as PyTorch computes them, by (r)sqrt: ``(-inf) ** -0.5``
    is NaN and ``(-0.) ** -0.5`` is -inf there (C's pow gives 0 and inf)."""
    if p == 0.5:
        return backend.xp(a).sqrt(a)
    if p == -0.5:
        return 1 / backend.xp(a).sqrt(a)
    return a**p


class Exp(Op):
    saved = ("out",)

    def forward(self, a):
        self.out = backend.xp(a).exp(a)
        return self.out

    def backward(self, grad):
        return (grad * self.out,)


class Log(Op):
    saved = ("a",)

    def forward(self, a):
        self.a = a
        return backend.xp(a).log(a)

    def backward(self, grad):
        return (grad / self.a,)


class Tanh(Op):
    saved = ("out",)

    def forward(self, a):
        self.out = backend.xp(a).tanh(a)
        return self.out

    def backward(self, grad):
        return (grad * (1 - self.out * self.out),)


def sigmoid(a):
    """``1 / (1 + exp(-a))`` of an array, accurate in both tails: with ``e = exp(-|a|)``
    (never overflows), ``1 / (1 + e)`` for ``a >= 0`` and ``e / (1 + e)`` below, so
    ``sigmoid(-20)`` is 2.06e-9, not 0 (``0.5 + 0.5 tanh(a / 2)`` loses it to rounding)."""
    xp = backend.xp(a)
    e = xp.exp(-abs(a))
    return xp.where(a >= 0, 1, e) / (1 + e)


class Sigmoid(Op):
    saved = ("out",)

    def forward(self, a):
        self.out = sigmoid(a)
        return self.out

    def backward(self, grad):
        s = self.out
        return (grad * (s * (1 - s)),)


_SAME_SIZE_INT = {2: np.int16, 4: np.int32, 8: np.int64}  # float16/32/64 viewed as bits


_zeros = {}


def _zero(dtype):
    """A 0-d zero of ``dtype``: ``where`` takes it faster than a Python 0 and keeps the dtype."""
    zero = _zeros.get(dtype)
    if zero is None:
        zero = _zeros[dtype] = np.zeros((), dtype)
    return zero


class ReLU(Op):
    name = "relu"

    def forward(self, a):
        if backend.cuda_loaded and backend.is_cuda(a):  # one launch each way instead of two
            self.out = backend.fused("(a > 0 || a != a) ? a : (T)0", a)  # NaN stays NaN
            return self.out
        self.dead = a <= 0  # not `a > 0`: a NaN input passes its gradient on, as in PyTorch
        return backend.xp(a).maximum(a, 0)

    def backward(self, grad):
        if backend.cuda_loaded and backend.is_cuda(grad):  # the same select as below, in one launch
            return (backend.fused("b <= 0 ? (T)0 : a", grad, self.out),)
        # grad where live, else exactly 0: PyTorch selects rather than multiplies, so a NaN
        # or inf gradient at a dead unit gives 0 (grad * mask would make 0 * inf = NaN).
        if grad.size <= 4096:  # where() is the cheapest select for few elements...
            return (backend.xp(grad).where(self.dead, _zero(grad.dtype), grad),)
        # ...and 10x slower than a multiply for many: AND grad's bits with -1 (all bits
        # set: live) or 0 (dead), which is as fast as the multiply.
        live = self.dead.view(np.int8)
        if self.retained:  # the mask is needed again: a new array
            live = live - np.int8(1)
        else:
            live -= 1
        return ((grad.view(_SAME_SIZE_INT[grad.dtype.itemsize]) & live).view(grad.dtype),)

    def backward_graph(self, grad, out):
        x = self.parents[0].array
        return (grad.masked_fill(Tensor._make(x <= 0, None), 0.0),)  # the same select, recorded


# ----- more elementwise functions: abs, sqrt, clip, maximum/minimum, where ------------------------
def sign(a):
    """``sign(a)`` as PyTorch's: 0 at NaN (NumPy's is NaN there), so |x| and l1_loss pass
    no gradient to a NaN input, as PyTorch's do."""
    xp = backend.xp(a)
    return xp.where(a == a, xp.sign(a), 0)


class Abs(Op):
    """``|a|``; the gradient at 0 (and at NaN) is 0, as in PyTorch (``sign(a)``)."""
    saved = ("a",)

    def forward(self, a):
        self.a = a
        return backend.xp(a).abs(a)

    def backward(self, grad):
        return (grad * sign(self.a),)


class Sqrt(Op):
    saved = ("out",)

    def forward(self, a):
        self.out = backend.xp(a).sqrt(a)
        return self.out

    def backward(self, grad):
        return (grad / (2 * self.out),)


class Clip(Op):
    """``a`` limited to ``[min, max]`` (either bound may be None); the gradient passes
    where ``min <= a <= max``, as ``torch.clamp``'s does."""
    saved = ()

    def forward(self, a, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clip: at least one of min and max must be given")
        xp, f = backend.xp(a), a.dtype.type
        self.a, self.min, self.max = a, min, max
        out = a if min is None else xp.maximum(a, f(min))
        return out if max is None else xp.minimum(out, f(max))

    def backward(self, grad):
        inside = True
        if self.min is not None:
            inside = self.a >= self.min
        if self.max is not None:
            inside = inside & (self.a <= self.max)
        # selected, not multiplied: outside (and at NaN) exactly 0, even for a NaN/inf gradient
        return (backend.xp(grad).where(inside, grad, grad.dtype.type(0)),)


class Maximum(Op):
    """Elementwise ``max(a, b)`` (broadcasting); at ties each side gets half the gradient."""
    saved = ()

    def forward(self, a, b):
        self.a, self.b = a, b
        try:
            return self._pick(backend.xp(a), a, b)
        except ValueError:
            raise _broadcast_error(self.name, a, b) from None

    @staticmethod
    def _pick(xp, a, b):
        return xp.maximum(a, b)

    @staticmethod
    def _loses(x, y):
        return x < y

    def backward(self, grad):
        # As PyTorch: a side's gradient is 0 where it loses (selected: 0 even for a NaN or
        # inf gradient), half at ties, and all of it otherwise, so where a NaN makes both
        # comparisons false both sides get all of it.
        xp, a, b = backend.xp(grad), self.a, self.b
        zero, shared = grad.dtype.type(0), xp.where(a == b, grad * grad.dtype.type(0.5), grad)
        return xp.where(self._loses(a, b), zero, shared), xp.where(self._loses(b, a), zero, shared)


class Minimum(Maximum):
    """Elementwise ``min(a, b)`` (broadcasting); at ties each side gets half the gradient."""

    @staticmethod
    def _pick(xp, a, b):
        return xp.minimum(a, b)

    @staticmethod
    def _loses(x, y):
        return x > y


class Where(Op):
    """``condition ? a : b`` elementwise; ``condition`` is a boolean array (not differentiable)."""
    saved = ()

    def forward(self, a, b, condition):
        self.condition = condition
        try:
            return backend.xp(a).where(condition, a, b)
        except ValueError:
            raise ValueError(
                f"where: condition shape {condition.shape}, input shape {a.shape} and other shape {b.shape} "
                "cannot be broadcast together"
            ) from None

    def backward(self, grad):
        zero = grad.dtype.type(0)
        xp = backend.xp(grad)
        return xp.where(self.condition, grad, zero), xp.where(self.condition, zero, grad)
