"""More activations: leaky ReLU, ELU, SiLU, GELU (exact and tanh), each with its derivative."""
import copy
import math

import numpy as np

from .. import backend, parallel
from . import pointwise_f32 as f32
from .base import Op
from .elementwise import sigmoid


def rerun_backward(op, grad, **tensors):
    """``op.backward(grad)`` with some of what forward saved replaced by Tensors (the same
    quantities recomputed from ``op.parents`` with differentiable ops): the rule, written
    once on arrays, then records a graph (``backward_graph`` of ops that save derived arrays)."""
    twin = copy.copy(op)
    twin.retained = True
    twin.__dict__.update(tensors)
    return twin.backward(grad)


class LeakyReLU(Op):
    """``a`` where positive, ``negative_slope * a`` elsewhere."""

    name = "leaky_relu"
    saved = ()  # the slope is piecewise constant

    def forward(self, a, negative_slope=0.01):
        # 1 where a > 0, else the slope: as arithmetic on the mask, which is ~10x faster
        # than where() on large arrays here (NaN: not > 0, so NaN * slope, NaN as in PyTorch)
        f, xp = a.dtype.type, backend.xp(a)
        live, rest = f(1 - negative_slope), f(negative_slope)
        if live + rest != 1:  # (rest + live rounds to exactly 1 for the usual slopes)
            self.slope = backend.where(a > 0, f(1), rest)
            return a * self.slope
        self.slope, out = xp.empty(a.shape, a.dtype), xp.empty(a.shape, a.dtype)
        if not parallel.splits(a):  # (small, or CuPy: one call; the threads' plumbing costs ~7 us)
            _leaky(a, live, rest, self.slope, out)
            return out
        # large NumPy arrays: the same passes, spread over the threads (parallel.py)
        return parallel.elementwise(lambda x, slope, o: _leaky(x, live, rest, slope, o), out, a, self.slope)

    def backward(self, grad):
        if parallel.splits(grad):  # (on the threads, as forward)
            return (parallel.elementwise(np.multiply, np.empty(grad.shape, grad.dtype), grad, self.slope),)
        return (grad * self.slope,)


def _leaky(x, live, rest, slope, out):
    """leaky_relu's slope (``live * (x > 0) + rest``) and output ``x * slope``, into ``slope`` and ``out``."""
    xp = backend.xp(x)
    xp.multiply(xp.greater(x, 0), live, out=slope)
    slope += rest
    xp.multiply(x, slope, out=out)


class SiLU(Op):
    """``a * sigmoid(a)``; d/da = ``s * (1 + a * (1 - s))``."""

    name = "silu"

    def forward(self, a):
        self.a = a
        out, self.s = parallel.blocked(_silu, a)
        return out

    def backward(self, grad):
        return (parallel.blocked(_silu_grad, grad, self.a, self.s),)

    def backward_graph(self, grad, out):
        a = self.parents[0]
        return rerun_backward(self, grad, a=a, s=a.sigmoid())


# The kernels of SiLU and GELU below take ``out`` (parallel.blocked hands them slices of the full
# arrays to write: ``into``) when they run on NumPy arrays; None: they allocate.
def _silu(a, out=None):
    o, s_out = (None, None) if out is None else out
    if f32.takes(a):
        s = f32.sigmoid(a, out=s_out)
    else:
        s = sigmoid(a)
        if s_out is not None:
            s_out[...] = s
            s = s_out
    return (a * s if o is None else np.multiply(a, s, out=o)), s


def _silu_grad(grad, a, s, out=None):
    if type(grad) is not np.ndarray or type(a) is not np.ndarray:  # (Tensors under create_graph)
        return grad * (s * (1 + a * (1 - s)))
    t = np.subtract(s.dtype.type(1), s, out=out)  # the same products, in place in one array
    t *= a
    t += 1
    t *= s
    t *= grad
    return t


_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


class GELU(Op):
    """``a * Phi(a)``, Phi the standard normal CDF: ``approximate="none"`` uses
    ``Phi(a) = (1 + erf(a / sqrt 2)) / 2``; ``"tanh"`` uses
    ``(1 + tanh(sqrt(2/pi) (a + 0.044715 a**3))) / 2``, as ``torch.nn.functional.gelu``."""

    name = "gelu"

    def forward(self, a, approximate="none"):
        # float16 is computed in float32 and rounded once, as PyTorch does (in float16 the
        # erf polynomials overflow and a * Phi(a) underflows to 0 in the tail)
        self.half = a.dtype if a.dtype.itemsize < 4 else None
        a = a.astype(np.float32) if self.half else a
        self.a, self.approximate = a, approximate
        if approximate == "tanh":
            out, self.t = parallel.blocked(_gelu_tanh, a)
        else:  # (f32: the erf below costs ~25 where/polynomial passes)
            out, self.cdf = parallel.blocked(_gelu_f32 if f32.takes(a) else _gelu, a)
        return out.astype(self.half) if self.half else out

    def backward(self, grad):
        if self.approximate == "tanh":
            dx = parallel.blocked(_gelu_tanh_grad, grad, self.a, self.t)
        else:
            dx = parallel.blocked(_gelu_grad, grad, self.a, self.cdf)
        return (dx.astype(self.half) if self.half else dx,)

    def backward_graph(self, grad, out):
        a = self.parents[0]  # t or cdf recomputed on Tensors (erf below is made of differentiable ops)
        if self.approximate == "tanh":
            return rerun_backward(self, grad, a=a, t=(_SQRT_2_OVER_PI * (a + 0.044715 * a * a * a)).tanh())
        return rerun_backward(self, grad, a=a, cdf=0.5 * (1 + erf(a * _SQRT_HALF)))


# GELU's kernels on arrays (blocked by parallel.blocked): (out, what backward needs), and the gradient
def _gelu_tanh(a, out=None):
    o, t_out = (None, None) if out is None else out
    t = backend.xp(a).tanh(_SQRT_2_OVER_PI * (a + 0.044715 * a * a * a), out=t_out)
    return _times(0.5 * a, 1 + t, o), t


def _gelu_tanh_grad(grad, a, t, out=None):
    du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * a * a)
    return _times(grad, 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * du, out)


def _gelu_f32(a, out=None):
    o, c = (None, None) if out is None else out
    cdf = f32.normal_cdf(a, out=c)
    return _times(a, cdf, o), cdf


def _gelu(a):
    cdf = 0.5 * (1 + erf(a * _SQRT_HALF))
    return a * cdf, cdf


def _gelu_grad(grad, a, cdf, out=None):
    pdf = _INV_SQRT_2PI * backend.xp(a).exp(-0.5 * a * a)
    return _times(grad, cdf + a * pdf, out)


def _times(x, y, out):
    """``x * y``, into ``out`` if given (then NumPy arrays)."""
    return x * y if out is None else np.multiply(x, y, out=out)


for _kernel in (_silu, _silu_grad, _gelu_tanh, _gelu_tanh_grad, _gelu_f32, _gelu_grad):
    _kernel.into = True  # (parallel.blocked: writes into given arrays)


# erf as in Cephes (S. L. Moshier's ndtr.c): x * T(x^2) / U(x^2) for |x| < 1 and
# 1 - exp(-x^2) P(|x|) / Q(|x|) above (erfc < 1e-27 past 8, so x is capped there).
# Rational approximations accurate to about 1e-16 in float64, vectorised: NumPy has no erf.
_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
      7.00332514112805075473e3, 5.55923013010394962768e4)
_U = (1.0, 3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
      2.26290000613890934246e4, 4.92673942608635921086e4)
_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
      4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
      9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_Q = (1.0, 1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
      9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
      1.65666309194161350182e3, 5.57535340817727675546e2)


def _polynomial(coefficients, x):
    """Horner's rule, highest power first."""
    out = coefficients[0] + 0 * x
    for c in coefficients[1:]:
        out = out * x + c
    return out


def erf(x):
    """The error function of an array (NumPy or CuPy), in its dtype (of a Tensor under
    ``create_graph``: the same rational functions, recorded, so differentiable)."""
    xp = backend.xp(x)
    if x.dtype.itemsize < 4:  # float16: x**8 in Q overflows past |x| 4.3 (inf / inf); as PyTorch, in float32
        return erf(x.astype(np.float32)).astype(x.dtype)
    ax = xp.minimum(xp.abs(x), 8)
    small = ax < 1
    xs = backend.where(small, x, 0)  # keep the unused branch finite
    z = xs * xs
    inner = xs * _polynomial(_T, z) / _polynomial(_U, z)
    outer = 1 - xp.exp(-ax * ax) * _polynomial(_P, ax) / _polynomial(_Q, ax)
    return backend.where(small, inner, xp.sign(x) * outer)


# ----- issue 19: PyTorch's other activations ------------------------------------------------------
# Each is ``f(a)`` with slope ``f'(a)``, written once on arrays with ``xp = backend.xp(...)``
# functions only: ``saved = ("a",)``, so under create_graph the same slope is computed on
# Tensors (graph_xp) and differentiated again. Where f has kinks the slope's branches are
# chosen as PyTorch's backward chooses them (strict or not at the bounds).
class _Pointwise:
    """Mixin (not an Op: the registry lists only real ops): ``f(xp, a, **p)`` and ``slope(xp, a, **p)``;
    ``kernels``: the names of a forward and a backward in pointwise_f32.py, for large float32 arrays."""

    saved = ("a",)
    kernels = None
    blocked = True  # whether the kernels pay for being run in cache-sized blocks (parallel.blocked)

    def _run(self, kernel, *args, **params):
        return (parallel.blocked if self.blocked else _call)(getattr(f32, kernel), *args, **params)

    def forward(self, a, **params):
        self.a, self.params, self.state = a, params, None
        if self.kernels and f32.takes(a):
            done = self._run(self.kernels[0], a, **params)
            if done is not None:  # (None: the kernel declines these parameters)
                out, self.state = done
                self.state = self.state if self.state is not None else ()
                return out
        return self.f(backend.xp(a), a, **params)

    def backward(self, grad):
        if self.state is not None and f32.takes(self.a) and f32.takes(grad):  # (self.a: a Tensor under create_graph)
            return (self._run(self.kernels[1], grad, self.a, self.state, **self.params),)
        xp = backend.xp(grad)
        out = grad * self.slope(xp, self.a, **self.params)
        flat = self.flat(xp, self.a, **self.params)
        # in a flat piece PyTorch selects 0 (a NaN or inf gradient does not leak through 0 * g)
        if flat is None:
            return (out,)
        if isinstance(out, np.ndarray) and out.dtype.kind == "f" and out.flags.c_contiguous:  # (a fresh array)
            f32._select(out, flat.view(np.int8) - 1, out)  # a bitwise select: `where` costs 15-40x
            return (out,)
        return (backend.where(flat, 0, out),)

    def flat(self, xp, a, **params):
        """Where the function is constant by definition (its gradient is exactly 0), or None."""
        return None


def _call(kernel, *args, **params):
    return kernel(*args, **params)


def _sigmoid(xp, a):
    """``1 / (1 + exp(-a))`` without overflow, accurate far into both tails."""
    e = xp.exp(-xp.abs(a))
    return backend.where(a >= 0, xp.ones_like(a), e) / (1 + e)


def _softplus(xp, a):
    """``log(1 + exp(a))`` for any a: ``max(a, 0) + log1p(exp(-|a|))``."""
    return xp.maximum(a, 0) + xp.log1p(xp.exp(-xp.abs(a)))


class Hardtanh(_Pointwise, Op):
    """``a`` clipped to ``[min_val, max_val]``; slope 1 strictly inside (as PyTorch)."""

    name = "hardtanh"
    kernels = ("hardtanh_forward", "hardtanh_backward")
    blocked = False  # (1 and 3 passes: copying the blocks back costs what the cache saves, measured)

    def f(self, xp, a, min_val=-1.0, max_val=1.0):
        return xp.minimum(xp.maximum(a, a.dtype.type(min_val)), a.dtype.type(max_val))

    def slope(self, xp, a, min_val=-1.0, max_val=1.0):
        return a.dtype.type(1)  # (0 in the flat pieces, set by backward)

    def flat(self, xp, a, min_val=-1.0, max_val=1.0):
        return (a <= min_val) | (a >= max_val)  # a NaN input passes the gradient (PyTorch: by path)


class Softplus(_Pointwise, Op):
    """``log(1 + exp(beta a)) / beta``, or ``a`` where ``beta a > threshold``; slope ``sigmoid(beta a)``."""

    name = "softplus"
    kernels = ("softplus_forward", "softplus_backward")

    def f(self, xp, a, beta=1.0, threshold=20.0):
        return backend.where(a * beta > threshold, a, _softplus(xp, a * beta) / beta)

    def slope(self, xp, a, beta=1.0, threshold=20.0):
        return backend.where(a * beta > threshold, xp.ones_like(a), _sigmoid(xp, a * beta))


class Hardswish(_Pointwise, Op):
    """``a * relu6(a + 3) / 6``; slope 0 up to -3, ``a / 3 + 1/2`` strictly between, then 1."""

    name = "hardswish"
    kernels = ("hardswish_forward", "hardswish_backward")

    def f(self, xp, a):
        return a * xp.minimum(xp.maximum(a + 3, 0), 6) / 6

    def slope(self, xp, a):
        return backend.where(a <= -3, 0, backend.where(a < 3, a / 3 + 0.5, xp.ones_like(a)))

    def flat(self, xp, a):
        return a <= -3


class Hardsigmoid(_Pointwise, Op):
    """``relu6(a + 3) / 6``; slope 1/6 strictly between -3 and 3."""

    name = "hardsigmoid"
    kernels = ("hardsigmoid_forward", "hardsigmoid_backward")
    blocked = False  # (as Hardtanh's)

    def f(self, xp, a):
        return xp.minimum(xp.maximum(a + 3, 0), 6) / 6

    def slope(self, xp, a):
        return backend.where((a > -3) & (a < 3), xp.ones_like(a) / 6, 0)

    def flat(self, xp, a):
        return ~((a > -3) & (a < 3))  # a NaN input too, as PyTorch


class Mish(_Pointwise, Op):
    """``a * tanh(softplus(a))``; slope ``t + a sigmoid(a) (1 - t**2)``, t = tanh(softplus(a))."""

    name = "mish"
    kernels = ("mish_forward", "mish_backward")

    def f(self, xp, a):
        return a * xp.tanh(_softplus(xp, a))

    def slope(self, xp, a):
        t = xp.tanh(_softplus(xp, a))
        return t + a * _sigmoid(xp, a) * (1 - t * t)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class CELU(_Pointwise, Op):
    """ELU in PyTorch's general form: ``scale a`` where positive, else
    ``scale alpha (exp(input_scale a) - 1)``; CELU has ``input_scale = 1 / alpha``, SELU
    its own alpha and scale. Slope ``scale`` or ``scale alpha input_scale exp(input_scale a)``
    (NaN takes the positive branch, as PyTorch's)."""

    name = "celu"
    kernels = ("celu_forward", "celu_backward")

    def f(self, xp, a, alpha=1.0, scale=1.0, input_scale=1.0):
        negative = (alpha * scale) * xp.expm1(xp.minimum(a, 0) * input_scale)
        return backend.where(a <= 0, negative, a * scale)

    def slope(self, xp, a, alpha=1.0, scale=1.0, input_scale=1.0):
        negative = (alpha * scale * input_scale) * xp.exp(xp.minimum(a, 0) * input_scale)
        return backend.where(a <= 0, negative, scale * xp.ones_like(a))


class LogSigmoid(_Pointwise, Op):
    """``log(sigmoid(a)) = -softplus(-a)``, stable for any a; slope ``sigmoid(-a)``."""

    name = "logsigmoid"
    kernels = ("logsigmoid_forward", "logsigmoid_backward")

    def f(self, xp, a):
        return xp.minimum(a, 0) - xp.log1p(xp.exp(-xp.abs(a)))

    def slope(self, xp, a):
        return _sigmoid(xp, -a)


class Softsign(_Pointwise, Op):
    """``a / (1 + |a|)``; slope ``1 / (1 + |a|)**2``."""

    name = "softsign"

    def f(self, xp, a):
        return a / (1 + xp.abs(a))

    def slope(self, xp, a):
        d = 1 + xp.abs(a)
        return 1 / (d * d)


class ELU(CELU):
    """``a`` where positive, ``alpha * (exp(a) - 1)`` elsewhere: CELU's rule with scale 1 and input
    scale 1 (its slope ``alpha exp(a)``, not ``out + alpha``: no cancellation far below 0)."""

    name = "elu"

    def forward(self, a, alpha=1.0):
        return super().forward(a, alpha=alpha)
