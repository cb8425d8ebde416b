"""NaN and inf as PyTorch has them: for inputs (and upstream gradients) holding NaN or
inf, the NaN/inf positions of every output and gradient equal PyTorch's, and the
finite entries are unchanged. Oracles: the loop reference (conv2d) and torch.

conv2d's flat CPU layout has garbage grid positions that read across channel and
row edges (see ops/conv.py); these tests are what caught them meeting zero
gradients (0 * inf = NaN in dW of other channels, in dx next to an inf weight).

The torch comparisons run in float64, where PyTorch's CPU conv2d multiplies the zero
padding like any other input (an inf weight over padding gives NaN, as the definition
and the loop reference say). Its float32 path (oneDNN) skips the padding instead, so
there, and only where a NaN/inf weight meets padding, PyTorch float32 gives a finite
number; tinygrad_conv follows the definition in both dtypes.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import reference
import tinygrad_conv as tc
from tinygrad_conv import functional as F, testing

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN on purpose

NONFINITE = st.sampled_from([np.nan, np.inf, -np.inf])


def sprinkle(data, a, max_count=2):
    """``a`` with up to ``max_count`` entries replaced by NaN, inf or -inf (hypothesis picks)."""
    a = np.array(a, dtype=np.float64)
    if a.size:
        for _ in range(data.draw(st.integers(0, max_count))):
            a.flat[data.draw(st.integers(0, a.size - 1))] = data.draw(NONFINITE)
    return a


def kind(a):
    """0 finite, 1 NaN, 2 +inf, 3 -inf, elementwise."""
    a = np.asarray(a, dtype=np.float64)
    return np.select([np.isnan(a), a == np.inf, a == -np.inf], [1, 2, 3], 0)


def assert_same(ours, expected, what):
    ours = np.zeros_like(expected) if ours is None else np.asarray(ours, np.float64)
    expected = np.asarray(expected, np.float64)
    assert ours.shape == expected.shape, what
    k, e = kind(ours), kind(expected)
    assert (k == e).all(), f"{what}: NaN/inf at {np.argwhere(k != e).tolist()} differ: {ours[k != e]} vs {expected[k != e]}"
    finite = e == 0
    np.testing.assert_allclose(ours[finite], expected[finite], rtol=1e-7, atol=1e-9, err_msg=what)


def run_ours(fn, arrays, grad_fn):
    """Forward on float64 Tensors, backward with the upstream gradient ``grad_fn(shape)``."""
    inputs = [tc.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    grad = grad_fn(out.shape)
    out.backward(grad)
    return out.data, [t.grad for t in inputs], grad


# ----- conv2d against the loop reference (no torch needed) --------------------------------------
@settings(max_examples=60)
@given(data=st.data())
def test_conv2d_nonfinite_matches_the_loop_reference(data):
    g = data.draw(testing.conv2d_geometries(max_channels=3))
    with_bias = data.draw(st.booleans())
    arrays = [sprinkle(data, data.draw(testing.arrays(s))) for s in (g.input_shape, g.weight_shape, g.bias_shape)]
    arrays = arrays if with_bias else arrays[:2]
    out, grads, grad = run_ours(
        lambda *t: F.conv2d(*t, **g.params), arrays, lambda s: sprinkle(data, data.draw(testing.arrays(s)), 1)
    )
    bias = arrays[2] if with_bias else None
    assert_same(out, reference.conv2d(arrays[0], arrays[1], bias, **g.params), "out")
    dx, dw, db = reference.conv2d_backward(arrays[0], arrays[1], grad, **g.params)
    for name, ours, expected in zip(("dx", "dweight", "dbias"), grads, (dx, dw, db)):
        assert_same(ours, expected, name)


def test_inf_in_one_channel_leaves_other_channels_weight_gradient_finite():
    """The bug the flat layout had: the garbage positions of channel 0 read channel 1's inf."""
    x = np.ones((1, 2, 5, 5), np.float32)
    x[0, 1, 0, 0] = np.inf  # channel 1's first pixel: channel 0's row-end garbage reads it
    w = tc.Tensor(np.ones((1, 2, 3, 3), np.float32), requires_grad=True)
    F.conv2d(tc.Tensor(x), w, padding=1).sum().backward()
    assert w.grad[0, 0].isfinite().all()  # channel 0 never sees the inf
    # with padding 1, offsets (kh, kw) <= (1, 1) read pixel (0, 0) at a real output: inf there
    assert w.grad[0, 1, :2, :2].isinf().all() and w.grad[0, 1, 2:].isfinite().all()


def test_inf_weight_leaves_input_gradient_finite_where_it_is_not_used():
    x = tc.Tensor(np.ones((1, 1, 5, 5)), requires_grad=True)
    w = np.ones((1, 1, 3, 3))
    w[0, 0, 1, 1] = np.inf  # the centre: reaches only the inner 3x3 pixels
    F.conv2d(x, tc.Tensor(w)).sum().backward()
    assert x.grad[0, 0, 1:4, 1:4].isinf().all()
    border = np.ones((5, 5), bool)
    border[1:4, 1:4] = False
    assert x.grad[0, 0][border].isfinite().all()


# ----- every op against torch ------------------------------------------------------------------
torch = pytest.importorskip("torch")
T = torch.nn.functional


def run_torch(fn, arrays, grad):
    inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    out.backward(torch.tensor(grad))
    return out.detach().numpy(), [None if t.grad is None else t.grad.numpy() for t in inputs]


def compare_with_torch(data, ours_fn, torch_fn, shapes):
    arrays = [sprinkle(data, data.draw(testing.arrays(s))) for s in shapes]
    out, grads, grad = run_ours(ours_fn, arrays, lambda s: sprinkle(data, data.draw(testing.arrays(s)), 1))
    t_out, t_grads = run_torch(torch_fn, arrays, grad)
    assert_same(out, t_out, "out")
    for i, (a, b) in enumerate(zip(grads, t_grads)):
        assert_same(a, b, f"grad of input {i}")


@settings(max_examples=40)
@given(data=st.data())
def test_conv2d_nonfinite_matches_torch(data):
    g = data.draw(testing.conv2d_geometries(max_channels=3))
    compare_with_torch(
        data, lambda *t: F.conv2d(*t, **g.params), lambda *t: T.conv2d(*t, **g.params),
        (g.input_shape, g.weight_shape, g.bias_shape),
    )


@settings(max_examples=40)
@given(data=st.data())
def test_relu_nonfinite_matches_torch(data):
    s = data.draw(testing.shapes(max_dims=3))
    compare_with_torch(data, F.relu, T.relu, [s])


@settings(max_examples=40)
@given(data=st.data())
def test_linear_nonfinite_matches_torch(data):
    n, i, o = (data.draw(st.integers(1, 4)) for _ in range(3))
    compare_with_torch(data, F.linear, T.linear, [(n, i), (o, i), (o,)])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@settings(max_examples=30)
@given(data=st.data())
def test_softmax_nonfinite_matches_torch(name, data):
    s = data.draw(testing.shapes(min_dims=1, max_dims=3, max_side=4))
    axis = data.draw(st.integers(-len(s), len(s) - 1))
    compare_with_torch(
        data, lambda t: getattr(F, name)(t, axis=axis), lambda t: getattr(T, name)(t, dim=axis), [s]
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@settings(max_examples=30)
@given(data=st.data())
def test_mse_loss_nonfinite_matches_torch(reduction, data):
    s = data.draw(testing.shapes(max_dims=3, max_side=4))
    compare_with_torch(
        data, lambda p, t: F.mse_loss(p, t, reduction=reduction),
        lambda p, t: T.mse_loss(p, t, reduction=reduction), [s, s],
    )


@settings(max_examples=40)
@given(data=st.data())
def test_cross_entropy_nonfinite_matches_torch(data):
    n, c = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    target = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    compare_with_torch(
        data, lambda z: F.cross_entropy(z, target), lambda z: T.cross_entropy(z, torch.tensor(target)), [(n, c)]
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [100, 5000])  # relu's backward has a path for few and for many elements
def test_relu_selects_the_gradient_exactly(dtype, size):
    rng = np.random.default_rng(size)
    x = rng.standard_normal(size).astype(dtype)
    grad = rng.standard_normal(size).astype(dtype)
    x[:30] = np.nan
    x[30:40] = 0.0
    grad[::7] = np.inf
    grad[1::7] = np.nan
    t = tc.Tensor(x, requires_grad=True)
    F.relu(t).backward(grad)
    expected = np.where(x <= 0, 0, grad)  # NaN inputs are live, dead units get exactly 0
    assert t.grad.dtype == dtype
    np.testing.assert_array_equal(t.grad, expected)
