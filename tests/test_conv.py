"""conv2d against the loop reference (tests/reference.py), central differences and
the adjoint identity, over hypothesis-drawn shapes: batch, channels, height and
width each down to 1, non-square kernels, per-axis stride, padding and dilation,
groups. Hypothesis runs derandomized (tests/conftest.py), so failures reproduce."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import reference
import tinygrad_conv as tc
from tinygrad_conv import Tensor
from tinygrad_conv.ops.conv import Conv2d


@st.composite
def conv_cases(draw, max_side=8, max_channels=3, max_kernel=4, max_batch=3):
    """(x shape, weight shape, has_bias, params) for a valid conv2d call."""
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, max_channels)), groups * draw(st.integers(1, max_channels))
    kh, kw = draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    # the dilated kernel must fit in the padded input
    h = draw(st.integers(max(1, dilation[0] * (kh - 1) + 1 - 2 * padding[0]), max(max_side, dilation[0] * (kh - 1) + 1)))
    w = draw(st.integers(max(1, dilation[1] * (kw - 1) + 1 - 2 * padding[1]), max(max_side, dilation[1] * (kw - 1) + 1)))
    n = draw(st.integers(1, max_batch))
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return (n, c_in, h, w), (c_out, c_in // groups, kh, kw), draw(st.booleans()), params


def arrays(x_shape, w_shape, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    return x, w, b


def run(x, w, b, params, grad=None, requires=(True, True, True)):
    """Forward (and backward with ``grad``) through the autograd; returns out, (dx, dw, db)."""
    xt, wt = Tensor(x, requires_grad=requires[0]), Tensor(w, requires_grad=requires[1])
    bt = None if b is None else Tensor(b, requires_grad=requires[2])
    y = Conv2d.apply(xt, wt, **params) if bt is None else Conv2d.apply(xt, wt, bt, **params)
    if grad is not None:
        y.backward(grad)
    return y, (xt.grad, wt.grad, None if bt is None else bt.grad)


seeds = st.integers(0, 2**32 - 1)


@settings(max_examples=150)
@given(case=conv_cases(), seed=seeds)
def test_forward_and_backward_match_the_loop_reference(case, seed):
    x_shape, w_shape, has_bias, params = case
    x, w, b = arrays(x_shape, w_shape, seed)
    b = b if has_bias else None
    expected = reference.conv2d(x, w, b, **params)
    g = np.random.default_rng(seed + 1).standard_normal(expected.shape)
    y, (dx, dw, db) = run(x, w, b, params, g)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.data, expected, rtol=1e-10, atol=1e-10)
    rdx, rdw, rdb = reference.conv2d_backward(x, w, g, **params)
    np.testing.assert_allclose(dx, rdx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dw, rdw, rtol=1e-10, atol=1e-10)
    if has_bias:
        np.testing.assert_allclose(db, rdb, rtol=1e-10, atol=1e-10)


@settings(max_examples=60)
@given(case=conv_cases(max_side=4, max_channels=2, max_kernel=3, max_batch=2), seed=seeds)
def test_gradcheck(case, seed):
    x_shape, w_shape, has_bias, params = case
    x, w, b = arrays(x_shape, w_shape, seed)
    inputs = [Tensor(a, requires_grad=True) for a in ((x, w, b) if has_bias else (x, w))]
    assert tc.gradcheck(lambda *t: Conv2d.apply(*t, **params), inputs)


@settings(max_examples=50)
@given(case=conv_cases(max_side=20, max_channels=6, max_kernel=5, max_batch=4), seed=seeds)
def test_adjoint_identity(case, seed):
    """conv2d is linear in x and in w, so for any g: <y, g> = <x, dx> + <b, db> = <w, dw> + <b, db>."""
    x_shape, w_shape, _, params = case
    x, w, b = arrays(x_shape, w_shape, seed)
    y, _ = run(x, w, b, params)
    g = np.random.default_rng(seed + 1).standard_normal(y.shape)
    _, (dx, dw, db) = run(x, w, b, params, g)
    dx, dw, db = dx.numpy(), dw.numpy(), db.numpy()
    lhs, tol = np.sum(y.numpy() * g), 1e-10 * (np.sum(np.abs(y.numpy() * g)) + 1)
    assert abs(lhs - np.sum(x * dx) - np.sum(b * db)) <= tol
    assert abs(lhs - np.sum(w * dw) - np.sum(b * db)) <= tol


@settings(max_examples=15)
@given(case=conv_cases(max_side=12, max_channels=4), seed=seeds)
def test_float32_stays_float32(case, seed):
    x_shape, w_shape, has_bias, params = case
    x, w, b = arrays(x_shape, w_shape, seed, np.float32)
    b = b if has_bias else None
    y, _ = run(x, w, b, params)
    assert y.dtype == np.float32
    g = np.random.default_rng(seed).standard_normal(y.shape).astype(np.float32)
    _, grads = run(x, w, b, params, g)
    for grad, a in zip(grads, (x, w, b)):
        if a is not None:
            assert grad.dtype == np.float32 and grad.shape == a.shape
    expected = reference.conv2d(x, w, b, **params)
    np.testing.assert_allclose(y.data, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_ints_and_pairs_are_the_same_arguments():
    x, w, b = arrays((2, 4, 9, 7), (6, 2, 3, 2), 0)
    a, _ = run(x, w, b, dict(stride=2, padding=1, dilation=2, groups=2))
    c, _ = run(x, w, b, dict(stride=(2, 2), padding=[1, 1], dilation=(2, 2), groups=2))
    np.testing.assert_array_equal(a.data, c.data)


def test_only_the_needed_gradients_are_computed():
    """x as data (first layer): no dx, but dw and db as usual; and a frozen weight."""
    x, w, b = arrays((2, 3, 6, 5), (4, 3, 3, 3), 1)
    g = np.random.default_rng(2).standard_normal((2, 4, 4, 3))
    _, (dx, dw, db) = run(x, w, b, {}, g, requires=(False, True, True))
    rdx, rdw, rdb = reference.conv2d_backward(x, w, g)
    assert dx is None
    np.testing.assert_allclose(dw, rdw, rtol=1e-10)
    np.testing.assert_allclose(db, rdb, rtol=1e-10)
    _, (dx, dw, db) = run(x, w, b, {}, g, requires=(True, False, False))
    assert dw is None and db is None
    np.testing.assert_allclose(dx, rdx, rtol=1e-10, atol=1e-12)
    _, (dx, dw, db) = run(x, w, b, {}, g, requires=(False, False, True))
    np.testing.assert_allclose(db, rdb, rtol=1e-10)


def test_no_grad_records_nothing():
    x, w, b = arrays((1, 2, 5, 5), (3, 2, 3, 3), 3)
    with tc.no_grad():
        y = Conv2d.apply(Tensor(x, requires_grad=True), Tensor(w, requires_grad=True), padding=1)
    assert not y.requires_grad
    np.testing.assert_allclose(y.data, reference.conv2d(x, w, padding=1), rtol=1e-10)


def test_output_size_formula():
    x, w, _ = arrays((1, 1, 11, 10), (1, 1, 3, 4), 4)
    y, _ = run(x, w, None, dict(stride=(2, 3), padding=(1, 2), dilation=(2, 1)))
    # floor((H + 2p - d (K - 1) - 1) / s) + 1
    assert y.shape == (1, 1, (11 + 2 - 4 - 1) // 2 + 1, (10 + 4 - 3 - 1) // 3 + 1)


@pytest.mark.parametrize(
    "x_shape, w_shape, b_shape, params, error, match",
    [
        ((3, 8, 8), (4, 3, 3, 3), None, {}, ValueError, r"conv2d: input must be 4-D .*got shape \(3, 8, 8\)"),
        # the op is N-d: a 3-D weight makes it a conv1d (F.conv2d names the weight, see test_conv_nd.py)
        ((1, 3, 8, 8), (4, 3, 3), None, {}, ValueError, r"conv1d: input must be 3-D .*got shape \(1, 3, 8, 8\)"),
        (
            (1, 3, 8, 8), (8, 4, 3, 3), None, {}, ValueError,
            r"conv2d: input has 3 channels but weight expects 4 \(weight shape \(8, 4, 3, 3\), groups 1\)",
        ),
        (
            (1, 4, 8, 8), (8, 1, 3, 3), None, dict(groups=2), ValueError,
            r"input has 4 channels but weight expects 2 \(weight shape \(8, 1, 3, 3\), groups 2\)",
        ),
        ((1, 6, 8, 8), (8, 2, 3, 3), None, dict(groups=4), ValueError, r"input channels 6 are not divisible by groups 4"),
        ((1, 6, 8, 8), (8, 2, 3, 3), None, dict(groups=3), ValueError, r"output channels 8 .* not divisible by groups 3"),
        ((1, 3, 8, 8), (4, 3, 3, 3), (3,), {}, ValueError, r"bias must have shape \(4,\) .*got \(3,\)"),
        ((1, 3, 8, 8), (4, 3, 3, 3), (1, 4), {}, ValueError, r"bias must have shape \(4,\) .*got \(1, 4\)"),
        (
            (1, 3, 2, 2), (4, 3, 5, 5), None, dict(padding=1), ValueError,
            r"kernel \(5, 5\) is larger than the padded input \(4, 4\) \(input \(2, 2\), padding \(1, 1\)\)",
        ),
        (
            (1, 3, 4, 4), (4, 3, 3, 3), None, dict(dilation=2), ValueError,
            r"kernel \(3, 3\) \(dilated to \(5, 5\)\) is larger than the padded input \(4, 4\)",
        ),
        ((1, 3, 8, 8), (4, 3, 3, 3), None, dict(stride=0), ValueError, r"conv2d: stride must be >= 1, got 0"),
        ((1, 3, 8, 8), (4, 3, 3, 3), None, dict(stride=(1, 0)), ValueError, r"stride must be >= 1, got \(1, 0\)"),
        ((1, 3, 8, 8), (4, 3, 3, 3), None, dict(dilation=0), ValueError, r"dilation must be >= 1, got 0"),
        ((1, 3, 8, 8), (4, 3, 3, 3), None, dict(groups=0), ValueError, r"groups must be >= 1, got 0"),
        ((1, 3, 8, 8), (4, 3, 3, 3), None, dict(padding=-1), ValueError, r"padding must be >= 0, got -1"),
        ((1, 3, 8, 8), (4, 3, 3, 3), None, dict(padding=(0, -2)), ValueError, r"padding must be >= 0, got \(0, -2\)"),
        ((1, 3, 8, 8), (4, 3, 3, 3), None, dict(stride=1.5), TypeError, r"stride must be an int or an \(h, w\) pair"),
        ((1, 3, 8, 8), (4, 3, 3, 3), None, dict(padding=(1, 1, 1)), ValueError, r"padding must be an int or an \(h, w\) pair"),
        ((1, 3, 8, 8), (4, 3, 0, 3), None, {}, ValueError, r"kernel size must be >= 1, got weight shape \(4, 3, 0, 3\)"),
    ],
)
def test_bad_arguments_raise_with_what_was_given_and_expected(x_shape, w_shape, b_shape, params, error, match):
    x = Tensor(np.zeros(x_shape), requires_grad=True)
    w = Tensor(np.zeros(w_shape), requires_grad=True)
    inputs = (x, w) if b_shape is None else (x, w, Tensor(np.zeros(b_shape)))
    with pytest.raises(error, match=match):
        Conv2d.apply(*inputs, **params)


def test_released_column_buffers_are_reused_without_changing_results(monkeypatch):
    """With the size limit at 0 every column matrix is handed back when its conv is done with it
    and taken by the next im2col of that size (ops/conv.py, ``release_columns``). Results must
    not change: two live convs of one size, a no-grad conv of that size run between the forward
    and each backward (it would take and overwrite a live buffer handed back too early), and a
    retained graph run backward twice."""
    from tinygrad_conv import allocator
    from tinygrad_conv.ops import conv

    x, w1, _ = arrays((2, 4, 7, 6), (4, 4, 3, 3), 4)
    w2, other = (np.random.default_rng(s).standard_normal((4, 4, 3, 3)) for s in (5, 6))
    g = np.random.default_rng(7).standard_normal((2, 4, 7, 6))

    def grads(reuse):
        if reuse:
            monkeypatch.setattr(allocator, "MMAP_THRESHOLD", 0)
        conv._spare.clear()
        xt, wt1, wt2 = (Tensor(a, requires_grad=True) for a in (x, w1, w2))
        y = Conv2d.apply(Conv2d.apply(xt, wt1, padding=1).relu(), wt2, padding=1)

        def intruder():  # a conv of the same size that needs no gradient
            with tc.no_grad():
                Conv2d.apply(Tensor(x + 1), Tensor(other), padding=1)

        intruder()
        y.backward(g, retain_graph=True)
        intruder()
        y.backward(g)
        intruder()
        return y.numpy(), xt.grad.numpy(), wt1.grad.numpy(), wt2.grad.numpy()

    expected = grads(reuse=False)
    assert not conv._spare
    got = grads(reuse=True)
    assert conv._spare  # the reuse path ran
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # (NaN in x)
@pytest.mark.parametrize("layout", ["flat", "batch_inner", "chunked"])
@pytest.mark.parametrize("kernel, stride, dilation, padding", [
    ((1, 1), (2, 2), (1, 1), (0, 0)),  # the ResNet shortcut: one phase of four read
    ((1, 1), (2, 3), (1, 1), (1, 0)),
    ((2, 2), (2, 2), (2, 2), (1, 1)),  # offsets 0 and 2: phase (0, 0) only
    ((3, 1), (3, 2), (3, 1), (2, 0)),
    ((3, 3), (2, 2), (1, 1), (1, 1)),  # every phase read (the common stride-2 conv)
])
def test_strided_convs_store_only_the_phases_read(layout, kernel, stride, dilation, padding):
    """conv.py's phase buffers hold only the phases some kernel offset reads (phase_ranks). The
    pixels of the other phases reach no output: a NaN there changes nothing, and their
    gradient is exactly zero, as in PyTorch."""
    torch = pytest.importorskip("torch")
    from tinygrad_conv.ops import conv, conv_chunked

    x, w, b = arrays((2, 3, 11, 13), (4, 3) + kernel, seed=7)
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=1)

    def read(n, k, s, d, p):  # the indices along one axis that some output reads
        outs = (n + 2 * p - d * (k - 1) - 1) // s + 1
        return sorted({o * s - p + i * d for o in range(outs) for i in range(k)} & set(range(n)))

    reads = np.zeros(x.shape[2:], bool)
    reads[np.ix_(*map(read, x.shape[2:], kernel, stride, dilation, padding))] = True
    assert reads.any()
    x[:, :, ~reads] = np.nan
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    expected = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=padding, dilation=dilation)
    g = np.random.default_rng(8).standard_normal(tuple(expected.shape))
    expected.backward(torch.tensor(g))
    with pytest.MonkeyPatch.context() as patch:
        if layout == "batch_inner":
            patch.setattr(conv, "GARBAGE_LIMIT", 0)
        elif layout == "chunked":
            patch.setattr(conv, "CHUNK_MIN_BYTES", 0)
            patch.setattr(conv_chunked, "CHUNK_BYTES", 1)
            patch.setattr(conv, "GARBAGE_LIMIT", float("inf"))
        y, grads = run(x, w, b, params, g)
    y, (dx, dw, db) = y.numpy(), (t.numpy() for t in grads)
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y, expected.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    assert (dx[:, :, ~reads] == 0).all()
    np.testing.assert_allclose(dw, tw.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, tb.grad.numpy(), rtol=1e-10, atol=1e-10)
