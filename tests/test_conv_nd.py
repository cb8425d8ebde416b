"""conv1d/2d/3d and conv_transpose1d/2d/3d (one N-d machinery), padding="same"|"valid",
unbatched inputs, unfold/fold and the conv modules, against PyTorch over hypothesis-drawn
shapes and options: values and gradients, float32 and float64."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_conv as tc
from specs_conv_nd import conv_case
from tinygrad_conv import functional as F, nn
from tinygrad_conv.ops import conv as conv_module, conv_batch_inner, conv_transpose, conv_xp


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-9, atol=1e-9)}


def compare(torch, ours, theirs, arrays, seed, dtype, unbatched=False):
    """Value and every input's gradient of ``ours`` and ``theirs`` (torch) on the same arrays."""
    arrays = [a.astype(dtype) for a in arrays]
    if unbatched:
        arrays[0] = arrays[0][0]
    ts = [tc.tensor(a, requires_grad=True) for a in arrays]
    rs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = ours(*ts), theirs(*rs)
    assert out.dtype == dtype and out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOL[dtype])
    g = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    out.backward(tc.tensor(g))
    ref.backward(torch.tensor(g))
    for t, r in zip(ts, rs):
        np.testing.assert_allclose(t.grad.numpy(), r.grad.numpy(), **TOL[dtype])


def case_arrays(data, x_shape, w_shape, c_out, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    if data.draw(st.booleans()):
        arrays.append(rng.standard_normal(c_out))
    return arrays


@settings(max_examples=40)
@given(data=st.data(), transposed=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]))
def test_conv_nd_matches_torch(torch, data, transposed, dtype):
    d, params, x_shape, w_shape, c_out = conv_case(data, transposed)
    name = f"conv_transpose{d}d" if transposed else f"conv{d}d"
    unbatched = x_shape[0] == 1 and data.draw(st.booleans())
    compare(torch, lambda *t: getattr(F, name)(*t, **params),
            lambda *t: getattr(torch.nn.functional, name)(*t, **params),
            case_arrays(data, x_shape, w_shape, c_out, d), d, dtype, unbatched)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@settings(max_examples=25)
@given(data=st.data(), d=st.sampled_from([1, 2, 3]), padding=st.sampled_from(["same", "valid"]))
def test_string_padding_matches_torch(torch, data, d, padding):
    kernel = tuple(data.draw(st.integers(1, 4 if d < 3 else 3)) for _ in range(d))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(d))
    size = tuple(dl * (k - 1) + 1 + data.draw(st.integers(0, 2)) for k, dl in zip(kernel, dilation))
    params = dict(padding=padding, dilation=dilation)
    compare(torch, lambda *t: getattr(F, f"conv{d}d")(*t, **params),
            lambda *t: getattr(torch.nn.functional, f"conv{d}d")(*t, **params),
            case_arrays(data, (2, 3) + size, (2, 3) + kernel, 2, d), d, np.float64)


@pytest.mark.parametrize("layout", [conv_xp, conv_batch_inner], ids=["conv_xp", "conv_batch_inner"])
@settings(max_examples=15)
@given(data=st.data())
def test_other_layouts_match_torch(torch, layout, data):
    """Every conv through one layout module: conv_xp.py (the CUDA path of 3-d convs; any d)
    run on NumPy arrays, and conv_batch_inner.py (the CPU layout chosen for mostly-garbage
    grids), NaN and inf included."""
    d, params, x_shape, w_shape, c_out = conv_case(data, data.draw(st.booleans()))
    transposed = "output_padding" in params
    name = f"conv_transpose{d}d" if transposed else f"conv{d}d"
    arrays = case_arrays(data, x_shape, w_shape, c_out, 3)
    if data.draw(st.booleans()):
        arrays[0].flat[data.draw(st.integers(0, arrays[0].size - 1))] = data.draw(st.sampled_from([np.nan, np.inf]))
    saved = conv_module.layout_of, conv_transpose.layout_of
    conv_module.layout_of = conv_transpose.layout_of = lambda x, geo: layout
    try:
        compare(torch, lambda *t: getattr(F, name)(*t, **params),
                lambda *t: getattr(torch.nn.functional, name)(*t, **params), arrays, 3, np.float64)
    finally:
        conv_module.layout_of, conv_transpose.layout_of = saved


@settings(max_examples=25)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_unfold_fold_match_torch(torch, data, dtype):
    k = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    params = dict(kernel_size=k, dilation=(data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))),
                  padding=(data.draw(st.integers(0, 1)), data.draw(st.integers(0, 1))),
                  stride=(data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))))
    size = tuple(dl * (kk - 1) + 1 + data.draw(st.integers(0, 3)) for kk, dl in zip(k, params["dilation"]))
    x = np.random.default_rng(1).standard_normal((2, 3) + size)
    unbatched = data.draw(st.booleans())
    compare(torch, lambda t: F.unfold(t, **params), lambda t: torch.nn.functional.unfold(t, **params), [x], 1, dtype,
            unbatched)
    cols = torch.nn.functional.unfold(torch.tensor(x), **params).numpy()
    compare(torch, lambda t: F.fold(t, size, **params), lambda t: torch.nn.functional.fold(t, size, **params), [cols],
            2, dtype, unbatched)


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("transposed", [False, True])
def test_modules_match_torch(torch, d, transposed):
    kind = f"ConvTranspose{d}d" if transposed else f"Conv{d}d"
    kwargs = dict(stride=2, padding=1, groups=2) | (dict(output_padding=1) if transposed else dict(dilation=2))
    torch.manual_seed(d)
    theirs = getattr(torch.nn, kind)(4, 6, 3, **kwargs)
    ours = getattr(nn, kind)(4, 6, 3, **kwargs)
    assert repr(ours) == repr(theirs)
    assert ours.weight.shape == tuple(theirs.weight.shape) and ours.weight.dtype == np.float32
    bound = 1 / np.sqrt(theirs.weight[0].numel()) if not transposed else 1 / np.sqrt(6 // 2 * 3 ** d)
    assert 0.5 * bound < np.abs(ours.weight.numpy()).max() <= bound  # PyTorch's kaiming_uniform_(a=sqrt(5))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(d).standard_normal((2, 4) + (7,) * d).astype(np.float32)
    compare(torch, ours, theirs, [x], d, np.float32)


def test_unfold_fold_modules(torch):
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 5)).astype(np.float32)
    u, tu = nn.Unfold(3, padding=1, stride=2), torch.nn.Unfold(3, padding=1, stride=2)
    assert repr(u) == repr(tu)
    cols = u(tc.tensor(x))
    np.testing.assert_allclose(cols.numpy(), tu(torch.tensor(x)).numpy())
    f, tf = nn.Fold((6, 5), 3, padding=1, stride=2), torch.nn.Fold((6, 5), 3, padding=1, stride=2)
    assert repr(f) == repr(tf)
    np.testing.assert_allclose(f(cols).numpy(), tf(torch.tensor(cols.numpy())).numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: F.conv1d(tc.zeros(2, 3, 4, 5), tc.zeros(2, 3, 3)), ValueError,
         r"conv1d: expected 2D \(unbatched\) or 3D \(batched\) input.*got input of shape \(2, 3, 4, 5\)"),
        (lambda: F.conv3d(tc.zeros(2, 3, 4, 4, 4), tc.zeros(2, 3, 3, 3)), ValueError,
         r"conv3d: weight must be \(C_out, C_in // groups, K_d, K_h, K_w\), got shape \(2, 3, 3, 3\)"),
        (lambda: F.conv2d(tc.zeros(1, 3, 4, 4), tc.zeros(2, 3, 3)), ValueError, r"conv2d: weight must be"),
        (lambda: F.conv1d(tc.zeros(1, 3, 8), tc.zeros(2, 3, 3), stride=2, padding="same"), ValueError,
         r"padding='same' is not supported for strided convolutions"),
        (lambda: F.conv2d(tc.zeros(1, 3, 8, 8), tc.zeros(2, 3, 3, 3), padding="full"), ValueError,
         r"invalid padding string 'full'"),
        (lambda: F.conv3d(tc.zeros(1, 3, 4, 4, 4), tc.zeros(2, 3, 3, 3, 3), stride=(1, 2)), ValueError,
         r"conv3d: stride must be an int or a tuple of 3 ints, got \(1, 2\)"),
        (lambda: F.conv1d(tc.zeros(1, 3, 2), tc.zeros(2, 3, 5)), ValueError,
         r"conv1d: kernel \(5,\) is larger than the padded input \(2,\)"),
        (lambda: F.conv_transpose3d(tc.zeros(1, 2, 3, 3, 3), tc.zeros(2, 1, 3, 3, 3), stride=2, output_padding=2),
         ValueError, r"conv_transpose3d: output_padding \(2, 2, 2\) must be smaller than either stride"),
        (lambda: F.conv1d(tc.zeros(1, 3, 8).double(), tc.zeros(2, 3, 3)), TypeError, r"conv1d: input dtype float64"),
        (lambda: F.unfold(tc.zeros(1, 3, 4, 4, 4), 2), ValueError, r"unfold: only 3D .* or 4D .* got shape"),
        (lambda: F.fold(tc.zeros(1, 6, 4), (3, 3), 2), ValueError, r"dimension 1 \(6\) to be divisible .* \(4\)"),
        (lambda: F.fold(tc.zeros(1, 4, 5), (3, 3), 2), ValueError, r"number of sliding blocks 2 \* 2 = 4, but got 5"),
        (lambda: nn.Conv3d(2, 2, 3, stride=2, padding="same"), ValueError, r"Conv3d: padding='same' is not supported"),
        (lambda: nn.Conv1d(2, 2, (3, 3)), ValueError, r"Conv1d: kernel_size must be an int or a tuple of 1 ints"),
        (lambda: nn.ConvTranspose1d(2, 2, 3, stride=2, output_padding=2), ValueError,
         r"ConvTranspose1d: output_padding"),
    ],
)
def test_refusals_name_what_was_given(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_double_backward_uses_the_weight_gradient_op():
    """backward(create_graph=True) builds dW with the registered conv_weight_grad op (not a
    grouped conv with a huge kernel), and its gradient is a conv again."""
    x = tc.tensor(np.random.default_rng(0).standard_normal((2, 3, 6)), requires_grad=True)
    w = tc.tensor(np.random.default_rng(1).standard_normal((4, 3, 3)), requires_grad=True)
    y = F.conv1d(x, w, padding=1)
    assert y.grad_fn.name == "conv1d"  # the registered N-d op shows its dimension in graphs
    (dw,) = tc.autograd.grad((y ** 2).sum(), [w], create_graph=True)
    assert dw.grad_fn is not None and dw.grad_fn.name == "conv_weight_grad"
    assert tc.gradgradcheck(lambda a, b: F.conv1d(a, b, padding=1, stride=2), [x, w])


def test_cuda_kernels_see_a_1d_conv_as_2d_with_one_row():
    """conv_cuda's 2-d kernels serve conv1d through ``_sizes`` (runs without a GPU: sizes only)."""
    from tinygrad_conv.ops import conv_cuda

    x, w = np.zeros((2, 4, 9)), np.zeros((6, 2, 3))
    g = conv_module.geometry(x, w, None, 2, 1, 2, 2, np.float64)
    s = conv_cuda._sizes(g)
    assert (s.H, s.W, s.KH, s.KW, s.Ho, s.Wo) == (1, 9, 1, 3, 1, g.out[0])
    assert (s.sh, s.sw, s.ph, s.pw, s.dh, s.dw, s.groups) == (1, 2, 0, 1, 1, 2, 2)
    g2 = conv_module.geometry(np.zeros((2, 4, 5, 9)), np.zeros((6, 4, 3, 2)), None, (1, 2), (0, 1), 1, 1, np.float64)
    assert tuple(conv_cuda._sizes(g2))[2:] == (5, 9, 6, 3, 2, 1, 2, 0, 1, 1, 1, 1) + g2.out
