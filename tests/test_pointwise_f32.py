"""The float32 kernels of ops/pointwise_f32.py, which only large arrays reach (the NaN/inf
walk of test_nonfinite.py uses small ones): on 10,000 values spread over the interesting
ranges and sprinkled with NaN and +-inf, in the input and in the upstream gradient,
output and gradient have NaN/inf where the generic rule has them and agree with it and
with PyTorch elsewhere."""
import math

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import functional as F
from tinygrad_conv import parallel
from tinygrad_conv.ops import pointwise_f32

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN on purpose

SIZE = 10_000  # > pointwise_f32.MIN_SIZE


def values(seed, nonfinite=True):
    """float32: normal, tiny, near the kinks (+-3, +-1, 0, 6, 20) and far out; NaN and +-inf sprinkled."""
    rng = np.random.default_rng(seed)
    parts = [rng.normal(0, 3, 4000), rng.normal(0, 1e-4, 1000), rng.uniform(-120, 120, 1000),
             rng.choice([-3, -1, 0, 1, 1.5, 3, 6, 16, 17, 20, -20, 5, 2, 88, -88, -90], 2000)
             + rng.choice([0, 1e-6, -1e-6, 1e-3], 2000), -np.abs(rng.normal(0, 0.3, 2000))]
    a = np.concatenate(parts).astype(np.float32)
    rng.shuffle(a)
    if nonfinite:
        a[rng.integers(0, SIZE, 300)] = rng.choice([np.nan, np.inf, -np.inf], 300)
    return a


CASES = {  # name: (ours, torch's, whether PyTorch's vectorised loop differs at a NaN input)
    "hardtanh": (lambda m, x: m.hardtanh(x, -1.0, 1.5), True),
    "relu6": (lambda m, x: m.relu6(x), True),
    "hardsigmoid": (lambda m, x: m.hardsigmoid(x), False),
    "hardswish": (lambda m, x: m.hardswish(x), True),
    "softplus": (lambda m, x: m.softplus(x), False),
    "softplus beta threshold": (lambda m, x: m.softplus(x, beta=2.0, threshold=5.0), False),
    "softplus negative beta": (lambda m, x: m.softplus(x, beta=-0.5), False),
    "logsigmoid": (lambda m, x: m.logsigmoid(x), False),
    "celu": (lambda m, x: m.celu(x, 0.7), True),
    "selu": (lambda m, x: m.selu(x), True),
    "elu": (lambda m, x: m.elu(x, 0.7), True),
    "mish": (lambda m, x: m.mish(x), False),
    "silu": (lambda m, x: m.silu(x), False),
    "sigmoid": (lambda m, x: m.sigmoid(x), False),
    "gelu": (lambda m, x: m.gelu(x), False),
}


def run(fn, m, tensor, x, g):
    t = tensor(x, requires_grad=True)
    out = fn(m, t)
    out.backward(tensor(g))
    return out.detach().numpy().astype(np.float64), t.grad.numpy().astype(np.float64)


def kind(a):
    return np.select([np.isnan(a), a == np.inf, a == -np.inf], [1, 2, 3], 0)


def assert_same(ours, expected, what, rtol, atol, where=None):
    """The same NaN/inf positions, and ``|ours - expected| <= atol + rtol |expected|`` elsewhere
    (``atol`` a number or one per element), over the elements ``where`` is True (default: all)."""
    keep = np.ones(ours.shape, bool) if where is None else where
    k, e = kind(ours), kind(expected)
    assert (k == e)[keep].all(), f"{what}: NaN/inf differ at {np.flatnonzero((k != e) & keep)[:10]}"
    check = keep & (e == 0)
    err = np.abs(ours - expected) - (atol + rtol * np.abs(expected))
    bad = np.flatnonzero(check & (err > 0))
    assert not bad.size, f"{what}: {bad.size} values differ, e.g. at {bad[:5]}: {ours[bad[:5]]} vs {expected[bad[:5]]}"


def slack(name, x):
    """Extra absolute tolerance per element: gelu's generic rule and PyTorch's compute
    ``1 + erf(x / sqrt 2)``, which cancels below 0 (error ~1e-7 |x|; the kernel's erfc does not)."""
    return 3e-7 * np.nan_to_num(np.abs(x.astype(np.float64)), posinf=0) if name == "gelu" else 0.0


@pytest.mark.parametrize("name", list(CASES))
def test_large_arrays_agree_with_the_generic_rule(name, monkeypatch):
    fn, _ = CASES[name]
    x, g = values(0), values(1) * np.float32(0.25)
    fast = run(fn, F, tc.tensor, x, g)
    monkeypatch.setattr(pointwise_f32, "MIN_SIZE", 10 * SIZE)  # every array takes the generic rule
    generic = run(fn, F, tc.tensor, x, g)
    atol = 1e-35 + slack(name, x)  # (sigmoid(-90): 0, not 1e-39)
    assert_same(fast[0], generic[0], f"{name} output", rtol=3e-6, atol=atol)
    assert_same(fast[1], generic[1], f"{name} gradient", rtol=3e-6, atol=(3e-7 + slack(name, x)) * np.abs(g))


@pytest.mark.parametrize("name", list(CASES))
def test_large_arrays_agree_with_torch(name):
    torch = pytest.importorskip("torch")
    fn, nan_differs = CASES[name]
    x, g = np.clip(values(2), -80, 80), values(3)  # (below -87 exp underflows: PyTorch's tails differ)
    ours = run(fn, F, tc.tensor, x, g)
    theirs = run(fn, torch.nn.functional if name != "sigmoid" else torch, torch.tensor, x, g)
    # (PyTorch's vectorised loop of elu, celu, hardswish, hardtanh differs from its scalar one at NaN)
    where = ~np.isnan(x) if nan_differs else None
    if name == "gelu":  # (PyTorch's slope cancels to 0 below -5: an infinite gradient gives NaN there)
        where = ~(np.abs(x) > 5)
    assert_same(ours[0], theirs[0], f"{name} output", rtol=1e-5, atol=1e-37 + slack(name, x), where=where)
    assert_same(ours[1], theirs[1], f"{name} gradient", rtol=1e-5, atol=(1e-6 + slack(name, x)) * np.abs(g),
                where=where)


def test_expm1_is_accurate_near_zero():
    """``2 tanh(x/2) / (1 - tanh(x/2))`` for x <= 0: relative accuracy down to the tiniest x
    (where ``exp(x) - 1`` would be all rounding), -inf, NaN and the sign of zero as expm1."""
    x = -np.abs(values(4, nonfinite=False))
    x = np.concatenate([x, np.float32([-0.0, 0.0, -1e-30, -np.inf, np.nan])])
    with np.errstate(all="ignore"):
        ours = pointwise_f32.expm1_nonpositive(x)
    expected = np.array([math.expm1(v) if not math.isinf(v) else -1.0 for v in x.astype(np.float64)])
    assert_same(ours.astype(np.float64), expected, "expm1", rtol=6e-7, atol=0)  # (within 2.3 ulp measured)
    assert np.signbit(ours[-5]) and not np.signbit(ours[-4])


@pytest.mark.parametrize("delta", [1.0, 0.3])
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_huber_loss_on_large_arrays(delta, reduction, monkeypatch):
    """huber_loss's float32 path: the generic rule's NaN/inf and values, and PyTorch's."""
    torch = pytest.importorskip("torch")
    p, t = values(5), np.clip(values(6, nonfinite=False), -50, 50)
    g = values(7) if reduction == "none" else np.float32(1.5)

    def run_loss(m, tensor):
        pt, tt = tensor(p, requires_grad=True), tensor(t, requires_grad=True)
        out = m.huber_loss(pt, tt, reduction=reduction, delta=delta)
        out.backward(tensor(g))
        return [np.asarray(a.detach().numpy(), np.float64).reshape(-1) for a in (out, pt.grad, tt.grad)]

    fast = run_loss(F, tc.tensor)
    theirs = run_loss(torch.nn.functional, torch.tensor)
    monkeypatch.setattr(pointwise_f32, "MIN_SIZE", 10 * SIZE)
    generic = run_loss(F, tc.tensor)
    for what, a, b, c in zip(("loss", "d input", "d target"), fast, generic, theirs):
        assert_same(a, b, what, rtol=1e-6, atol=0)
        assert_same(a, c, what, rtol=1e-5, atol=1e-6)


BLOCKED = {  # CASES plus the activations that run in blocks outside pointwise_f32's kernels
    **{name: fn for name, (fn, _) in CASES.items()},
    "gelu tanh": lambda m, x: m.gelu(x, approximate="tanh"),
    "tanh": lambda m, x: m.tanh(x),
    "relu": lambda m, x: m.relu(x),
    "leaky_relu": lambda m, x: m.leaky_relu(x, 0.2),
}


def run_raw(fn, x, g):
    t = tc.tensor(x, requires_grad=True)
    out = fn(F, t)
    out.backward(tc.tensor(g))
    return out.numpy(), t.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
@pytest.mark.parametrize("name", list(BLOCKED))
def test_blocks_and_threads_change_no_bit(name, dtype, monkeypatch):
    """parallel.blocked / parallel.elementwise: in blocks of 1024 values (the last one partial)
    on 1 and 3 threads, and (elementwise) in one block per thread on 3, the same bits (NaN
    and inf included) as in one call on the whole array."""
    x, g = values(0).astype(dtype), (values(1) * np.float32(0.25)).astype(dtype)
    threads = tc.get_num_threads()
    try:
        tc.set_num_threads(1)
        monkeypatch.setattr(parallel, "LARGE", 10 * SIZE)
        monkeypatch.setattr(parallel, "ELEMENTWISE_LARGE", 10 * SIZE)
        whole = run_raw(BLOCKED[name], x, g)
        monkeypatch.setattr(parallel, "MIN_ELEMENTS", 1)
        for n, large in ((1, 1), (3, 1), (3, 10 * SIZE)):
            tc.set_num_threads(n)
            monkeypatch.setattr(parallel, "LARGE", large)
            monkeypatch.setattr(parallel, "ELEMENTWISE_LARGE", large)
            monkeypatch.setattr(parallel, "BLOCK", 1024)
            blocks = run_raw(BLOCKED[name], x, g)
            for what, a, b in zip(("output", "gradient"), blocks, whole):
                assert a.dtype == b.dtype == dtype
                bits = np.dtype(f"u{a.itemsize}")
                differ = np.flatnonzero(a.view(bits) != b.view(bits))
                assert not differ.size, (f"{name} {what}, {n} threads, blocks from {large}: bits differ at "
                                         f"{differ[:5]}: {a[differ[:5]]} vs {b[differ[:5]]}")
    finally:
        tc.set_num_threads(threads)
