"""pad (every mode, 1-3 axes, cropping widths, non-finite values) and interpolate (every
mode, 1-3 spatial axes, recompute_scale_factor) against PyTorch over hypothesis-drawn cases,
forward and backward; a torch-free loop reference for the 1-D rules of the new modes; the
padding modules; and the O(n) memory of pad's and interpolate's backward."""
import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import Tensor, nn
from tinygrad_conv import functional as F

seeds = st.integers(0, 2**32 - 1)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _forward_backward(fn, torch_fn, x, seed, torch):
    """Run ours and PyTorch's on float64 ``x``; compare values and input gradients."""
    ours, theirs = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = fn(ours), torch_fn(theirs)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(g)
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


# ----- pad -----------------------------------------------------------------------------
@st.composite
def pad_cases(draw):
    """A mode, an input PyTorch accepts for it (non-constant modes: k padded axes of a
    (k+1)- or (k+2)-D input) and widths it accepts, negative ones included."""
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    k = draw(st.integers(1, 3))
    ndim = draw(st.integers(k, 4)) if mode == "constant" else k + draw(st.integers(1, 2))
    shape = tuple(draw(st.integers(1, 5)) for _ in range(ndim))
    pad = []
    for axis in range(k):
        n = shape[-1 - axis]
        low = -((n - 1) // 2 // 2)
        high = {"reflect": n - 1, "circular": n + 2 * low}.get(mode, 4)
        pad += [draw(st.integers(low, high)), draw(st.integers(low, high))]
    value = draw(st.sampled_from([0.0, 1.5, -math.inf, math.inf, math.nan])) if mode == "constant" else None
    return shape, tuple(pad), mode, value


@settings(max_examples=120)
@given(case=pad_cases(), seed=seeds)
def test_pad_matches_torch(case, seed):
    torch = pytest.importorskip("torch")
    shape, pad, mode, value = case
    x = np.random.default_rng(seed).standard_normal(shape)
    kwargs = {} if value is None else {"value": value}
    _forward_backward(lambda t: F.pad(t, pad, mode, **kwargs),
                      lambda t: torch.nn.functional.pad(t, pad, mode, **kwargs), x, seed + 1, torch)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", "constant"])
def test_pad_keeps_float32_and_matches_numpy(mode):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    out = F.pad(Tensor(x), (1, 2, 3, 0), mode)
    np_mode = {"replicate": "edge", "circular": "wrap"}.get(mode, mode)
    np.testing.assert_array_equal(out.numpy(), np.pad(x, ((0, 0), (0, 0), (3, 0), (1, 2)), mode=np_mode))
    assert out.dtype == np.float32


def test_pad_with_minus_inf_before_max_pool_ignores_the_padding():
    x = Tensor(np.array([[[[-3.0, -2.0], [-1.0, -4.0]]]]), requires_grad=True)
    out = F.max_pool2d(F.pad(x, (1, 1, 1, 1), value=-math.inf), 2, stride=1)
    assert np.isfinite(out.numpy()).all()
    out.sum().backward()
    assert x.grad.numpy().sum() == out.numel()  # every window's gradient reaches a real pixel


@pytest.mark.parametrize(
    "shape, pad, mode, match",
    [
        ((1, 1, 3), (3, 0), "reflect", "smaller than the axis length"),
        ((1, 1, 3), (0, 4), "circular", "wrap around only once"),
        ((1, 1, 3), (-2, -1), "replicate", "output length of 0"),
        ((1, 1, 3), (-4, 2), "constant", "crops more than the axis holds"),
        ((1, 1, 3), (1, 1, 1), "constant", r"\(before, after\) pair per padded axis"),
    ],
)
def test_pad_refuses_what_torch_refuses(shape, pad, mode, match, torch):
    with pytest.raises(Exception):
        torch.nn.functional.pad(torch.zeros(shape), pad, mode)
    with pytest.raises(ValueError, match=match):
        F.pad(Tensor(np.zeros(shape)), pad, mode)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", "constant"])
def test_pad_backward_memory_is_linear(mode):
    """Issue 20: a dense (n + pad) x n matrix per axis took 3.4 GB at n = 30000."""
    x = Tensor(np.random.default_rng(0).standard_normal((1, 1, 30000)), requires_grad=True)
    tracemalloc.start()
    F.pad(x, (2, 3), mode).sum().backward()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 3 * 30000 * 8 + 200_000, f"peak {peak / 1e6:.1f} MB"
    expected = np.ones(30000)
    if mode == "reflect":
        expected[1:3] += 1
        expected[-4:-1] += 1
    elif mode == "replicate":
        expected[0] += 2
        expected[-1] += 3
    elif mode == "circular":
        expected[-2:] += 1
        expected[:3] += 1
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], expected)


@pytest.mark.parametrize("size", [29999, 60001, 7])
def test_interpolate_backward_memory_is_linear(size):
    x = Tensor(np.random.default_rng(0).standard_normal((1, 1, 30000)), requires_grad=True)
    tracemalloc.start()
    F.interpolate(x, size=size, mode="linear").sum().backward()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 12 * (30000 + size) * 8 + 200_000, f"peak {peak / 1e6:.1f} MB"


# ----- interpolate ---------------------------------------------------------------------
_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


@st.composite
def interpolate_cases(draw):
    mode = draw(st.sampled_from(["nearest", "nearest-exact", "area", "linear", "bilinear", "bicubic", "trilinear"]))
    dims = _DIMS.get(mode) or draw(st.integers(1, 3))
    side = 7 if dims < 3 else 4
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + tuple(draw(st.integers(1, side)) for _ in range(dims))
    params = dict(mode=mode)
    if mode in _DIMS:
        params["align_corners"] = draw(st.sampled_from([None, False, True]))
    if draw(st.booleans()):
        params["size"] = tuple(draw(st.integers(1, 2 * side)) for _ in range(dims))
        if dims == 1 and draw(st.booleans()):
            params["size"] = params["size"][0]
    else:
        factors = st.sampled_from([0.5, 2, 3, 2.5, 0.75, 4, 1 / 3])
        factor = tuple(draw(factors) for _ in range(dims)) if draw(st.booleans()) else draw(factors)
        each = factor if isinstance(factor, tuple) else (factor,) * dims
        if any(math.floor(n * f) < 1 for n, f in zip(shape[2:], each)):
            factor = 2
        params["scale_factor"] = factor
        params["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]))
    return shape, params


@settings(max_examples=150)
@given(case=interpolate_cases(), seed=seeds)
def test_interpolate_matches_torch(case, seed):
    torch = pytest.importorskip("torch")
    shape, params = case
    x = np.random.default_rng(seed).standard_normal(shape)
    _forward_backward(lambda t: F.interpolate(t, **params),
                      lambda t: torch.nn.functional.interpolate(t, **params), x, seed + 1, torch)


@settings(max_examples=40)
@given(case=interpolate_cases(), seed=seeds)
def test_interpolate_float32_stays_float32_and_matches_torch(case, seed):
    torch = pytest.importorskip("torch")
    shape, params = case
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    out = F.interpolate(Tensor(x), **params)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), torch.nn.functional.interpolate(torch.tensor(x), **params).numpy(),
                               rtol=1e-5, atol=1e-5)


def _reference_1d(x, m, mode, align_corners=False):
    """Output pixel by pixel along the last axis of ``x``, from PyTorch's definitions
    (size given, so scale = n / m)."""
    n = x.shape[-1]
    out = np.zeros(x.shape[:-1] + (m,))
    for i in range(m):
        if mode == "nearest-exact":
            out[..., i] = x[..., min(int(np.floor(np.float32((i + 0.5) * np.float32(n / m)))), n - 1)]
        elif mode == "area":
            start, end = (i * n) // m, -(-(i + 1) * n // m)
            out[..., i] = x[..., start:end].mean(-1)
        else:  # bicubic along one axis: A = -0.75, taps floor(src) - 1 .. + 2 clamped into the axis
            src = i * (n - 1) / (m - 1) if align_corners and m > 1 else 0.0 if align_corners else (i + 0.5) * n / m - 0.5
            lo = min(math.floor(src), n - 1)
            t = min(max(src - lo, 0.0), 1.0)
            for j in range(4):
                d = abs(t - (j - 1))
                w = 1.25 * d**3 - 2.25 * d**2 + 1 if d <= 1 else -0.75 * (d**3 - 5 * d**2 + 8 * d - 4)
                out[..., i] += w * x[..., min(max(lo - 1 + j, 0), n - 1)]
    return out


@settings(max_examples=60)
@given(mode=st.sampled_from(["nearest-exact", "area", "bicubic"]), n=st.integers(1, 9), m=st.integers(1, 20),
       align=st.booleans(), seed=seeds)
def test_new_modes_match_the_loop_reference(mode, n, m, align, seed):
    x = np.random.default_rng(seed).standard_normal((2, n))
    if mode == "bicubic":  # a (2, 1, 1, n) image: the height axis is kept
        got = F.interpolate(Tensor(x[:, None, None]), size=(1, m), mode=mode, align_corners=align).numpy()[:, 0, 0]
    else:
        got = F.interpolate(Tensor(x[:, None]), size=m, mode=mode).numpy()[:, 0]
    np.testing.assert_allclose(got, _reference_1d(x, m, mode, align), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda x: F.interpolate(x, size=2, mode="bilinear"), r"mode 'bilinear' takes a 4-D"),
        (lambda x: F.interpolate(x, size=2, mode="area", align_corners=False), r"align_corners can only be set"),
        (lambda x: F.interpolate(x, scale_factor=(2, 2)), r"scale_factor must be one value or 1"),
        (lambda x: F.interpolate(x, size=3, antialias=True), r"antialias=True is not supported"),
    ],
)
def test_interpolate_bad_arguments(fn, match):
    with pytest.raises(ValueError, match=match):
        fn(Tensor(np.zeros((1, 1, 4))))


# ----- modules -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ZeroPad", "ConstantPad", "ReflectionPad", "ReplicationPad", "CircularPad"])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_padding_modules_match_torch(name, dims, torch):
    args = ((1, 2, 0, 1, 2, 1)[:2 * dims],) + ((2.5,) if name == "ConstantPad" else ())
    ours, theirs = getattr(nn, f"{name}{dims}d")(*args), getattr(torch.nn, f"{name}{dims}d")(*args)
    x = np.random.default_rng(dims).standard_normal((2,) + (3,) * (dims + 1))
    np.testing.assert_array_equal(ours(Tensor(x)).numpy(), theirs(torch.tensor(x)).numpy())
    assert repr(ours) == repr(theirs)
    assert getattr(nn, f"{name}{dims}d")(1, *args[1:]).padding == (1,) * (2 * dims)


def test_padding_module_bad_widths():
    with pytest.raises(ValueError, match=r"ReflectionPad2d: padding must be an int or a tuple of 4 ints"):
        nn.ReflectionPad2d((1, 2))
    with pytest.raises(TypeError, match="padding must be an int"):
        nn.ZeroPad1d(1.5)


@pytest.mark.parametrize("mode, shape", [("linear", (1, 2, 5)), ("trilinear", (1, 2, 3, 4, 2)),
                                         ("nearest", (1, 2, 3, 4, 2)), ("bicubic", (1, 2, 3, 4))])
def test_upsample_module_every_rank(mode, shape, torch):
    x = np.random.default_rng(0).standard_normal(shape)
    kwargs = dict(scale_factor=2, mode=mode) | ({} if mode == "nearest" else dict(align_corners=True))
    np.testing.assert_allclose(nn.Upsample(**kwargs)(Tensor(x)).numpy(),
                               torch.nn.Upsample(**kwargs)(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-12)


def test_conv2d_circular_padding_uses_f_pad(torch):
    torch.manual_seed(0)
    layer = torch.nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="circular").double()
    ours = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="circular", dtype=tc.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in layer.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 5))
    np.testing.assert_allclose(ours(Tensor(x)).numpy(), layer(torch.tensor(x)).detach().numpy(), rtol=1e-10)
