"""Fast float32 NumPy kernels for the activations of activation.py, on large arrays.

Why: NumPy runs one ufunc per pass, and on this kind of machine the costs differ
wildly (524k float32 values): a multiply, add or ``clip`` with two bounds ~0.1 ms,
``exp``/``log``/``tanh`` ~2 ms, but ``expm1`` ~11 ms, ``log1p`` ~8 ms and ``where``
~3 ms. So each kernel uses at most one ``exp``/``log`` per direction, no
``expm1``/``log1p``/``where``, selects bitwise (``blend``) and works in place.

Semantics are the generic rules' (activation.py), NaN and inf included; only the
rounding of the last bit or two may differ. Used only for float32 NumPy arrays of
more than ``MIN_SIZE`` values (``takes``): the small arrays of the registry walk, the
other dtypes and CuPy take the generic rule (tests/test_pointwise_f32.py compares
both on large arrays sprinkled with NaN and inf).
"""
import numpy as np

MIN_SIZE = 4096  # below, the generic rule's fewer calls are cheaper
F32 = np.float32
_INF = np.inf


SAME_SIZE_INT = {2: np.int16, 4: np.int32, 8: np.int64}  # float16/32/64 viewed as bits


def _select(a, live, out):
    """``a`` where ``live`` is -1 (all bits set), exactly 0 where it is 0 (an int8 mask of
    ``a``'s shape, or faster, one of SAME_SIZE_INT), into ``out``: a bitwise AND of ``a``'s
    bits, as fast as a multiply, where ``maximum`` takes 2x and ``where`` 15-40x as long
    on large float arrays here."""
    bits = SAME_SIZE_INT[a.dtype.itemsize]
    np.bitwise_and(a.view(bits), live, out=out.view(bits))


def takes(a):
    """Whether ``a`` is handled here: a float32 NumPy array of more than MIN_SIZE values."""
    return type(a) is np.ndarray and a.size > MIN_SIZE and a.dtype == np.float32  # (small arrays: two checks)


def mask(compare, a, bound):
    """int8 array: -1 (all bits set) where ``compare(a, bound)``, else 0."""
    m = np.empty(a.shape, np.int8)
    compare(a, F32(bound), out=m.view(bool))
    np.negative(m, out=m)
    return m


def _bits(v):
    return v.view(np.int32) if isinstance(v, np.ndarray) else F32(v).view(np.int32)


def blend(x, y, m, out):
    """``x`` where ``m`` is -1, ``y`` where it is 0 (``x``, ``y``: float32 arrays or numbers;
    ``m`` from ``mask``), into ``out`` (which may be ``x`` or ``y``): bitwise, exact for
    NaN and inf, and ~15x faster than ``where`` here."""
    yb = _bits(y)
    t = np.bitwise_xor(_bits(x), yb)
    np.bitwise_and(t, m, out=t)
    np.bitwise_xor(t, yb, out=out.view(np.int32))
    return out


def _live(dead):
    """``dead`` (bool) turned in place into the int8 mask that ``_select`` keeps: -1 where not dead."""
    live = dead.view(np.int8)
    live -= 1
    return live


def select(grad, dead):
    """``grad`` where not ``dead``, exactly 0 where it is (even for a NaN or inf gradient)."""
    out = np.empty(grad.shape, grad.dtype)
    _select(grad, _live(dead), out)
    return out


def dot(a, b, row=4096):
    """``sum(a * b)`` of two float32 arrays of one shape, as a Python float: float32 dot products
    of rows of ``row`` values, added in float64 (one dot over millions drifts by ~1e-5)."""
    a, b = a.reshape(-1), b.reshape(-1)
    k = a.size // row * row
    rows = np.einsum("ij,ij->i", a[:k].reshape(-1, row), b[:k].reshape(-1, row))
    return float(rows.sum(dtype=np.float64)) + float(np.dot(a[k:], b[k:]))


# ----- exp(x) - 1 without exp, and log(1 + e) from one exp ----------------------------------------
def expm1_nonpositive(x):
    """``exp(x) - 1`` for float32 ``x <= 0`` (or NaN): ``2 t / (1 - t)`` with ``t = tanh(x / 2)``,
    an identity with no cancellation there (``1 - t`` is in [1, 2]; ``e - 1`` would carry e's
    rounding, large against a small result). Five passes, NumPy's tanh being fast here; within
    2.3 ulp of float64's expm1 over [-100, 0] (the Taylor-patched ``e - 1`` it replaces: 6.8 ulp,
    at 2.9x the time). NaN, -inf and -0.0 as ``expm1``."""
    t = np.multiply(x, F32(0.5))
    np.tanh(t, out=t)
    d = np.subtract(F32(1), t)
    t *= F32(2)
    t /= d
    return t


def log1p_small(e):
    """``(1 + e, log(1 + e))`` for float32 ``e`` in [0, 1]: ``log(u)`` plus the rounding error of
    ``u = 1 + e`` (exact, Fast2Sum) over u, accurate as ``log1p``."""
    u = e + F32(1)
    r = u - F32(1)
    np.subtract(e, r, out=r)
    r /= u
    out = np.log(u)
    out += r
    return u, out


def sigmoid_from(e, u, m):
    """``sigmoid`` as ``1 / u`` where ``m`` is -1 and ``e / u`` elsewhere (``u = 1 + e``,
    ``e = exp(-|x|)``): with m = (x >= 0), sigmoid(x); with m = (x <= 0), sigmoid(-x)."""
    out = np.empty(e.shape, e.dtype)
    blend(F32(1), e, m, out)
    out /= u
    return out


def exp_minus_abs(a):
    """``exp(-|a|)``: in (0, 1], never overflows."""
    e = np.abs(a)
    np.negative(e, out=e)
    return np.exp(e, out=e)


def sigmoid(a, out=None):
    """``sigmoid(a)`` as elementwise.sigmoid computes it (the same values): four passes in
    one array (``out``, if given; ``divide`` with a scalar: ``reciprocal`` takes 2x as long here)."""
    e = np.negative(a, out=out)
    with np.errstate(over="ignore"):
        np.exp(e, out=e)
    e += F32(1)
    return np.divide(F32(1), e, out=e)


sigmoid.into = True  # (parallel.blocked: writes into given arrays)


# Numerical Recipes' erfc: t exp(-z**2 + P(t)) with t = 1 / (1 + z / 2), relative error below
# 1.2e-7 for z >= 0 (the coefficients of P, highest power first)
_ERFC = [F32(c) for c in (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806,
                          0.09678418, 0.37409196, 1.00002368, -1.26551223)]


def normal_cdf(a, out=None):
    """``Phi(a) = erfc(-a / sqrt 2) / 2`` of float32 ``a``: the tail ``Phi(-|a|)`` from erfc
    (one exp, accurate relative to itself however small), ``1 -`` it for ``a >= 0``."""
    z = np.abs(a)
    z *= F32(0.5**0.5)
    t = z * F32(0.5)
    t += F32(1)
    np.divide(F32(1), t, out=t)  # (reciprocal takes 2x as long here)
    p = t * _ERFC[0]
    for c in _ERFC[1:-1]:
        p += c
        p *= t
    p += _ERFC[-1]
    z *= z
    p -= z
    np.exp(p, out=p)
    p *= t
    p *= F32(0.5)
    upper = np.subtract(F32(1), p, out=out)
    return blend(upper, p, mask(np.greater_equal, a, 0), upper)


# ----- the kernels: forward(a, **params) -> (out, state); backward(grad, a, state, **params) -----
def hardtanh_forward(a, min_val=-1.0, max_val=1.0):
    return np.clip(a, F32(min_val), F32(max_val)), None


def hardtanh_backward(grad, a, state, min_val=-1.0, max_val=1.0):
    dead = np.less_equal(a, F32(min_val))
    dead |= np.greater_equal(a, F32(max_val))
    return select(grad, dead)


def hardsigmoid_forward(a):
    out = a + F32(3)
    np.clip(out, F32(0), F32(6), out=out)
    out /= F32(6)
    return out, None


def hardsigmoid_backward(grad, a, state):
    live = np.greater(a, F32(-3)).view(np.int8)
    live &= np.less(a, F32(3)).view(np.int8)  # (not at NaN, as in the generic rule)
    np.negative(live, out=live)
    out = grad * (F32(1) / F32(6))
    _select(out, live, out)
    return out


def hardswish_forward(a):
    out = a + F32(3)
    np.clip(out, F32(0), F32(6), out=out)
    out *= a
    out /= F32(6)
    return out, None


def hardswish_backward(grad, a, state):
    slope = a / F32(3)
    slope += F32(0.5)
    blend(slope, F32(1), mask(np.less, a, 3), slope)  # 1 from 3 on (and at NaN)
    slope *= grad
    _select(slope, _live(np.less_equal(a, F32(-3))), slope)
    return slope


def softplus_forward(a, beta=1.0, threshold=20.0):
    ab = a if beta == 1 else a * F32(beta)
    e = exp_minus_abs(ab)
    u, out = log1p_small(e)
    out += np.clip(ab, 0, _INF)
    if beta != 1:
        out /= F32(beta)
    if not (beta == 1 and threshold >= 16):  # (else log1p(exp(-a)) < half an ulp of a there: out is a)
        blend(a, out, mask(np.greater, ab, threshold), out)
    return out, (e, u)


def softplus_backward(grad, a, state, beta=1.0, threshold=20.0):
    e, u = state
    ab = a if beta == 1 else a * F32(beta)
    slope = sigmoid_from(e, u, mask(np.greater_equal, ab, 0))
    if not (beta == 1 and threshold >= 17):  # (else sigmoid rounds to 1 there)
        blend(F32(1), slope, mask(np.greater, ab, threshold), slope)
    slope *= grad
    return slope


def logsigmoid_forward(a):
    e = exp_minus_abs(a)
    u, lp = log1p_small(e)
    out = np.clip(a, -_INF, 0)
    out -= lp
    return out, (e, u)


def logsigmoid_backward(grad, a, state):
    slope = sigmoid_from(*state, mask(np.less_equal, a, 0))  # sigmoid(-a)
    slope *= grad
    return slope


def celu_forward(a, alpha=1.0, scale=1.0, input_scale=1.0):
    if not input_scale > 0:  # (exp of large positive values: the Taylor switch assumes x <= 0 mostly)
        return None
    m = np.clip(a, -_INF, 0)
    if input_scale != 1:
        m *= F32(input_scale)
    e = np.exp(m)  # (the slope's, for backward)
    out = expm1_nonpositive(m)
    out *= F32(alpha * scale)
    positive = np.clip(a, 0, _INF)  # (one of the two parts is +-0 at every element)
    if scale != 1:
        positive *= F32(scale)
    out += positive
    return out, e


def celu_backward(grad, a, e, alpha=1.0, scale=1.0, input_scale=1.0):
    slope = e * F32(alpha * scale * input_scale)
    blend(slope, F32(scale), mask(np.less_equal, a, 0), slope)  # NaN: the positive branch
    slope *= grad
    return slope


def mish_forward(a):
    # tanh(softplus(a)) = n / (n + 2) with n = E (E + 2), E = exp(a): one exp. Past 20,
    # t rounds to 1 (E capped there, no overflow); far below, t ~ E without cancellation.
    E = np.clip(a, -_INF, 20)
    np.exp(E, out=E)
    t = E + F32(2)
    t *= E
    d = t + F32(2)
    t /= d
    return a * t, (E, t)


def mish_backward(grad, a, state):
    E, t = state  # slope = t + a sigmoid(a) (1 - t**2), sigmoid(a) = E / (1 + E)
    s = E + F32(1)
    np.divide(E, s, out=s)
    s *= a
    q = t * t
    np.subtract(F32(1), q, out=q)
    s *= q
    s += t
    s *= grad
    return s
