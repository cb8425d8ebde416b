"""Gradcheck specs for the version-2 building blocks (issue 11), merged into
``SPECS`` of test_registry_gradcheck.py. Same contract: ``spec(data)`` draws
float64 arrays and returns ``(fn, arrays)``."""
import numpy as np
from hypothesis import strategies as st

import tinygrad_conv as tc
from tinygrad_conv import functional as F, ops
from test_registry_gradcheck import array, distinct_array, getitem_spec, shape, two_broadcast_shapes

# Values on a grid of 0.1 and bounds half-way between grid points: no value lies
# within gradcheck's eps of a kink it does not sit exactly on.
grid = st.integers(-20, 20).map(lambda k: k / 10)
ties = st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0])  # exact ties, far apart otherwise


def unary(fn, elements=None, distinct=False, min_dims=0):
    def spec(data):
        s = shape(data, min_dims=min_dims)
        x = distinct_array(data, s) if distinct else array(data, s, elements) if elements is not None else array(data, s)
        return fn, [x]

    return spec


def clip_spec(data):
    lo = data.draw(st.one_of(st.none(), grid.map(lambda v: v + 0.05)))
    hi = data.draw(grid.map(lambda v: v + 0.05)) if lo is None else data.draw(st.one_of(st.none(), grid.map(lambda v: v + 0.05)))
    return (lambda t: t.clip(lo, hi)), [array(data, shape(data), grid)]


def extremum_spec(fn):
    def spec(data):
        sa, sb = two_broadcast_shapes(data)
        return fn, [array(data, sa, ties), array(data, sb, ties)]

    return spec


def where_spec(data):
    sa, sb = two_broadcast_shapes(data)
    sc = data.draw(st.sampled_from([sa, sb, ()]))
    condition = data.draw(st.lists(st.booleans(), min_size=int(np.prod(sc)), max_size=int(np.prod(sc))))
    condition = np.array(condition, dtype=bool).reshape(sc)
    return (lambda a, b: tc.where(condition, a, b)), [array(data, sa), array(data, sb)]


def var_spec(data):
    s = shape(data)
    axis = data.draw(st.one_of(st.none(), st.integers(-max(len(s), 1), max(len(s), 1) - 1))) if s else None
    keepdims = data.draw(st.booleans())
    n = int(np.prod(s if axis is None else (s[axis],)))
    correction = data.draw(st.sampled_from([0, 1])) if n > 1 else 0
    return (lambda t: t.var(axis=axis, keepdims=keepdims, correction=correction)), [array(data, s)]


def min_spec(data):
    s = shape(data)
    axis = data.draw(st.one_of(st.none(), st.integers(0, len(s) - 1))) if s else None
    keepdims = data.draw(st.booleans())
    return (lambda t: t.amin(dim=axis, keepdim=keepdims)), [distinct_array(data, s)]


def cat_spec(data):
    s = shape(data, min_dims=1)
    axis = data.draw(st.integers(-len(s), len(s) - 1))
    k = data.draw(st.integers(1, 3))
    shapes = [s[: axis % len(s)] + (data.draw(st.integers(1, 3)),) + s[axis % len(s) + 1 :] for _ in range(k)]
    return (lambda *t: tc.cat(list(t), axis=axis)), [array(data, sh) for sh in shapes]


def stack_spec(data):
    s = shape(data)
    axis = data.draw(st.integers(-len(s) - 1, len(s)))
    k = data.draw(st.integers(1, 3))
    return (lambda *t: tc.stack(list(t), axis=axis)), [array(data, s) for _ in range(k)]


def split_then_cat(data):
    """split is built from getitem slices: check it reassembles with cat over every axis."""
    s = shape(data, min_dims=1)
    axis = data.draw(st.integers(0, len(s) - 1))
    n = s[axis]
    sizes = data.draw(st.one_of(st.integers(1, n + 1), st.just([n]), st.just([0, n])))
    weights = np.arange(1.0, 1 + np.prod(s)).reshape(s)
    return (lambda t: tc.cat([p * (i + 1) for i, p in enumerate(t.split(sizes, axis))], axis=axis) * weights.astype(t.dtype)), [array(data, s)]


def mask_getitem_spec(data):
    """``getitem`` with integer, slice and (new) boolean-mask indices."""
    if not data.draw(st.booleans()):
        return getitem_spec(data)
    s = shape(data, min_dims=1)
    lead = data.draw(st.integers(1, len(s)))
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=int(np.prod(s[:lead])), max_size=int(np.prod(s[:lead])))))
    mask = mask.reshape(s[:lead])
    return (lambda t: t[mask] * 2), [array(data, s)]


def pad_spec(data):
    """Every mode, 1 to 3 padded axes, asymmetric widths, negative (cropping) ones too
    (reflect: below the axis length; circular: at most the cropped length)."""
    mode = data.draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    s = shape(data, min_dims=2, max_dims=4)
    n_axes = data.draw(st.integers(1, min(3, len(s))))
    pad = []
    for k in range(n_axes):
        n = s[-1 - k]
        low = -((n - 1) // 4)  # both crops together leave at least n + 2 * low >= 1
        high = {"reflect": n - 1, "circular": n + 2 * low}.get(mode, 3)
        pad += [data.draw(st.integers(low, high)), data.draw(st.integers(low, high))]
    value = data.draw(st.floats(-1, 1)) if mode == "constant" else None
    weights = np.arange(1.0, 1 + np.prod(s[:-n_axes])).reshape(s[:-n_axes] + (1,) * n_axes)
    return (lambda t: F.pad(t, tuple(pad), mode, value) * weights.astype(t.dtype)), [array(data, s)]


def activation_spec(fn, elements=None, distinct=False):
    def spec(data):
        s = shape(data)
        x = distinct_array(data, s) if distinct else array(data, s, elements) if elements is not None else array(data, s)
        return fn, [x]

    return spec


def batch_norm_spec(data):
    """Training (batch statistics, running arrays updated) and eval (running arrays), with
    and without weight and bias, on (N, C) and (N, C, H, W)."""
    training = data.draw(st.booleans())
    c = data.draw(st.integers(1, 3))
    s = data.draw(st.sampled_from([(data.draw(st.integers(2, 4)), c), (data.draw(st.integers(1, 2)), c, 2, data.draw(st.integers(1, 3)))]))
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    running = [rng.standard_normal(c), rng.uniform(0.5, 2, c)] if (not training or data.draw(st.booleans())) else [None, None]
    arrays = [array(data, s, st.floats(-2, 2))]
    if training:  # batch statistics need spread: an all-equal channel has variance 0
        arrays[0] = arrays[0] + rng.standard_normal(s)
    affine = data.draw(st.booleans())
    if affine:
        arrays += [array(data, (c,)), array(data, (c,))]
    weights = np.arange(1.0, 1 + np.prod(s)).reshape(s) / np.prod(s)

    def fn(x, *wb):
        stats = [None if r is None else tc.backend.to_device(r.astype(x.dtype), x.device) for r in running]  # fresh copies
        return F.batch_norm(x, *stats, *wb, training=training, momentum=0.3, eps=1e-3) * weights.astype(x.dtype)

    return fn, arrays


def dropout_spec(data):
    """Both kinds of mask, p in [0, 1]; reseeding inside fn gives every evaluation the same mask."""
    p = data.draw(st.sampled_from([0.0, 0.25, 0.5, 1.0]))
    seed = data.draw(st.integers(0, 99))
    channels = data.draw(st.booleans())
    s = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)), 2, 2) if channels else shape(data)

    def fn(t):
        tc.manual_seed(seed)
        out = F.dropout2d(t, p) if channels else F.dropout(t, p)
        return out * 1.0 if p == 0 else out  # p == 0 returns the input itself

    return fn, [array(data, s)]


SPECS = {
    "abs": unary(ops.Abs.apply, distinct=True),
    "sqrt": unary(ops.Sqrt.apply, st.floats(0.5, 2)),
    "clip": clip_spec,
    "maximum": extremum_spec(tc.maximum),
    "minimum": extremum_spec(tc.minimum),
    "where": where_spec,
    "var": var_spec,
    "min": min_spec,
    "cat": lambda data: split_then_cat(data) if data.draw(st.booleans()) else cat_spec(data),
    "stack": stack_spec,
    "getitem": mask_getitem_spec,
    "pad": pad_spec,
    "leaky_relu": activation_spec(lambda t: F.leaky_relu(t, 0.2), distinct=True),
    "elu": activation_spec(lambda t: F.elu(t, 1.5), distinct=True),
    "silu": activation_spec(F.silu),
    "batch_norm": batch_norm_spec,
    "dropout": dropout_spec,
    "gelu": lambda data: (lambda mode: activation_spec(lambda t: F.gelu(t, mode))(data))(
        data.draw(st.sampled_from(["none", "tanh"]))
    ),
}
