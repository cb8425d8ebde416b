"""avg_pool2d and max_pool2d against the loop reference (tests/reference.py), central
differences and the adjoint identity, over hypothesis-drawn shapes (each axis
down to 1), non-square kernels, per-axis stride (or None = kernel) and padding."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import reference
import tinygrad_conv as tc
from tinygrad_conv import Tensor
from tinygrad_conv.ops.pool import AvgPool2d, MaxPool2d


@st.composite
def pool_cases(draw, max_side=9, max_kernel=4):
    """(x shape, params) for a valid pooling call."""
    kh, kw = draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    h = draw(st.integers(max(1, kh - 2 * padding[0]), max(max_side, kh)))
    w = draw(st.integers(max(1, kw - 2 * padding[1]), max(max_side, kw)))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (n, c, h, w), dict(kernel_size=(kh, kw), stride=stride, padding=padding)


def data(shape, seed, ties=False, dtype=np.float64):
    """Normal values, or small integers (many equal values: ties in max windows)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape) if ties else rng.standard_normal(shape)
    return x.astype(dtype)


def distinct(shape, seed):
    """Values with no ties and no two within gradcheck's eps (max pooling's kinks)."""
    size = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(size) - size / 2 + 0.37).reshape(shape) * 0.3


def run(op, x, params, grad=None):
    xt = Tensor(x, requires_grad=True)
    y = op.apply(xt, **params)
    if grad is not None:
        y.backward(grad)
    return y, xt.grad


seeds = st.integers(0, 2**32 - 1)
OPS = [(AvgPool2d, reference.avg_pool2d), (MaxPool2d, reference.max_pool2d)]


@pytest.mark.parametrize("op, ref", OPS, ids=["avg", "max"])
@settings(max_examples=150)
@given(case=pool_cases(), seed=seeds, ties=st.booleans())
def test_forward_matches_the_loop_reference(op, ref, case, seed, ties):
    shape, params = case
    x = data(shape, seed, ties)
    y, _ = run(op, x, params)
    expected = ref(x, **params)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=150)
@given(case=pool_cases(), seed=seeds, ties=st.booleans())
def test_max_gradient_goes_to_the_first_maximum(case, seed, ties):
    shape, params = case
    x = data(shape, seed, ties)
    g = np.random.default_rng(seed + 1).standard_normal(reference.max_pool2d(x, **params).shape)
    _, dx = run(MaxPool2d, x, params, g)
    np.testing.assert_allclose(dx, reference.max_pool2d_backward(x, g, **params), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "kernel_size, stride, padding, expected_rows, expected_cols",
    [
        (2, None, 0, [0, 2], [0, 2]),  # non-overlapping: each window's top-left
        (3, 1, 0, [0, 1], [0, 1]),  # overlapping: window (i, j) starts at (i, j)
        (3, 2, 1, [0, 1], [0, 1]),  # windows start in the padding, which never wins
    ],
)
def test_max_gradient_on_all_equal_input_goes_to_each_windows_first_pixel(
    kernel_size, stride, padding, expected_rows, expected_cols
):
    x, params = np.full((1, 1, 4, 4), 7.0), dict(kernel_size=kernel_size, stride=stride, padding=padding)
    y, _ = run(MaxPool2d, x, params)
    _, dx = run(MaxPool2d, x, params, np.ones(y.shape))
    expected = np.zeros((4, 4))
    expected[np.ix_(expected_rows, expected_cols)] = 1
    np.testing.assert_array_equal(dx[0, 0], expected)


@pytest.mark.parametrize("op", [AvgPool2d, MaxPool2d], ids=["avg", "max"])
@settings(max_examples=50)
@given(case=pool_cases(max_side=5, max_kernel=3), seed=seeds)
def test_gradcheck(op, case, seed):
    shape, params = case
    x = Tensor(distinct(shape, seed), requires_grad=True)
    assert tc.gradcheck(lambda t: op.apply(t, **params), [x])


@pytest.mark.parametrize("op", [AvgPool2d, MaxPool2d], ids=["avg", "max"])
@settings(max_examples=50)
@given(case=pool_cases(max_side=24, max_kernel=5), seed=seeds)
def test_adjoint_identity(op, case, seed):
    """avg pooling is linear and max pooling is linear once the winners are fixed:
    <pool(x), g> = <x, dx> for any g."""
    shape, params = case
    x = data(shape, seed)
    y, _ = run(op, x, params)
    g = np.random.default_rng(seed + 1).standard_normal(y.shape)
    _, dx = run(op, x, params, g)
    np.testing.assert_allclose(np.sum(y.numpy() * g), np.sum(x * dx.numpy()), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("op, ref", OPS, ids=["avg", "max"])
@settings(max_examples=15)
@given(case=pool_cases(), seed=seeds)
def test_float32_stays_float32(op, ref, case, seed):
    shape, params = case
    x = data(shape, seed, dtype=np.float32)
    y, _ = run(op, x, params)
    assert y.dtype == np.float32
    _, dx = run(op, x, params, np.ones(y.shape, np.float32))
    assert dx.dtype == np.float32 and dx.shape == x.shape
    np.testing.assert_allclose(y.data, ref(x, **params), rtol=1e-5, atol=1e-6)


def test_stride_defaults_to_the_kernel_size():
    x = data((2, 3, 7, 9), 0)
    for op, _ in OPS:
        a, _ = run(op, x, dict(kernel_size=(2, 3)))
        b, _ = run(op, x, dict(kernel_size=(2, 3), stride=(2, 3)))
        assert a.shape == (2, 3, 3, 3)
        np.testing.assert_array_equal(a.data, b.data)


def test_avg_pool_counts_the_zero_padding():
    y, _ = run(AvgPool2d, np.ones((1, 1, 2, 2)), dict(kernel_size=2, stride=1, padding=1))
    np.testing.assert_allclose(y.data[0, 0], [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


@pytest.mark.parametrize("op", [AvgPool2d, MaxPool2d], ids=["avg", "max"])
@pytest.mark.parametrize(
    "shape, params, error, match",
    [
        ((4, 4), dict(kernel_size=2), ValueError, r"input must be 4-D \(N, C, H, W\) or 3-D \(C, H, W\), got shape \(4, 4\)"),
        ((1, 1, 4, 4), dict(kernel_size=2, padding=2), ValueError,
         r"padding \(2, 2\) must be at most half the kernel size \(2, 2\), i.e. at most \(1, 1\)"),
        ((1, 1, 4, 4), dict(kernel_size=(3, 2), padding=(1, 2)), ValueError, r"padding \(1, 2\) must be at most half"),
        ((1, 1, 2, 5), dict(kernel_size=3), ValueError,
         r"kernel \(3, 3\) is larger than the padded input \(2, 5\) \(input \(2, 5\), padding \(0, 0\)\)"),
        ((1, 1, 4, 4), dict(kernel_size=0), ValueError, r"kernel_size must be >= 1, got 0"),
        ((1, 1, 4, 4), dict(kernel_size=2, stride=(1, 0)), ValueError, r"stride must be >= 1, got \(1, 0\)"),
        ((1, 1, 4, 4), dict(kernel_size=2, padding=-1), ValueError, r"padding must be >= 0, got -1"),
        ((1, 1, 4, 4), dict(kernel_size=2.0), TypeError, r"kernel_size must be an int or an \(h, w\) pair"),
    ],
)
def test_bad_arguments_raise_with_what_was_given_and_expected(op, shape, params, error, match):
    with pytest.raises(error, match=f"{op.name}: {match}"):
        op.apply(Tensor(np.zeros(shape), requires_grad=True), **params)
