"""The Tensor and the engine: construction, forward against NumPy, backward
semantics (accumulation, retain_grad, release, no_grad), deep graphs, errors."""
import gc
import weakref

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_conv as tc
from tinygrad_conv import Tensor

finite = st.floats(-3, 3, allow_nan=False, width=32)


def arrays(shape, dtype=np.float32, elements=finite):
    return hnp.arrays(dtype, shape, elements=elements)


# ----- construction and dtype rules ------------------------------------------------------
@pytest.mark.parametrize(
    "data, dtype",
    [
        (1.5, np.float32),
        (3, np.int64),  # torch.tensor's inference: Python ints give int64
        ([[1, 2], [3, 4]], np.int64),
        ([1.0, 2.0], np.float32),
        ([1, 2.5], np.float32),  # the widest kind in a list wins
        (True, np.bool_),
        (np.arange(3, dtype=np.int64), np.int64),  # NumPy arrays keep their dtype
        (np.arange(3, dtype=np.int32), np.int32),
        (np.array([True, False]), np.bool_),
        (np.zeros(2, np.float32), np.float32),
        (np.zeros(2, np.float64), np.float64),
        (np.float64(2.0), np.float64),
    ],
)
def test_dtype_rules(data, dtype):
    t = Tensor(data)
    assert t.dtype == dtype and isinstance(t.data, Tensor) and isinstance(t.numpy(), np.ndarray)
    assert t.shape == np.shape(data) and t.grad is None and t.requires_grad is False


def test_explicit_dtype_and_copy():
    a = np.arange(4.0)
    t = Tensor(a, dtype=np.float32)
    assert t.dtype == np.float32
    t2 = Tensor(a)
    a[0] = 100.0
    assert t2.data[0] == 0.0  # the constructor copies, like torch.tensor


@pytest.mark.parametrize("bad", ["abc", ["a", "b"], None, {"a": 1}, object(), np.array([1 + 2j])])
def test_non_numeric_data_is_a_type_error(bad):
    with pytest.raises(TypeError, match="numeric"):
        Tensor(bad)


def test_bad_dtype_and_ragged_data():
    with pytest.raises(TypeError, match="not supported"):
        Tensor([1, 2], dtype=np.complex64)
    with pytest.raises(TypeError, match="not supported"):
        Tensor([1, 2], dtype=np.uint16)
    with pytest.raises(RuntimeError, match="floating point"):  # as torch: integer tensors can't require grad
        Tensor([1, 2], requires_grad=True)
    assert Tensor([1, 2], dtype=np.int64).dtype == np.int64
    with pytest.raises(ValueError, match="rectangular"):
        Tensor([[1, 2], [3]])


def test_attributes_and_conversions():
    t = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert (t.shape, t.ndim, t.size(), t.size(1), t.numel(), t.dim(), len(t)) == ((2, 3), 2, (2, 3), 3, 6, 2, 2)
    assert isinstance(t.data, Tensor) and not t.data.requires_grad and t.data.is_leaf
    assert np.shares_memory(t.numpy(), t.data.numpy())
    t.data[0, 0] = 7.0  # .data shares memory with t, as in PyTorch
    assert t.numpy()[0, 0] == 7.0 and t.requires_grad
    assert Tensor([[2.5]]).item() == 2.5
    with pytest.raises(ValueError, match="one-element"):
        t.item()
    assert repr(t).startswith("tensor(") and "requires_grad=True" in repr(t) and "dtype=float64" in repr(t)
    d = (t * 2).detach()
    assert d.requires_grad is False and d.is_leaf


# ----- forward equals NumPy -----------------------------------------------------------------
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4), data=st.data())
def test_binary_forward_matches_numpy(shapes, data):
    a = data.draw(arrays(shapes.input_shapes[0]))
    b = data.draw(arrays(shapes.input_shapes[1], elements=st.floats(0.5, 3, width=32)))
    ta, tb = Tensor(a), Tensor(b)
    for ours, ref in [(ta + tb, a + b), (ta - tb, a - b), (ta * tb, a * b), (ta / tb, a / b)]:
        assert ours.dtype == np.float32
        np.testing.assert_array_equal(ours.data, ref)
    # numbers and arrays on either side
    np.testing.assert_array_equal((2 - ta).data, 2 - a)
    np.testing.assert_array_equal((1 / tb).data, 1 / b)
    np.testing.assert_array_equal((a + tb).data, a + b)
    np.testing.assert_array_equal((tb ** 2).data, b**2)
    np.testing.assert_array_equal((-ta).data, -a)


@given(a=arrays((3, 4)))
def test_unary_and_reductions_match_numpy(a):
    t = Tensor(a)
    np.testing.assert_allclose(t.exp().data, np.exp(a), rtol=1e-6)
    np.testing.assert_allclose(t.tanh().data, np.tanh(a), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(t.sigmoid().data, 1 / (1 + np.exp(-a)), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(t.relu().data, np.maximum(a, 0))
    np.testing.assert_allclose(Tensor(np.abs(a) + 1).log().data, np.log(np.abs(a) + 1), rtol=1e-6)
    for axis in [None, 0, 1, -1, (0, 1)]:
        for keepdims in (False, True):
            np.testing.assert_allclose(t.sum(axis, keepdims).data, a.sum(axis, keepdims=keepdims), rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(t.mean(axis, keepdims).data, a.mean(axis, keepdims=keepdims), rtol=1e-5, atol=1e-6)
            np.testing.assert_array_equal(t.amax(axis, keepdims), a.max(axis, keepdims=keepdims))
            if isinstance(axis, int):  # max(dim) returns (values, indices), as in PyTorch
                values, indices = t.max(axis, keepdims)
                np.testing.assert_array_equal(values, a.max(axis, keepdims=keepdims))
                np.testing.assert_array_equal(indices, np.expand_dims(a.argmax(axis), axis) if keepdims else a.argmax(axis))
                assert indices.dtype == np.int64
    np.testing.assert_array_equal(t.max(), a.max())
    assert t.max().shape == ()
    assert t.sum().dtype == np.float32 and t.mean().dtype == np.float32


@given(a=arrays((2, 3, 4)))
def test_shape_ops_match_numpy(a):
    t = Tensor(a)
    np.testing.assert_array_equal(t.reshape(6, 4).data, a.reshape(6, 4))
    np.testing.assert_array_equal(t.reshape((4, -1)).data, a.reshape(4, -1))
    np.testing.assert_array_equal(t.flatten(), a.reshape(24))  # start_dim=0 by default, as in PyTorch
    np.testing.assert_array_equal(t.flatten(1), a.reshape(2, 12))
    np.testing.assert_array_equal(t.flatten(0, 1), a.reshape(6, 4))
    np.testing.assert_array_equal(t.transpose(0, 2), a.swapaxes(0, 2))  # swaps two dims
    np.testing.assert_array_equal(t.transpose(-1, 1), a.swapaxes(2, 1))
    np.testing.assert_array_equal(t.permute(2, 1, 0), a.T)
    np.testing.assert_array_equal(t.permute(1, 0, 2), a.transpose(1, 0, 2))
    np.testing.assert_array_equal(t.T.data, a.T)
    np.testing.assert_array_equal(t[1, :, ::2].data, a[1, :, ::2])
    np.testing.assert_array_equal(t[[0, 0, 1]].data, a[[0, 0, 1]])
    np.testing.assert_array_equal(t[..., np.array([3, 1])].data, a[..., [3, 1]])
    np.testing.assert_array_equal(t[..., Tensor([3, 1])], a[..., [3, 1]])  # an int64 Tensor indexes
    np.testing.assert_array_equal(t[Tensor([True, False])], a[[True, False]])  # a bool Tensor masks
    with pytest.raises(TypeError, match="integer or bool"):  # a float index is a TypeError
        t[..., Tensor([3.0, 1.0])]


@given(data=st.data())
def test_matmul_matches_numpy(data):
    n, k, m = (data.draw(st.integers(1, 5)) for _ in range(3))
    a = data.draw(arrays((2, n, k)))
    b = data.draw(arrays((k, m)))
    np.testing.assert_allclose((Tensor(a) @ Tensor(b)).data, a @ b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose((a @ Tensor(b)).data, a @ b, rtol=1e-5, atol=1e-5)


# ----- backward semantics -------------------------------------------------------------------
def test_gradients_accumulate_over_two_backward_calls():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2, 4, 6])
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [5, 7, 9])
    x.zero_grad()
    assert x.grad is None


def test_a_reused_node_sums_all_its_contributions():
    """A diamond: y feeds two consumers, so dL/dx needs both before y's op runs."""
    x = Tensor(2.0, requires_grad=True, dtype=np.float64)
    y = x * x  # dy/dx = 4
    z = y * 3 + y.exp()  # dz/dy = 3 + e^4
    z.backward()
    assert x.grad.item() == pytest.approx((3 + np.exp(4.0)) * 4)


def test_intermediates_keep_no_grad_unless_retained():
    x = Tensor([1.0, -2.0], requires_grad=True)
    h = x * 2
    r = (x * 3).retain_grad()
    (h.sum() + (r * r).sum()).backward()
    assert h.grad is None
    np.testing.assert_array_equal(r.grad, 2 * r.data)
    assert x.grad.dtype == np.float32 and x.grad.shape == x.shape


def test_backward_with_explicit_grad_and_its_checks():
    x = Tensor(np.ones((2, 2)), requires_grad=True)
    y = x * 2
    with pytest.raises(ValueError, match=r"gradient must be given for a tensor of shape \(2, 2\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"gradient shape \(3,\) must equal tensor shape \(2, 2\)"):
        y.backward(tc.ones(3, dtype=tc.float64))
    assert x.grad is None  # nothing changed
    y.backward(tc.full((2, 2), 0.5, dtype=tc.float64))
    assert isinstance(x.grad, Tensor) and x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, np.ones((2, 2)))


def test_backward_on_a_tensor_without_grad_is_an_error():
    with pytest.raises(ValueError, match="does not require grad"):
        Tensor([1.0]).backward()
    with pytest.raises(RuntimeError):  # also a RuntimeError, as in PyTorch
        (Tensor([1.0]) * 2).backward()


def test_graph_is_released_after_backward():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    saved = weakref.ref(y._op)
    loss = y.sum()
    loss.backward()
    gc.collect()
    assert saved() is None  # the op (and the arrays it saved) are gone
    with pytest.raises(RuntimeError, match="already released"):
        loss.backward()
    with pytest.raises(RuntimeError, match="already released"):
        (y * 2).sum().backward()


def test_no_grad_records_nothing_as_context_and_decorator():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with tc.no_grad():
        y = x * 2 + 1
        assert not tc.is_grad_enabled()
    assert tc.is_grad_enabled()
    assert y.requires_grad is False and y.is_leaf

    @tc.no_grad()
    def f(t):
        return (t * t).sum()

    assert f(x).requires_grad is False
    assert tc.is_grad_enabled()
    with pytest.raises(ZeroDivisionError):  # restored even when the body raises
        with tc.no_grad():
            1 / 0
    assert tc.is_grad_enabled()


def test_constants_get_no_gradient_and_are_not_walked():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([5.0, 6.0])
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad, [5, 6])


def test_hundred_thousand_op_chain_backpropagates():
    x = Tensor(1.0, requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y = y + x
    y.backward()
    assert x.grad.item() == 2.0


def test_deep_graph_without_backward_is_freed():
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    last_op = weakref.ref(y._op)
    del y  # deallocating a deep chain must not overflow the C stack
    gc.collect()
    assert last_op() is None


@given(a=arrays((3, 1)), b=arrays((1, 4)))
def test_broadcast_gradients_sum_back_to_operand_shape(a, b):
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    (ta * tb).sum().backward()
    np.testing.assert_allclose(ta.grad, np.broadcast_to(b, (3, 4)).sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tb.grad, np.broadcast_to(a, (3, 4)).sum(axis=0, keepdims=True), rtol=1e-5, atol=1e-5)


def test_float32_stays_float32_with_python_numbers_and_float64_stays_float64():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    y = ((x * 2.5 + 1) / 3 - 0.5) ** 2
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    z = Tensor(np.ones(3), requires_grad=True)
    assert (z * 2.5).dtype == np.float64


def test_max_splits_the_gradient_between_ties():
    x = Tensor([3.0, 1.0, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.5, 0, 0.5])


def test_repeated_integer_indices_add_their_gradients():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2]].sum().backward()
    np.testing.assert_array_equal(x.grad, [2, 0, 1])


# ----- clear errors before anything changes -----------------------------------------------------
def test_shape_errors_name_both_shapes():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4,)))
    for fn in (lambda: a + b, lambda: a - b, lambda: a * b, lambda: a / b):
        with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\)"):
            fn()
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4,\)"):
        a @ b
    with pytest.raises(ValueError, match="reshape"):
        a.reshape(5)
    with pytest.raises(ValueError, match="permutation"):
        a.permute(0, 0)
    with pytest.raises(ValueError, match="out of range"):
        a.transpose(0, 2)
    with pytest.raises(ValueError, match="out of range"):
        a.sum(axis=2)
    with pytest.raises(ValueError, match="out of range"):
        a.flatten(2)
    with pytest.raises(ValueError, match="start_dim"):
        a.flatten(1, 0)


def test_type_errors():
    t = Tensor([1.0])
    with pytest.raises(TypeError, match="exponent must be a number"):
        t ** "2"  # (a Tensor exponent is elementwise, as in PyTorch: issue 19)
    with pytest.raises(TypeError, match="unsupported operand"):
        t + "a"
