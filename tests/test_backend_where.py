"""backend.where: NumPy's ``where`` with a branch-free select for large float arrays. The bits
must be np.where's exactly (NaN payloads, -0.0 and inf included), for every kind of operand
it takes (arrays of the condition's shape, numbers, 0-d arrays) and every kind it hands back
to np.where (broadcast shapes, other dtypes, small arrays); and the ops that use it must
still give PyTorch's gradients."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_conv as tc
from tinygrad_conv import backend

BIG = 5000  # >= backend._SELECT_MIN: the bitwise path
SPECIAL = [np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -2.5, 1e-40]


def _values(rng, shape, dtype):
    a = rng.standard_normal(shape).astype(dtype)
    flat = a.reshape(-1)
    picks = rng.integers(0, flat.size, max(1, flat.size // 10))
    flat[picks] = np.array(SPECIAL, dtype)[rng.integers(0, len(SPECIAL), picks.size)]
    return a


def _operand(kind, rng, shape, dtype):
    if kind == "array":
        return _values(rng, shape, dtype)
    if kind == "zero":
        return 0
    if kind == "number":
        return float(rng.choice([-1.5, np.inf, np.nan, -0.0, 3.0]))
    return np.zeros((), dtype) + dtype(rng.choice([0.0, -0.0, 2.0, np.nan]))  # a 0-d array


def _same_bits(ours, expected):
    assert ours.dtype == expected.dtype and ours.shape == expected.shape
    bits = {2: np.uint16, 4: np.uint32, 8: np.uint64}[expected.dtype.itemsize]
    np.testing.assert_array_equal(ours.view(bits), expected.view(bits))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from([np.float16, np.float32, np.float64]),
       kinds=st.tuples(*[st.sampled_from(["array", "zero", "number", "0-d"])] * 2),
       size=st.sampled_from([BIG, 10_007, 300]), p=st.sampled_from([0.0, 0.1, 0.5, 1.0]))
def test_same_bits_as_numpy(seed, dtype, kinds, size, p):
    rng = np.random.default_rng(seed)
    shape = (size // 7, 7) if size % 7 == 0 else (size,)
    condition = rng.random(shape) < p
    a, b = (_operand(k, rng, shape, dtype) for k in kinds)
    with np.errstate(all="ignore"):
        _same_bits(backend.where(condition, a, b), np.where(condition, a, b))


@pytest.mark.parametrize("case", ["broadcast", "int", "int condition", "strided", "float64 number"])
def test_other_operands_give_numpys_answer(case):
    rng = np.random.default_rng(0)
    condition, a, b = rng.random((100, 60)) < 0.5, _values(rng, (100, 60), np.float32), np.float32(2)
    if case == "broadcast":
        b = _values(rng, (1, 60), np.float32)
    elif case == "int":
        a = rng.integers(-5, 5, (100, 60))
    elif case == "int condition":
        condition = condition.astype(np.int64)
    elif case == "strided":
        condition, a = condition[:, ::2], a[:, ::2]
    else:  # a strong float64 scalar: the result is float64, a's float32 values converted
        b = np.float64(2.0)
    with np.errstate(all="ignore"):
        _same_bits(backend.where(condition, a, b), np.where(condition, a, b))


def test_tensor_operands_go_to_graph_rules():
    """Under create_graph a backward rule hands Tensors to where: graph_xp's where records it."""
    x = tc.tensor(np.linspace(-2, 2, BIG, dtype=np.float32), requires_grad=True)
    y = tc.clamp(x, -1.0, 1.0)
    (g,) = tc.autograd.grad(y.sum(), x, create_graph=True)
    expected = ((x.numpy() >= -1) & (x.numpy() <= 1)).astype(np.float32)
    np.testing.assert_array_equal(g.numpy(), expected)


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", ["clamp", "maximum", "where", "smooth_l1", "huber"])
def test_ops_on_where_match_pytorch(name):
    """Large random inputs (every other element on each side of the branch) through the ops
    whose rules select with where: values and gradients as PyTorch's."""
    rng = np.random.default_rng(1)
    a, b = (rng.standard_normal((64, 100)).astype(np.float32) for _ in range(2))
    g = rng.standard_normal((64, 100)).astype(np.float32)

    def run(lib, fn):
        x, y = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        out = fn(lib, x, y)
        out.backward(lib.tensor(g) if out.ndim else None)
        return out.detach().numpy(), x.grad.numpy(), y.grad.numpy() if y.grad is not None else None

    fns = {
        "clamp": lambda m, x, y: m.clamp(x, -0.5, 0.5) * y,
        "maximum": lambda m, x, y: m.maximum(x, y),
        "where": lambda m, x, y: m.where(x > y, x, y * 2),
        "smooth_l1": lambda m, x, y: m.nn.functional.smooth_l1_loss(x, y, beta=0.5),
        "huber": lambda m, x, y: m.nn.functional.huber_loss(x, y, delta=0.7),
    }
    for ours, theirs in zip(run(tc, fns[name]), run(torch, fns[name])):
        if theirs is None:
            assert ours is None
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("loss, param", [("smooth_l1_loss", "beta"), ("huber_loss", "delta")])
@pytest.mark.parametrize("size", [0.3, 2.0])
@pytest.mark.parametrize("finite", [True, False])
def test_large_regression_losses_match_pytorch(loss, param, size, reduction, finite):
    """smooth_l1 and huber on 6,000 float32 values (their clipped-slope passes, no where),
    finite or with NaN and +-inf sprinkled over both inputs: values and gradients as PyTorch's."""
    rng = np.random.default_rng(2)
    a, b = (_values(rng, (60, 100), np.float32) * 3 for _ in range(2))
    if finite:
        a, b = np.nan_to_num(a, posinf=5, neginf=-5), np.nan_to_num(b, posinf=4, neginf=-4)

    def run(lib):
        x, y = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        out = getattr(lib.nn.functional, loss)(x, y, reduction=reduction, **{param: size})
        out.backward(lib.ones_like(out))
        return out.detach().numpy(), x.grad.numpy(), y.grad.numpy()

    with np.errstate(all="ignore"):
        ours = run(tc)
    for o, t in zip(ours, run(torch)):
        np.testing.assert_allclose(o, t, rtol=2e-6, atol=1e-6)
