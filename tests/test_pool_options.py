"""PyTorch's pooling options (dilation, ceil_mode, count_include_pad, return_indices),
adaptive pooling and max pooling's NaN rule, against the loop references in
tests/reference.py (which follow ATen's CPU kernels) and against torch when it is
installed, over hypothesis-drawn shapes down to 1x1."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import reference
import tinygrad_conv as tc
from tinygrad_conv import Tensor, nn
from tinygrad_conv import functional as F

seeds = st.integers(0, 2**32 - 1)


@st.composite
def option_cases(draw, op, max_side=9):
    """(x shape, params) for a valid call of ``op`` ("max" or "avg") with every option drawn."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dh, dw = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if op == "max" else (1, 1)
    params = dict(
        kernel_size=(kh, kw),
        stride=draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3)))),
        padding=(draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))),
        ceil_mode=draw(st.booleans()),
    )
    if op == "max":
        params["dilation"] = (dh, dw)
    else:
        params["count_include_pad"] = draw(st.booleans())
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    # the dilated kernel fits the padded input; with ceil_mode, PyTorch also takes a smaller
    # input as long as the output has a pixel
    small = params["ceil_mode"] and draw(st.booleans())
    h = draw(st.integers(1 if small else max(1, span_h - 2 * params["padding"][0]), max(max_side, span_h)))
    w = draw(st.integers(1 if small else max(1, span_w - 2 * params["padding"][1]), max(max_side, span_w)))
    (ph, pw), (sh, sw) = params["padding"], params["stride"] or (kh, kw)
    assume(reference._pool_out(h, kh, sh, ph, dh, True) >= 1 and reference._pool_out(w, kw, sw, pw, dw, True) >= 1)
    return (draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w), params


def data(shape, seed, ties=False, nans=False):
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape).astype(np.float64) if ties else rng.standard_normal(shape)
    if nans:
        x[rng.random(shape) < 0.15] = np.nan
    return x


def backward(fn, x, grad):
    xt = Tensor(x, requires_grad=True)
    fn(xt).backward(grad)
    return xt.grad


@settings(max_examples=150)
@given(case=option_cases("avg"), seed=seeds)
def test_avg_pool_options_match_the_loop_reference(case, seed):
    shape, params = case
    x = data(shape, seed)
    expected = reference.avg_pool2d(x, **params)
    y = F.avg_pool2d(Tensor(x), **params)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(seed + 1).standard_normal(y.shape)  # adjoint: avg pooling is linear
    dx = backward(lambda t: F.avg_pool2d(t, **params), x, g)
    np.testing.assert_allclose(np.sum(y.numpy() * g), np.sum(x * dx.numpy()), rtol=1e-10, atol=1e-10)


@settings(max_examples=150)
@given(case=option_cases("max"), seed=seeds, ties=st.booleans(), nans=st.booleans())
def test_max_pool_options_match_the_loop_reference(case, seed, ties, nans):
    shape, params = case
    x = data(shape, seed, ties, nans)
    expected, expected_idx = reference.max_pool2d(x, **params, return_indices=True)
    assume((expected_idx >= 0).all())  # every window has a tap inside the input
    y, idx = F.max_pool2d(Tensor(x), **params, return_indices=True)
    assert y.shape == expected.shape and idx.dtype == np.int64
    np.testing.assert_array_equal(y.data, expected)  # NaN where the reference has NaN
    np.testing.assert_array_equal(idx, expected_idx)
    g = np.random.default_rng(seed + 1).standard_normal(y.shape)
    dx = backward(lambda t: F.max_pool2d(t, **params), x, g)
    np.testing.assert_allclose(dx, reference.max_pool2d_backward(x, g, **params), rtol=1e-12, atol=1e-12)


@st.composite
def adaptive_cases(draw):
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    return shape, (draw(st.integers(1, 6)), draw(st.integers(1, 6)))  # output may exceed the input


@settings(max_examples=100)
@given(case=adaptive_cases(), seed=seeds, ties=st.booleans(), nans=st.booleans())
def test_adaptive_pooling_matches_the_loop_reference(case, seed, ties, nans):
    shape, size = case
    x = data(shape, seed, ties)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(Tensor(x), size).data, reference.adaptive_avg_pool2d(x, size),
                               rtol=1e-12, atol=1e-12)
    x = data(shape, seed, ties, nans)
    expected, expected_idx = reference.adaptive_max_pool2d(x, size)
    y, idx = F.adaptive_max_pool2d(Tensor(x), size, return_indices=True)
    np.testing.assert_array_equal(y.data, expected)
    np.testing.assert_array_equal(idx, expected_idx)
    g = np.random.default_rng(seed + 1).standard_normal(y.shape)
    dx = backward(lambda t: F.adaptive_max_pool2d(t, size), x, g)
    expected_dx = np.zeros((shape[0] * shape[1], shape[2] * shape[3]))
    for plane, (winners, grads) in enumerate(zip(expected_idx.reshape(len(expected_dx), -1), g.reshape(len(expected_dx), -1))):
        np.add.at(expected_dx[plane], winners, grads)
    np.testing.assert_allclose(dx, expected_dx.reshape(shape), rtol=1e-12, atol=1e-12)


def test_a_nan_wins_its_window_and_takes_the_gradient_as_in_pytorch():
    """PyTorch's kernels keep the running maximum with ``val > max || isnan(val)``: the
    output is NaN and the gradient goes to the window's LAST NaN."""
    x = np.array([[[[1.0, np.nan, 3.0, np.nan], [5.0, 0.0, 2.0, 1.0]]]])
    y, idx = F.max_pool2d(Tensor(x), 2, return_indices=True)
    assert np.isnan(y.numpy()).all()
    np.testing.assert_array_equal(idx[0, 0], [[1, 3]])
    dx = backward(lambda t: F.max_pool2d(t, 2), x, np.array([[[[1.0, 2.0]]]]))
    np.testing.assert_array_equal(dx[0, 0], [[0, 1, 0, 2], [0, 0, 0, 0]])


def test_ceil_mode_takes_a_kernel_larger_than_the_input_as_pytorch():
    x = np.arange(4.0).reshape(1, 1, 2, 2)
    assert F.max_pool2d(Tensor(x), 3, 2, ceil_mode=True).item() == 3.0
    assert F.avg_pool2d(Tensor(x), 3, 2, ceil_mode=True).item() == 1.5  # the window is cut at the input


def test_ceil_mode_keeps_the_partial_last_window():
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    assert F.max_pool2d(Tensor(x), 2).shape == (1, 1, 2, 2)
    y = F.max_pool2d(Tensor(x), 2, ceil_mode=True)
    np.testing.assert_array_equal(y.data[0, 0], [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    # the partial windows count only the pixels they cover, padding only if included
    avg = F.avg_pool2d(Tensor(np.ones((1, 1, 5, 5))), 3, 2, 1, ceil_mode=True)
    np.testing.assert_allclose(avg.data[0, 0], np.outer([2, 3, 2], [2, 3, 2]) / 9)
    avg = F.avg_pool2d(Tensor(np.ones((1, 1, 5, 5))), 3, 2, 1, ceil_mode=True, count_include_pad=False)
    np.testing.assert_allclose(avg.data, 1.0)


def test_the_modules_pass_their_options():
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3, 7, 7)))
    out, idx = nn.MaxPool2d(3, 2, 1, dilation=2, return_indices=True, ceil_mode=True)(x)
    ref, ref_idx = reference.max_pool2d(x.data, 3, 2, 1, 2, True, return_indices=True)
    np.testing.assert_allclose(out.data, ref)
    np.testing.assert_array_equal(idx, ref_idx)
    avg = nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)
    np.testing.assert_allclose(avg(x).data, reference.avg_pool2d(x.data, 3, 2, 1, True, False))
    assert "count_include_pad=False" in repr(avg)
    np.testing.assert_allclose(nn.AdaptiveAvgPool2d((2, None))(x).data, reference.adaptive_avg_pool2d(x.data, (2, 7)))
    np.testing.assert_allclose(nn.AdaptiveMaxPool2d(3)(x).data, reference.adaptive_max_pool2d(x.data, 3)[0])
    np.testing.assert_allclose(nn.AdaptiveAvgPool2d(1)(x).data[:, :, 0, 0], x.data.mean(axis=(2, 3)))


def test_float32_stays_float32():
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3, 7, 6)).astype(np.float32), requires_grad=True)
    for fn in (lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False),
               lambda t: F.max_pool2d(t, 2, 2, 1, dilation=2, ceil_mode=True),
               lambda t: F.adaptive_avg_pool2d(t, (3, 4)), lambda t: F.adaptive_max_pool2d(t, (3, 4))):
        x.grad = None
        y = fn(x)
        y.sum().backward()
        assert y.dtype == np.float32 and x.grad.dtype == np.float32


@pytest.mark.parametrize(
    "fn, error, match",
    [
        (lambda x: F.max_pool2d(x, 2, dilation=0), ValueError, r"max_pool2d: dilation must be >= 1, got 0"),
        (lambda x: F.max_pool2d(x, 3, dilation=3), ValueError,
         r"max_pool2d: kernel \(3, 3\) \(dilated to \(7, 7\)\) is larger than the padded input \(4, 4\)"),
        (lambda x: F.max_pool2d(x, 5, stride=1, ceil_mode=True), ValueError, r"output size \(0, 0\)"),
        (lambda x: F.max_pool2d(x, 2, ceil_mode=1), TypeError, r"max_pool2d: ceil_mode must be a bool, got int 1"),
        (lambda x: F.max_pool2d(x, 2, return_indices="yes"), TypeError, r"return_indices must be a bool"),
        (lambda x: F.avg_pool2d(x, 2, count_include_pad=None), TypeError, r"count_include_pad must be a bool"),
        (lambda x: F.adaptive_avg_pool2d(x, 0), ValueError, r"adaptive_avg_pool2d: output_size must be >= 1, got 0"),
        (lambda x: F.adaptive_max_pool2d(x, (2, 2, 2)), ValueError, r"output_size must be an int or an \(h, w\) pair"),
        (lambda x: nn.MaxPool2d(2, dilation=(1, 0)), ValueError, r"MaxPool2d: dilation must be >= 1"),
    ],
)
def test_bad_arguments_raise_with_what_was_given(fn, error, match):
    with pytest.raises(error, match=match):
        fn(Tensor(np.zeros((1, 1, 4, 4))))


@settings(max_examples=60)
@given(avg=option_cases("avg"), mx=option_cases("max"), adaptive=adaptive_cases(), seed=seeds)
def test_against_torch(avg, mx, adaptive, seed):
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    (shape, params), x = avg, None
    x = data(shape, seed)
    np.testing.assert_allclose(F.avg_pool2d(Tensor(x), **params).data,
                               TF.avg_pool2d(torch.tensor(x), **params).numpy(), rtol=1e-12, atol=1e-12)
    shape, params = mx
    x = data(shape, seed, ties=True, nans=True)
    assume((reference.max_pool2d(x, **params, return_indices=True)[1] >= 0).all())
    y, idx = F.max_pool2d(Tensor(x), **params, return_indices=True)
    ty, tidx = TF.max_pool2d(torch.tensor(x), **params, return_indices=True)
    np.testing.assert_array_equal(y.data, ty.numpy())
    np.testing.assert_array_equal(idx, tidx.numpy())
    xt = torch.tensor(x, requires_grad=True)
    g = np.random.default_rng(seed).standard_normal(y.shape)
    TF.max_pool2d(xt, **params).backward(torch.tensor(g))
    np.testing.assert_allclose(backward(lambda t: F.max_pool2d(t, **params), x, g), xt.grad.numpy(), atol=1e-12)
    shape, size = adaptive
    x = data(shape, seed, ties=True, nans=True)
    y, idx = F.adaptive_max_pool2d(Tensor(x), size, return_indices=True)
    ty, tidx = TF.adaptive_max_pool2d(torch.tensor(x), size, return_indices=True)
    np.testing.assert_array_equal(y.data, ty.numpy())
    np.testing.assert_array_equal(idx, tidx.numpy())
    x = data(shape, seed)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(Tensor(x), size).data,
                               TF.adaptive_avg_pool2d(torch.tensor(x), size).numpy(), rtol=1e-12, atol=1e-12)
