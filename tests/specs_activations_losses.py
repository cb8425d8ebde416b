"""Gradcheck specs for issue 19's ops (activations, sin/cos, tensor-bound clamp, tensor
exponent pow, einsum, losses), merged into ``SPECS`` of test_registry_gradcheck.py."""
from hypothesis import strategies as st

import tinygrad_conv as tc
from test_registry_gradcheck import array, shape, two_broadcast_shapes, unary
from tinygrad_conv import functional as F, ops

# a grid offset by 0.05: no value within gradcheck's eps of a kink at a tenth (±3, ±1, 0)
off_grid = st.integers(-40, 40).map(lambda k: k / 10 + 0.05)


def activation(fn, **options):
    """``fn(x, **drawn options)`` on off-grid values; ``options`` maps a name to its choices."""
    def spec(data):
        params = {key: data.draw(st.sampled_from(choices)) for key, choices in options.items()}
        return (lambda t: fn(t, **params)), [array(data, shape(data), off_grid)]

    return spec


def hardtanh_spec(data):
    lo = data.draw(st.sampled_from([-1.0, -2.0, 0.0]))
    hi = data.draw(st.sampled_from([1.0, 6.0]))
    return (lambda t: F.hardtanh(t, lo, hi)), [array(data, shape(data), off_grid)]


grid = st.integers(-20, 20).map(lambda k: k / 10)


def clamp_spec(data):
    """Tensor bounds half-way between the grid points of x: never a tie; lo > hi sometimes."""
    sx, sb = two_broadcast_shapes(data)
    which = data.draw(st.sampled_from(["both", "min", "max"]))
    # min and max on different offsets (0.05, 0.03): no tie between them either
    bounds = [array(data, sb, grid.map(lambda v, d=d: v + d)) for d in ((0.05, 0.03) if which == "both" else (0.05,))]
    keys = {"both": ("min", "max"), "min": ("min",), "max": ("max",)}[which]
    return (lambda x, *b: x.clamp(**dict(zip(keys, b)))), [array(data, sx, grid)] + bounds


def pow_tensor_spec(data):
    sa, sb = two_broadcast_shapes(data)
    return (lambda a, b: a**b), [array(data, sa, st.floats(0.5, 2)), array(data, sb, st.floats(-2, 2))]


EINSUMS = [("ij,jk->ik", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]), ("ij->", [(2, 3)]), ("...ij,...jk", [(2, 3, 2), (2, 1)]),
           ("i,j->ij", [(3,), (2,)]), ("ijk,k->j", [(2, 3, 2), (2,)]), ("iij->ji", [(2, 2, 3)]), ("i,i,i->", [(3,)] * 3),
           ("bij,bkj->bik", [(2, 1, 3), (2, 2, 3)])]


def einsum_spec(data):
    equation, shapes = data.draw(st.sampled_from(EINSUMS))
    return (lambda *t: tc.einsum(equation, *t)), [array(data, s) for s in shapes]


def bce_spec(data):
    s = shape(data)
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    weight = array(data, s[len(s) - data.draw(st.integers(0, len(s))):], st.floats(0.5, 2)) if data.draw(st.booleans()) else None
    return (lambda x, y: F.binary_cross_entropy(x, y, weight, reduction)), [array(data, s, st.floats(0.1, 0.9)),
                                                                           array(data, s, st.floats(0, 1))]


def kl_div_spec(data):
    sa, sb = two_broadcast_shapes(data)
    reduction = data.draw(st.sampled_from(["mean", "sum", "none", "batchmean"]))
    log_target = data.draw(st.booleans())
    target = array(data, sb, st.floats(-2, 0) if log_target else st.floats(0.1, 1))
    return (lambda x, t: F.kl_div(x, t, reduction, log_target)), [array(data, sa), target]


def huber_spec(data):
    s = shape(data)
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    delta = data.draw(st.sampled_from([1.0, 0.5, 2.0]))  # x - y never within eps of ±delta: grid and off-grid
    return (lambda x, y: F.huber_loss(x, y, reduction, delta)), [array(data, s, grid), array(data, s, off_grid)]


SPECS = {
    "binary_cross_entropy": bce_spec,
    "kl_div": kl_div_spec,
    "huber_loss": huber_spec,
    "sin": unary(ops.Sin),
    "cos": unary(ops.Cos),
    "clamp_tensor": clamp_spec,
    "pow_tensor": pow_tensor_spec,
    "einsum": einsum_spec,
    "hardtanh": hardtanh_spec,
    "softplus": activation(F.softplus, beta=[1.0, 2.0, 0.5, -1.0], threshold=[20.0, 1.0]),
    "hardswish": activation(F.hardswish),
    "hardsigmoid": activation(F.hardsigmoid),
    "mish": activation(F.mish),
    "celu": activation(lambda t, selu: F.selu(t) if selu else F.celu(t, 0.7), selu=[False, True]),
    "logsigmoid": activation(F.logsigmoid),
    "softsign": activation(F.softsign),
}
