"""Elementwise ops. Binary ops broadcast like NumPy; the engine sums each
gradient back to its input's shape, so backward here ignores broadcasting."""
import numpy as np

from .. import backend, parallel
from ..tensor import Tensor
from . import pointwise_f32 as f32
from .base import Op
from .pointwise_f32 import _select


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


def _tanh_grad(grad, out, result):
    np.multiply(out, out, out=result)
    np.subtract(1, result, out=result)
    result *= grad


class Tanh(Op):
    saved = ("out",)

    def forward(self, a):
        if parallel.splits(a):  # NumPy's tanh is ~25x a multiply here: worth the threads
            self.out = parallel.elementwise(lambda x, o: np.tanh(x, out=o), np.empty(a.shape, a.dtype), a)
        else:
            self.out = backend.xp(a).tanh(a)
        return self.out

    def backward(self, grad):
        if parallel.splits(grad):  # the same three ufuncs, in place, in blocks on a few threads
            return (parallel.elementwise(_tanh_grad, np.empty(grad.shape, grad.dtype), grad, self.out),)
        return (grad * (1 - self.out * self.out),)


def sigmoid(a):
    """``1 / (1 + exp(-a))`` of an array, as PyTorch computes it: accurate in both tails
    (``sigmoid(-20)`` is 2.06e-9; ``0.5 + 0.5 tanh(a / 2)`` would round it to 0) until
    ``exp(-a)`` overflows (a < -88.7 in float32), where it is 0 as PyTorch's. float16 is
    computed in float32 and rounded once, as PyTorch does (its exp overflows from a < -11)."""
    xp = backend.xp(a)
    if a.dtype.itemsize < 4:
        return sigmoid(a.astype(np.float32)).astype(a.dtype)
    with np.errstate(over="ignore"):
        return 1 / (1 + xp.exp(-a))


class Sigmoid(Op):
    saved = ("out",)

    def forward(self, a):
        self.out = parallel.blocked(f32.sigmoid, a) if f32.takes(a) else sigmoid(a)
        return self.out

    def backward(self, grad):
        s = self.out
        if f32.takes(s) and f32.takes(grad):  # the same products, in place, in cache-sized blocks
            return (parallel.blocked(_sigmoid_grad, grad, s),)
        return (grad * (s * (1 - s)),)


def _sigmoid_grad(grad, s, out=None):
    """``grad * (s * (1 - s))`` of float32 NumPy arrays, in three passes (in ``out``, if given)."""
    slope = np.subtract(s.dtype.type(1), s, out=out)
    slope *= s
    slope *= grad
    return slope


_sigmoid_grad.into = True  # (parallel.blocked: writes into given arrays)


_zeros = {}


def _zero(dtype):
    """A 0-d zero of ``dtype``: ``where`` takes it faster than a Python 0 and keeps the dtype."""
    zero = _zeros.get(dtype)
    if zero is None:
        zero = _zeros[dtype] = np.zeros((), dtype)
    return zero


def _relu_mask(a, live, out):
    """``live`` = -1 where ``a > 0`` or NaN (``not a <= 0``), else 0; ``out`` = relu(a).
    ``live`` is the integer of ``a``'s size (int32 for float32): the bitwise AND of a float's
    bits with an int8 mask runs through a casting loop, 1.5-1.7x slower (2**18-2**20 values)."""
    dead = np.less_equal(a, 0)
    np.subtract(dead.view(np.int8), 1, out=live, casting="unsafe")
    _select(a, live, out)


class ReLU(Op):
    name = "relu"

    def forward(self, a):
        if backend.cuda_loaded and backend.is_cuda(a):  # one launch each way instead of two
            self.out = backend.fused("(a > 0 || a != a) ? a : (T)0", a)  # NaN stays NaN
            return self.out
        # dead where a <= 0; not `a > 0`: a NaN input stays NaN and passes its gradient
        # on, as in PyTorch. Few elements: maximum and where are the cheapest calls.
        if a.size <= 4096 or a.dtype.kind != "f":
            self.dead, self.live = a <= 0, None
            return backend.xp(a).maximum(a, 0)
        # Many: forward and backward are the same bitwise select, in cache-sized blocks
        # on a few threads (parallel.py). The output is a fresh array, not a view, so the
        # engine can hand the gradient on without copying it.
        self.live = np.empty(a.shape, f32.SAME_SIZE_INT[a.dtype.itemsize])
        return parallel.elementwise(_relu_mask, np.empty(a.shape, a.dtype), a, self.live)

    def backward(self, grad):
        if backend.cuda_loaded and backend.is_cuda(grad):  # the same select as below, in one launch
            return (backend.fused("b <= 0 ? (T)0 : a", grad, self.out),)
        # grad where live, else exactly 0: PyTorch selects rather than multiplies, so a NaN
        # or inf gradient at a dead unit gives 0 (grad * mask would make 0 * inf = NaN).
        if self.live is None:
            return (backend.where(self.dead, _zero(grad.dtype), grad),)
        return (parallel.elementwise(_select, np.empty(grad.shape, grad.dtype), grad, self.live),)

    def backward_graph(self, grad, out):
        x = self.parents[0].array
        return (grad.masked_fill(Tensor._make(x <= 0, None), 0.0),)  # the same select, recorded


# ----- more elementwise functions: abs, sqrt, clip, maximum/minimum, where ------------------------
def sign(a):
    """``sign(a)`` as PyTorch's: 0 at NaN (NumPy's is NaN there), so |x| and l1_loss pass
    no gradient to a NaN input, as PyTorch's do."""
    xp = backend.xp(a)
    return backend.where(a == a, xp.sign(a), 0)


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
        return (backend.where(inside, grad, grad.dtype.type(0)),)


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
        a, b = self.a, self.b
        zero, shared = grad.dtype.type(0), backend.where(a == b, grad * grad.dtype.type(0.5), grad)
        return backend.where(self._loses(a, b), zero, shared), backend.where(self._loses(b, a), zero, shared)


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
            return backend.where(condition, a, b)
        except ValueError:
            raise ValueError(
                f"where: condition shape {condition.shape}, input shape {a.shape} and other shape {b.shape} "
                "cannot be broadcast together"
            ) from None

    def backward(self, grad):
        zero = grad.dtype.type(0)
        return backend.where(self.condition, grad, zero), backend.where(self.condition, zero, grad)


# ----- issue 19: sin and cos, clamp with tensor bounds, pow with a tensor exponent ---------------
class Sin(Op):
    saved = ("a",)

    def forward(self, a):
        self.a = a
        return backend.xp(a).sin(a)

    def backward(self, grad):
        return (grad * backend.xp(grad).cos(self.a),)


class Cos(Op):
    saved = ("a",)

    def forward(self, a):
        self.a = a
        return backend.xp(a).cos(a)

    def backward(self, grad):
        return (-grad * backend.xp(grad).sin(self.a),)


class ClampTensor(Op):
    """``min(max(a, lo), hi)`` with Tensor bounds (broadcasting; ``lo``/``hi`` given as flags
    say which inputs follow ``a``). As ``torch.clamp``: the gradient goes to ``a`` where
    ``lo <= a <= hi``, to ``lo`` where ``a < lo`` (and ``lo < hi``), to ``hi`` where
    ``a > hi`` or ``hi < lo`` (then the result is ``hi``)."""

    name = "clamp_tensor"
    saved = ()  # the masks are piecewise constant

    def forward(self, a, *bounds, has_min=True, has_max=True):
        xp = backend.xp(a)
        lo = bounds[0] if has_min else None
        hi = bounds[-1] if has_max else None
        masks, out = [], a
        if lo is not None:
            out = xp.maximum(out, lo)
        if hi is not None:
            out = xp.minimum(out, hi)
        if lo is not None and hi is not None:
            masks = [(a >= lo) & (a <= hi), (a < lo) & (lo < hi), (a > hi) | (hi < lo)]
        elif lo is not None:
            masks = [a >= lo, a < lo]
        else:
            masks = [a <= hi, a > hi]
        self.masks = masks
        return out

    def backward(self, grad):
        zero = grad.dtype.type(0)
        return tuple(backend.where(m, grad, zero) for m in self.masks)


class PowTensor(Op):
    """``a ** b`` for Tensors (broadcasting). As ``torch.pow``: d/da = ``b a**(b - 1)``
    (0 where b = 0), d/db = ``a**b log(a)`` (0 where a = 0 and b >= 0)."""

    name = "pow_tensor"
    saved = ("a", "b", "out")

    def forward(self, a, b):
        try:
            self.a, self.b, self.out = a, b, a**b
        except ValueError:
            raise _broadcast_error("pow", a, b) from None
        return self.out

    def backward(self, grad):
        xp = backend.xp(grad)
        a, b = self.a, self.b
        zero = grad.dtype.type(0)
        ga = gb = None
        if self.needs_input_grad[0]:
            # 0 where b = 0; masked only where b a**(b - 1) is not already 0 there (a = 0,
            # inf or NaN), so the mask is no kink for the second derivative in b
            ga = backend.where((b == 0) & ((a == 0) | ~xp.isfinite(a)), zero, grad * (b * a ** (b - 1)))
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):  # log of 0 or a negative: masked or NaN as torch
                gb = backend.where((a == 0) & (b >= 0), zero, grad * (self.out * xp.log(a)))
        return ga, gb
