"""The small-input paths of pooling and the per-axis passes they replace, each forced, against
PyTorch, in 1-3 D, float32 and float64, with ties, NaN and +-inf in the input and in the
upstream gradient: max pooling's window columns (``pool.lean_max``: values, return_indices,
gradients) and avg pooling's per-axis matrices (``pool.dense``)."""
import numpy as np
import pytest
from hypothesis import assume, given, reject, settings, strategies as st

from tinygrad_conv import Tensor
from tinygrad_conv import functional as F
from tinygrad_conv.ops import pool


@st.composite
def cases(draw):
    """(x, grad seed, params) for max_pool{D}d without dilation."""
    dims = draw(st.integers(1, 3))
    k = tuple(draw(st.integers(1, 4)) for _ in range(dims))
    s = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    p = tuple(draw(st.integers(0, ki // 2)) for ki in k)
    sizes = tuple(draw(st.integers(max(1, ki - 2 * pi), 7)) for ki, pi in zip(k, p))
    params = dict(kernel_size=k, stride=s, padding=p, ceil_mode=draw(st.booleans()))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + sizes
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    x = rng.integers(-2, 3, shape).astype(dtype) if draw(st.booleans()) else rng.standard_normal(shape).astype(dtype)
    special = draw(st.sampled_from([None, np.nan, np.inf, -np.inf]))
    if special is not None:
        x[rng.random(shape) < 0.2] = special
    return x, rng, params


def run(x, grad, params, torch_like=None):
    """(out, indices, dx) of max pooling x, as arrays."""
    fn = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[x.ndim - 2]
    xt = Tensor(x, requires_grad=True)
    out, index = fn(xt, **params, return_indices=True)
    out.backward(Tensor(grad))
    return out.numpy(), index.numpy(), xt.grad.numpy()


@settings(max_examples=80, deadline=None)
@given(case=cases(), lean=st.booleans())
def test_both_max_pool_paths_match_torch(case, lean):
    torch = pytest.importorskip("torch")
    x, rng, params = case
    k, p = params["kernel_size"], params["padding"]
    sizes = x.shape[2:]
    outs = [pool.out_size(n, ki, si, pi, 1, params["ceil_mode"]) for n, ki, si, pi in zip(sizes, k, params["stride"], p)]
    assume(min(outs) >= 1)
    calls = []
    with pytest.MonkeyPatch.context() as m:
        m.setattr(pool, "LEAN_MAX", pool.LEAN_MAX if lean else 0)
        m.setattr(pool, "lean_max", lambda *a: calls.append(1) or lean_max(*a))
        grad = rng.standard_normal([x.shape[0], x.shape[1]] + outs).astype(x.dtype)
        if rng.random() < 0.3:
            grad.flat[rng.integers(grad.size)] = np.inf
        out, index, dx = run(x, grad, params)
    # the window columns run exactly when forced on and every value is finite
    assert bool(calls) == (lean and bool(np.isfinite(x).all()))
    tfn = {1: torch.nn.functional.max_pool1d, 2: torch.nn.functional.max_pool2d, 3: torch.nn.functional.max_pool3d}
    xt = torch.tensor(x, requires_grad=True)
    tout, tindex = tfn[x.ndim - 2](xt, **params, return_indices=True)
    tout.backward(torch.tensor(grad))
    np.testing.assert_array_equal(out, tout.detach().numpy())
    np.testing.assert_array_equal(index, tindex.numpy())
    tol = 1e-6 if x.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=tol, atol=tol)
    assert out.dtype == dx.dtype == x.dtype


lean_max = pool.lean_max


def test_the_first_of_tied_maxima_wins_in_row_major_order():
    x = np.zeros((1, 1, 4, 4), np.float32)  # every window is a tie: the gradient goes to its first pixel
    out, index, dx = run(x, np.ones((1, 1, 2, 2), np.float32), dict(kernel_size=3, stride=2, padding=1))
    np.testing.assert_array_equal(index[0, 0], [[0, 1], [4, 5]])
    np.testing.assert_array_equal(dx[0, 0], [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])


@settings(max_examples=60, deadline=None)
@given(case=cases(), dense=st.booleans(), include_pad=st.booleans())
def test_both_avg_pool_paths_match_torch(case, dense, include_pad):
    torch = pytest.importorskip("torch")
    x, rng, params = case
    params = dict(params, count_include_pad=include_pad)
    outs = [pool.out_size(n, ki, si, pi, 1, params["ceil_mode"])
            for n, ki, si, pi in zip(x.shape[2:], params["kernel_size"], params["stride"], params["padding"])]
    assume(min(outs) >= 1)
    grad = rng.standard_normal([x.shape[0], x.shape[1]] + outs).astype(x.dtype)
    if rng.random() < 0.3:
        grad.flat[rng.integers(grad.size)] = np.nan
    calls = []
    with pytest.MonkeyPatch.context() as m:
        m.setattr(pool, "DENSE_MAX", pool.DENSE_MAX if dense else 0)
        m.setattr(pool, "DENSE_FEW_MAX", pool.DENSE_FEW_MAX if dense else 0)
        m.setattr(pool, "dense", lambda y, mats: calls.append(bool(np.isfinite(y).all())) or matrices(y, mats))
        fn = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[x.ndim - 2]
        xt = Tensor(x, requires_grad=True)
        out = fn(xt, **params)
        out.backward(Tensor(grad))
    assert all(calls) and (dense or not calls)  # the matrices never see a NaN or inf (they would spread it)
    tfn = {1: torch.nn.functional.avg_pool1d, 2: torch.nn.functional.avg_pool2d, 3: torch.nn.functional.avg_pool3d}
    tx = torch.tensor(x, requires_grad=True)
    try:
        tout = tfn[x.ndim - 2](tx, **params)
    except RuntimeError:  # (PyTorch's avg_pool3d refuses some inputs smaller than the kernel)
        reject()
    tout.backward(torch.tensor(grad))
    tol = 1e-5 if x.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)
    assert out.dtype == xt.grad.dtype == x.dtype


matrices = pool.dense


def test_small_finite_avg_pool_takes_the_matrices(monkeypatch):
    calls = []
    monkeypatch.setattr(pool, "dense", lambda *a: calls.append(1) or matrices(*a))
    xt = Tensor(np.ones((2, 8, 32, 32), np.float32), requires_grad=True)
    F.avg_pool2d(xt, 3, 2, 1).sum().backward()
    assert len(calls) == 2  # forward and backward
    # pixel (1, 1) is in 2 x 2 windows, (1, 2) in 2 x 1, (2, 2) in one: each window's gradient 1/9
    np.testing.assert_allclose(xt.grad.numpy()[0, 0, 1:3, 1:3], np.array([[4, 2], [2, 1]]) / 9, rtol=1e-6)
