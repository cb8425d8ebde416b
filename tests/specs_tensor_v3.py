"""Gradcheck specs for the ops behind PyTorch's tensor methods (version 3): casts,
clone, expand, repeat, gather, prod, cumsum and differentiable ``__setitem__``;
merged into ``SPECS`` of test_registry_gradcheck.py."""
import numpy as np
from hypothesis import strategies as st

from test_registry_gradcheck import array, shape
from tinygrad_conv import ops


def cast_spec(data):
    # up to float64 and back: the identity on float64 (gradcheck), float32 -> float32 otherwise
    return (lambda t: ops.Cast.apply(ops.Cast.apply(t, dtype=np.dtype(np.float64)), dtype=t.dtype)), [
        array(data, shape(data))]


def clone_spec(data):
    return ops.Clone.apply, [array(data, shape(data))]


def expand_spec(data):
    s = shape(data, max_dims=2)
    lead = data.draw(st.sampled_from([(), (2,), (3, 1)]))
    target = lead + tuple(data.draw(st.integers(1, 3)) if n == 1 else n for n in s)
    return (lambda t: ops.Expand.apply(t, shape=target) * np.arange(int(np.prod(target))).reshape(target)), [
        array(data, s)]


def repeat_spec(data):
    s = shape(data, max_dims=2)
    repeats = tuple(data.draw(st.integers(1, 3)) for _ in range(len(s) + data.draw(st.integers(0, 1))))
    if not repeats:
        repeats = (2,)
    return (lambda t: ops.Repeat.apply(t, repeats=repeats) * np.arange(np.prod(
        ops.Repeat().forward(np.zeros(s), repeats).shape)).reshape(ops.Repeat().forward(np.zeros(s), repeats).shape)), [
        array(data, s)]


def gather_spec(data):
    s = shape(data, min_dims=1)
    axis = data.draw(st.integers(0, len(s) - 1))
    index_shape = tuple(data.draw(st.integers(1, n)) if d != axis else data.draw(st.integers(1, 4))
                        for d, n in enumerate(s))
    index = np.array(data.draw(st.lists(st.integers(-s[axis], s[axis] - 1), min_size=int(np.prod(index_shape)),
                                        max_size=int(np.prod(index_shape))))).reshape(index_shape)
    return (lambda t: ops.Gather.apply(t, axis=axis, index=index)), [array(data, s)]  # repeats add up


def prod_spec(data):
    s = shape(data)
    axis = None if not s else data.draw(st.one_of(st.none(), st.integers(-len(s), len(s) - 1)))
    keepdims = data.draw(st.booleans())
    # zeros included: the gradient of a product with a zero factor needs no division
    elements = st.one_of(st.just(0.0), st.floats(-2, 2))
    return (lambda t: ops.Prod.apply(t, axis=axis, keepdims=keepdims)), [array(data, s, elements)]


def cumsum_spec(data):
    s = shape(data)
    axis = data.draw(st.integers(-max(len(s), 1), max(len(s), 1) - 1))
    return (lambda t: ops.CumSum.apply(t, axis=axis) * np.arange(1, int(np.prod(s)) + 1).reshape(s)), [
        array(data, s)]


def setitem_spec(data):
    s = shape(data, min_dims=1)
    index = data.draw(st.one_of(st.integers(-s[0], s[0] - 1), st.slices(s[0])))
    value_shape = np.zeros(s)[index].shape
    value_shape = data.draw(st.sampled_from([value_shape, value_shape[1:], ()]))
    return (lambda a, v: ops.SetItem.apply(a, v, index=index)), [array(data, s), array(data, value_shape)]


def index_add_spec(data):
    s = shape(data, min_dims=1)
    index = np.array(data.draw(st.lists(st.integers(-s[0], s[0] - 1), min_size=1, max_size=5)))  # repeats add up
    return (lambda a, v: ops.IndexAdd.apply(a, v, index=index)), [array(data, s), array(data, (len(index),) + s[1:])]


SPECS = {
    "index_add": index_add_spec,
    "cast": cast_spec,
    "clone": clone_spec,
    "expand": expand_spec,
    "repeat": repeat_spec,
    "gather": gather_spec,
    "prod": prod_spec,
    "cumsum": cumsum_spec,
    "setitem": setitem_spec,
}
