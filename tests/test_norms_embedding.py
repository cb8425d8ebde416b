"""Group, layer and instance norm, embedding and pixel shuffle against PyTorch (issue 19):
values and gradients over hypothesis-drawn shapes in float32 and float64, the modules'
parameters and buffers, and tinygrad's own test_nn cases for these layers."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import nn
from tinygrad_conv import functional as F

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def compare(torch, ours, theirs, arrays, dtype, seed=0, grads=True, tol=None, exact=True):
    """Run ``ours`` on Tensors and ``theirs`` on torch tensors made from ``arrays`` (float
    ones require grad), backward with the same random upstream gradient, and compare the
    outputs and every float input's gradient. ``exact``: PyTorch computes in float64 (on
    the same values), so float32 results are held to the exact answer, not to PyTorch's
    own float32 rounding."""
    tol = tol or TOL[dtype]
    mine = [tc.tensor(a, requires_grad=grads and a.dtype.kind == "f") for a in arrays]
    wide = [a.astype(np.float64) if exact and a.dtype.kind == "f" else a for a in arrays]
    ref = [torch.tensor(a, requires_grad=grads and a.dtype.kind == "f") for a in wide]
    out, want = ours(*mine), theirs(*ref)
    assert out.dtype == dtype and out.shape == tuple(want.shape)
    want = want.double() if exact else want
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), **tol)
    if not grads:
        return
    g = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    out.backward(tc.tensor(g))
    want.backward(torch.tensor(g).to(want.dtype))
    for i, (m, r) in enumerate(zip(mine, ref)):
        if r.requires_grad:
            assert m.grad.dtype == dtype, f"input {i}"
            np.testing.assert_allclose(m.grad.numpy(), r.grad.numpy(), err_msg=f"gradient of input {i}", **tol)


def values(data, shape, dtype, offset=True):
    """Normal values with a drawn scale and (float64) offset: never constant groups. In
    float32 an offset makes small groups ill-conditioned (two close values far from zero
    lose their difference to rounding, in PyTorch too), so float32 results are held to the
    exact answer without one; test_float32_accuracy_with_large_offsets covers offsets."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    scale = data.draw(st.sampled_from([0.1, 1.0, 10.0]))
    shift = scale * data.draw(st.sampled_from([0.0, 3.0, -30.0])) if offset and dtype == np.float64 else 0.0
    return (rng.standard_normal(shape) * scale + shift).astype(dtype)


def affine(data, shape, dtype):
    """``[]``, ``[weight]``, ``[None, bias]`` or ``[weight, bias]`` as arrays (None kept)."""
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    which = data.draw(st.sampled_from(["none", "weight", "bias", "both"]))
    w = rng.standard_normal(shape).astype(dtype) if which in ("weight", "both") else None
    b = rng.standard_normal(shape).astype(dtype) if which in ("bias", "both") else None
    return w, b


def _split(w, b):
    """Arrays for compare() and a function putting None back in place of the missing ones."""
    arrays = [a for a in (w, b) if a is not None]

    def place(*given):
        it = iter(given)
        return [next(it) if a is not None else None for a in (w, b)]

    return arrays, place


# ----- functional forms against torch ---------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=10)
@given(data=st.data())
def test_group_norm_matches_torch(torch, dtype, data):
    groups, per_group, n = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    c = groups * per_group
    shape = (n, c) + tuple(data.draw(st.lists(st.integers(1, 5), max_size=3)))
    if per_group * np.prod(shape[2:]) == 1:  # groups of one value: test_norms_of_constant_groups
        shape = shape + (2,)
    x = values(data, shape, dtype)
    w, b = affine(data, (c,), dtype)
    arrays, place = _split(w, b)
    eps = data.draw(st.sampled_from([1e-5, 1e-2]))

    def theirs(x, *wb):  # PyTorch's backward fails on a bias without weight: give it ones
        weight, bias = place(*wb)
        weight = torch.ones(c, dtype=x.dtype) if weight is None and bias is not None else weight
        return torch.nn.functional.group_norm(x, groups, weight, bias, eps=eps)

    compare(torch, lambda x, *wb: F.group_norm(x, groups, *place(*wb), eps=eps), theirs, [x] + arrays, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=10)
@given(data=st.data())
def test_layer_norm_matches_torch(torch, dtype, data):
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=4)))
    k = data.draw(st.integers(1, len(shape)))
    normalized = shape[len(shape) - k:]
    if np.prod(normalized) == 1:
        normalized, shape = normalized[:-1] + (2,), shape[:-1] + (2,)  # a group of one value: var 0, tested below
    x = values(data, shape, dtype)
    w, b = affine(data, normalized, dtype)
    arrays, place = _split(w, b)
    spelled = normalized[0] if k == 1 and data.draw(st.booleans()) else list(normalized)  # an int or a list
    compare(torch, lambda x, *wb: F.layer_norm(x, spelled, *place(*wb)),
            lambda x, *wb: torch.nn.functional.layer_norm(x, normalized, *place(*wb)), [x] + arrays, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=10)
@given(data=st.data())
def test_instance_norm_matches_torch(torch, dtype, data):
    """With and without running statistics (updated in place as PyTorch's), and
    use_input_stats=False (normalised by the running ones)."""
    n, c = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4))
    spatial = tuple(data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    if np.prod(spatial) == 1:
        spatial = spatial[:-1] + (3,)
    x = values(data, (n, c) + spatial, dtype)
    w, b = affine(data, (c,), dtype)
    arrays, place = _split(w, b)
    use_input_stats = data.draw(st.booleans())
    running = not use_input_stats or data.draw(st.booleans())
    rng = np.random.default_rng(1)
    rm, rv = rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype)
    ours_stats = [rm.copy(), rv.copy()] if running else [None, None]
    torch_stats = [torch.tensor(rm), torch.tensor(rv)] if running else [None, None]
    compare(torch, lambda x, *wb: F.instance_norm(x, *ours_stats, *place(*wb), use_input_stats, 0.3),
            lambda x, *wb: torch.nn.functional.instance_norm(x, *torch_stats, *place(*wb), use_input_stats, 0.3),
            [x] + arrays, dtype)
    if running:
        for mine, theirs in zip(ours_stats, torch_stats):
            np.testing.assert_allclose(mine, theirs.numpy(), **TOL[dtype])


def test_norms_of_constant_groups_match_torch(torch):
    """Zero variance: the output is the bias and the input gradient is weight-scaled noise /
    sqrt(eps), exactly as PyTorch (no NaN)."""
    x = np.full((2, 4, 3), 5.0)
    w, b = np.arange(1.0, 5.0), np.arange(4.0)
    compare(torch, lambda x, w, b: F.group_norm(x, 2, w, b), lambda x, w, b: torch.nn.functional.group_norm(x, 2, w, b),
            [x, w, b], np.float64, tol=dict(rtol=1e-6, atol=1e-6))
    compare(torch, lambda x: F.layer_norm(x, (1,)), lambda x: torch.nn.functional.layer_norm(x, (1,)),
            [np.arange(6.0).reshape(2, 3, 1)], np.float64)


@pytest.mark.parametrize("scale, shift", [(0.1, -50.0), (0.01, 100.0), (1.0, 1000.0)])
def test_float32_accuracy_with_large_offsets(torch, scale, shift):
    """Values far from zero against their spread: ours (centred before the variance) is at
    least as close as PyTorch's float32 to the float64 result."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((16, 4, 64)) * scale + shift).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    results = {}
    for name, dtype in (("truth", np.float64), ("torch", np.float32)):
        t = torch.tensor(x.astype(dtype), requires_grad=True)
        torch.nn.functional.group_norm(t, 2, eps=1e-5).backward(torch.tensor(g.astype(dtype)))
        results[name] = t.grad.numpy()
    t = tc.tensor(x, requires_grad=True)
    F.group_norm(t, 2, eps=1e-5).backward(tc.tensor(g))
    error = lambda a: np.abs(a - results["truth"]).max() / np.abs(results["truth"]).max()
    assert error(t.grad.numpy()) <= 1.5 * error(results["torch"]) + 1e-6


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=10)
@given(data=st.data())
def test_embedding_matches_torch(torch, dtype, data):
    """Repeated indices add their gradients; padding_idx (negative too) gets none;
    scale_grad_by_freq divides by the counts; int32 and int64 indices."""
    v, d = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 4))
    idx_shape = tuple(data.draw(st.lists(st.integers(0, 4), max_size=3)))
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    indices = rng.integers(0, v, idx_shape).astype(data.draw(st.sampled_from([np.int64, np.int32])))
    padding_idx = data.draw(st.one_of(st.none(), st.integers(-v, v - 1)))
    by_freq = data.draw(st.booleans())
    weight = values(data, (v, d), dtype, offset=False)
    compare(torch, lambda w, i: F.embedding(i, w, padding_idx, scale_grad_by_freq=by_freq),
            lambda w, i: torch.nn.functional.embedding(i, w, padding_idx, scale_grad_by_freq=by_freq),
            [weight, indices], dtype)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0])
def test_embedding_max_norm_renormalises_the_picked_rows_as_torch(torch, norm_type):
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((6, 4)) * 2
    indices = np.array([[0, 2, 2], [5, 0, 1]])
    mine, theirs = tc.tensor(weight.copy(), requires_grad=True), torch.tensor(weight.copy(), requires_grad=True)
    out = F.embedding(tc.tensor(indices), mine, max_norm=1.5, norm_type=norm_type)
    want = torch.nn.functional.embedding(torch.tensor(indices), theirs, max_norm=1.5, norm_type=norm_type)
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)  # rows 3, 4 untouched
    g = rng.standard_normal(out.shape)
    out.backward(tc.tensor(g))
    want.backward(torch.tensor(g).to(want.dtype))
    np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=6)
@given(data=st.data())
def test_pixel_shuffle_and_unshuffle_match_torch(torch, dtype, data):
    r = data.draw(st.integers(1, 3))
    lead = tuple(data.draw(st.lists(st.integers(1, 2), max_size=2)))
    c, h, w = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    x = values(data, lead + (c * r * r, h, w), dtype)
    compare(torch, lambda x: F.pixel_shuffle(x, r), lambda x: torch.nn.functional.pixel_shuffle(x, r), [x], dtype)
    y = values(data, lead + (c, h * r, w * r), dtype)
    compare(torch, lambda y: F.pixel_unshuffle(y, r), lambda y: torch.nn.functional.pixel_unshuffle(y, r), [y], dtype)


def test_pixel_shuffle_is_the_inverse_of_unshuffle():
    x = tc.randn(2, 3, 6, 4)
    np.testing.assert_array_equal(F.pixel_shuffle(F.pixel_unshuffle(x, 2), 2).numpy(), x.numpy())


# ----- modules -------------------------------------------------------------------------------
MODULES = [
    (lambda m: m.GroupNorm(2, 4), (3, 4, 5, 5)),
    (lambda m: m.GroupNorm(4, 4, affine=False), (3, 4, 5)),
    (lambda m: m.GroupNorm(1, 4, bias=False), (3, 4, 2, 2, 2)),
    (lambda m: m.LayerNorm(6), (2, 3, 6)),
    (lambda m: m.LayerNorm([3, 6], elementwise_affine=False), (2, 3, 6)),
    (lambda m: m.LayerNorm((3, 6), bias=False), (2, 3, 6)),
    (lambda m: m.InstanceNorm1d(3), (2, 3, 7)),
    (lambda m: m.InstanceNorm1d(3, affine=True), (3, 7)),
    (lambda m: m.InstanceNorm2d(3, affine=True, track_running_stats=True), (2, 3, 4, 4)),
    (lambda m: m.InstanceNorm2d(3, track_running_stats=True, momentum=None), (3, 4, 4)),
    (lambda m: m.InstanceNorm3d(3, affine=True, bias=False), (2, 3, 2, 3, 2)),
    (lambda m: m.BatchNorm3d(3), (2, 3, 2, 3, 2)),
    (lambda m: m.BatchNorm3d(3, affine=False, momentum=None), (2, 3, 2, 3, 2)),
    (lambda m: m.PixelShuffle(2), (2, 8, 3, 3)),
    (lambda m: m.PixelUnshuffle(3), (1, 2, 6, 3)),
]


@pytest.mark.parametrize("make, shape", MODULES)
def test_modules_match_torch_in_train_and_eval(torch, make, shape):
    """Same parameter and buffer names and initial values, same outputs and gradients, same
    buffers after a training step; then the same in eval()."""
    mine = make(nn)
    try:
        theirs = make(torch.nn)
    except TypeError as e:  # PyTorch 2.11's norms have no bias argument (2.13's have)
        pytest.skip(f"this PyTorch ({torch.__version__}) lacks an argument: {e}")
    ours_repr, want_repr = repr(mine), repr(theirs)
    if "bias=" not in want_repr:  # ... nor a bias field in their repr
        ours_repr = ours_repr.replace(", bias=True", "").replace(", bias=False", "")
    assert ours_repr == want_repr
    want_state = theirs.state_dict()
    assert list(mine.state_dict()) == list(want_state)
    for key, value in mine.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), want_state[key].numpy(), err_msg=key)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 2 + 1
    for mode in ("train", "eval"):
        getattr(mine, mode)(), getattr(theirs, mode)()
        compare(torch, mine, theirs, [x], np.float32, exact=False)
        for (name, p), (_, q) in zip(mine.named_parameters(), theirs.named_parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=2e-4, atol=2e-4, err_msg=name)
        for key, value in mine.state_dict().items():
            np.testing.assert_allclose(value.numpy(), theirs.state_dict()[key].numpy(), rtol=1e-5, err_msg=key)


def test_embedding_module_matches_torch(torch):
    mine = nn.Embedding(10, 3, padding_idx=-2)
    theirs = torch.nn.Embedding(10, 3, padding_idx=-2)
    assert repr(mine) == repr(theirs) and list(mine.state_dict()) == ["weight"]
    assert mine.padding_idx == theirs.padding_idx == 8
    np.testing.assert_array_equal(mine.weight.numpy()[8], 0)
    tc.manual_seed(0)
    draws = nn.Embedding(1000, 20).weight.numpy()
    assert abs(draws.mean()) < 0.02 and abs(draws.std() - 1) < 0.02  # N(0, 1), as PyTorch
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(mine.weight.numpy()))
    idx = np.array([[1, 8, 1], [9, 0, 8]])
    compare(torch, mine, theirs, [idx], np.float32, grads=False, exact=False)
    out = mine(tc.tensor(idx))
    out.sum().backward()
    theirs(torch.tensor(idx)).sum().backward()
    np.testing.assert_array_equal(mine.weight.grad.numpy(), theirs.weight.grad.numpy())


def test_embedding_from_pretrained():
    table = tc.tensor(np.arange(12.0).reshape(4, 3))
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad and frozen.weight.dtype == np.float64
    np.testing.assert_array_equal(frozen(tc.tensor([3, 0])).numpy(), [[9, 10, 11], [0, 1, 2]])
    trainable = nn.Embedding.from_pretrained(table, freeze=False, padding_idx=0)
    assert trainable.weight.requires_grad and trainable.padding_idx == 0
    np.testing.assert_array_equal(trainable.weight.numpy()[0], [0, 1, 2])  # the given row is kept, as PyTorch


def test_instance_norm_no_batch_dim_and_layouts():
    layer = nn.InstanceNorm2d(3)
    x = tc.randn(3, 4, 4)
    np.testing.assert_allclose(layer(x).numpy(), layer(x.unsqueeze(0)).numpy()[0])
    with pytest.raises(ValueError, match=r"InstanceNorm2d: input must be \(N, C, H, W\)"):
        layer(tc.randn(2, 3, 4, 4, 4))
    with pytest.raises(ValueError, match="expects 3"):
        nn.InstanceNorm2d(3, affine=True)(tc.randn(2, 5, 4, 4))


# ----- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize("call, error, match", [
    (lambda: F.group_norm(tc.randn(2, 6, 3), 4), ValueError, "not divisible by num_groups=4"),
    (lambda: F.group_norm(tc.randn(6), 2), ValueError, r"must be \(N, C, \*\)"),
    (lambda: F.group_norm(tc.randn(1, 2), 2), ValueError, "more than 1 value per group"),
    (lambda: F.group_norm(tc.randn(2, 6, 3), 2, tc.randn(3)), ValueError, r"weight must have shape \(6,\)"),
    (lambda: F.group_norm(tc.randn(2, 6, 3), 2, tc.randn(6, dtype=tc.float64)), TypeError, "dtype"),
    (lambda: F.group_norm(tc.randn(2, 6, 3), 0), ValueError, "num_groups must be >= 1"),
    (lambda: F.layer_norm(tc.randn(2, 3), (4,)), ValueError, r"normalized_shape=\(4,\)"),
    (lambda: F.layer_norm(tc.randn(2, 3), 3.0), TypeError, "int"),
    (lambda: F.instance_norm(tc.randn(2, 3, 1, 1)), ValueError, "more than 1 spatial element"),
    (lambda: F.instance_norm(tc.randn(2, 3, 4), np.zeros(2), None), ValueError, "running_mean"),
    (lambda: F.instance_norm(tc.randn(2, 3, 4), use_input_stats=False), ValueError, "running_mean and running_var"),
    (lambda: F.embedding(tc.tensor([0.5]), tc.randn(3, 2)), TypeError, "integer"),
    (lambda: F.embedding(tc.tensor([3]), tc.randn(3, 2)), IndexError, r"in \[0, 3\)"),
    (lambda: F.embedding(tc.tensor([-1]), tc.randn(3, 2)), IndexError, r"in \[0, 3\)"),
    (lambda: F.embedding(tc.tensor([0]), tc.randn(3)), ValueError, "2-D"),
    (lambda: F.embedding(tc.tensor([0]), tc.randn(3, 2), padding_idx=3), ValueError, "padding_idx"),
    (lambda: F.embedding(tc.tensor([0]), tc.randn(3, 2), sparse=True), NotImplementedError, "sparse"),
    (lambda: F.pixel_shuffle(tc.randn(1, 6, 2, 2), 2), ValueError, "not divisible by upscale_factor"),
    (lambda: F.pixel_unshuffle(tc.randn(1, 1, 5, 4), 2), ValueError, "divisible by downscale_factor=2"),
    (lambda: F.pixel_shuffle(tc.randn(4, 2), 2), ValueError, r"\(\*, C, H, W\)"),
    (lambda: nn.GroupNorm(4, 6), ValueError, "divisible"),
    (lambda: nn.Embedding(5, 2, padding_idx=5), ValueError, "padding_idx"),
    (lambda: nn.LayerNorm(4, elementwise_affine=1), TypeError, "bool"),
])
def test_errors_name_what_was_given(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_embedding_checks_before_renormalising():
    weight = tc.randn(3, 2) * 10
    before = weight.numpy().copy()
    with pytest.raises(IndexError):
        F.embedding(tc.tensor([0, 7]), weight, max_norm=1.0)
    np.testing.assert_array_equal(weight.numpy(), before)


# ----- double backward (the registry walk checks more shapes) ----------------------------------
def test_second_derivatives_match_torch(torch):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 4, 3)), rng.standard_normal(4), rng.standard_normal(4)
    mine = [tc.tensor(a, requires_grad=True) for a in (x, w, b)]
    ref = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    out = (F.group_norm(mine[0], 2, mine[1], mine[2]) ** 2).sum()
    want = (torch.nn.functional.group_norm(ref[0], 2, ref[1], ref[2]) ** 2).sum()
    grads = tc.autograd.grad(out, mine, create_graph=True)
    tgrads = torch.autograd.grad(want, ref, create_graph=True)
    sum(g.sum() for g in grads).backward()
    sum(g.sum() for g in tgrads).backward()
    for m, r in zip(mine, ref):
        np.testing.assert_allclose(m.grad.numpy(), r.grad.numpy(), rtol=1e-9, atol=1e-10)


# ----- tinygrad's test_nn cases for these layers (test/backend/test_nn.py) ----------------------
def _tinygrad_case(torch, layer, torch_layer, shape, grad_tol):
    with torch.no_grad():
        for name, p in torch_layer.named_parameters():
            p.copy_(torch.randn(p.shape))
    layer.load_state_dict({k: v.numpy() for k, v in torch_layer.state_dict().items()})
    for _ in range(3):
        x = tc.randn(*shape, requires_grad=True)
        z = layer(x)
        z.sum().backward()
        tx = torch.tensor(x.numpy(), requires_grad=True)
        tz = torch_layer(tx)
        tz.sum().backward()
        np.testing.assert_allclose(z.numpy(), tz.detach().numpy(), atol=5e-6, rtol=5e-6)
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=grad_tol, rtol=grad_tol)
        for (name, p), (_, q) in zip(layer.named_parameters(), torch_layer.named_parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=grad_tol, rtol=grad_tol, err_msg=name)
        layer.zero_grad(), torch_layer.zero_grad()


def test_tinygrad_groupnorm(torch):
    _tinygrad_case(torch, nn.GroupNorm(3, 6), torch.nn.GroupNorm(3, 6), (20, 6, 10, 10), 5e-4)


def test_tinygrad_layernorm(torch):
    _tinygrad_case(torch, nn.LayerNorm([10, 10]), torch.nn.LayerNorm([10, 10]), (20, 5, 10, 10), 5e-4)


def test_tinygrad_instancenorm_2d_and_3d(torch):
    _tinygrad_case(torch, nn.InstanceNorm2d(10, affine=True), torch.nn.InstanceNorm2d(10, affine=True),
                   (20, 10, 10, 10), 1e-3)
    _tinygrad_case(torch, nn.InstanceNorm3d(10, affine=True), torch.nn.InstanceNorm3d(10, affine=True),
                   (20, 10, 10, 10, 10), 1e-2)


def test_tinygrad_embedding_and_shapes(torch):
    layer = nn.Embedding(28, 20)
    theirs = torch.nn.Embedding(28, 20)
    with torch.no_grad():
        theirs.weight[:] = torch.tensor(layer.weight.numpy())
    for shape in [(4, 10), (4, 0)]:
        x = np.random.randint(0, 28, shape, dtype=np.int32)
        np.testing.assert_allclose(layer(tc.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                                   atol=1e-8, rtol=1e-8)
    layer = nn.Embedding(10, 16)
    for rank in range(5):
        shape = (1,) * rank
        assert layer(tc.tensor([3]).reshape(shape)).shape == shape + (16,)


@pytest.mark.parametrize("vocab", [1, 3, 50, 1000])
def test_embedding_backward_scatter_adds_as_add_at(vocab):
    """The row scatters (embedding.py) give np.add.at's sums: bit for bit where no index
    repeats more than _ROUNDS times (signed zeros included), to float32 rounding beyond.
    (Called directly: Embedding uses it from _SCATTER_MIN gradient values on.)"""
    from tinygrad_conv.ops.embedding import _ROUNDS, _scatter_rows
    rng = np.random.default_rng(vocab)
    indices = rng.integers(0, vocab, 300)
    rows = rng.standard_normal((300, 5)).astype(np.float32)
    rows[::7] = -0.0
    want = np.zeros((vocab, 5), np.float32)
    np.add.at(want, indices, rows)
    got = _scatter_rows(vocab, indices, rows)
    assert got.dtype == np.float32
    if np.bincount(indices).max() <= _ROUNDS:
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_embedding_large_backward_matches_torch(torch):
    """At the sizes where backward scatters rows (_SCATTER_MIN values and more), with
    repeats, padding_idx and scale_grad_by_freq, the weight's gradient is PyTorch's."""
    from tinygrad_conv.ops.embedding import _SCATTER_MIN
    rng = np.random.default_rng(3)
    indices = rng.integers(0, 40, (8, 64))
    indices[:, ::3] = 5  # one index repeated far more than _ROUNDS times
    weight = rng.standard_normal((40, 64)).astype(np.float32)
    assert indices.size * weight.shape[1] >= _SCATTER_MIN
    g = rng.standard_normal((8, 64, 64)).astype(np.float32)
    for kwargs in ({}, dict(padding_idx=7, scale_grad_by_freq=True)):
        mine, theirs = tc.tensor(weight, requires_grad=True), torch.tensor(weight.astype(np.float64), requires_grad=True)
        F.embedding(tc.tensor(indices), mine, **kwargs).backward(tc.tensor(g))
        torch.nn.functional.embedding(torch.tensor(indices), theirs, **kwargs).backward(torch.tensor(g.astype(np.float64)))
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", [6, 1 << 13])  # below and above _SCATTER_MIN gradient values (d = 4)
@pytest.mark.parametrize("by_freq", [False, True])
def test_embedding_padding_row_gradient_is_zero_for_nonfinite_upstream(torch, n, by_freq):
    """Row padding_idx gets exactly 0 even where the upstream gradient of a padding position
    is NaN or inf (PyTorch skips those positions; multiplying them by 0 gave NaN), while
    NaN/inf of other positions reach their rows, as in PyTorch."""
    indices = np.resize(np.array([0, 1, 0, 2, 2, 0]), n)
    weight = np.random.default_rng(0).standard_normal((3, 4))
    g = np.ones((n, 4))
    g[0, 1], g[2, 0], g[5, 3] = np.nan, np.inf, -np.inf  # all at padding positions (index 0)
    g[1, 2], g[3, 0] = np.nan, np.inf  # at rows 1 and 2
    mine, theirs = tc.tensor(weight, requires_grad=True), torch.tensor(weight, requires_grad=True)
    F.embedding(tc.tensor(indices), mine, padding_idx=0, scale_grad_by_freq=by_freq).backward(tc.tensor(g))
    torch.nn.functional.embedding(torch.tensor(indices), theirs, padding_idx=0,
                                  scale_grad_by_freq=by_freq).backward(torch.tensor(g))
    np.testing.assert_array_equal(mine.grad.numpy()[0], 0)
    np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)
