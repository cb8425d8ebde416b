"""Second derivatives of the tensor ops (elementwise, reductions, movement and indexing,
casts, matmul, linear, the softmax family) against PyTorch's, as user code reaches them
through the Tensor API: ``autograd.grad(..., create_graph=True)`` twice.

For ``out = fn(*xs)`` and an upstream gradient ``v`` (requiring grad), the first
derivatives are ``gs = grad(out, xs, v, create_graph=True)``; the second ones are
``grad(sum(g * r for g, r in zip(gs, rs)), xs + [v])`` for fixed random directions ``r``:
every block of the Hessian of ``v . out`` (mixed ones included where an op has two
differentiable inputs) and the derivative in ``v``. Each case also runs squared
(``out * out``), so that the op's backward gets a gradient that depends on the inputs and
linear ops (whose own Hessian is zero) are differentiated twice in a nontrivial way.

Every case is a function of the module (``tc`` or ``torch``) and the tensors, built from
hypothesis-drawn shapes and options; values are kept away from kinks (distinct values for
max/min, none near 0 for relu/abs, none near clamp's bounds, positive ones for log/sqrt).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import Tensor
from tinygrad_conv import functional as F

import second_order

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True:UserWarning")

SETTINGS = settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)


# ----- the comparison -----------------------------------------------------------------------------
def compare(fn, arrays, seed, differentiable=None, square=False, rtol=1e-9, atol=1e-11):
    """``fn(tc, ...)`` and ``fn(torch, ...)`` agree in value, first and second derivatives."""
    def on(lib):
        def run(*xs):
            out = fn(lib, *xs)
            return out * out if square else out
        return run

    return second_order.compare(on(tc), on(torch), torch, arrays, seed, differentiable, rtol, atol)


# ----- drawn shapes and values ---------------------------------------------------------------------
def shapes(min_dims=0, max_dims=3, lo=1, hi=4):
    return st.lists(st.integers(lo, hi), min_size=min_dims, max_size=max_dims).map(tuple)


def broadcast_partner(data, s):
    """A shape broadcasting with ``s`` to ``s``: a suffix of it, some dims set to 1."""
    k = data.draw(st.integers(0, len(s)))
    return tuple(1 if data.draw(st.booleans()) else n for n in s[len(s) - k:])


def normal(rng, s):
    return rng.standard_normal(s)


def distinct(rng, s, spacing=0.37):
    """Distinct values on a shuffled grid, none within spacing/2 of 0 (or of each other)."""
    n = int(np.prod(s))
    return ((rng.permutation(n) - n / 2 + 0.5) * spacing).reshape(s)


def positive(rng, s):
    return rng.uniform(0.5, 2.0, s)


def nonzero(rng, s):
    return rng.choice([-1.0, 1.0], s) * rng.uniform(0.4, 2.0, s)


def a_dim(data, ndim):
    return data.draw(st.integers(-ndim, ndim - 1))


def some_dims(data, ndim):
    """None, one dim (maybe negative) or a tuple of distinct dims."""
    kind = data.draw(st.sampled_from(["none", "int", "tuple"])) if ndim else "none"
    if kind == "none":
        return None
    if kind == "int":
        return a_dim(data, ndim)
    return tuple(data.draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)))


def nnf(m):
    return F if m is tc else TF


# ----- the cases: name -> builder(data, rng) -> (fn(m, *tensors), arrays[, differentiable][, tolerances])
CASES = {}


def case(name):
    def register(builder):
        CASES[name] = builder
        return builder

    return register


def binary(op, values=normal):
    def build(data, rng):
        s = data.draw(shapes())
        t = broadcast_partner(data, s)
        if data.draw(st.booleans()):
            s, t = t, s
        if values is distinct:  # one pool: no ties between the operands either
            pool = distinct(rng, (int(np.prod(s)) + int(np.prod(t)),))
            a, b = pool[:int(np.prod(s))].reshape(s), pool[int(np.prod(s)):].reshape(t)
        else:
            a, b = values(rng, s), values(rng, t)
        return op, [a, b]

    return build


def unary(op, values=normal, shape=None):
    def build(data, rng):
        return op, [values(rng, data.draw(shape or shapes()))]

    return build


# elementwise, two tensors (broadcasting) and tensor-number
case("add")(binary(lambda m, x, y: x + y))
case("add_alpha")(binary(lambda m, x, y: x.add(y, alpha=-2.5)))
case("sub")(binary(lambda m, x, y: x - y))
case("sub_alpha")(binary(lambda m, x, y: x.sub(y, alpha=0.5)))
case("mul")(binary(lambda m, x, y: x * y))
case("div")(binary(lambda m, x, y: x / y, values=nonzero))
case("maximum")(binary(lambda m, x, y: m.maximum(x, y), values=distinct))
case("minimum")(binary(lambda m, x, y: m.minimum(x, y), values=distinct))
case("max_other")(binary(lambda m, x, y: x.max(y), values=distinct))
case("number_add_sub_mul")(unary(lambda m, x: (2.5 - x) * 3.0 + 1.5 - (x - 0.5) + (1 + x)))
case("number_div")(unary(lambda m, x: x / 3.0 + 2.0 / x, values=nonzero))
case("neg")(unary(lambda m, x: -x.neg() * x.neg()))
case("exp")(unary(lambda m, x: x.exp()))
case("log")(unary(lambda m, x: x.log(), values=positive))
case("tanh")(unary(lambda m, x: x.tanh()))
case("sigmoid")(unary(lambda m, x: x.sigmoid()))
case("sqrt")(unary(lambda m, x: x.sqrt(), values=positive))
case("relu")(unary(lambda m, x: x.relu() * x, values=distinct))
case("F_relu")(unary(lambda m, x: nnf(m).relu(x), values=distinct))
case("abs")(unary(lambda m, x: x.abs() * x, values=distinct))
case("rpow")(unary(lambda m, x: 2.5**x))


@case("pow")
def _pow(data, rng):
    p = data.draw(st.sampled_from([2, 3, -1, -2, 0, 1, 0.5, -0.5, 1.5, 2.5, -1.5, 3.0]))
    values = nonzero if float(p).is_integer() else positive
    method = data.draw(st.booleans())
    return (lambda m, x: x.pow(p) if method else x**p), [values(rng, data.draw(shapes()))]


@case("clamp")
def _clamp(data, rng):
    lo, hi = data.draw(st.sampled_from([(-0.5, None), (None, 0.3), (-0.6, 0.8), (0.1, 0.2)]))
    x = distinct(rng, data.draw(shapes()), spacing=0.3)  # the grid ..., -0.15, 0.15, 0.45, ...
    method = data.draw(st.sampled_from(["clamp", "clip"]))
    return (lambda m, x: getattr(x, method)(lo, hi) * x), [x]


@case("where")
def _where(data, rng):
    s = data.draw(shapes())
    t = broadcast_partner(data, s)
    c = rng.uniform(size=broadcast_partner(data, s)) < 0.5
    number = data.draw(st.booleans())
    if number:  # a number on one side
        return (lambda m, x: m.where(m.tensor(c), x, -1.25)), [normal(rng, s)]
    return (lambda m, x, y: m.where(m.tensor(c), x, y) * y), [normal(rng, s), normal(rng, t)]


# ----- reductions ------------------------------------------------------------------------------------
def _reduce(method, values=normal, keep=True):
    def build(data, rng):
        s = data.draw(shapes())
        dims, keepdim = some_dims(data, len(s)), data.draw(st.booleans())
        if dims is None and data.draw(st.booleans()):
            return (lambda m, x: getattr(x, method)()), [values(rng, s)]
        return (lambda m, x: getattr(x, method)(dims, keepdim=keepdim)), [values(rng, s)]

    return build


case("sum")(_reduce("sum"))
case("mean")(_reduce("mean"))
case("amax")(_reduce("amax", distinct))
case("amin")(_reduce("amin", distinct))


@case("logsumexp")
def _logsumexp(data, rng):  # torch's logsumexp takes dims (one or several), never None
    s = data.draw(shapes(min_dims=1))
    dims = some_dims(data, len(s))
    dims = tuple(range(len(s))) if dims is None else dims
    keepdim = data.draw(st.booleans())
    return (lambda m, x: x.logsumexp(dims, keepdim=keepdim)), [normal(rng, s) * 3]


@case("max_min_all")
def _max_min_all(data, rng):
    return (lambda m, x: x.max() * x.min()), [distinct(rng, data.draw(shapes()))]


@case("max_min_dim_values")
def _max_min_dim(data, rng):
    s = data.draw(shapes(min_dims=1))
    d, keepdim = a_dim(data, len(s)), data.draw(st.booleans())
    which = data.draw(st.sampled_from(["max", "min"]))
    return (lambda m, x: getattr(x, which)(d, keepdim=keepdim)[0]), [distinct(rng, s)]


@case("max_dim_values_attr")
def _max_dim_values(data, rng):
    s = data.draw(shapes(min_dims=1))
    d = a_dim(data, len(s))
    return (lambda m, x: x.max(dim=d).values - x.min(dim=d).values), [distinct(rng, s)]


def _var_std(method):
    def build(data, rng):
        s = data.draw(shapes(min_dims=1, lo=2))  # every reduced count >= 2: var > 0, n > correction
        dims, keepdim = some_dims(data, len(s)), data.draw(st.booleans())
        n = int(np.prod(s)) if dims is None else int(np.prod([s[d] for d in np.atleast_1d(dims)]))
        style = data.draw(st.sampled_from(["correction", "unbiased", "default"]))
        if style == "correction":
            c = data.draw(st.integers(0, min(2, n - 1)))
            return (lambda m, x: getattr(x, method)(dims, keepdim=keepdim, correction=c)), [normal(rng, s)]
        if style == "unbiased":
            u = data.draw(st.booleans())
            return (lambda m, x: getattr(x, method)(dims, unbiased=u, keepdim=keepdim)), [normal(rng, s)]
        return (lambda m, x: getattr(x, method)(dims, keepdim=keepdim)), [normal(rng, s)]

    return build


case("var")(_var_std("var"))
case("std")(_var_std("std"))


@case("prod")
def _prod(data, rng):
    s = data.draw(shapes())
    x = nonzero(rng, s)
    zeros = data.draw(st.integers(0, min(3, x.size)))
    x.flat[rng.choice(x.size, zeros, replace=False)] = 0.0  # with and without zeros
    if not s or data.draw(st.booleans()):
        return (lambda m, x: x.prod()), [x]
    d, keepdim = a_dim(data, len(s)), data.draw(st.booleans())
    return (lambda m, x: x.prod(d, keepdim=keepdim)), [x]


@case("prod_zeros_in_a_row")
def _prod_zeros_row(data, rng):
    """One and two zeros in a row: the product of the others is nonzero at one zero only, and
    its derivative (the mixed second derivative between the two zeros) is nonzero."""
    n = data.draw(st.integers(2, 5))
    x = nonzero(rng, (3, n))
    x[0, 0] = 0.0
    x[1, 0] = x[1, n - 1] = 0.0
    return (lambda m, x: x.prod(1)), [x]


@case("cumsum")
def _cumsum(data, rng):
    s = data.draw(shapes(min_dims=1))
    d = a_dim(data, len(s))
    return (lambda m, x: x.cumsum(d) * x), [normal(rng, s)]


# ----- shape and movement ------------------------------------------------------------------------------
@case("reshape")
def _reshape(data, rng):
    s = data.draw(shapes(min_dims=1))
    n = int(np.prod(s))
    target = data.draw(st.sampled_from([(n,), (-1,), (1, n), (n, 1, 1), s[::-1], (-1, s[-1])]))
    if int(np.prod([t for t in target if t != -1])) and n % int(np.prod([t for t in target if t != -1])):
        target = (n,)
    view = data.draw(st.booleans())
    return (lambda m, x: x.view(*target) if view else x.reshape(target)), [normal(rng, s)]


@case("flatten_squeeze_unsqueeze")
def _flatten(data, rng):
    s = data.draw(shapes(min_dims=1))
    d = data.draw(st.integers(-len(s) - 1, len(s)))
    return (lambda m, x: x.unsqueeze(d).flatten().unsqueeze(0).squeeze(0)), [normal(rng, s)]


@case("transpose")
def _transpose(data, rng):
    s = data.draw(shapes(min_dims=2))
    d0, d1 = a_dim(data, len(s)), a_dim(data, len(s))
    return (lambda m, x: x.transpose(d0, d1)), [normal(rng, s)]


@case("permute")
def _permute(data, rng):
    s = data.draw(shapes(min_dims=1))
    perm = data.draw(st.permutations(range(len(s))))
    star = data.draw(st.booleans())
    return (lambda m, x: x.permute(*perm) if star else x.permute(perm)), [normal(rng, s)]


@case("T_mT")
def _t(data, rng):
    s = data.draw(shapes(min_dims=2))
    return (lambda m, x: x.mT + x.transpose(-1, -2)), [normal(rng, s)]


@case("expand")
def _expand(data, rng):
    s = data.draw(shapes())
    base = tuple(1 if data.draw(st.booleans()) else n for n in s)
    lead = data.draw(st.lists(st.integers(1, 3), max_size=2).map(tuple))
    sizes = lead + tuple(-1 if data.draw(st.booleans()) and b == n else n for b, n in zip(base, s))
    star = bool(sizes) and data.draw(st.booleans())
    return (lambda m, x: x.expand(*sizes) if star else x.expand(sizes)), [normal(rng, base)]


@case("expand_as")
def _expand_as(data, rng):
    s = data.draw(shapes(min_dims=1))
    base = tuple(1 if data.draw(st.booleans()) else n for n in s)
    return (lambda m, x, y: x.expand_as(y) * y), [normal(rng, base), normal(rng, s)]


@case("repeat")
def _repeat(data, rng):
    s = data.draw(shapes())
    reps = tuple(data.draw(st.lists(st.integers(1, 3), min_size=len(s), max_size=len(s) + 2)))
    star = bool(reps) and data.draw(st.booleans())
    return (lambda m, x: x.repeat(*reps) if star else x.repeat(reps)), [normal(rng, s)]


@case("getitem_basic")
def _getitem_basic(data, rng):
    s = data.draw(shapes(min_dims=1))
    index = []
    for n in s:
        kind = data.draw(st.sampled_from(["int", "negint", "slice", "step", "all", "none"]))
        if kind == "int":
            index.append(data.draw(st.integers(0, n - 1)))
        elif kind == "negint":
            index.append(-data.draw(st.integers(1, n)))
        elif kind == "slice":
            lo = data.draw(st.integers(0, n - 1))
            index.append(slice(lo, data.draw(st.integers(lo + 1, n))))
        elif kind == "step":
            index.append(slice(None, None, data.draw(st.integers(1, 3))))
        elif kind == "all":
            index.append(slice(None))
        else:
            index += [None, slice(None)]
    if data.draw(st.booleans()):  # drop trailing entries, or write them as ...
        index = index[:data.draw(st.integers(1, len(index)))]
        if data.draw(st.booleans()):
            index = [Ellipsis] + index[1:]
    index = tuple(index)
    return (lambda m, x: x[index]), [normal(rng, s)]


@case("getitem_int_array_repeats")
def _getitem_int(data, rng):
    s = data.draw(shapes(min_dims=1))
    idx = rng.integers(-s[0], s[0], data.draw(shapes(min_dims=1, max_dims=2, hi=6)))  # repeats likely
    idx.flat[-1] = idx.flat[0]  # at least one repeat when there are two or more
    kind = data.draw(st.sampled_from(["first", "pair", "list"]))
    if kind == "pair" and len(s) >= 2:  # x[i, j]: two arrays broadcast together
        jdx = rng.integers(0, s[1], idx.shape[-1:])
        return (lambda m, x: x[m.tensor(idx), m.tensor(jdx)]), [normal(rng, s)]
    if kind == "list":
        lst = idx.reshape(-1).tolist()
        return (lambda m, x: x[lst]), [normal(rng, s)]
    return (lambda m, x: x[m.tensor(idx)]), [normal(rng, s)]


@case("getitem_bool_mask")
def _getitem_mask(data, rng):
    s = data.draw(shapes(min_dims=1))
    k = data.draw(st.integers(1, len(s)))  # a mask over the leading k dims
    mask = rng.uniform(size=s[:k]) < 0.5
    mask.flat[0] = True
    if data.draw(st.booleans()):
        return (lambda m, x: x[m.tensor(mask)]), [normal(rng, s)]
    return (lambda m, x: x[x > 0] * 2.0), [nonzero(rng, s)]


def _setitem_index(data, rng, s):
    """(index for each module, shape of x[index]); integer arrays without repeats."""
    kind = data.draw(st.sampled_from(["int", "slice", "array", "mask"]))
    if kind == "int":
        i = data.draw(st.integers(-s[0], s[0] - 1))
        return (lambda m: i), s[1:]
    if kind == "slice":
        lo = data.draw(st.integers(0, s[0] - 1))
        ix = (slice(None),) * (len(s) - 1) + (slice(lo, None, data.draw(st.integers(1, 2))),)
        return (lambda m: ix), np.empty(s)[ix].shape
    if kind == "array":
        idx = rng.permutation(s[0])[:data.draw(st.integers(1, s[0]))]
        return (lambda m: m.tensor(idx)), (len(idx),) + s[1:]
    mask = rng.uniform(size=s) < 0.5
    mask.flat[0] = True
    return (lambda m: m.tensor(mask)), (int(mask.sum()),)


@case("setitem_non_leaf")
def _setitem(data, rng):
    s = data.draw(shapes(min_dims=1))
    index, target = _setitem_index(data, rng, s)
    vshape = broadcast_partner(data, target) if data.draw(st.booleans()) else target

    def fn(m, x, v):
        y = x * 1
        y[index(m)] = v
        return y * x  # y's untouched entries and x itself

    return fn, [normal(rng, s), normal(rng, vshape)]


@case("setitem_number_then_op")
def _setitem_number(data, rng):
    s = data.draw(shapes(min_dims=1))
    index, _ = _setitem_index(data, rng, s)

    def fn(m, x):
        y = x * x  # (exp would save its output, which torch forbids overwriting)
        y[index(m)] = 0.5
        return y.exp().sum(0)

    return fn, [normal(rng, s)]


@case("cat")
def _cat(data, rng):
    s = data.draw(shapes(min_dims=1))
    d = a_dim(data, len(s))
    k = data.draw(st.integers(1, 3))
    arrays = []
    for j in range(k):
        t = list(s)
        t[d] = data.draw(st.integers(0 if j else 1, 3))  # an empty piece too (not all empty)
        arrays.append(normal(rng, tuple(t)))
    return (lambda m, *xs: m.cat(list(xs), d) * m.cat(list(xs), d)), arrays


@case("stack")
def _stack(data, rng):
    s = data.draw(shapes())
    d = data.draw(st.integers(-len(s) - 1, len(s)))
    k = data.draw(st.integers(1, 3))
    return (lambda m, *xs: m.stack(xs, dim=d)), [normal(rng, s) for _ in range(k)]


@case("split_chunk_unbind")
def _split(data, rng):
    s = data.draw(shapes(min_dims=1, lo=2))
    d = a_dim(data, len(s))

    def fn(m, x):
        a = x.split(1, d)
        b = x.chunk(2, d)
        c = x.unbind(d)
        return a[0] * b[0].sum(d, keepdim=True) + c[-1].unsqueeze(d)

    return fn, [normal(rng, s)]


@case("gather")
def _gather(data, rng):
    s = data.draw(shapes(min_dims=1))
    d = a_dim(data, len(s))
    ishape = tuple(data.draw(st.integers(1, n)) for n in s)
    ishape = ishape[:d % len(s)] + (data.draw(st.integers(1, 5)),) + ishape[d % len(s) + 1:]  # longer: repeats
    idx = rng.integers(0, s[d], ishape)
    return (lambda m, x: x.gather(d, m.tensor(idx)) * x.gather(d, m.tensor(idx))), [normal(rng, s)]


@case("masked_fill")
def _masked_fill(data, rng):
    s = data.draw(shapes())
    mask = rng.uniform(size=broadcast_partner(data, s)) < 0.5
    if data.draw(st.booleans()):  # a 0-d tensor value, differentiated too
        return (lambda m, x, v: x.masked_fill(m.tensor(mask), v) * v), [normal(rng, s), normal(rng, ())]
    return (lambda m, x: x.masked_fill(m.tensor(mask), -0.75) * x), [normal(rng, s)]


@case("clone")
def _clone(data, rng):
    return (lambda m, x: x.clone() * x.clone().exp()), [normal(rng, data.draw(shapes()))]


@case("cast_float32_and_back")
def _cast(data, rng):
    """float64 -> float32 -> float64: the gradients are cast back (float32 precision)."""
    how = data.draw(st.sampled_from(["to", "float", "type_as"]))

    def fn(m, x):
        if how == "to":
            y = x.to(m.float32)
        elif how == "float":
            y = x.float()
        else:
            y = x.type_as(m.zeros(1, dtype=m.float32))
        out = (y.tanh() * y).to(m.float64) if how != "float" else (y.tanh() * y).double()
        return out * x

    return fn, [normal(rng, data.draw(shapes()))], None, dict(rtol=2e-5, atol=1e-6)


# ----- matmul, linear, softmax ---------------------------------------------------------------------
@case("matmul")
def _matmul(data, rng):
    k, n, p = (data.draw(st.integers(1, 4)) for _ in range(3))
    batch = data.draw(shapes(max_dims=2))
    kind = data.draw(st.sampled_from(["1d1d", "1d2d", "2d1d", "2d2d", "batched", "batched_broadcast",
                                      "batched_1d"]))
    a, b = {
        "1d1d": ((k,), (k,)), "1d2d": ((k,), (k, p)), "2d1d": ((n, k), (k,)), "2d2d": ((n, k), (k, p)),
        "batched": (batch + (n, k), batch + (k, p)),
        "batched_broadcast": (batch + (n, k), (k, p)) if data.draw(st.booleans()) else ((n, k), batch + (k, p)),
        "batched_1d": (batch + (n, k), (k,)) if data.draw(st.booleans()) else ((k,), batch + (k, p)),
    }[kind]
    how = data.draw(st.sampled_from(["@", "matmul", "mm"] if kind == "2d2d" else ["@", "matmul"]))
    fns = {"@": lambda m, x, y: x @ y, "matmul": lambda m, x, y: m.matmul(x, y), "mm": lambda m, x, y: x.mm(y)}
    return fns[how], [normal(rng, a), normal(rng, b)]


@case("linear")
def _linear(data, rng):
    i, o = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    lead = data.draw(shapes(max_dims=2))
    arrays = [normal(rng, lead + (i,)), normal(rng, (o, i))]
    if data.draw(st.booleans()):
        arrays.append(normal(rng, (o,)))
        return (lambda m, x, w, b: nnf(m).linear(x, w, b)), arrays
    return (lambda m, x, w: nnf(m).linear(x, w)), arrays


@case("softmax")
def _softmax(data, rng):
    s = data.draw(shapes(min_dims=1))
    d = a_dim(data, len(s))
    method = data.draw(st.booleans())
    return (lambda m, x: x.softmax(d) if method else nnf(m).softmax(x, dim=d)), [normal(rng, s) * 2]


@case("log_softmax")
def _log_softmax(data, rng):
    s = data.draw(shapes(min_dims=1))
    d = a_dim(data, len(s))
    method = data.draw(st.booleans())
    return (lambda m, x: x.log_softmax(d) if method else nnf(m).log_softmax(x, dim=d)), [normal(rng, s) * 2]


@case("softmax_of_a_product")
def _softmax_product(data, rng):
    n, k = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    return (lambda m, x, w: nnf(m).log_softmax(x @ w, dim=-1) + (x @ w).softmax(0)), \
        [normal(rng, (n, k)), normal(rng, (k, 3))]


# ----- the tests --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(CASES))
@SETTINGS
@given(data=st.data(), seed=seeds, square=st.booleans())
def test_second_derivatives_match_torch(name, data, seed, square):
    rng = np.random.default_rng(seed)
    built = CASES[name](data, rng)
    fn, arrays = built[:2]
    differentiable = built[2] if len(built) > 2 else None
    tolerances = built[3] if len(built) > 3 else {}
    if len(arrays) > 1 and data.draw(st.booleans(), label="one input held constant"):
        differentiable = [True] * len(arrays)
        differentiable[data.draw(st.integers(0, len(arrays) - 1))] = False
        if not any(differentiable):
            differentiable[0] = True
    compare(fn, arrays, seed, differentiable, square=square, **tolerances)


def test_every_family_in_the_brief_has_a_case():
    required = {"add", "sub", "mul", "div", "neg", "pow", "exp", "log", "tanh", "sigmoid", "relu", "abs", "sqrt",
                "clamp", "maximum", "minimum", "where", "sum", "mean", "amax", "amin", "max_min_dim_values", "var",
                "std", "prod", "cumsum", "logsumexp", "reshape", "transpose", "permute", "getitem_basic",
                "getitem_int_array_repeats", "getitem_bool_mask", "setitem_non_leaf", "cat", "stack", "expand",
                "repeat", "gather", "masked_fill", "clone", "cast_float32_and_back", "matmul", "linear",
                "softmax", "log_softmax"}
    assert required <= set(CASES)


# ----- fixed cases whose second derivatives are known to be nonzero ------------------------------------
def test_second_derivatives_are_nontrivial():
    """The comparison would catch a backward that is not differentiated at all (a constant):
    mul's mixed derivative, pow's, softmax's and prod's (at a zero) second derivatives are
    nonzero here and equal torch's."""
    rng = np.random.default_rng(0)
    for fn, arrays in [
        (lambda m, x, y: x * y, [normal(rng, (3,)), normal(rng, (3,))]),
        (lambda m, x: x**3, [normal(rng, (4,))]),
        (lambda m, x: x.softmax(0), [normal(rng, (4,))]),
        (lambda m, x: x.prod(), [np.array([0.0, 1.5, -2.0, 0.7])]),
        (lambda m, x: x.prod(), [np.array([0.0, 1.5, 0.0, 0.7])]),
    ]:
        got, _ = compare(fn, arrays, 0)
        assert any(np.abs(h).max() > 1e-3 for h in got[2][:-1]), "expected a nonzero Hessian block"


def test_third_derivative_through_tensor_ops_matches_torch():
    """d^3/dx^3 of a function built from the ops above (each backward's backward is differentiable)."""
    x = np.array([0.3, -1.2, 0.8, 1.7])
    ours, theirs = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)

    def f(m, x):
        y = x.log_softmax(0) * x.tanh() + x.exp() / (x * x + 1.0)
        return y.cumsum(0).var() + (x**3).std() + (x * x.sigmoid()).prod()

    g_ours, g_theirs = f(tc, ours), f(torch, theirs)
    for _ in range(3):
        (g_ours,) = tc.autograd.grad(g_ours.sum(), ours, create_graph=True)
        (g_theirs,) = torch.autograd.grad(g_theirs.sum(), theirs, create_graph=True)
        np.testing.assert_allclose(g_ours.detach().numpy(), g_theirs.detach().numpy(), rtol=1e-9, atol=1e-11)
