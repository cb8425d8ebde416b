"""interpolate (nearest; bilinear with and without align_corners) and nn.Upsample against
the pixel-by-pixel loop reference (tests/reference.py) and torch, over hypothesis-drawn
shapes down to 1x1, sizes and scale factors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import reference
from tinygrad_conv import Tensor, nn
from tinygrad_conv import functional as F

seeds = st.integers(0, 2**32 - 1)


@st.composite
def cases(draw):
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    mode = draw(st.sampled_from(["nearest", "bilinear"]))
    params = dict(mode=mode, align_corners=draw(st.sampled_from([None, False, True])) if mode == "bilinear" else None)
    if draw(st.booleans()):
        params["size"] = draw(st.one_of(st.integers(1, 9), st.tuples(st.integers(1, 9), st.integers(1, 9))))
    else:
        factor = st.sampled_from([0.5, 1, 1.5, 2, 2.5, 3, 1 / 3, 0.75])
        candidate = draw(st.one_of(factor, st.tuples(factor, factor)))
        pair = candidate if isinstance(candidate, tuple) else (candidate, candidate)
        if any(np.floor(n * f) < 1 for n, f in zip(shape[2:], pair)):
            candidate = (2, 3)  # the factor would give no pixels
        params["scale_factor"] = candidate
    return shape, params


@settings(max_examples=150)
@given(case=cases(), seed=seeds)
def test_matches_the_loop_reference_and_is_its_own_adjoint(case, seed):
    shape, params = case
    x = np.random.default_rng(seed).standard_normal(shape)
    xt = Tensor(x, requires_grad=True)
    y = F.interpolate(xt, **params)
    expected = reference.interpolate(x, **params)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(seed + 1).standard_normal(y.shape)  # linear: <y, g> = <x, dx>
    y.backward(g)
    np.testing.assert_allclose(np.sum(y.numpy() * g), np.sum(x * xt.grad.numpy()), rtol=1e-10, atol=1e-10)


@settings(max_examples=80)
@given(case=cases(), seed=seeds)
def test_matches_torch(case, seed):
    torch = pytest.importorskip("torch")
    shape, params = case
    x = np.random.default_rng(seed).standard_normal(shape)
    xt, tt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = F.interpolate(xt, **params), torch.nn.functional.interpolate(tt, **params)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(seed + 1).standard_normal(y.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(xt.grad, tt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_nearest_doubling_repeats_each_pixel_and_upsample_module():
    x = np.arange(4.0).reshape(1, 1, 2, 2)
    np.testing.assert_array_equal(F.interpolate(Tensor(x), scale_factor=2).data[0, 0],
                                  [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])
    up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
    np.testing.assert_allclose(up(Tensor(x)).data[0, 0, 0], [0, 1 / 3, 2 / 3, 1])
    assert repr(up) == "Upsample(scale_factor=2, mode='bilinear', align_corners=True)"
    y = nn.Upsample(size=(3, 5))(Tensor(x.astype(np.float32), requires_grad=True))
    assert y.shape == (1, 1, 3, 5) and y.dtype == np.float32


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda x: F.interpolate(x), r"interpolate: give exactly one of size and scale_factor, got size=None, scale_factor=None"),
        (lambda x: F.interpolate(x, size=4, scale_factor=2), r"exactly one of size and scale_factor, got size=4, scale_factor=2"),
        (lambda x: F.interpolate(x, size=0), r"size must be >= 1, got 0"),
        (lambda x: F.interpolate(x, scale_factor=0.1), r"scale_factor 0.1 gives output size \(0, 0\) for input size \(4, 4\)"),
        (lambda x: F.interpolate(x, size=2, mode="cubic"), r"mode must be one of 'nearest', .*, got 'cubic'"),
        (lambda x: F.interpolate(x, size=2, align_corners=True), r"align_corners can only be set with the interpolating"),
        (lambda x: F.interpolate(x, size=2, mode="linear"), r"mode 'linear' takes a 3-D \(N, C, L\) input, got 4-D"),
        (lambda x: F.interpolate(x[0, 0], size=2), r"mode 'nearest' takes a 3-D \(N, C, L\) or 4-D .* got 2-D"),
        (lambda x: F.interpolate(x, size=(2, 2, 2)), r"size must be one value or 2 \(one per spatial axis"),
        (lambda x: F.interpolate(x, size=2, recompute_scale_factor=True), r"recompute_scale_factor is not meaningful"),
        (lambda x: nn.Upsample(), r"Upsample: give exactly one of size and scale_factor"),
    ],
)
def test_bad_arguments_raise_with_what_was_given(fn, match):
    with pytest.raises(ValueError, match=match):
        fn(Tensor(np.zeros((1, 1, 4, 4))))


@pytest.mark.parametrize("flat_below", [0, 10**9])  # row slices, flat arrays
@pytest.mark.parametrize("mode, factor", [("bilinear", 2), ("bilinear", 3), ("bicubic", 2), ("bicubic", (2, 3))])
def test_integer_upscale_phases_match_torch_in_both_layouts(monkeypatch, flat_below, mode, factor):
    """Linear and cubic upscales by an integer run as phases of shifted slices, flat for short
    rows and on row slices for long ones, the ends of each axis redone with clamped taps."""
    torch = pytest.importorskip("torch")
    from tinygrad_conv.ops import interpolate

    monkeypatch.setattr(interpolate, "FLAT_BELOW", flat_below)
    x = np.random.default_rng(3).standard_normal((2, 3, 6, 7)).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.interpolate(xt, scale_factor=factor, mode=mode, align_corners=False)
    g = np.random.default_rng(4).standard_normal(yt.shape).astype(np.float32)
    yt.backward(torch.tensor(g))
    xo = Tensor(x, requires_grad=True)
    yo = F.interpolate(xo, scale_factor=factor, mode=mode, align_corners=False)
    yo.backward(Tensor(g))
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-5)
