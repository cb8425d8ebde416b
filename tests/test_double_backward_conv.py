"""Second (and third) derivatives of conv2d, conv_transpose2d, pad and interpolate against
PyTorch's: ``autograd.grad(..., create_graph=True)`` twice, every option drawn.

For ``out = op(x, W, b)`` and upstream gradient ``v``, the first derivatives are
``gx, gW, gb = grad(out, (x, W, b), v, create_graph=True)``; the second ones are the
gradients of ``(gx * rx).sum() + (gW * rW).sum() + (gb * rb).sum()`` with respect to
``(x, W, b, v)``. For a convolution (bilinear in x and W) the interesting ones are mixed:
d/dW of the input gradient and d/dx of the weight gradient. A gradient penalty
(``|d L / d x|^2`` of a non-linear ``L``) composes them and is differentiated a third time.
pad and interpolate are linear: their backward is differentiated through a non-linear
function around them (``op(x) ** 3``), which makes d/dx of the backward non-zero.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import Tensor, testing
from tinygrad_conv import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

SETTINGS = settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)


def rand(rng, shape):
    return rng.standard_normal(shape)


def pair(arrays):
    """The same float64 values as tinygrad_conv and torch leaves that require grad."""
    return ([Tensor(a.copy(), requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def tc_grad(out, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    return tc.autograd.grad(out, inputs, grad_outputs, retain_graph=retain_graph, create_graph=create_graph,
                            allow_unused=True)


def th_grad(out, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    return torch.autograd.grad(out, inputs, grad_outputs, retain_graph=retain_graph, create_graph=create_graph,
                               allow_unused=True)


def assert_close(ours, theirs, what, shape=None):
    """``ours`` (a Tensor or None) equals ``theirs`` (a torch tensor or None); None is zero."""
    a = None if ours is None else np.asarray(ours.array)
    b = None if theirs is None else theirs.detach().numpy()
    if a is None and b is None:
        return
    ref = a if a is not None else b
    a = np.zeros_like(ref) if a is None else a
    b = np.zeros_like(ref) if b is None else b
    assert a.shape == b.shape, f"{what}: shape {a.shape} != torch's {b.shape}"
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10, err_msg=what)


def check_second(fn_tc, fn_th, arrays, seed):
    """First derivatives with create_graph, then the gradient of their projection on random
    directions with respect to every input and the upstream gradient v; also each mixed
    block on its own (d/d input_j of the gradient of input_i)."""
    rng = np.random.default_rng(seed)
    ours, theirs = pair(arrays)
    out, tout = fn_tc(*ours), fn_th(*theirs)
    np.testing.assert_allclose(out.array, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    v_np = rand(rng, tout.shape)
    v, tv = Tensor(v_np.copy(), requires_grad=True), torch.tensor(v_np, requires_grad=True)
    g = tc_grad(out, ours, v, create_graph=True)
    tg = th_grad(tout, theirs, tv, create_graph=True)
    for i, (a, b) in enumerate(zip(g, tg)):
        assert_close(a, b, f"first derivative of input {i}")
    dirs = [rand(rng, a.shape) for a in arrays]
    # every mixed block d/d(input j, v) of <grad_i, r_i>
    for i, (a, b) in enumerate(zip(g, tg)):
        if b is None:
            continue
        s = (a * Tensor(dirs[i])).sum()
        ts = (b * torch.tensor(dirs[i])).sum()
        second = tc_grad(s, ours + [v], retain_graph=True)
        tsecond = th_grad(ts, theirs + [tv], retain_graph=True)
        for j, (c, d) in enumerate(zip(second, tsecond)):
            assert_close(c, d, f"d/d(input {j}) of the gradient of input {i} (v is input {len(ours)})")


def gradient_penalty_third(fn_tc, fn_th, arrays, seed):
    """L = sum(out ** 2); P = |dL/dx|^2; dP/d(all) with create_graph, then a third
    derivative: the gradient of <dP/dinputs, r> with respect to every input."""
    rng = np.random.default_rng(seed)
    ours, theirs = pair(arrays)
    out, tout = fn_tc(*ours), fn_th(*theirs)
    (gx,) = tc_grad((out * out).sum(), [ours[0]], create_graph=True)
    (tgx,) = th_grad((tout * tout).sum(), [theirs[0]], create_graph=True)
    assert_close(gx, tgx, "dL/dx")
    p, tp = (gx * gx).sum(), (tgx * tgx).sum()
    second = tc_grad(p, ours, create_graph=True)
    tsecond = th_grad(tp, theirs, create_graph=True)
    for j, (c, d) in enumerate(zip(second, tsecond)):
        assert_close(c, d, f"d(penalty)/d(input {j})")
    dirs = [rand(rng, a.shape) for a in arrays]
    s = sum((c * Tensor(r)).sum() for c, r in zip(second, dirs) if c is not None)
    ts = sum((d * torch.tensor(r)).sum() for d, r in zip(tsecond, dirs) if d is not None)
    third, tthird = tc_grad(s, ours), th_grad(ts, theirs)
    for j, (c, d) in enumerate(zip(third, tthird)):
        assert_close(c, d, f"third derivative, input {j}")


# ----- conv2d --------------------------------------------------------------------------------
@st.composite
def conv2d_cases(draw):
    g = draw(testing.conv2d_geometries(max_channels=2, max_side=6))
    return g, draw(st.booleans()), draw(seeds)


def conv2d_arrays(g, bias, seed):
    rng = np.random.default_rng(seed)
    arrays = [rand(rng, g.input_shape), rand(rng, g.weight_shape)]
    return arrays + [rand(rng, g.bias_shape)] if bias else arrays


@SETTINGS
@given(conv2d_cases())
def test_conv2d_second_derivatives(case):
    g, bias, seed = case
    check_second(lambda *t: F.conv2d(*t, **g.params), lambda *t: TF.conv2d(*t, **g.params),
                 conv2d_arrays(g, bias, seed), seed)


@settings(SETTINGS, max_examples=10)
@given(conv2d_cases())
def test_conv2d_gradient_penalty_third_order(case):
    g, bias, seed = case
    gradient_penalty_third(lambda *t: F.conv2d(*t, **g.params), lambda *t: TF.conv2d(*t, **g.params),
                           conv2d_arrays(g, bias, seed), seed)


def test_conv2d_mixed_blocks_explicitly():
    """d/dW of the input gradient and d/dx of the weight gradient, by name, with every option."""
    rng = np.random.default_rng(0)
    params = dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)
    x_np, w_np = rand(rng, (2, 4, 7, 6)), rand(rng, (6, 2, 3, 2))
    (x, w), (tx, tw) = pair([x_np, w_np])
    out, tout = F.conv2d(x, w, **params), TF.conv2d(tx, tw, **params)
    v_np = rand(rng, tout.shape)
    gx, gw = tc_grad(out, [x, w], Tensor(v_np), create_graph=True)
    tgx, tgw = th_grad(tout, [tx, tw], torch.tensor(v_np), create_graph=True)
    rx, rw = rand(rng, x_np.shape), rand(rng, w_np.shape)
    (dw_of_gx,) = tc_grad((gx * Tensor(rx)).sum(), [w], retain_graph=True)
    (tdw_of_gx,) = th_grad((tgx * torch.tensor(rx)).sum(), [tw], retain_graph=True)
    assert_close(dw_of_gx, tdw_of_gx, "d/dW of conv2d's input gradient")
    (dx_of_gw,) = tc_grad((gw * Tensor(rw)).sum(), [x])
    (tdx_of_gw,) = th_grad((tgw * torch.tensor(rw)).sum(), [tx])
    assert_close(dx_of_gw, tdx_of_gw, "d/dx of conv2d's weight gradient")


def test_conv2d_backward_create_graph_float32():
    """The rules keep the op's dtype: float32 in, float32 second derivatives."""
    rng = np.random.default_rng(1)
    x = Tensor(rand(rng, (1, 2, 5, 5)).astype(np.float32), requires_grad=True)
    w = Tensor(rand(rng, (3, 2, 3, 3)).astype(np.float32), requires_grad=True)
    (gx,) = tc_grad((F.conv2d(x, w, padding=1) ** 2).sum(), [x], create_graph=True)
    (gw,) = tc_grad((gx * gx).sum(), [w])
    assert gx.dtype == np.float32 and gw.dtype == np.float32
    tx = torch.tensor(x.array, requires_grad=True)
    tw = torch.tensor(w.array, requires_grad=True)
    (tgx,) = th_grad((TF.conv2d(tx, tw, padding=1) ** 2).sum(), [tx], create_graph=True)
    (tgw,) = th_grad((tgx * tgx).sum(), [tw])
    np.testing.assert_allclose(gw.array, tgw.numpy(), rtol=1e-4, atol=1e-4)


# ----- conv_transpose2d ----------------------------------------------------------------------
@st.composite
def conv_transpose_cases(draw):
    groups = draw(st.integers(1, 2))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    # output_padding below max(stride, dilation): >= stride reaches rows no input covers
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    padding = (draw(st.integers(0, (kh - 1) // 2)), draw(st.integers(0, (kw - 1) // 2)))
    shape = (draw(st.integers(1, 2)), c_in, draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    params = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    weight = (c_in, c_out // groups, kh, kw)
    return shape, weight, (c_out,), params, draw(st.booleans()), draw(seeds)


def conv_transpose_arrays(case):
    shape, weight, bias_shape, _, bias, seed = case
    rng = np.random.default_rng(seed)
    arrays = [rand(rng, shape), rand(rng, weight)]
    return arrays + [rand(rng, bias_shape)] if bias else arrays


@SETTINGS
@given(conv_transpose_cases())
def test_conv_transpose2d_second_derivatives(case):
    params = case[3]
    check_second(lambda *t: F.conv_transpose2d(*t, **params), lambda *t: TF.conv_transpose2d(*t, **params),
                 conv_transpose_arrays(case), case[-1])


def penalty_of(fn):
    """``|d sum(fn(x, ...) ** 2) / dx|^2`` as a function of the inputs: gradgradcheck of it checks
    third derivatives against differences of second ones."""
    def penalty(*inputs):
        with tc.enable_grad():  # gradcheck evaluates under no_grad
            y = fn(*inputs)
            (gx,) = tc.autograd.grad((y * y).sum(), [inputs[0]], create_graph=True)
            return (gx * gx).sum()

    return penalty


@settings(SETTINGS, max_examples=10)
@given(conv_transpose_cases())
def test_conv_transpose2d_gradient_penalty_third_order(case):
    params = case[3]
    fn = lambda *t: F.conv_transpose2d(*t, **params)  # noqa: E731
    if params["output_padding"] == (0, 0):
        gradient_penalty_third(fn, lambda *t: TF.conv_transpose2d(*t, **params), conv_transpose_arrays(case), case[-1])
    else:  # PyTorch's own third derivative raises with output_padding (its double backward runs a
        # plain conv2d with output_padding): checked by differences instead
        assert tc.gradgradcheck(penalty_of(fn), [Tensor(a, requires_grad=True) for a in conv_transpose_arrays(case)])


def test_conv_transpose2d_output_padding_beyond_stride():
    """output_padding >= stride (allowed below the dilation): rows no input reaches. Second
    derivatives against PyTorch, third ones by gradgradcheck."""
    params = dict(stride=(1, 2), padding=0, output_padding=(1, 1), dilation=2)
    rng = np.random.default_rng(3)
    arrays = [rand(rng, (2, 2, 3, 3)), rand(rng, (2, 3, 2, 2)), rand(rng, (3,))]
    fn = lambda *t: F.conv_transpose2d(*t, **params)  # noqa: E731
    check_second(fn, lambda *t: TF.conv_transpose2d(*t, **params), arrays, 3)
    assert tc.gradgradcheck(penalty_of(fn), [Tensor(a, requires_grad=True) for a in arrays])


# ----- pad -----------------------------------------------------------------------------------
@st.composite
def pad_cases(draw):
    mode = draw(st.sampled_from(["constant", "reflect", "replicate"]))
    two_axes = draw(st.booleans())
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(2, 4)), draw(st.integers(2, 4)))
    if not two_axes:
        shape = shape[:3]
    limit = (lambda n: n - 1) if mode == "reflect" else (lambda n: 3)
    pads = []
    for axis in ([-1, -2] if two_axes else [-1]):
        pads += [draw(st.integers(0, limit(shape[axis]))), draw(st.integers(0, limit(shape[axis])))]
    value = draw(st.sampled_from([0.0, 1.5])) if mode == "constant" else 0.0
    return shape, tuple(pads), mode, value, draw(seeds)


def cube(t, power):
    """``t ** power`` for power 1 or 3, as products (Pow's own rules stay out of the test)."""
    return t if power == 1 else t * t * t


def _pad_fns(pads, mode, value, power):
    kw = dict(value=value) if mode == "constant" else {}
    return (lambda t: cube(F.pad(t, pads, mode=mode, **kw), power),
            lambda t: cube(TF.pad(t, pads, mode=mode, **kw), power))


@SETTINGS
@given(pad_cases())
def test_pad_second_derivatives(case):
    shape, pads, mode, value, seed = case
    rng = np.random.default_rng(seed)
    check_second(*_pad_fns(pads, mode, value, 1), [rand(rng, shape)], seed)  # linear: d/dv only
    check_second(*_pad_fns(pads, mode, value, 3), [rand(rng, shape)], seed)  # d/dx of the backward too


@settings(SETTINGS, max_examples=10)
@given(pad_cases())
def test_pad_gradient_penalty_third_order(case):
    shape, pads, mode, value, seed = case
    rng = np.random.default_rng(seed)
    gradient_penalty_third(*_pad_fns(pads, mode, value, 3), [rand(rng, shape)], seed)


# ----- interpolate ---------------------------------------------------------------------------
@st.composite
def interpolate_cases(draw):
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    mode = draw(st.sampled_from(["nearest", "bilinear"]))
    params = dict(mode=mode)
    if mode == "bilinear":
        params["align_corners"] = draw(st.sampled_from([False, True]))
    if draw(st.booleans()):
        params["size"] = (draw(st.integers(1, 8)), draw(st.integers(1, 8)))
    else:
        params["scale_factor"] = draw(st.sampled_from([0.5, 1.5, 2.0, 3.0, (2.0, 1.5)]))
        if min(int(n * f) for n, f in zip(shape[2:], np.broadcast_to(params["scale_factor"], 2))) < 1:
            params["scale_factor"] = 2.0
    return shape, params, draw(seeds)


@SETTINGS
@given(interpolate_cases())
def test_interpolate_second_derivatives(case):
    shape, params, seed = case
    rng = np.random.default_rng(seed)
    for power in (1, 3):
        check_second(lambda t: cube(F.interpolate(t, **params), power),
                     lambda t: cube(TF.interpolate(t, **params), power), [rand(rng, shape)], seed)


@settings(SETTINGS, max_examples=10)
@given(interpolate_cases())
def test_interpolate_gradient_penalty_third_order(case):
    shape, params, seed = case
    rng = np.random.default_rng(seed)
    gradient_penalty_third(lambda t: cube(F.interpolate(t, **params), 3),
                           lambda t: cube(TF.interpolate(t, **params), 3), [rand(rng, shape)], seed)


# ----- a small CNN: the gradient penalty of a real use --------------------------------------
def test_cnn_input_gradient_penalty_matches_torch():
    """conv -> relu -> upsample -> pad -> conv_transpose -> loss: d|dL/dx|^2 / d(every parameter)."""
    rng = np.random.default_rng(7)
    shapes = [(2, 2, 5, 5), (4, 2, 3, 3), (4,), (4, 3, 2, 2), (3,)]
    arrays = [rand(rng, s) for s in shapes]
    ours, theirs = pair(arrays)

    def net(x, w1, b1, w2, b2, Fn, tanh):
        h = tanh(Fn.conv2d(x, w1, b1, stride=2, padding=1))
        h = Fn.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
        h = Fn.pad(h, (1, 0, 0, 1), mode="reflect")
        y = Fn.conv_transpose2d(h, w2, b2, stride=2, padding=1, output_padding=1)
        return (y * y).mean()

    loss = net(*ours, F, lambda t: t.tanh())
    tloss = net(*theirs, TF, torch.tanh)
    (gx,) = tc_grad(loss, [ours[0]], create_graph=True)
    (tgx,) = th_grad(tloss, [theirs[0]], create_graph=True)
    grads = tc_grad((gx * gx).sum(), ours)
    tgrads = th_grad((tgx * tgx).sum(), theirs)
    for j, (c, d) in enumerate(zip(grads, tgrads)):
        assert_close(c, d, f"penalty gradient of input {j}")
