"""Every op in ``tc.ops.registry`` is gradchecked on hypothesis-drawn inputs.

The test walks the registry, so an op added to the library without a spec
here fails ``test_every_builtin_op_has_a_spec``: no op can skip the check.
A spec draws float64 arrays and returns ``(fn, arrays)``; ``fn`` maps
Tensors to a Tensor through the op. The strategies and the check are
``tc.testing``'s, the ones users property-test their own ops with.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import ops, testing

values = testing.floats()  # finite, in [-2, 2]


def array(data, shape, elements=values):
    return data.draw(testing.arrays(shape, elements=elements))


def distinct_array(data, shape):
    """Values with no ties and no two within gradcheck's eps (max, relu kinks)."""
    return data.draw(testing.distinct_arrays(shape))


def shape(data, min_dims=0, max_dims=3):
    return data.draw(testing.shapes(min_dims=min_dims, max_dims=max_dims, max_side=4))


def two_broadcast_shapes(data):
    return data.draw(testing.broadcastable_shapes(2, max_dims=3, max_side=3))


def binary(op, b_elements=values):
    def spec(data):
        sa, sb = two_broadcast_shapes(data)
        return op.apply, [array(data, sa), array(data, sb, b_elements)]

    return spec


def unary(op, elements=values, distinct=False):
    def spec(data):
        s = shape(data)
        return op.apply, [distinct_array(data, s) if distinct else array(data, s, elements)]

    return spec


def axis_for(data, ndim):
    """None, one axis (possibly negative) or a tuple of distinct axes."""
    if ndim == 0:
        return None
    return data.draw(
        st.one_of(
            st.none(),
            st.integers(-ndim, ndim - 1),
            st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple),
        )
    )


def reduction(op, distinct=False):
    def spec(data):
        s = shape(data)
        a = distinct_array(data, s) if distinct else array(data, s)
        axis, keepdims = axis_for(data, len(s)), data.draw(st.booleans())
        return (lambda t: op.apply(t, axis=axis, keepdims=keepdims)), [a]

    return spec


def pow_spec(data):
    s = shape(data)
    exponent = data.draw(st.sampled_from([2, 3, -1, 0.5, 1.5, -2.5]))
    base = array(data, s, st.floats(0.5, 2))  # positive: fractional powers stay real
    return (lambda t: t**exponent), [base]


def matmul_spec(data):
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    batch_a = data.draw(st.sampled_from([(), (2,), (1,), (2, 1)]))
    batch_b = data.draw(st.sampled_from([(), (2,), (1,)]))
    shape_a = data.draw(st.sampled_from([batch_a + (n, k), (k,)]))
    shape_b = data.draw(st.sampled_from([batch_b + (k, m), (k,)]))
    return ops.MatMul.apply, [array(data, shape_a), array(data, shape_b)]


def reshape_spec(data):
    s = shape(data)
    size = int(np.prod(s))
    new = data.draw(st.sampled_from([(size,), (1, size), (size, 1, 1), (-1,)]))
    return (lambda t: t.reshape(*new)), [array(data, s)]


def transpose_spec(data):
    s = shape(data, min_dims=1)
    axes = data.draw(st.one_of(st.none(), st.permutations(range(len(s))).map(tuple)))
    return (lambda t: ops.Transpose.apply(t, axes=axes)), [array(data, s)]


def getitem_spec(data):
    s = shape(data, min_dims=1)
    first = s[0]
    index = data.draw(
        st.one_of(
            st.integers(-first, first - 1),
            st.slices(first),
            st.lists(st.integers(0, first - 1), min_size=1, max_size=5).map(np.array),  # repeats add up
            st.tuples(st.slices(first), st.just(Ellipsis)),
        )
    )
    return (lambda t: t[index]), [array(data, s)]


def linear_spec(data):
    n, i, o = (data.draw(st.integers(1, 4)) for _ in range(3))
    lead = data.draw(st.sampled_from([(n,), (2, n), ()]))
    arrays = [array(data, lead + (i,)), array(data, (o, i))]
    if data.draw(st.booleans()):
        arrays.append(array(data, (o,)))
    return ops.Linear.apply, arrays


def softmax_spec(op):
    def spec(data):
        s = shape(data, min_dims=1)
        axis = data.draw(st.integers(-len(s), len(s) - 1))
        return (lambda t: op.apply(t, axis=axis) * np.arange(t.numel()).reshape(t.shape)), [array(data, s)]

    return spec


def mse_spec(data):
    s = shape(data)
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    return (lambda p, t: ops.MSELoss.apply(p, t, reduction=reduction)), [array(data, s), array(data, s)]


def to_device_spec(data):
    s = shape(data)
    return (lambda t: ops.ToDevice.apply(t, device="cpu")), [array(data, s)]


SPECS = {
    "add": binary(ops.Add),
    "sub": binary(ops.Sub),
    "mul": binary(ops.Mul),
    "div": binary(ops.Div, st.floats(0.5, 2)),
    "neg": unary(ops.Neg),
    "pow": pow_spec,
    "exp": unary(ops.Exp),
    "log": unary(ops.Log, st.floats(0.1, 3)),
    "tanh": unary(ops.Tanh),
    "sigmoid": unary(ops.Sigmoid),
    "relu": unary(ops.ReLU, distinct=True),
    "matmul": matmul_spec,
    "reshape": reshape_spec,
    "transpose": transpose_spec,
    "getitem": getitem_spec,
    "to_device": to_device_spec,
    "sum": reduction(ops.Sum),
    "mean": reduction(ops.Mean),
    "max": reduction(ops.Max, distinct=True),
    "linear": linear_spec,
    "log_softmax": softmax_spec(ops.LogSoftmax),
    "softmax": softmax_spec(ops.Softmax),
    "mse_loss": mse_spec,
}
from specs_building_blocks import SPECS as _S; SPECS.update(_S)  # noqa: E402,E702  (issue 11)
from specs_conv_family import SPECS as _S; SPECS.update(_S)  # noqa: E402,E702
from specs_tensor_v3 import SPECS as _S; SPECS.update(_S)  # noqa: E402,E702  (issue 16)
from specs_activations_losses import SPECS as _S; SPECS.update(_S)  # noqa: E402,E702  (issue 19: activations, losses, tensor ops)
from specs_norms_embedding import SPECS as _S; SPECS.update(_S)  # noqa: E402,E702  (issue 19: norms, embedding)
from specs_conv_nd import SPECS as _S; SPECS.update(_S)  # noqa: E402,E702  (issue 19: N-d conv)
from specs_resample import SPECS as _S; SPECS.update(_S)  # noqa: E402,E702  (issues 19-21: pad, interpolate)
from specs_pool_nd import SPECS as _S; SPECS.update(_S)  # noqa: E402,E702  (issues 19-21: pooling)

BUILTIN = sorted(name for name, cls in ops.registry.items() if cls.__module__.startswith("tinygrad_conv."))


def test_every_builtin_op_has_a_spec():
    missing = [name for name in BUILTIN if name not in SPECS]
    assert not missing, f"ops without a gradcheck spec in {__file__}: {missing}"


@pytest.mark.parametrize("name", BUILTIN)
@given(data=st.data())
def test_op_gradchecks(name, data):
    fn, arrays = SPECS[name](data)
    assert testing.check_example(fn, arrays)


@pytest.mark.parametrize("name", BUILTIN)
@given(data=st.data())
def test_op_keeps_float32(name, data):
    """float32 in, float32 out and float32 gradients: no silent upcast."""
    fn, arrays = SPECS[name](data)
    inputs = [tc.Tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    out = fn(*inputs)
    assert out.dtype == np.float32
    (out if out.numel() == 1 else out.sum()).backward()
    for t in inputs:
        assert t.grad is not None and t.grad.dtype == np.float32 and t.grad.shape == t.shape
