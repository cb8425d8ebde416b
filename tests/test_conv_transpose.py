"""conv_transpose2d against the loop reference (tests/reference.py) and torch, the adjoint
identity with conv2d, over hypothesis-drawn geometries: batch, channels, height and
width down to 1, non-square kernels, per-axis stride, padding, output_padding,
dilation, groups."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import reference
from tinygrad_conv import Tensor, nn
from tinygrad_conv import functional as F


@st.composite
def cases(draw, max_side=6):
    """(x shape, weight shape, has_bias, params) for a valid conv_transpose2d call."""
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    # padding may crop the output down to one row/column, never to nothing
    padding = tuple(
        draw(st.integers(0, max(0, ((size - 1) * s + d * (k - 1) + o) // 2)))
        for size, s, d, k, o in zip((h, w), stride, dilation, (kh, kw), output_padding)
    )
    params = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    return (draw(st.integers(1, 2)), c_in, h, w), (c_in, c_out // groups, kh, kw), draw(st.booleans()), params


def arrays(x_shape, w_shape, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(x_shape), rng.standard_normal(w_shape)


def run(x, w, b, params, grad=None):
    ts = [Tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    y = F.conv_transpose2d(*ts[:2], ts[2] if b is not None else None, **params)
    if grad is not None:
        y.backward(grad)
    return y, [t.grad for t in ts]


seeds = st.integers(0, 2**32 - 1)


@settings(max_examples=150)
@given(case=cases(), seed=seeds)
def test_forward_matches_the_loop_reference(case, seed):
    x_shape, w_shape, has_bias, params = case
    x, w = arrays(x_shape, w_shape, seed)
    b = np.random.default_rng(seed).standard_normal(w_shape[1] * params["groups"]) if has_bias else None
    expected = reference.conv_transpose2d(x, w, b, **params)
    y, _ = run(x, w, b, params)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.data, expected, rtol=1e-10, atol=1e-10)


@settings(max_examples=100)
@given(case=cases(), seed=seeds)
def test_adjoint_of_conv2d(case, seed):
    """<conv2d(z, w), x> = <z, conv_transpose2d(x, w)> for z of the transposed conv's output shape,
    and the gradients are conv2d's: d/dx is conv2d(g), d/dw is conv2d's weight gradient."""
    x_shape, w_shape, _, params = case
    x, w = arrays(x_shape, w_shape, seed)
    conv = dict(stride=params["stride"], padding=params["padding"], dilation=params["dilation"], groups=params["groups"])
    y, _ = run(x, w, None, params)
    z = np.random.default_rng(seed + 1).standard_normal(y.shape)
    cz = F.conv2d(Tensor(z), Tensor(w), **conv).numpy()[:, :, : x.shape[2], : x.shape[3]]
    np.testing.assert_allclose(np.sum(cz * x), np.sum(z * y.numpy()), rtol=1e-9, atol=1e-9)
    _, (dx, dw) = run(x, w, None, params, grad=z)
    np.testing.assert_allclose(dx, cz, rtol=1e-9, atol=1e-9)  # the gradient of <z, y> w.r.t. x
    wt = Tensor(w, requires_grad=True)
    F.conv2d(Tensor(z), wt, **conv)[:, :, : x.shape[2], : x.shape[3]].backward(x)
    np.testing.assert_allclose(dw, wt.grad, rtol=1e-9, atol=1e-9)


@settings(max_examples=60)
@given(case=cases(), seed=seeds)
def test_matches_torch(case, seed):
    torch = pytest.importorskip("torch")
    x_shape, w_shape, has_bias, params = case
    x, w = arrays(x_shape, w_shape, seed)
    b = np.random.default_rng(seed).standard_normal(w_shape[1] * params["groups"]) if has_bias else None
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    ty = torch.nn.functional.conv_transpose2d(*ts[:2], ts[2] if has_bias else None, **params)
    g = np.random.default_rng(seed + 1).standard_normal(ty.shape)
    ty.backward(torch.tensor(g))
    y, grads = run(x, w, b, params, g)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    for ours, theirs in zip(grads, ts):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_float32_stays_float32_and_the_module_upsamples():
    x = Tensor(np.random.default_rng(0).standard_normal((2, 4, 5, 5)).astype(np.float32), requires_grad=True)
    layer = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)
    y = layer(x)
    assert y.shape == (2, 3, 10, 10) and y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == layer.weight.grad.dtype == layer.bias.grad.dtype == np.float32
    assert layer.weight.shape == (4, 3, 3, 3)
    bound = 1 / np.sqrt(3 * 9)  # PyTorch's init: fan_in = C_out/groups * K_h * K_w
    assert layer.weight.abs().max().item() <= bound and layer.bias.abs().max().item() <= bound
    np.testing.assert_allclose(y.data, reference.conv_transpose2d(x.data, layer.weight.data, layer.bias.data,
                                                                  2, 1, 1), rtol=1e-5, atol=1e-5)
    assert "output_padding=(1, 1)" in repr(layer)


@pytest.mark.parametrize(
    "x_shape, w_shape, params, error, match",
    [
        ((1, 2, 3, 3), (2, 1, 3, 3), dict(stride=2, output_padding=2), ValueError,
         r"conv_transpose2d: output_padding \(2, 2\) must be smaller than either stride \(2, 2\) or dilation \(1, 1\)"),
        ((1, 2, 3, 3), (2, 1, 3, 3), dict(output_padding=(0, 1)), ValueError, r"output_padding \(0, 1\) must be smaller"),
        ((1, 2, 3, 3), (3, 1, 3, 3), {}, ValueError, r"input has 2 channels but weight expects 3 \(weight shape \(3, 1, 3, 3\)\)"),
        ((1, 3, 3, 3), (3, 1, 3, 3), dict(groups=2), ValueError, r"input channels 3 are not divisible by groups 2"),
        ((1, 2, 1, 1), (2, 1, 1, 1), dict(padding=1), ValueError, r"output size \(-1, -1\) is too small"),
        ((3, 3), (2, 1, 3, 3), {}, ValueError,  # (2, 3, 3) is an unbatched input, as in PyTorch
         r"expected 3D \(unbatched\) or 4D \(batched\) input.*got input of shape \(3, 3\)"),
        ((1, 2, 3, 3), (2, 1, 3, 3), dict(stride=1.5), TypeError, r"stride must be an int or an \(h, w\) pair"),
    ],
)
def test_bad_arguments_raise_with_what_was_given(x_shape, w_shape, params, error, match):
    with pytest.raises(error, match=match):
        F.conv_transpose2d(Tensor(np.zeros(x_shape), requires_grad=True), Tensor(np.zeros(w_shape)), **params)


def test_module_checks_its_arguments():
    with pytest.raises(ValueError, match=r"ConvTranspose2d: output_padding \(1, 1\) must be smaller"):
        nn.ConvTranspose2d(2, 2, 3, stride=1, output_padding=1)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: out_channels=3 must be divisible by groups=2"):
        nn.ConvTranspose2d(2, 3, 3, groups=2)
