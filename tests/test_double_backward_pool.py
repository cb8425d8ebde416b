"""Second derivatives of the pooling ops against PyTorch's: ``autograd.grad(...,
create_graph=True)`` twice, every option drawn (kernel, stride, padding, dilation,
ceil_mode, count_include_pad; adaptive output sizes above and below the input's).

For ``out = pool(x)`` and upstream gradient ``v``, the first derivative is
``gx = grad(out, x, v, create_graph=True)``; the second is ``grad((gx * r).sum(), (x, v))``:
d/dv is the pooling applied to r (max: gathered at the winners), d/dx is zero (avg is
linear, max's winners are piecewise constant). Composed cases (``pool(x) ** 2``, a
pooled input that depends on x) make the x-derivative of the backward non-zero.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import Tensor
from tinygrad_conv import functional as F
from tinygrad_conv.ops.pool import window_args

torch = pytest.importorskip("torch")
TF = torch.nn.functional

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)


@st.composite
def pool_cases(draw, op, max_side=7):
    """(x shape, params) for a valid call of ``op`` ("max" or "avg"), every option drawn."""
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    params = dict(
        kernel_size=(kh, kw),
        stride=draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3)))),
        padding=(draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))),
        ceil_mode=draw(st.booleans()),
    )
    if op == "max":
        params["dilation"] = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    else:
        params["count_include_pad"] = draw(st.booleans())
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, max_side)), draw(st.integers(1, max_side)))
    try:
        geo_args = {k: v for k, v in params.items() if k != "count_include_pad"}
        ks, ss, ps, ds, outs = window_args(np.zeros(shape), 2, f"{op}_pool2d", **geo_args)
    except ValueError:
        assume(False)
    # every window reads a pixel of x (a dilated window can fall wholly in the padding and
    # past the input; torch's CPU max-pool backward then writes out of bounds)
    for n_out, size, k, s, p, d in zip(outs, shape[2:], ks, ss, ps, ds):
        assume(all(any(0 <= i * s - p + a * d < size for a in range(k)) for i in range(n_out)))
    return shape, params


@st.composite
def adaptive_cases(draw, max_side=7):
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, max_side)), draw(st.integers(1, max_side)))
    return shape, (draw(st.integers(1, shape[2] + 2)), draw(st.integers(1, shape[3] + 2)))


def data(shape, seed, ties=False):
    rng = np.random.default_rng(seed)
    return rng.integers(-2, 3, shape).astype(np.float64) if ties else rng.standard_normal(shape)


def second_derivatives(lib, fn, x, v, r):
    """(gx, d(gx . r)/dx, d(gx . r)/dv) with ``lib`` tc or torch (zeros for an unused input)."""
    if lib is torch:
        xt, vt, rt = (torch.tensor(a, requires_grad=True) for a in (x, v, r))
        rt.requires_grad_(False)
        (gx,) = torch.autograd.grad(fn(xt), xt, vt, create_graph=True)
        gg = torch.autograd.grad((gx * rt).sum(), (xt, vt), allow_unused=True)
        gx = gx.detach().numpy()
    else:
        xt, vt = Tensor(x, requires_grad=True), Tensor(v, requires_grad=True)
        (gx,) = tc.autograd.grad(fn(xt), xt, vt, create_graph=True)
        gg = tc.autograd.grad((gx * Tensor(r)).sum(), (xt, vt), allow_unused=True)
        gx = gx.detach().numpy()
    ggx, ggv = (np.zeros(a.shape) if g is None else g.detach().numpy() for g, a in zip(gg, (x, v)))
    return gx, ggx, ggv


def compare(tc_fn, torch_fn, x, seed):
    rng = np.random.default_rng(seed + 1)
    with tc.no_grad():
        out_shape = tc_fn(Tensor(x)).shape
    v, r = rng.standard_normal(out_shape), rng.standard_normal(x.shape)
    got = second_derivatives(tc, tc_fn, x, v, r)
    want = second_derivatives(torch, torch_fn, x, v, r)
    for name, a, b in zip(("gx", "d/dx", "d/dv"), got, want):
        np.testing.assert_allclose(a, b, atol=1e-10, rtol=1e-10, err_msg=name)


@SETTINGS
@given(case=pool_cases("avg"), seed=seeds)
def test_avg_pool2d_second_derivatives_match_torch(case, seed):
    shape, params = case
    compare(lambda x: F.avg_pool2d(x, **params), lambda x: TF.avg_pool2d(x, **params), data(shape, seed), seed)


@SETTINGS
@given(case=pool_cases("max"), seed=seeds, ties=st.booleans())
def test_max_pool2d_second_derivatives_match_torch(case, seed, ties):
    shape, params = case  # ties: the first maximum wins in both, down the double backward too
    compare(lambda x: F.max_pool2d(x, **params), lambda x: TF.max_pool2d(x, **params), data(shape, seed, ties), seed)


@SETTINGS
@given(case=adaptive_cases(), seed=seeds)
def test_adaptive_avg_pool2d_second_derivatives_match_torch(case, seed):
    shape, size = case
    compare(lambda x: F.adaptive_avg_pool2d(x, size), lambda x: TF.adaptive_avg_pool2d(x, size), data(shape, seed), seed)


@SETTINGS
@given(case=adaptive_cases(), seed=seeds, ties=st.booleans())
def test_adaptive_max_pool2d_second_derivatives_match_torch(case, seed, ties):
    shape, size = case
    x = data(shape, seed, ties)
    compare(lambda x: F.adaptive_max_pool2d(x, size), lambda x: TF.adaptive_max_pool2d(x, size), x, seed)


# composed: the backward of the pool then runs on a gradient that depends on x, so the
# mixed derivative d/dx of the input gradient goes through the pool's double backward
COMPOSED = {
    "avg_pool2d": (
        lambda x: F.avg_pool2d(x * x, (3, 2), stride=(2, 1), padding=(1, 1), ceil_mode=True, count_include_pad=False) ** 2,
        lambda x: TF.avg_pool2d(x * x, (3, 2), stride=(2, 1), padding=(1, 1), ceil_mode=True, count_include_pad=False) ** 2,
    ),
    "max_pool2d": (
        lambda x: F.max_pool2d(x.tanh(), (2, 3), stride=(1, 2), padding=(1, 1), dilation=(2, 1), ceil_mode=True) ** 3,
        lambda x: TF.max_pool2d(x.tanh(), (2, 3), stride=(1, 2), padding=(1, 1), dilation=(2, 1), ceil_mode=True) ** 3,
    ),
    "adaptive_avg_pool2d": (
        lambda x: F.adaptive_avg_pool2d(x.exp(), (3, 4)) ** 2,
        lambda x: TF.adaptive_avg_pool2d(x.exp(), (3, 4)) ** 2,
    ),
    "adaptive_max_pool2d": (
        lambda x: F.adaptive_max_pool2d(x * x, (4, 2)) ** 2,
        lambda x: TF.adaptive_max_pool2d(x * x, (4, 2)) ** 2,
    ),
}


@pytest.mark.parametrize("name", sorted(COMPOSED))
def test_composed_second_derivatives_match_torch(name):
    tc_fn, torch_fn = COMPOSED[name]
    compare(tc_fn, torch_fn, data((2, 3, 6, 5), 7), 7)


@pytest.mark.parametrize("name", sorted(COMPOSED))
def test_composed_gradgradcheck(name):
    x = Tensor(data((1, 2, 6, 5), 3), requires_grad=True)
    assert tc.gradgradcheck(COMPOSED[name][0], [x])


def test_max_pool2d_all_minus_inf_window():
    """Windows of only -inf pixels: the winner is the window's first real pixel (never the
    padding), as torch: the double backward follows the first-order rule (the adjoint identity
    ``gx . r = v . d(gx . r)/dv``, and gx equal to the plain backward's and to torch's)."""
    x = np.full((1, 1, 3, 3), -np.inf)
    x[0, 0, 2, 2] = 1.0
    params = dict(kernel_size=2, stride=1, padding=1)
    rng = np.random.default_rng(0)
    v, r = rng.standard_normal((1, 1, 4, 4)), rng.standard_normal(x.shape)
    gx, ggx, ggv = second_derivatives(tc, lambda t: F.max_pool2d(t, **params), x, v, r)
    plain = Tensor(x, requires_grad=True)
    F.max_pool2d(plain, **params).backward(Tensor(v))
    np.testing.assert_allclose(gx, plain.grad.numpy(), rtol=1e-14)
    np.testing.assert_allclose(gx, second_derivatives(torch, lambda t: TF.max_pool2d(t, **params), x, v, r)[0])
    np.testing.assert_allclose((gx * r).sum(), (v * ggv).sum(), rtol=1e-12)
    assert not ggx.any()


def test_first_order_gradient_unchanged_by_create_graph():
    """Plain backward (arrays) and create_graph backward (Tensors) give the same gradient."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6))
    for fn in (
        lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        lambda t: F.max_pool2d(t, 3, 2, 1, dilation=2, ceil_mode=True),
        lambda t: F.adaptive_avg_pool2d(t, (4, 5)),
        lambda t: F.adaptive_max_pool2d(t, (4, 5)),
    ):
        v = Tensor(rng.standard_normal(fn(Tensor(x)).shape))
        a = Tensor(x, requires_grad=True)
        fn(a).backward(v)
        b = Tensor(x, requires_grad=True)
        (gb,) = tc.autograd.grad(fn(b), b, v, create_graph=True)
        np.testing.assert_allclose(a.grad.numpy(), gb.detach().numpy(), rtol=1e-13, atol=1e-15)
