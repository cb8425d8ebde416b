"""Pooling in 1, 2 and 3 dimensions against PyTorch (issues 19-21): every option drawn by
hypothesis (kernel, stride, padding, dilation, ceil_mode, count_include_pad,
divisor_override, return_indices), batched and unbatched inputs, ties and NaN/inf;
max_unpool; the modules; NaN/inf staying in their windows; -inf input with padding; and
tinygrad's own test_ops cases for pooling."""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from tinygrad_conv import Tensor, nn
from tinygrad_conv import functional as F

seeds = st.integers(0, 2**32 - 1)
MAX_SIDE = {1: 12, 2: 8, 3: 5}


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@st.composite
def cases(draw, op, dims):
    """(x shape, params) of a valid ``op`` ("avg" or "max") call in ``dims`` dimensions."""
    k = tuple(draw(st.integers(1, 4)) for _ in range(dims))
    d = tuple(draw(st.integers(1, 3)) for _ in range(dims)) if op == "max" else (1,) * dims
    params = dict(kernel_size=k, stride=draw(st.one_of(st.none(), st.tuples(*[st.integers(1, 3)] * dims))),
                  padding=tuple(draw(st.integers(0, ki // 2)) for ki in k), ceil_mode=draw(st.booleans()))
    if op == "max":
        params["dilation"] = d
    else:
        params["count_include_pad"] = draw(st.booleans())
        if dims > 1:
            params["divisor_override"] = draw(st.one_of(st.none(), st.integers(1, 7)))
    sizes = []
    for ki, di, pi, si in zip(k, d, params["padding"], params["stride"] or k):
        span = di * (ki - 1) + 1
        # (PyTorch's 3-D pools refuse an input smaller than the kernel, padding or not)
        n = draw(st.integers(span if dims == 3 else max(1, span - 2 * pi), max(MAX_SIDE[dims], span)))
        out = (n + 2 * pi - span + (si - 1 if params["ceil_mode"] else 0)) // si + 1
        out -= params["ceil_mode"] and (out - 1) * si >= n + pi
        # no window wholly in the padding: PyTorch reads outside the input there
        assume(all(any(0 <= j * si - pi + a * di < n for a in range(ki)) for j in range(out)))
        sizes.append(n)
    lead = (draw(st.integers(1, 2)),) if draw(st.booleans()) else (draw(st.integers(1, 2)), draw(st.integers(1, 3)))
    return lead + tuple(sizes), params


def data(shape, seed, ties=False, nonfinite=False):
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape).astype(np.float64) if ties else rng.standard_normal(shape)
    if nonfinite:
        x[rng.random(shape) < 0.08] = np.nan
        x[rng.random(shape) < 0.08] = np.inf
        x[rng.random(shape) < 0.08] = -np.inf
    return x


def both(torch, name, x, grad_seed=None, **params):
    """(out, dx) of ``name`` on x in tinygrad_conv and in torch, dx for a random upstream gradient."""
    ours, theirs = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    a, b = getattr(F, name)(ours, **params), getattr(torch.nn.functional, name)(theirs, **params)
    g = np.random.default_rng(grad_seed).standard_normal(a.shape)
    a.backward(Tensor(g))
    b.backward(torch.tensor(g))
    return (a.numpy(), ours.grad.numpy()), (b.detach().numpy(), theirs.grad.numpy())


def assert_same(got, want, exact=False):
    for a, b in zip(got, want):
        assert a.shape == b.shape
        if exact:
            np.testing.assert_array_equal(a, b)
        else:  # NaN and inf at the same places, numbers close
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("dims", [1, 2, 3])
@settings(max_examples=20, deadline=None)
@given(data_=st.data(), seed=seeds, nonfinite=st.booleans())
def test_avg_pool_matches_torch(torch, dims, data_, seed, nonfinite):
    shape, params = data_.draw(cases("avg", dims))
    if dims == 1:
        params.pop("divisor_override", None)
    assert_same(*both(torch, f"avg_pool{dims}d", data(shape, seed, nonfinite=nonfinite), seed, **params))


@pytest.mark.parametrize("dims", [1, 2, 3])
@settings(max_examples=20, deadline=None)
@given(data_=st.data(), seed=seeds, ties=st.booleans(), nonfinite=st.booleans())
def test_max_pool_matches_torch_with_indices(torch, dims, data_, seed, ties, nonfinite):
    shape, params = data_.draw(cases("max", dims))
    x = data(shape, seed, ties, nonfinite)
    assert_same(*both(torch, f"max_pool{dims}d", x, seed, **params))
    _, idx = getattr(F, f"max_pool{dims}d")(Tensor(x), **params, return_indices=True)
    _, tidx = getattr(torch.nn.functional, f"max_pool{dims}d")(torch.tensor(x), **params, return_indices=True)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


@pytest.mark.parametrize("dims", [1, 2, 3])
@settings(max_examples=15, deadline=None)
@given(data_=st.data(), seed=seeds, ties=st.booleans(), nonfinite=st.booleans())
def test_adaptive_pooling_matches_torch(torch, dims, data_, seed, ties, nonfinite):
    lead = (2,) if data_.draw(st.booleans()) else (2, 2)
    shape = lead + tuple(data_.draw(st.integers(1, MAX_SIDE[dims] + 2)) for _ in range(dims))
    size = tuple(data_.draw(st.integers(1, MAX_SIDE[dims])) for _ in range(dims))
    x = data(shape, seed, ties, nonfinite)
    assert_same(*both(torch, f"adaptive_avg_pool{dims}d", x, seed, output_size=size))
    assert_same(*both(torch, f"adaptive_max_pool{dims}d", x, seed, output_size=size))
    _, idx = getattr(F, f"adaptive_max_pool{dims}d")(Tensor(x), size, return_indices=True)
    _, tidx = getattr(torch.nn.functional, f"adaptive_max_pool{dims}d")(torch.tensor(x), size, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


def test_avg_pool2d_keeps_nan_and_inf_in_their_windows(torch):
    """Issue 20: one NaN or inf makes only the windows holding it NaN/inf (the old matrix
    form spread it over whole rows and columns)."""
    x = np.arange(2 * 64, dtype=np.float32).reshape(1, 2, 8, 8)
    x[0, 0, 3, 4], x[0, 1, 6, 1], x[0, 1, 0, 0] = np.nan, np.inf, -np.inf
    for params in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=3, stride=1)):
        got, want = both(torch, "avg_pool2d", x.astype(np.float64), 0, **params)
        assert_same(got, want)
        assert 0 < np.isnan(got[0]).sum() <= 9 and np.isinf(got[0]).sum() <= 18


def test_max_pool2d_never_picks_the_padding(torch):
    """Issue 20: on -inf input the winner is a real pixel, as PyTorch's [0, 0, 1, ...], and the
    gradient reaches the input."""
    x = np.full((1, 1, 4, 4), -np.inf)
    params = dict(kernel_size=3, stride=1, padding=1)
    y, idx = F.max_pool2d(Tensor(x), **params, return_indices=True)
    ty, tidx = torch.nn.functional.max_pool2d(torch.tensor(x), **params, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    assert idx.numpy().ravel()[:3].tolist() == [0, 0, 1]
    got, want = both(torch, "max_pool2d", x, 0, **params)
    assert_same(got, want)
    assert np.isclose(got[1].sum(), np.random.default_rng(0).standard_normal((1, 1, 4, 4)).sum())


def test_max_pool_window_without_pixels_gives_minus_inf_index_minus_one_and_no_gradient():
    """Where dilation makes a window miss the input (PyTorch reads outside the plane there and
    corrupts memory in its backward), we give -inf, index -1 and drop its gradient."""
    x = Tensor(np.array([[[1.0, 2.0]]]), requires_grad=True)
    y, idx = F.max_pool1d(x, 2, stride=1, padding=1, dilation=3, return_indices=True)
    assert y.numpy().tolist() == [[[-np.inf]]] and idx.numpy().tolist() == [[[-1]]]
    y.backward(Tensor(np.ones(y.shape)))
    assert x.grad.numpy().tolist() == [[[0.0, 0.0]]]


@pytest.mark.parametrize("dims", [1, 2, 3])
@settings(max_examples=20, deadline=None)
@given(data_=st.data(), seed=seeds)
def test_max_unpool_inverts_max_pool_as_torch(torch, dims, data_, seed):
    k = tuple(data_.draw(st.integers(1, 3)) for _ in range(dims))
    s = tuple(data_.draw(st.integers(1, 3)) for _ in range(dims))
    p = tuple(data_.draw(st.integers(0, ki // 2)) for ki in k)
    shape = (2, 2) + tuple(data_.draw(st.integers(ki, MAX_SIDE[dims])) for ki in k)
    x = data(shape, seed)
    pooled, idx = getattr(F, f"max_pool{dims}d")(Tensor(x), k, s, p, return_indices=True)
    sizes = [(n + 2 * pi - ki) // si + 1 for n, ki, si, pi in zip(shape[2:], k, s, p)]
    default = tuple((o - 1) * si - 2 * pi + ki for o, ki, si, pi in zip(sizes, k, s, p))
    # PyTorch takes output sizes within a stride of the default
    out_size = data_.draw(st.one_of(st.none(), st.just(tuple(n for n in shape[2:])).filter(
        lambda t: all(dd <= n < dd + si for n, dd, si in zip(t, default, s)))))
    assume(idx.numpy().max() < np.prod(out_size or default))  # else both refuse (tested below)
    tt = torch.tensor(pooled.numpy(), requires_grad=True)
    ours = Tensor(pooled.numpy(), requires_grad=True)
    a = getattr(F, f"max_unpool{dims}d")(ours, idx, k, s, p, output_size=out_size)
    b = getattr(torch.nn.functional, f"max_unpool{dims}d")(tt, torch.tensor(idx.numpy()), k, s, p, output_size=out_size)
    g = np.random.default_rng(seed).standard_normal(a.shape)
    a.backward(Tensor(g))
    b.backward(torch.tensor(g))
    assert_same((a.numpy(), ours.grad.numpy()), (b.detach().numpy(), tt.grad.numpy()))


def test_max_unpool_refuses_bad_indices():
    x = Tensor(np.ones((1, 1, 2, 2)))
    with pytest.raises(ValueError, match=r"max_unpool2d: indices must be in \[0, 16\)"):
        F.max_unpool2d(x, np.array([[[[0, 1], [2, 16]]]]), 2)
    with pytest.raises(ValueError, match="indices must have the input's shape"):
        F.max_unpool2d(x, np.zeros((1, 1, 2), np.int64), 2)
    with pytest.raises(TypeError, match="indices must be an integer array"):
        F.max_unpool2d(x, np.zeros((1, 1, 2, 2)), 2)


def test_unbatched_input_is_one_batch(torch):
    x = data((3, 7, 6), 1)
    for name, params in (("max_pool2d", dict(kernel_size=3, stride=2, padding=1)), ("avg_pool2d", dict(kernel_size=2)),
                         ("adaptive_avg_pool2d", dict(output_size=(3, 4))), ("adaptive_max_pool2d", dict(output_size=2))):
        assert_same(*both(torch, name, x, 1, **params))
    assert_same(*both(torch, "max_pool1d", data((3, 9), 2), 2, kernel_size=2))
    with pytest.raises(ValueError, match=r"max_pool1d: input must be 3-D \(N, C, L\) or 2-D \(C, L\), got shape \(9,\)"):
        F.max_pool1d(Tensor(np.zeros(9)), 2)


def test_modules_match_torch_modules(torch):
    rng = np.random.default_rng(0)
    pairs = [
        (nn.MaxPool1d(3, 2, 1), torch.nn.MaxPool1d(3, 2, 1), (2, 3, 11)),
        (nn.MaxPool3d(2, dilation=(1, 2, 1), ceil_mode=True), torch.nn.MaxPool3d(2, dilation=(1, 2, 1), ceil_mode=True),
         (2, 2, 5, 6, 5)),
        (nn.AvgPool1d(3, 2, 1, count_include_pad=False), torch.nn.AvgPool1d(3, 2, 1, count_include_pad=False), (2, 3, 9)),
        (nn.AvgPool2d(3, 2, 1, divisor_override=4), torch.nn.AvgPool2d(3, 2, 1, divisor_override=4), (2, 3, 7, 7)),
        (nn.AvgPool3d((2, 1, 2), ceil_mode=True), torch.nn.AvgPool3d((2, 1, 2), ceil_mode=True), (1, 2, 5, 4, 3)),
        (nn.AdaptiveAvgPool1d(4), torch.nn.AdaptiveAvgPool1d(4), (2, 3, 10)),
        (nn.AdaptiveMaxPool3d((2, None, 3)), torch.nn.AdaptiveMaxPool3d((2, None, 3)), (1, 2, 5, 4, 7)),
    ]
    for ours, theirs, shape in pairs:
        x = rng.standard_normal(shape)
        np.testing.assert_allclose(ours(Tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-12)
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    x = rng.standard_normal((2, 3, 6, 5))
    got = unpool(*pool(Tensor(x)), output_size=(6, 5)).numpy()
    want = torch.nn.MaxUnpool2d(2)(*torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x)), output_size=(6, 5))
    np.testing.assert_array_equal(got, want.numpy())
    y, idx = nn.AdaptiveMaxPool2d(3, return_indices=True)(Tensor(x))
    np.testing.assert_array_equal(idx.numpy(), torch.nn.AdaptiveMaxPool2d(3, return_indices=True)(torch.tensor(x))[1])


def test_float32_stays_float32_in_every_dimension():
    for dims in (1, 2, 3):
        x = Tensor(np.random.default_rng(0).standard_normal((2, 2) + (5,) * dims).astype(np.float32), requires_grad=True)
        for fn in (lambda t: getattr(F, f"max_pool{dims}d")(t, 2, 1, 1), lambda t: getattr(F, f"avg_pool{dims}d")(t, 3, 2, 1),
                   lambda t: getattr(F, f"adaptive_avg_pool{dims}d")(t, 3), lambda t: getattr(F, f"adaptive_max_pool{dims}d")(t, 2)):
            x.grad = None
            y = fn(x)
            y.sum().backward()
            assert y.dtype == np.float32 and x.grad.dtype == np.float32


# tinygrad's test/backend/test_ops.py cases for pooling that PyTorch itself accepts (its
# asymmetric 4-number paddings are tinygrad's own extension)
TINYGRAD_CASES = (
    [("max_pool2d", (1, 1, 2, 3), dict(kernel_size=(2, 2)))]
    + [("max_pool2d", (32, 2, 11, 28), dict(kernel_size=k)) for k in [2, (3, 3), (3, 2), (5, 5), (5, 1)]]
    + [("max_pool2d", (4, 2, 11, 28), dict(kernel_size=k, padding=p)) for k in [(3, 3), 2, (3, 2)]
       for p in [1, (1, 0), (0, 1)]]
    + [("max_pool2d", (4, 2, 11, 28), dict(kernel_size=(2, 2), stride=s)) for s in [(2, 3), (3, 2), 2, 3]]
    + [("max_pool2d", (4, 2, 11, 28), dict(kernel_size=(2, 2), stride=s, dilation=d))
       for s, d in zip([(2, 3), (3, 2), 2, 3, 4], [(3, 2), (2, 3), 2, 3, 6])]
    + [("max_pool2d", (3, 2, 17, 14), dict(kernel_size=(5, 5), stride=s)) for s in [1, (2, 3), (3, 2), 2, 3]]
    + [("max_pool2d", (3, 2, 17, 14), dict(kernel_size=(5, 5), dilation=d)) for d in [(2, 3), (3, 2), 2, 3]]
    + [(op, (1, 1, 6, 6), dict(kernel_size=k, padding=1, stride=3, ceil_mode=True)) for op in ("max_pool2d", "avg_pool2d")
       for k in [(3, 3), (3, 2), 4]]
    + [(op, (1, 1, 5, 5), dict(kernel_size=(3, 3), stride=3, padding=1, ceil_mode=True)) for op in ("max_pool2d", "avg_pool2d")]
    + [("avg_pool2d", (32, 2, 11, 28), dict(kernel_size=k)) for k in [2, (3, 3), (3, 2), (5, 5), (5, 1), (11, 28)]]
    + [("avg_pool2d", (1, 1, 8, 8), dict(kernel_size=(1, 2), padding=(0, 1), stride=(5, 1)))]
    + [("avg_pool2d", (32, 2, 11, 28), dict(kernel_size=k, padding=p)) for k in [2, (3, 3), (3, 2)] for p in [1, (1, 0), (0, 1)]]
    + [("avg_pool2d", (32, 2, 11, 28), dict(kernel_size=k, padding=1, count_include_pad=False)) for k in [(3, 3), 2, (3, 2)]]
    + [("avg_pool2d", (1, 1, 6, 6), dict(kernel_size=k, padding=1, stride=3, ceil_mode=True, count_include_pad=False))
       for k in [(3, 3), (3, 2), 4]]
    + [("avg_pool3d", (1, 1, 16, 16, 16), dict(kernel_size=(8, 8, 8), stride=5, padding=1, count_include_pad=False))]
)


@pytest.mark.parametrize("name, shape, params", TINYGRAD_CASES)
def test_tinygrad_test_ops_cases(torch, name, shape, params):
    assert_same(*both(torch, name, data(shape, 0), 0, **params))


def test_tinygrad_max_pool2d_return_indices_cases(torch):
    rng = np.random.default_rng(0)
    for shape, params, x in [
        ((2, 3, 6, 6), dict(kernel_size=(2, 2)), None),
        ((1, 1, 10, 10), dict(kernel_size=(3, 2), dilation=(2, 3)), None),
        ((1, 1, 5, 5), dict(kernel_size=(3, 3), padding=1), None),
        ((1, 1, 7, 7), dict(kernel_size=(2, 2), stride=(2, 2), ceil_mode=True), None),
        ((1, 1, 12, 13), dict(kernel_size=(12, 13)), None),
        (None, dict(kernel_size=(3, 3), stride=1), np.ones((1, 1, 6, 6))),
        (None, dict(kernel_size=(2, 2), stride=1), np.tile([1.0, 2.0], (1, 1, 6, 3))),
    ]:
        x = rng.standard_normal(shape) if x is None else x
        idx = F.max_pool2d(Tensor(x), **params, return_indices=True)[1].numpy()
        np.testing.assert_array_equal(idx, torch.nn.functional.max_pool2d(torch.tensor(x), **params, return_indices=True)[1])


def test_tinygrad_max_unpool2d_cases(torch):
    rng = np.random.default_rng(0)
    for shape, args, extra in [((8, 3, 50, 50), dict(kernel_size=(5, 5), stride=(6, 5)), {}),
                               ((8, 3, 30, 30), dict(kernel_size=(3, 3), stride=(6, 7), padding=1), dict(output_size=(30, 30))),
                               ((1, 3, 7, 6), dict(kernel_size=(2, 2)), dict(output_size=(99, 99, 7, 6)))]:
        x = rng.standard_normal(shape)
        got = F.max_unpool2d(*F.max_pool2d(Tensor(x), return_indices=True, **args), **args, **extra).numpy()
        TF = torch.nn.functional
        want = TF.max_unpool2d(*TF.max_pool2d(torch.tensor(x), return_indices=True, **args), **args, **extra).numpy()
        np.testing.assert_array_equal(got, want)
    x = np.array([[[[np.inf, -np.inf, np.nan], [1.0, 2.0, 3.0]]]])
    got = F.max_unpool2d(*F.max_pool2d(Tensor(x), 2, return_indices=True), 2).numpy()
    TF = torch.nn.functional
    np.testing.assert_array_equal(got, TF.max_unpool2d(*TF.max_pool2d(torch.tensor(x), 2, return_indices=True), 2).numpy())


def test_integer_input_pools_forward(torch):
    x = np.random.default_rng(0).integers(-5, 5, (4, 2, 11, 28)).astype(np.int32)
    got = F.max_pool2d(Tensor(x), 2, padding=1).numpy()
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, torch.nn.functional.max_pool2d(torch.tensor(x), 2, padding=1).numpy())


FLAT_GEOMETRIES = [(3, 2, 1, 1), (2, 2, 0, 1), (3, 1, 1, 1), (3, 2, 1, 2), (4, 2, 2, 1)]  # k, s, p, d


@pytest.mark.parametrize("kind, k, s, p, d", [("max", *g) for g in FLAT_GEOMETRIES]
                         + [("avg", *g) for g in FLAT_GEOMETRIES if g[3] == 1])  # (avg has no dilation)
def test_flat_passes_match_torch_on_ties_nan_and_inf(torch, monkeypatch, kind, k, s, p, d):
    """Even sides take the flat passes (one shifted flat slice per tap, the padding rows
    redone): ties (ReLU zeros, where the first maximum in row-major order must win), a NaN,
    a row of -inf, and an inf in the gradient, against PyTorch's values, indices and gradients."""
    from tinygrad_conv.ops import pool

    monkeypatch.setattr(pool, "FLAT_MIN", 0)  # (small sums otherwise stay on strided views)
    rng = np.random.default_rng(k * 100 + s * 10 + p + d)
    x = np.maximum(rng.integers(-2, 3, (2, 3, 12, 16)), 0).astype(np.float32)
    x[0, 0, 5, 6], x[1, 2, 0, :] = np.nan, -np.inf
    xt = torch.tensor(x, requires_grad=True)
    xo = Tensor(x, requires_grad=True)
    if kind == "max":
        yt, it = torch.nn.functional.max_pool2d(xt, k, s, p, d, return_indices=True)
        yo, io = F.max_pool2d(xo, k, s, p, d, return_indices=True)
        np.testing.assert_array_equal(io.numpy(), it.numpy())
    else:
        yt, yo = torch.nn.functional.avg_pool2d(xt, k, s, p), F.avg_pool2d(xo, k, s, p)
    g = rng.standard_normal(yt.shape).astype(np.float32)
    g[1, 1, 2, 3] = np.inf
    yt.backward(torch.tensor(g))
    yo.backward(Tensor(g))
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape, size", [((2, 3, 100, 130), (7, 5)), ((1, 2, 256, 200), 8), ((3, 70, 90), (1, 8))])
@pytest.mark.parametrize("nonfinite", [False, True])
def test_adaptive_avg_pool_to_few_windows_of_a_large_plane_matches_torch(torch, shape, size, nonfinite):
    """Planes past DENSE_MAX pooled to at most DENSE_FEW windows per axis take the dense
    matrices (and, with a NaN or inf in the input, the passes)."""
    from tinygrad_conv.ops import pool

    plane = math.prod(shape[-2:])
    assert pool.DENSE_MAX < plane <= pool.DENSE_FEW_MAX
    x = data(shape, 7, nonfinite=nonfinite)
    assert_same(*both(torch, "adaptive_avg_pool2d", x, 7, output_size=size))
