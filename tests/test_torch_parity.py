"""PyTorch parity for API.md v3 "## Tensors": the same expression, run once through
tinygrad_conv (``m = tc``) and once through PyTorch (``m = torch``), must give the
same shape, dtype and values (and, for differentiable float ops, the same gradients).

Most tests are tables of ``(name, fn, inputs)`` where ``fn(m, *tensors)`` is written
once against a module ``m``; the inputs are NumPy arrays turned into tensors by
``m.tensor(array)``.  Where PyTorch and the contract deliberately differ (the
mixed-dtype errors are ``TypeError`` here, ``RuntimeError`` in PyTorch) the test
says so and still checks that PyTorch raises too, so the expectation is honest.
"""
import io
import math
import operator
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import hypothesis.extra.numpy as hnp  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import tinygrad_conv as tc  # noqa: E402

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)
FEW = settings(max_examples=12, deadline=None, derandomize=True)

# ----- helpers ------------------------------------------------------------------------

T2N = {
    torch.float32: np.dtype(np.float32),
    torch.float64: np.dtype(np.float64),
    torch.int64: np.dtype(np.int64),
    torch.int32: np.dtype(np.int32),
    torch.bool: np.dtype(np.bool_),
    torch.int16: np.dtype(np.int16),
    torch.int8: np.dtype(np.int8),
    torch.uint8: np.dtype(np.uint8),
    torch.float16: np.dtype(np.float16),
}


def np_dtype(d):
    """A dtype of either library (or NumPy) as a NumPy dtype."""
    if isinstance(d, torch.dtype):
        return T2N[d]
    return np.dtype(d)


def is_tensor(v):
    return isinstance(v, (tc.Tensor, torch.Tensor))


def to_np(v):
    """Array of either library's tensor (detached)."""
    if isinstance(v, torch.Tensor):
        return v.detach().cpu().numpy()
    return np.asarray(v.detach().numpy())


def F_of(m):
    """The functional module: torch.nn.functional, or tinygrad_conv.functional."""
    return torch.nn.functional if m is torch else tc.functional


def tol(dtype, loose=False):
    if dtype == np.float64 and not loose:
        return dict(rtol=1e-12, atol=1e-12)
    return dict(rtol=1e-5, atol=1e-6)


def check_same(got, want, path="out", loose=False):
    """Assert that tinygrad_conv's `got` equals PyTorch's `want` (shape, dtype, values).

    ``loose``: float64 results that went through float32 data (mixed-dtype promotion)
    are compared at float32 tolerance, since summation order may differ there."""
    if want is None:
        assert got is None, f"{path}: torch gives None, tinygrad_conv gives {type(got).__name__}"
        return
    if isinstance(want, torch.Tensor):
        assert isinstance(got, tc.Tensor), (
            f"{path}: torch gives a Tensor, tinygrad_conv gives {type(got).__name__}")
        assert tuple(got.shape) == tuple(want.shape), (
            f"{path}: shape {tuple(got.shape)} != torch {tuple(want.shape)}")
        gd, wd = np_dtype(got.dtype), np_dtype(want.dtype)
        assert gd == wd, f"{path}: dtype {gd} != torch {wd}"
        g, w = to_np(got), to_np(want)
        if wd.kind == "f":
            np.testing.assert_allclose(g, w, equal_nan=True, err_msg=path, **tol(wd, loose))
        else:
            np.testing.assert_array_equal(g, w, err_msg=path)
        return
    if isinstance(want, tuple):
        assert isinstance(got, tuple), f"{path}: torch gives a tuple, tinygrad_conv {type(got).__name__}"
        assert len(got) == len(want), f"{path}: {len(got)} items != torch {len(want)}"
        for field in ("values", "indices"):  # torch.return_types.max / min
            if hasattr(want, field):
                assert hasattr(got, field), f"{path}: result has no .{field} (named tuple)"
                check_same(getattr(got, field), getattr(want, field), f"{path}.{field}", loose)
        for i, (g, w) in enumerate(zip(got, want)):
            check_same(g, w, f"{path}[{i}]", loose)
        return
    if isinstance(want, list):
        assert isinstance(got, list), f"{path}: torch gives a list, tinygrad_conv {type(got).__name__}"
        assert len(got) == len(want), f"{path}: {len(got)} items != torch {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            check_same(g, w, f"{path}[{i}]", loose)
        return
    if isinstance(want, (bool, int, float, str)):
        assert type(got) is type(want), (
            f"{path}: Python {type(got).__name__} {got!r} != torch {type(want).__name__} {want!r}")
        if isinstance(want, float):
            assert got == pytest.approx(want, rel=1e-5, abs=1e-6, nan_ok=True), f"{path}: {got} != {want}"
        else:
            assert got == want, f"{path}: {got!r} != torch {want!r}"
        return
    raise AssertionError(f"{path}: test helper cannot compare torch result of type {type(want)}")


def flat_outputs(v):
    if isinstance(v, (tuple, list)):
        for item in v:
            yield from flat_outputs(item)
    elif is_tensor(v):
        yield v


def weighted_loss(m, out):
    """sum_k (out_k * w_k).sum() over float outputs that need grad; fixed seeded weights."""
    total = None
    for k, o in enumerate(flat_outputs(out)):
        if not o.requires_grad:
            continue
        dt = np_dtype(o.dtype)
        w = np.random.default_rng(100 + k).standard_normal(tuple(o.shape)).astype(dt)
        term = (o * m.tensor(w)).sum()
        total = term if total is None else total + term
    return total


def build(m, arrays, grad):
    return [m.tensor(a.copy(), requires_grad=bool(grad and a.dtype.kind == "f")) for a in arrays]


def compare(fn, arrays=(), grad=False):
    """Run fn(m, *tensors) with torch and tc; compare outputs and (if grad) input grads."""
    xs_t = build(torch, arrays, grad)
    want = fn(torch, *xs_t)
    xs_c = build(tc, arrays, grad)
    got = fn(tc, *xs_c)
    loose = any(np.asarray(a).dtype == np.float32 for a in arrays)
    check_same(got, want, loose=loose)
    if grad:
        lt = weighted_loss(torch, want)
        assert lt is not None, "test bug: torch output does not require grad"
        lt.backward()
        lc = weighted_loss(tc, got)
        assert lc is not None, "tinygrad_conv output does not require grad (torch's does)"
        lc.backward()
        for i, (a, b) in enumerate(zip(xs_c, xs_t)):
            if b.requires_grad:
                check_same(a.grad, b.grad, f"grad of input {i}", loose=loose)


def both(fn):
    """fn(m) -> value; compare tc's to torch's."""
    want = fn(torch)
    got = fn(tc)
    check_same(got, want)


# ----- fixed inputs (seeded) ----------------------------------------------------------

_rng = np.random.default_rng(0)
A = _rng.standard_normal((3, 4)).astype(np.float32)
B = _rng.standard_normal((3, 4)).astype(np.float32)
A64 = _rng.standard_normal((3, 4))
B64 = _rng.standard_normal((3, 4))
C3 = _rng.standard_normal((2, 3, 4)).astype(np.float32)
V4 = _rng.standard_normal(4).astype(np.float32)
V3 = _rng.standard_normal(3).astype(np.float32)
POS = (np.abs(_rng.standard_normal((3, 4))) + 0.1).astype(np.float32)
S1 = _rng.standard_normal((3, 1, 4)).astype(np.float32)
ROW = _rng.standard_normal((1, 4)).astype(np.float32)
FIVE = _rng.standard_normal((5, 2)).astype(np.float32)
SCAL = np.array(1.75, np.float32)  # 0-d
SCAL64 = np.array(1.75, np.float64)
SCALI = np.array(2, np.int64)
I2 = np.array([[3, -1, 2, 0], [0, 5, -2, 2], [1, 1, -3, 4]], np.int64)
J2 = np.array([[3, 0, 2, 1], [1, 5, -2, 2], [1, 0, -3, 4]], np.int64)
I32 = I2.astype(np.int32)
NZI = np.array([[3, -1, 2, 7], [1, 5, -2, 2], [1, 1, -3, 4]], np.int64)  # no zeros (divisor)
MASK = _rng.standard_normal((3, 4)) > 0
ROWMASK = np.array([True, False, True])
IDX = np.array([2, 0], np.int64)
GIDX1 = np.array([[0, 3], [2, 2], [1, 0]], np.int64)  # gather(1, .) on (3, 4)
GIDX0 = np.array([[2, 0, 1, 1], [0, 1, 2, 0]], np.int64)  # gather(0, .) on (3, 4)
NANINF = np.array([1.0, np.nan, np.inf, -np.inf, -2.0], np.float32)
BATCH = _rng.standard_normal((2, 3, 4)).astype(np.float32)
BATCH2 = _rng.standard_normal((2, 4, 5)).astype(np.float32)
M45 = _rng.standard_normal((4, 5)).astype(np.float32)


def case(name, fn, *arrays, grad=False):
    return pytest.param(fn, arrays, grad, id=name)


# ----- dtypes and their names ---------------------------------------------------------

DTYPE_NAMES = ["float32", "float64", "float", "double", "int64", "long", "int32", "int", "bool"]


@pytest.mark.parametrize("name", DTYPE_NAMES)
def test_dtype_names(name):
    d = getattr(tc, name)
    assert np_dtype(d) == T2N[getattr(torch, name)]
    t = tc.zeros(2, dtype=d)
    assert np_dtype(t.dtype) == T2N[getattr(torch, name)]
    assert t.dtype == d  # `if x.dtype == torch.float32:` style checks
    check_same(t, torch.zeros(2, dtype=getattr(torch, name)))


def test_dtype_aliases_are_equal():
    assert tc.float == tc.float32 and tc.double == tc.float64
    assert tc.long == tc.int64 and tc.int == tc.int32
    assert tc.float32 != tc.float64 and tc.int64 != tc.int32 and tc.bool != tc.int64


# ----- tc.tensor / Tensor / as_tensor / from_numpy ------------------------------------

TENSOR_DATA = [
    ("float", lambda m: m.tensor(1.5)),
    ("int", lambda m: m.tensor(3)),
    ("bool", lambda m: m.tensor(True)),
    ("float_list", lambda m: m.tensor([1.0, 2.0, 3.5])),
    ("int_list", lambda m: m.tensor([1, 2])),
    ("bool_list", lambda m: m.tensor([True, False])),
    ("nested_int", lambda m: m.tensor([[1, 2], [3, 4]])),
    ("mixed_int_float", lambda m: m.tensor([1, 2.5])),
    ("np_f32", lambda m: m.tensor(A)),
    ("np_f64", lambda m: m.tensor(A64)),
    ("np_i64", lambda m: m.tensor(I2)),
    ("np_i32", lambda m: m.tensor(I32)),
    ("np_bool", lambda m: m.tensor(MASK)),
    ("dtype_f32_from_ints", lambda m: m.tensor([1, 2], dtype=m.float32)),
    ("dtype_f64_from_floats", lambda m: m.tensor([1.5, 2.5], dtype=m.float64)),
    ("dtype_f32_from_np_f64", lambda m: m.tensor(A64, dtype=m.float32)),
    ("dtype_long_from_floats", lambda m: m.tensor([1.0, 2.0], dtype=m.long)),
    ("dtype_bool_from_ints", lambda m: m.tensor([0, 2], dtype=m.bool)),
    ("device_cpu", lambda m: m.tensor([1.0], device="cpu")),
    ("as_tensor_list", lambda m: m.as_tensor([1, 2, 3])),
    ("as_tensor_float_list", lambda m: m.as_tensor([1.0, 2.0])),
    ("as_tensor_np_f64", lambda m: m.as_tensor(A64)),
    ("as_tensor_dtype", lambda m: m.as_tensor(A64, dtype=m.float32)),
    ("as_tensor_tensor", lambda m: m.as_tensor(m.tensor([1, 2]))),
    ("from_numpy_f32", lambda m: m.from_numpy(A.copy())),
    ("from_numpy_f64", lambda m: m.from_numpy(A64.copy())),
    ("from_numpy_i64", lambda m: m.from_numpy(I2.copy())),
    ("from_numpy_bool", lambda m: m.from_numpy(MASK.copy())),
]


@pytest.mark.parametrize("fn", [p[1] for p in TENSOR_DATA], ids=[p[0] for p in TENSOR_DATA])
def test_tensor_inference(fn):
    both(fn)


def test_tensor_requires_grad_and_copies():
    arr = A.copy()
    t = tc.tensor(arr, requires_grad=True)
    assert t.requires_grad and np_dtype(t.dtype) == np.float32
    arr[0, 0] = 1234.0  # tc.tensor copies, as torch.tensor does
    assert to_np(t)[0, 0] != 1234.0
    (t * 2).sum().backward()
    check_same(t.grad, torch.full((3, 4), 2.0))


def test_int_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2], requires_grad=True)
    with pytest.raises((RuntimeError, TypeError, ValueError)):
        tc.tensor([1, 2], requires_grad=True)


def test_Tensor_constructor_follows_inference():
    # API.md v3: `Tensor(...)` follows the same inference as tc.tensor (floats -> float32,
    # NumPy arrays keep their dtype, ints -> int64).  (torch.Tensor differs for ints.)
    assert np_dtype(tc.Tensor([1.0, 2.0]).dtype) == np.float32
    assert np_dtype(tc.Tensor(A64).dtype) == np.float64
    assert np_dtype(tc.Tensor(I2).dtype) == np.int64
    assert np_dtype(tc.Tensor([1, 2]).dtype) == np.int64


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32])
def test_from_numpy_shares_memory(dtype):
    for m in (torch, tc):
        arr = np.arange(6, dtype=dtype).reshape(2, 3)
        t = m.from_numpy(arr)
        assert np_dtype(t.dtype) == np.dtype(dtype)
        arr[0, 1] = 42
        assert t[0, 1].item() == 42, m.__name__
        t.add_(1)  # tensor -> array
        assert arr[1, 2] == 6, m.__name__
        t[1, 0] = 7
        assert arr[1, 0] == 7, m.__name__


def test_as_tensor_shares_memory_with_same_dtype_array():
    for m in (torch, tc):
        arr = A.copy()
        t = m.as_tensor(arr)
        arr[0, 0] = 99.0
        assert t[0, 0].item() == 99.0, m.__name__


# ----- factories ----------------------------------------------------------------------

FACTORIES = [
    ("zeros_ints", lambda m: m.zeros(2, 3)),
    ("zeros_tuple", lambda m: m.zeros((2, 3))),
    ("zeros_list", lambda m: m.zeros([2, 3])),
    ("zeros_one_int", lambda m: m.zeros(4)),
    ("zeros_long", lambda m: m.zeros(2, 3, dtype=m.long)),
    ("zeros_bool", lambda m: m.zeros(3, dtype=m.bool)),
    ("zeros_f64", lambda m: m.zeros((2,), dtype=m.float64)),
    ("zeros_device", lambda m: m.zeros(2, device="cpu")),
    ("zeros_device_obj", lambda m: m.zeros(2, device=m.device("cpu"))),
    ("ones", lambda m: m.ones(2, 3)),
    ("ones_tuple_f64", lambda m: m.ones((2, 2), dtype=m.float64)),
    ("ones_int32", lambda m: m.ones(3, dtype=m.int32)),
    ("full_float", lambda m: m.full((2, 3), 1.5)),
    ("full_int", lambda m: m.full((2,), 7)),
    ("full_bool", lambda m: m.full((2,), True)),
    ("full_dtype", lambda m: m.full((2, 2), 2, dtype=m.float64)),
    ("full_list_size", lambda m: m.full([3], -1.0)),
    ("arange_end", lambda m: m.arange(5)),
    ("arange_start_end", lambda m: m.arange(2, 8)),
    ("arange_step", lambda m: m.arange(1, 10, 3)),
    ("arange_float_step", lambda m: m.arange(0, 1, 0.25)),
    ("arange_float_end", lambda m: m.arange(5.0)),
    ("arange_tenth", lambda m: m.arange(0.0, 1.0, 0.1)),
    ("arange_dtype", lambda m: m.arange(5, dtype=m.float32)),
    ("arange_negative_step", lambda m: m.arange(5, 0, -2)),
    ("linspace", lambda m: m.linspace(0, 1, 5)),
    ("linspace_steps_kw", lambda m: m.linspace(-1, 1, steps=7)),
    ("linspace_f64", lambda m: m.linspace(0, 1, 5, dtype=m.float64)),
    ("eye", lambda m: m.eye(3)),
    ("eye_rect", lambda m: m.eye(2, 3)),
    ("eye_long", lambda m: m.eye(3, dtype=m.int64)),
    ("zeros_like_f", lambda m: m.zeros_like(m.tensor(A))),
    ("zeros_like_i", lambda m: m.zeros_like(m.tensor(I2))),
    ("zeros_like_dtype", lambda m: m.zeros_like(m.tensor(I2), dtype=m.float32)),
    ("ones_like_f64", lambda m: m.ones_like(m.tensor(A64))),
    ("ones_like_dtype", lambda m: m.ones_like(m.tensor(A), dtype=m.float64)),
    ("ones_like_bool", lambda m: m.ones_like(m.tensor(MASK))),
    ("full_like_f", lambda m: m.full_like(m.tensor(A), 2.5)),
    ("full_like_i", lambda m: m.full_like(m.tensor(I2), 3)),
    ("full_like_dtype", lambda m: m.full_like(m.tensor(I2), 0.5, dtype=m.float64)),
]


@pytest.mark.parametrize("fn", [p[1] for p in FACTORIES], ids=[p[0] for p in FACTORIES])
def test_factories(fn):
    both(fn)


RANDOM_FACTORIES = [
    # name, fn, shape, dtype, (low, high) or None, kind
    ("empty_ints", lambda m: m.empty(2, 3), (2, 3), np.float32, None),
    ("empty_tuple_long", lambda m: m.empty((2, 3), dtype=m.long), (2, 3), np.int64, None),
    ("rand", lambda m: m.rand(50, 3), (50, 3), np.float32, (0.0, 1.0)),
    ("rand_tuple", lambda m: m.rand((4, 5)), (4, 5), np.float32, (0.0, 1.0)),
    ("rand_f64", lambda m: m.rand(40, dtype=m.float64), (40,), np.float64, (0.0, 1.0)),
    ("randn", lambda m: m.randn(50, 3), (50, 3), np.float32, (-math.inf, math.inf)),
    ("randn_tuple_f64", lambda m: m.randn((30,), dtype=m.float64), (30,), np.float64,
     (-math.inf, math.inf)),
    ("randint_low_high", lambda m: m.randint(0, 10, (200,)), (200,), np.int64, (0, 10)),
    ("randint_high", lambda m: m.randint(5, (3, 40)), (3, 40), np.int64, (0, 5)),
    ("randint_size_kw", lambda m: m.randint(-3, 3, size=(100,)), (100,), np.int64, (-3, 3)),
    ("randint_dtype", lambda m: m.randint(0, 4, (50,), dtype=m.int32), (50,), np.int32, (0, 4)),
    ("randperm", lambda m: m.randperm(10), (10,), np.int64, (0, 10)),
    ("rand_like", lambda m: m.rand_like(m.tensor(np.zeros((20, 3), np.float32))), (20, 3),
     np.float32, (0.0, 1.0)),
    ("rand_like_f64", lambda m: m.rand_like(m.tensor(np.zeros((20, 3)))), (20, 3), np.float64,
     (0.0, 1.0)),
    ("rand_like_dtype", lambda m: m.rand_like(m.tensor(np.zeros(30, np.float32)),
                                              dtype=m.float64), (30,), np.float64, (0.0, 1.0)),
    ("randn_like", lambda m: m.randn_like(m.tensor(np.zeros((20, 3), np.float32))), (20, 3),
     np.float32, (-math.inf, math.inf)),
]


@pytest.mark.parametrize("fn,shape,dtype,rng", [p[1:] for p in RANDOM_FACTORIES],
                         ids=[p[0] for p in RANDOM_FACTORIES])
def test_random_factories(fn, shape, dtype, rng):
    for m in (torch, tc):
        t = fn(m)
        assert isinstance(t, (torch.Tensor, tc.Tensor))
        assert tuple(t.shape) == shape, m.__name__
        assert np_dtype(t.dtype) == np.dtype(dtype), m.__name__
        if rng is None:
            continue
        a = to_np(t)
        assert np.all(np.isfinite(a)), m.__name__
        lo, hi = rng
        assert a.min() >= lo and a.max() < hi, m.__name__
        if a.size >= 10:
            assert len(np.unique(a)) > 1, f"{m.__name__}: all values equal"


def test_randperm_is_a_permutation():
    for n in (1, 5, 17):
        p = tc.randperm(n)
        assert np_dtype(p.dtype) == np.int64
        assert sorted(to_np(p).tolist()) == list(range(n))


def test_randn_statistics():
    tc.manual_seed(0)
    a = to_np(tc.randn(20000))
    assert abs(a.mean()) < 0.05 and abs(a.std() - 1.0) < 0.05
    b = to_np(tc.randint(0, 3, (3000,)))
    assert set(np.unique(b).tolist()) == {0, 1, 2}


FACTORY_RG = {
    "zeros": lambda m: m.zeros(3, requires_grad=True),
    "ones": lambda m: m.ones((3,), requires_grad=True),
    "full": lambda m: m.full((3,), 2.0, requires_grad=True),
    "randn": lambda m: m.randn(3, requires_grad=True),
    "rand": lambda m: m.rand(3, requires_grad=True),
    "empty": lambda m: m.empty(3, requires_grad=True),
    "arange": lambda m: m.arange(3.0, requires_grad=True),
    "linspace": lambda m: m.linspace(0, 1, 3, requires_grad=True),
    "eye": lambda m: m.eye(3, requires_grad=True),
    "zeros_like": lambda m: m.zeros_like(m.tensor(V3), requires_grad=True),
    "ones_like": lambda m: m.ones_like(m.tensor(V3), requires_grad=True),
    "full_like": lambda m: m.full_like(m.tensor(V3), 4.0, requires_grad=True),
    "randn_like": lambda m: m.randn_like(m.tensor(V3), requires_grad=True),
    "tensor": lambda m: m.tensor([1.0, 2.0, 3.0], requires_grad=True),
    "zeros_f64": lambda m: m.zeros(3, dtype=m.float64, requires_grad=True),
}


@pytest.mark.parametrize("name", sorted(FACTORY_RG))
def test_factory_requires_grad(name):
    res = {}
    for m in (torch, tc):
        t = FACTORY_RG[name](m)
        assert t.requires_grad, m.__name__
        w = m.tensor(np.array([1.0, 2.0, 3.0], np_dtype(t.dtype)))
        (t * w).sum().backward()
        res[m] = t.grad
    check_same(res[tc], res[torch])


def test_manual_seed_reproduces_every_draw():
    def draws():
        x = tc.zeros(5)
        return [to_np(tc.rand(4)), to_np(tc.randn(2, 2)), to_np(tc.randint(0, 100, (6,))),
                to_np(tc.randperm(8)), to_np(tc.rand_like(x)), to_np(tc.randn_like(x)),
                to_np(tc.zeros(6).normal_()), to_np(tc.zeros(6).uniform_(-1, 1))]

    tc.manual_seed(123)
    first = draws()
    tc.manual_seed(123)
    second = draws()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    tc.manual_seed(124)
    third = draws()
    assert not np.array_equal(first[0], third[0])


# ----- .data, .grad, np.asarray -------------------------------------------------------

def test_data_is_detached_tensor_sharing_memory():
    for m in (torch, tc):
        x = m.tensor(A.copy(), requires_grad=True)
        d = x.data
        assert isinstance(d, (torch.Tensor, tc.Tensor)), m.__name__
        assert isinstance(d, type(x)), m.__name__
        assert not d.requires_grad, m.__name__
        assert np_dtype(d.dtype) == np.float32 and tuple(d.shape) == (3, 4)
        d[0, 0] = 10.0  # allowed: .data does not require grad
        assert x[0, 0].item() == 10.0, m.__name__
        x.data.mul_(2.0)
        assert x[0, 0].item() == 20.0, m.__name__
        assert x.requires_grad, m.__name__
        y = (x.data * 3).sum()
        assert not y.requires_grad, m.__name__


def test_grad_is_tensor_of_leaf_dtype():
    for dt in (np.float32, np.float64):
        xs = {}
        for m in (torch, tc):
            x = m.tensor(A.astype(dt), requires_grad=True)
            (x * x).sum().backward()
            assert isinstance(x.grad, type(x)), m.__name__
            assert not x.grad.requires_grad, m.__name__
            xs[m] = x
        check_same(xs[tc].grad, xs[torch].grad)


def test_np_asarray():
    for arr in (A, A64, I2, MASK):
        t = tc.tensor(arr)
        out = np.asarray(t)
        assert isinstance(out, np.ndarray)
        assert out.dtype == arr.dtype
        np.testing.assert_array_equal(out, arr)
        np.testing.assert_array_equal(np.asarray(t, dtype=np.float64), arr.astype(np.float64))
        np.testing.assert_array_equal(np.asarray(torch.tensor(arr)), arr)
    assert isinstance(tc.tensor(A).numpy(), np.ndarray)


def test_numpy_function_on_tensor():
    np.testing.assert_allclose(np.mean(np.asarray(tc.tensor(A))), A.mean(), rtol=1e-6)


# ----- comparisons, argmax / max / indexing -------------------------------------------

COMPARE_CASES = [
    case("lt", lambda m, x, y: x < y, A, B),
    case("le", lambda m, x, y: x <= y, I2, J2),
    case("gt_scalar", lambda m, x: x > 0, A),
    case("ge_scalar", lambda m, x: x >= 0.1, A),
    case("eq_int", lambda m, x, y: x == y, I2, J2),
    case("ne_int", lambda m, x, y: x != y, I2, J2),
    case("eq_scalar", lambda m, x: x == 2, I2),
    case("eq_bool", lambda m, x: x == m.tensor(MASK), MASK),
    case("reflected", lambda m, x: 0.0 < x, A),
    case("broadcast", lambda m, x, v: x < v, A, V4),
    case("int_vs_float", lambda m, x, y: x == y, I2, I2.astype(np.float32)),
    case("eq_method", lambda m, x, y: x.eq(y), I2, J2),
    case("ne_method", lambda m, x: x.ne(0), I2),
    case("lt_method", lambda m, x, y: x.lt(y), A, B),
    case("le_method", lambda m, x, y: x.le(y), I2, J2),
    case("gt_method", lambda m, x: x.gt(0.0), A),
    case("ge_method", lambda m, x, y: x.ge(y), A, B),
    case("bool_sum", lambda m, x, y: (x == y).sum(), I2, J2),
    case("bool_sum_item", lambda m, x, y: (x == y).sum().item(), I2, J2),
    case("pred_eq_y_item", lambda m, x: (x.argmax(1) == m.tensor([3, 1, 3])).sum().item(), A),
    case("float_bool_mean", lambda m, x, y: (x == y).float().mean(), I2, J2),
    case("argmax_all", lambda m, x: x.argmax(), A),
    case("argmax_dim", lambda m, x: x.argmax(dim=1), A),
    case("argmax_pos", lambda m, x: x.argmax(1), A),
    case("argmax_keepdim", lambda m, x: x.argmax(1, keepdim=True), A),
    case("argmax_3d", lambda m, x: x.argmax(dim=2), C3),
    case("argmin_all", lambda m, x: x.argmin(), A),
    case("argmin_dim0", lambda m, x: x.argmin(0), A),
    case("argmin_neg_keepdim", lambda m, x: x.argmin(dim=-1, keepdim=True), A),
    case("argmax_int", lambda m, x: x.argmax(dim=0), NZI),
    case("max_dim", lambda m, x: x.max(1), A, grad=True),
    case("max_dim_kw_keepdim", lambda m, x: x.max(dim=0, keepdim=True), A, grad=True),
    case("min_dim", lambda m, x: x.min(1), A, grad=True),
    case("min_dim_neg", lambda m, x: x.min(dim=-1), C3, grad=True),
    case("max_values", lambda m, x: x.max(dim=1).values, A, grad=True),
    case("max_indices", lambda m, x: x.max(dim=1).indices, A),
    case("max_unpack", lambda m, x: x.max(1)[1], A),
    case("max_all", lambda m, x: x.max(), A, grad=True),
    case("min_all", lambda m, x: x.min(), A, grad=True),
    case("max_other", lambda m, x, y: x.max(y), A, B, grad=True),
    case("min_other", lambda m, x, y: x.min(y), A, B, grad=True),
    case("max_int", lambda m, x: x.max(), NZI),
    case("max_int_dim", lambda m, x: x.max(0), NZI),
    case("index_int_tensor", lambda m, x: x[m.tensor(IDX)], A, grad=True),
    case("index_int_tensor_cols", lambda m, x: x[:, m.tensor(IDX)], A, grad=True),
    case("index_bool_self", lambda m, x: x[x > 0], A, grad=True),
    case("index_bool_mask2d", lambda m, x: x[m.tensor(MASK)], A, grad=True),
    case("index_bool_rows", lambda m, x: x[m.tensor(ROWMASK)], A, grad=True),
    case("index_0d_int_tensor", lambda m, x: x[m.tensor(1)], A, grad=True),
    case("index_int_tensor_of_ints", lambda m, x: x[m.tensor([0, 0, 2])], I2),
    case("index_basic", lambda m, x: x[0], A, grad=True),
    case("index_slices", lambda m, x: x[1:, ::2], A, grad=True),
    case("index_ellipsis", lambda m, x: x[..., 1], C3, grad=True),
    case("index_none", lambda m, x: x[None], A),
    case("index_neg", lambda m, x: x[-1, -2], A, grad=True),
    case("index_arange_labels", lambda m, x: x[m.arange(3), m.tensor([3, 0, 1])], A, grad=True),
]


@pytest.mark.parametrize("fn,arrays,grad", COMPARE_CASES)
def test_compare_and_index(fn, arrays, grad):
    compare(fn, arrays, grad)


# ----- dims, keepdim and aliases; shape methods ---------------------------------------

SHAPE_CASES = [
    case("sum_all", lambda m, x: x.sum(), A, grad=True),
    case("sum_dim", lambda m, x: x.sum(dim=1), A, grad=True),
    case("sum_pos_keepdim", lambda m, x: x.sum(1, keepdim=True), A, grad=True),
    case("sum_axis_alias", lambda m, x: x.sum(axis=1), A, grad=True),
    case("sum_axis_keepdims_alias", lambda m, x: x.sum(axis=0, keepdims=True), A, grad=True),
    case("sum_dim_tuple", lambda m, x: x.sum(dim=(0, 2)), C3, grad=True),
    case("sum_int", lambda m, x: x.sum(), I2),
    case("sum_int_dim", lambda m, x: x.sum(0), I2),
    case("sum_bool", lambda m, x: x.sum(dim=1), MASK),
    case("mean_dim_tuple", lambda m, x: x.mean(dim=(0, 1)), C3, grad=True),
    case("mean_keepdim", lambda m, x: x.mean(dim=-1, keepdim=True), A, grad=True),
    case("mean_axis_alias", lambda m, x: x.mean(axis=0), A, grad=True),
    case("max_axis_alias", lambda m, x: x.max(axis=1), A),
    case("transpose_2d", lambda m, x: x.transpose(0, 1), A, grad=True),
    case("transpose_3d", lambda m, x: x.transpose(1, 2), C3, grad=True),
    case("transpose_neg", lambda m, x: x.transpose(-1, -2), C3, grad=True),
    case("transpose_same", lambda m, x: x.transpose(0, 0), A),
    case("permute_varargs", lambda m, x: x.permute(2, 0, 1), C3, grad=True),
    case("permute_tuple", lambda m, x: x.permute((2, 0, 1)), C3, grad=True),
    case("permute_neg", lambda m, x: x.permute(-1, 0, 1), C3),
    case("t", lambda m, x: x.t(), A, grad=True),
    case("t_1d", lambda m, x: x.t(), V4),
    case("T", lambda m, x: x.T, A, grad=True),
    case("mT", lambda m, x: x.mT, C3, grad=True),
    case("flatten_all", lambda m, x: x.flatten(), C3, grad=True),
    case("flatten_start", lambda m, x: x.flatten(1), C3, grad=True),
    case("flatten_start_end", lambda m, x: x.flatten(0, 1), C3, grad=True),
    case("flatten_kw", lambda m, x: x.flatten(start_dim=1, end_dim=-1), C3),
    case("flatten_neg", lambda m, x: x.flatten(-2), C3),
    case("flatten_1d", lambda m, x: x.flatten(), V4),
    case("size", lambda m, x: x.size(), C3),
    case("size_dim", lambda m, x: x.size(1), C3),
    case("size_neg", lambda m, x: x.size(-1), C3),
    case("size_kw", lambda m, x: x.size(dim=0), C3),
    case("shape", lambda m, x: x.shape, C3),
    case("numel", lambda m, x: x.numel(), C3),
    case("dim", lambda m, x: x.dim(), C3),
    case("ndim", lambda m, x: x.ndim, C3),
    case("len", lambda m, x: len(x), C3),
    case("view_flat", lambda m, x: x.view(-1), A, grad=True),
    case("view_ints", lambda m, x: x.view(4, 3), A, grad=True),
    case("view_tuple", lambda m, x: x.view((2, 6)), A),
    case("view_infer", lambda m, x: x.view(2, -1), A),
    case("view_as", lambda m, x, y: x.view_as(y), A, np.zeros((6, 2), np.float32), grad=True),
    case("reshape", lambda m, x: x.reshape(2, 6), A, grad=True),
    case("reshape_tuple", lambda m, x: x.reshape((-1, 3)), A),
    case("reshape_as", lambda m, x, y: x.reshape_as(y), A, np.zeros((2, 2, 3), np.float32),
         grad=True),
    case("unflatten", lambda m, x: x.unflatten(1, (2, 2)), A, grad=True),
    case("unflatten_infer", lambda m, x: x.unflatten(-1, (2, -1)), C3),
    case("squeeze_all", lambda m, x: x.squeeze(), S1, grad=True),
    case("squeeze_dim", lambda m, x: x.squeeze(1), S1, grad=True),
    case("squeeze_noop", lambda m, x: x.squeeze(0), S1),
    case("squeeze_kw", lambda m, x: x.squeeze(dim=-2), S1),
    case("unsqueeze0", lambda m, x: x.unsqueeze(0), A, grad=True),
    case("unsqueeze_neg", lambda m, x: x.unsqueeze(-1), A),
    case("unsqueeze_mid", lambda m, x: x.unsqueeze(dim=1), A),
    case("expand", lambda m, x: x.expand(3, 2, 4), S1, grad=True),
    case("expand_neg", lambda m, x: x.expand(-1, 5, -1), S1, grad=True),
    case("expand_tuple", lambda m, x: x.expand((3, 4)), ROW),
    case("expand_new_dim", lambda m, x: x.expand(2, 3, 4), ROW, grad=True),
    case("expand_as", lambda m, x, y: x.expand_as(y), ROW, A, grad=True),
    case("repeat", lambda m, x: x.repeat(2, 1), A, grad=True),
    case("repeat_new_dims", lambda m, x: x.repeat(2, 1, 3), A, grad=True),
    case("repeat_tuple", lambda m, x: x.repeat((1, 2)), A),
    case("chunk", lambda m, x: x.chunk(2, dim=1), A, grad=True),
    case("chunk_uneven", lambda m, x: x.chunk(2), FIVE, grad=True),
    case("chunk_more_than_size", lambda m, x: x.chunk(4, 0), A),
    case("split_int", lambda m, x: x.split(2), FIVE, grad=True),
    case("split_int_dim", lambda m, x: x.split(3, dim=1), A, grad=True),
    case("split_list", lambda m, x: x.split([1, 3], dim=1), A, grad=True),
    case("split_list_pos", lambda m, x: x.split([2, 1, 2], 0), FIVE),
    case("gather_dim1", lambda m, x: x.gather(1, m.tensor(GIDX1)), A, grad=True),
    case("gather_dim0", lambda m, x: x.gather(0, m.tensor(GIDX0)), A, grad=True),
    case("gather_kw", lambda m, x: x.gather(dim=1, index=m.tensor(GIDX1)), A),
    case("masked_fill", lambda m, x: x.masked_fill(m.tensor(MASK), 0.0), A, grad=True),
    case("masked_fill_self", lambda m, x: x.masked_fill(x > 0, -1.0), A, grad=True),
    case("masked_fill_bcast", lambda m, x: x.masked_fill(m.tensor([True, False, False, True]),
                                                         -5.0), A, grad=True),
    case("masked_fill_int", lambda m, x: x.masked_fill(x < 0, 0), I2),
    case("masked_fill_ninf", lambda m, x: x.masked_fill(m.tensor(MASK), float("-inf")), A),
    case("clone", lambda m, x: x.clone(), A, grad=True),
    case("contiguous", lambda m, x: x.t().contiguous(), A, grad=True),
    case("tolist_float", lambda m, x: x.tolist(), np.array([[0.5, 1.25], [2.0, -3.0]], np.float32)),
    case("tolist_int", lambda m, x: x.tolist(), I2),
    case("tolist_bool", lambda m, x: x.tolist(), MASK),
    case("tolist_0d", lambda m, x: x.tolist(), SCAL),
    case("tolist_0d_int", lambda m, x: x.tolist(), SCALI),
    case("type_as_int", lambda m, x, y: x.type_as(y), A, I2),
    case("type_as_f64", lambda m, x, y: x.type_as(y), A, A64, grad=True),
    case("type_as_float", lambda m, x, y: x.type_as(y), I2, A),
]


@pytest.mark.parametrize("fn,arrays,grad", SHAPE_CASES)
def test_shape_methods(fn, arrays, grad):
    compare(fn, arrays, grad)


def test_size_is_a_tuple():
    x = tc.tensor(C3)
    assert isinstance(x.size(), tuple) and x.size() == (2, 3, 4)
    assert isinstance(x.size(1), int) and x.size(1) == 3
    assert tuple(x.shape) == (2, 3, 4) and x.shape == (2, 3, 4)
    assert x.shape[0] == 2


def test_view_shares_memory():
    for m in (torch, tc):
        x = m.tensor(A.copy())
        v = x.view(-1)
        v[0] = 100.0
        assert x[0, 0].item() == 100.0, m.__name__


# ----- reductions --------------------------------------------------------------------

REDUCTION_CASES = [
    case("std", lambda m, x: x.std(), A, grad=True),
    case("std_dim", lambda m, x: x.std(dim=1), A, grad=True),
    case("std_keepdim", lambda m, x: x.std(1, keepdim=True), A, grad=True),
    case("std_unbiased_false", lambda m, x: x.std(dim=0, unbiased=False), A, grad=True),
    case("std_f64", lambda m, x: x.std(0), A64, grad=True),
    case("var_method", lambda m, x: x.var(dim=1), A, grad=True),
    case("prod", lambda m, x: x.prod(), A, grad=True),
    case("prod_dim", lambda m, x: x.prod(dim=1), A, grad=True),
    case("prod_keepdim", lambda m, x: x.prod(0, keepdim=True), A, grad=True),
    case("prod_int", lambda m, x: x.prod(1), I2),
    case("logsumexp_dim", lambda m, x: x.logsumexp(dim=1), A, grad=True),
    case("logsumexp_keepdim", lambda m, x: x.logsumexp(1, keepdim=True), A, grad=True),
    case("logsumexp_tuple", lambda m, x: x.logsumexp(dim=(0, 1)), A, grad=True),
    case("logsumexp_big", lambda m, x: x.logsumexp(dim=0), A * 1000.0, grad=True),
    case("cumsum0", lambda m, x: x.cumsum(dim=0), A, grad=True),
    case("cumsum1", lambda m, x: x.cumsum(1), A, grad=True),
    case("cumsum_int", lambda m, x: x.cumsum(0), I2),
    case("cumsum_bool", lambda m, x: x.cumsum(0), MASK),
    case("amax", lambda m, x: x.amax(dim=1), A, grad=True),
    case("amax_tuple", lambda m, x: x.amax(dim=(0, 1)), C3, grad=True),
    case("amax_keepdim", lambda m, x: x.amax(0, keepdim=True), A, grad=True),
    case("amax_all", lambda m, x: x.amax(), A, grad=True),
    case("amin", lambda m, x: x.amin(0), A, grad=True),
    case("amin_keepdim", lambda m, x: x.amin(dim=-1, keepdim=True), A, grad=True),
    case("amin_int", lambda m, x: x.amin(1), I2),
    case("all", lambda m, x: x.all(), MASK),
    case("all_dim", lambda m, x: x.all(dim=1), MASK),
    case("all_keepdim", lambda m, x: x.all(1, keepdim=True), MASK),
    case("all_true", lambda m, x: (x > -100).all(), A),
    case("any", lambda m, x: x.any(), MASK),
    case("any_dim", lambda m, x: x.any(dim=0), MASK),
    case("any_float", lambda m, x: x.any(), A),
    case("all_int", lambda m, x: x.all(dim=1), I2),
    case("mean_f64", lambda m, x: x.mean(), A64, grad=True),
    case("sum_f64", lambda m, x: x.sum(0), A64, grad=True),
]


@pytest.mark.parametrize("fn,arrays,grad", REDUCTION_CASES)
def test_reductions(fn, arrays, grad):
    compare(fn, arrays, grad)


# ----- conversions --------------------------------------------------------------------

CONVERSION_CASES = [
    case("float_0d", lambda m, x: float(x), SCAL),
    case("float_1elem", lambda m, x: float(x), np.array([2.5], np.float32)),
    case("float_sum", lambda m, x: float(x.sum()), A),
    case("float_of_int", lambda m, x: float(x), SCALI),
    case("int_0d", lambda m, x: int(x), np.array(3.7, np.float32)),
    case("int_neg", lambda m, x: int(x), np.array(-3.7, np.float32)),
    case("int_of_int", lambda m, x: int(x), SCALI),
    case("bool_zero", lambda m, x: bool(x), np.array(0.0, np.float32)),
    case("bool_one_elem", lambda m, x: bool(x), np.array([1], np.int64)),
    case("bool_mask", lambda m, x: bool(x), np.array(True)),
    case("format_3f", lambda m, x: format(x, ".3f"), np.array(3.14159, np.float32)),
    case("fstring", lambda m, x: f"loss {x.sum():.2f}", A),
    case("format_method", lambda m, x: "{:.4f}".format(x), SCAL64),
    case("format_int", lambda m, x: f"{x:d}", SCALI),
    case("index_op", lambda m, x: operator.index(x), SCALI),
    case("list_index", lambda m, x: [10, 20, 30][x], np.array(1, np.int64)),
    case("range_index", lambda m, x: range(5)[x], SCALI),
    case("slice_bound", lambda m, x: list(range(10))[:x], SCALI),
    case("item_float", lambda m, x: x.item(), SCAL),
    case("item_int", lambda m, x: x.item(), SCALI),
    case("item_bool", lambda m, x: x.item(), np.array(True)),
    case("item_1elem", lambda m, x: x.sum().item(), I2),
    case("float_method", lambda m, x: x.float(), I2),
    case("float_method_f64", lambda m, x: x.float(), A64, grad=True),
    case("double", lambda m, x: x.double(), A, grad=True),
    case("long", lambda m, x: x.long(), A * 3),
    case("long_of_bool", lambda m, x: x.long(), MASK),
    case("int_method", lambda m, x: x.int(), A * 3),
    case("bool_method", lambda m, x: x.bool(), I2),
    case("bool_of_float", lambda m, x: x.bool(), np.array([0.0, -0.5, 2.0], np.float32)),
    case("to_dtype", lambda m, x: x.to(m.float64), A, grad=True),
    case("to_dtype_kw", lambda m, x: x.to(dtype=m.int32), I2),
    case("to_device_dtype", lambda m, x: x.to("cpu", m.float64), A, grad=True),
    case("to_device_obj_dtype", lambda m, x: x.to(m.device("cpu"), m.float64), I2),
    case("to_device", lambda m, x: x.to("cpu"), A, grad=True),
    case("to_other", lambda m, x, y: x.to(y), A, I2),
    case("to_other_f64", lambda m, x, y: x.to(y), A, A64, grad=True),
    case("to_same", lambda m, x: x.to(m.float32), A, grad=True),
    case("long_to_float_sum", lambda m, x: x.long().float().sum(), A * 3),
]


@pytest.mark.parametrize("fn,arrays,grad", CONVERSION_CASES)
def test_conversions(fn, arrays, grad):
    compare(fn, arrays, grad)


def test_index_rejects_float_tensor():
    for m in (torch, tc):
        with pytest.raises(TypeError):
            operator.index(m.tensor(1.5))


def test_to_returns_self_when_nothing_changes():
    for m in (torch, tc):
        x = m.tensor(A)
        assert x.to(m.float32) is x, m.__name__
        assert x.float() is x, m.__name__
        assert x.double() is not x, m.__name__


# ----- type promotion ------------------------------------------------------------------

PROMOTION_CASES = [
    case("f32_plus_f64", lambda m, x, y: x + y, A, A64, grad=True),
    case("f64_times_f32", lambda m, x, y: x * y, A64, A, grad=True),
    case("f32_div_f64", lambda m, x, y: x / y, A, POS.astype(np.float64), grad=True),
    case("f32_minus_f64_bcast", lambda m, x, y: x - y, A, V4.astype(np.float64), grad=True),
    case("int_plus_float_number", lambda m, x: x + 1.5, I2),
    case("int_times_float_number", lambda m, x: x * 2.5, I2),
    case("float_number_minus_int", lambda m, x: 1.0 - x, I2),
    case("int_times_int_number", lambda m, x: x * 2, I2),
    case("int_number_minus_int", lambda m, x: 1 - x, I2),
    case("int_div_int", lambda m, x, y: x / y, I2, NZI),
    case("int_div_int_number", lambda m, x: x / 2, I2),
    case("int_pow", lambda m, x: x ** 2, I2),
    case("neg_int", lambda m, x: -x, I2),
    case("bool_plus_int", lambda m, x, y: x + y, MASK, I2),
    case("bool_times_float_number", lambda m, x: x * 2.5, MASK),
    case("bool_times_int_number", lambda m, x: x * 3, MASK),
    case("bool_times_float", lambda m, x, y: x * y, MASK, A, grad=True),
    case("bool_and_bool", lambda m, x, y: x * y, MASK, ROWMASK[:, None]),
    case("int32_plus_int64", lambda m, x, y: x + y, I32, I2),
    case("int32_plus_int_number", lambda m, x: x + 1, I32),
    case("int32_times_float_number", lambda m, x: x * 0.5, I32),
    case("int32_plus_f64", lambda m, x, y: x + y, I32, A64),
    case("f32_times_int_number", lambda m, x: x * 2, A, grad=True),
    case("f32_plus_int_tensor", lambda m, x, y: x + y, A, I2, grad=True),
    case("int_tensor_minus_f32", lambda m, x, y: x - y, I2, A, grad=True),
    case("f32_plus_0d_f64", lambda m, x, y: x + y, A, SCAL64, grad=True),
    case("0d_f64_plus_f32", lambda m, x, y: y + x, A, SCAL64, grad=True),
    case("0d_f64_times_f32_1d", lambda m, s, v: s * v, SCAL64, V4, grad=True),
    case("f32_1d_plus_0d_int", lambda m, v, s: v + s, V4, SCALI, grad=True),
    case("int_1d_plus_0d_f64", lambda m, v, s: v + s, I2, SCAL64),
    case("int_1d_plus_0d_f32", lambda m, v, s: v + s, I2, SCAL),
    case("f64_plus_0d_f32", lambda m, x, s: x + s, A64, SCAL, grad=True),
    case("f32_pow_number", lambda m, x: x ** 2, A, grad=True),
    case("f32_pow_half", lambda m, x: x ** 0.5, POS, grad=True),
    case("number_pow_f32", lambda m, x: 2 ** x, A, grad=True),
    case("rdiv", lambda m, x: 1.0 / x, POS, grad=True),
    case("rsub_f32", lambda m, x: 3 - x, A, grad=True),
    case("where_mixed", lambda m, c, x, y: m.where(c, x, y), MASK, A, A64, grad=True),
    case("where_scalar", lambda m, c, x: m.where(c, x, 0.0), MASK, A, grad=True),
    case("maximum_mixed", lambda m, x, y: m.maximum(x, y), A, B64, grad=True),
    case("cat_mixed", lambda m, x, y: m.cat([x, y]), A, A64, grad=True),
    case("matmul_int_int", lambda m, x, y: x @ y, I2, I2.T.copy()),
    case("sum_of_int32", lambda m, x: x.sum(), I32),
    case("mean_of_f64", lambda m, x: x.mean(dim=0), A64),
]


@pytest.mark.parametrize("fn,arrays,grad", PROMOTION_CASES)
def test_type_promotion(fn, arrays, grad):
    compare(fn, arrays, grad)


def _names_both_dtypes(msg):
    m32 = "float32" in msg or " float" in msg or "Float" in msg
    m64 = "float64" in msg or "double" in msg or "Double" in msg
    return m32 and m64


MIXED_MATMUL = [
    ("matmul_op", lambda m, x, y: x @ y),
    ("matmul_op_rev", lambda m, x, y: y.t() @ x.t()),
    ("matmul_fn", lambda m, x, y: m.matmul(x, y)),
    ("mm", lambda m, x, y: m.mm(x, y)),
    ("bmm", lambda m, x, y: m.bmm(x[None], y[None])),
    ("linear", lambda m, x, y: F_of(m).linear(x, y.t())),
    ("linear_f64_weight", lambda m, x, y: F_of(m).linear(y.t(), x)),
    ("conv2d", lambda m, x, y: F_of(m).conv2d(y.reshape(1, 1, 4, 5), x.reshape(3, 1, 2, 2))),
    ("conv2d_f64_weight", lambda m, x, y: F_of(m).conv2d(x.reshape(1, 3, 2, 2),
                                                         y.reshape(-1)[:12].reshape(1, 3, 2, 2))),
]


@pytest.mark.parametrize("fn", [p[1] for p in MIXED_MATMUL], ids=[p[0] for p in MIXED_MATMUL])
def test_mixed_float_dtypes_in_matmul_linear_conv_raise(fn):
    x32 = A  # (3, 4) float32
    y64 = np.random.default_rng(5).standard_normal((4, 5))  # float64
    with pytest.raises(RuntimeError):  # PyTorch refuses (RuntimeError there)
        fn(torch, torch.tensor(x32), torch.tensor(y64))
    with pytest.raises(TypeError) as info:  # the contract: TypeError naming both dtypes
        fn(tc, tc.tensor(x32), tc.tensor(y64))
    assert _names_both_dtypes(str(info.value)), str(info.value)


@pytest.mark.parametrize("kind", ["linear", "conv2d"])
def test_float64_input_to_float32_module_raises(kind):
    # formerly silent difference: the float64 batch silently ran in float64
    for m in (torch, tc):
        if kind == "linear":
            layer = m.nn.Linear(4, 2)
            x = m.tensor(np.random.default_rng(1).standard_normal((3, 4)))
        else:
            layer = m.nn.Conv2d(2, 3, 3)
            x = m.tensor(np.random.default_rng(1).standard_normal((1, 2, 5, 5)))
        assert np_dtype(x.dtype) == np.float64
        if m is torch:
            with pytest.raises(RuntimeError):
                layer(x)
        else:
            with pytest.raises(TypeError) as info:
                layer(x)
            assert _names_both_dtypes(str(info.value)), str(info.value)
        layer(x.float())  # float32 works in both


def test_float32_module_with_float_input_matches_dtype():
    layer = tc.nn.Linear(4, 2)
    out = layer(tc.tensor(A))
    assert np_dtype(out.dtype) == np.float32 and tuple(out.shape) == (3, 2)


# ----- broadcast + promotion, property based ------------------------------------------

DTYPES = [np.float32, np.float64, np.int64, np.int32, np.bool_]
BINOPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "lt": lambda a, b: a < b,
    "eq": lambda a, b: a == b,
    "maximum": None,
}


def _rand_array(rng, shape, dtype):
    if dtype == np.bool_:
        return rng.standard_normal(shape) > 0
    if np.dtype(dtype).kind == "i":
        v = rng.integers(1, 6, size=shape) * rng.choice([-1, 1], size=shape)
        return v.astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       da=st.sampled_from(DTYPES), db=st.sampled_from(DTYPES),
       op=st.sampled_from(sorted(BINOPS)), seed=st.integers(0, 2 ** 16))
def test_binary_broadcast_promotion(shapes, da, db, op, seed):
    sa, sb = shapes.input_shapes
    if op == "sub" and np.bool_ in (da, db):
        return  # torch refuses `-` with bool tensors
    rng = np.random.default_rng(seed)
    a, b = _rand_array(rng, sa, da), _rand_array(rng, sb, db)
    if op == "maximum":
        def fn(m, x, y):
            return m.maximum(x, y)
        if np.bool_ in (da, db) and da != db:
            return
    else:
        f = BINOPS[op]

        def fn(m, x, y):
            return f(x, y)
    differentiable = op in ("add", "sub", "mul", "div", "maximum")
    compare(fn, (a, b), grad=differentiable and a.dtype.kind == "f" and b.dtype.kind == "f")


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), seed=st.integers(0, 2 ** 16),
       dtype=st.sampled_from([np.int64, np.int32, np.bool_, np.float64]),
       scalar=st.sampled_from([2, 0.5, True, -3]),
       op=st.sampled_from(["add", "mul", "div", "radd", "rmul"]))
def test_tensor_scalar_promotion(shape, seed, dtype, scalar, op):
    rng = np.random.default_rng(seed)
    a = _rand_array(rng, shape, dtype)
    ops = {"add": lambda x: x + scalar, "mul": lambda x: x * scalar,
           "div": lambda x: x / (scalar if scalar not in (0, False) else 1),
           "radd": lambda x: scalar + x, "rmul": lambda x: scalar * x}
    compare(lambda m, x: ops[op](x), (a,))


# ----- dim ops, property based --------------------------------------------------------

@st.composite
def dim_inputs(draw, min_dims=1):
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=4, min_side=1, max_side=4))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    keepdim = draw(st.booleans())
    seed = draw(st.integers(0, 2 ** 16))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return shape, dim, keepdim, seed, dtype


def _gather_index(m, x, d):
    shape = tuple(x.shape)
    idx = np.random.default_rng(7).integers(0, shape[d], size=shape)
    return m.tensor(idx.astype(np.int64))


DIM_OPS = {
    "sum": (lambda m, x, d, k: x.sum(dim=d, keepdim=k), True),
    "sum_alias": (lambda m, x, d, k: x.sum(axis=d, keepdims=k), True),
    "mean": (lambda m, x, d, k: x.mean(d, keepdim=k), True),
    "max": (lambda m, x, d, k: x.max(dim=d, keepdim=k), True),
    "min": (lambda m, x, d, k: x.min(d, k), True),
    "argmax": (lambda m, x, d, k: x.argmax(dim=d, keepdim=k), False),
    "argmin": (lambda m, x, d, k: x.argmin(d, keepdim=k), False),
    "amax": (lambda m, x, d, k: x.amax(dim=d, keepdim=k), True),
    "amin": (lambda m, x, d, k: x.amin(d, keepdim=k), True),
    "prod": (lambda m, x, d, k: x.prod(dim=d, keepdim=k), True),
    "logsumexp": (lambda m, x, d, k: x.logsumexp(dim=d, keepdim=k), True),
    "std": (lambda m, x, d, k: x.std(dim=d, keepdim=k), True),
    "var": (lambda m, x, d, k: m.var(x, dim=d, keepdim=k), True),
    "cumsum": (lambda m, x, d, k: x.cumsum(dim=d), True),
    "softmax": (lambda m, x, d, k: m.softmax(x, dim=d), True),
    "log_softmax": (lambda m, x, d, k: m.log_softmax(x, d), True),
    "all": (lambda m, x, d, k: (x > 0).all(dim=d, keepdim=k), False),
    "any": (lambda m, x, d, k: (x > 0).any(d, keepdim=k), False),
    "unsqueeze": (lambda m, x, d, k: x.unsqueeze(d), True),
    "squeeze": (lambda m, x, d, k: x.squeeze(d), True),
    "flatten_from": (lambda m, x, d, k: x.flatten(d), True),
    "transpose_last": (lambda m, x, d, k: x.transpose(d, -1), True),
    "chunk": (lambda m, x, d, k: x.chunk(2, dim=d), True),
    "split": (lambda m, x, d, k: x.split(1, dim=d), True),
    "cat": (lambda m, x, d, k: m.cat([x, x * 2], dim=d), True),
    "stack": (lambda m, x, d, k: m.stack([x, x * 2], dim=d), True),
    "gather": (lambda m, x, d, k: x.gather(d, _gather_index(m, x, d)), True),
    "max_unpack": (lambda m, x, d, k: x.max(d)[1], False),
}


@pytest.mark.parametrize("op", sorted(DIM_OPS))
@FEW
@given(inp=dim_inputs())
def test_dim_ops_property(op, inp):
    shape, dim, keepdim, seed, dtype = inp
    fn, differentiable = DIM_OPS[op]
    if op in ("std", "var") and shape[dim] < 2:
        return  # n - 1 = 0: NaN with a warning in both; not interesting
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compare(lambda m, t: fn(m, t, dim, keepdim), (x,), grad=differentiable)


@st.composite
def shape_op_inputs(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    n = len(shape)
    d0 = draw(st.integers(-n, n - 1))
    d1 = draw(st.integers(-n, n - 1))
    perm = draw(st.permutations(range(n)))
    start = draw(st.integers(0, n - 1))
    end = draw(st.integers(start, n - 1))
    seed = draw(st.integers(0, 2 ** 16))
    return shape, d0, d1, tuple(perm), start, end, seed


@SETTINGS
@given(inp=shape_op_inputs())
def test_shape_ops_property(inp):
    shape, d0, d1, perm, start, end, seed = inp
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    n = len(shape)
    compare(lambda m, t: t.transpose(d0, d1), (x,), grad=True)
    compare(lambda m, t: m.transpose(t, d0, d1), (x,))
    compare(lambda m, t: t.permute(*perm), (x,), grad=True)
    compare(lambda m, t: m.permute(t, perm), (x,))
    compare(lambda m, t: t.flatten(start, end), (x,), grad=True)
    compare(lambda m, t: t.flatten(start - n, end - n), (x,))
    compare(lambda m, t: m.flatten(t, start, end), (x,))
    compare(lambda m, t: t.flatten(), (x,))
    compare(lambda m, t: t.view(-1), (x,))
    compare(lambda m, t: t.reshape(tuple(reversed(shape))), (x,), grad=True)
    compare(lambda m, t: t.squeeze(), (x,), grad=True)
    compare(lambda m, t: (t.size(), t.numel(), t.dim(), len(t)), (x,))


# ----- the five formerly silent differences --------------------------------------------

def test_transpose_2d_really_transposes():
    both(lambda m: m.tensor(A).transpose(0, 1))
    t = tc.tensor(A).transpose(0, 1)
    assert tuple(t.shape) == (4, 3)
    np.testing.assert_array_equal(to_np(t), A.T)


@SETTINGS
@given(n=st.integers(1, 8), seed=st.integers(0, 2 ** 16))
def test_flatten_pred_eq_labels_has_shape_n(n, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, 1)).astype(np.float32)
    labels = rng.integers(0, 2, size=n).astype(np.int64)

    def fn(m, x, y):
        pred = (x > 0).long()
        eq = pred.flatten() == y
        return eq, eq.sum().item(), m.flatten(x).shape[0]
    compare(fn, (logits, labels))
    eq = (tc.tensor(logits) > 0).long().flatten() == tc.tensor(labels)
    assert tuple(eq.shape) == (n,)


@SETTINGS
@given(n=st.integers(1, 9), c=st.integers(1, 6), seed=st.integers(0, 2 ** 16))
def test_outputs_max1_unpack_any_batch(n, c, seed):
    rng = np.random.default_rng(seed)
    outputs = rng.standard_normal((n, c)).astype(np.float32)
    labels = rng.integers(0, c, size=n).astype(np.int64)

    def fn(m, out, y):
        _, predicted = out.max(1)
        correct = (predicted == y).sum().item()
        values, idx = m.max(out, 1)
        return predicted, correct, values, idx, out.max(dim=1).indices, out.argmax(1)
    compare(fn, (outputs, labels))


def test_labels_stay_int64():
    labels = tc.tensor([1, 2])
    assert np_dtype(labels.dtype) == np.int64
    check_same(labels, torch.tensor([1, 2]))
    logits = np.random.default_rng(3).standard_normal((2, 3)).astype(np.float32)
    compare(lambda m, x: F_of(m).cross_entropy(x, m.tensor([1, 2])), (logits,), grad=True)
    compare(lambda m, x: (x.argmax(1) == m.tensor([1, 2])).sum().item(), (logits,))


# ----- in-place ops -------------------------------------------------------------------

INPLACE = {
    "add_": lambda m, t: t.add_(1.5),
    "add_tensor": lambda m, t: t.add_(m.tensor(V4)),
    "sub_": lambda m, t: t.sub_(m.tensor(B)),
    "mul_": lambda m, t: t.mul_(2.0),
    "mul_tensor": lambda m, t: t.mul_(m.tensor(B)),
    "div_": lambda m, t: t.div_(4.0),
    "zero_": lambda m, t: t.zero_(),
    "fill_": lambda m, t: t.fill_(2.5),
    "clamp_": lambda m, t: t.clamp_(-0.5, 0.5),
    "clamp_min": lambda m, t: t.clamp_(min=0.0),
    "copy_": lambda m, t: t.copy_(m.tensor(B)),
    "copy_cast": lambda m, t: t.copy_(m.tensor(B64)),
    "copy_bcast": lambda m, t: t.copy_(m.tensor(V4)),
    "setitem_row": lambda m, t: t.__setitem__(0, 5.0),
    "setitem_col_tensor": lambda m, t: t.__setitem__((slice(None), 1), m.tensor(V3)),
    "setitem_mask": lambda m, t: t.__setitem__(m.tensor(MASK), 0.0),
    "setitem_self_mask": lambda m, t: t.__setitem__(t < 0, 0.0),
    "setitem_index_tensor": lambda m, t: t.__setitem__(m.tensor(IDX), -1.0),
    "setitem_elem": lambda m, t: t.__setitem__((1, 2), 7.0),
}
RANDOM_INPLACE = {
    "normal_": lambda m, t: t.normal_(),
    "normal_args": lambda m, t: t.normal_(2.0, 0.5),
    "uniform_": lambda m, t: t.uniform_(),
    "uniform_args": lambda m, t: t.uniform_(-2.0, -1.0),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_on_tensor_without_grad(name):
    def fn(m, x):
        ret = INPLACE[name](m, x)
        if name.startswith("setitem"):
            return x
        assert ret is x, f"{m.__name__}: {name} does not return self"
        return x
    compare(fn, (A,))


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_on_leaf_under_no_grad(name):
    res = {}
    for m in (torch, tc):
        x = m.tensor(A.copy(), requires_grad=True)
        with m.no_grad():
            INPLACE[name](m, x)
        assert x.requires_grad, f"{m.__name__}: {name} under no_grad dropped requires_grad"
        (x * 3).sum().backward()  # still a usable leaf
        res[m] = x
    check_same(res[tc], res[torch])
    check_same(res[tc].grad, res[torch].grad)


@pytest.mark.parametrize("name", sorted(INPLACE) + sorted(RANDOM_INPLACE))
def test_inplace_on_leaf_requiring_grad_raises(name):
    op = INPLACE.get(name) or RANDOM_INPLACE[name]
    for m in (torch, tc):
        x = m.tensor(A.copy(), requires_grad=True)
        with pytest.raises(RuntimeError):
            op(m, x)


@pytest.mark.parametrize("name", sorted(RANDOM_INPLACE))
def test_random_inplace(name):
    for m in (torch, tc):
        m.manual_seed(0)
        x = m.zeros(4000)
        ret = RANDOM_INPLACE[name](m, x)
        assert ret is x, m.__name__
        a = to_np(x)
        assert a.dtype == np.float32 and a.shape == (4000,)
        if name == "normal_":
            assert abs(a.mean()) < 0.1 and abs(a.std() - 1) < 0.1
        elif name == "normal_args":
            assert abs(a.mean() - 2) < 0.05 and abs(a.std() - 0.5) < 0.05
        elif name == "uniform_":
            assert a.min() >= 0 and a.max() < 1 and abs(a.mean() - 0.5) < 0.05
        else:
            assert a.min() >= -2 and a.max() < -1 and abs(a.mean() + 1.5) < 0.05
        x64 = m.zeros(10, dtype=m.float64)
        RANDOM_INPLACE[name](m, x64)
        assert np_dtype(x64.dtype) == np.float64
        y = m.zeros(5, requires_grad=True)
        with m.no_grad():
            RANDOM_INPLACE[name](m, y)
        assert y.requires_grad and len(np.unique(to_np(y))) > 1


SAVED_MODIFICATIONS = {
    # (build graph, modify something it saved) -> loss
    "square_then_add_": lambda m, x: _saved(m, x, lambda h: h * h, lambda h: h.add_(1.0)),
    "constant_operand_add_": lambda m, x: _saved_const(m, x, lambda w: w.add_(1.0)),
    "constant_operand_setitem": lambda m, x: _saved_const(m, x, lambda w: w.__setitem__(0, 3.0)),
    "constant_operand_copy_": lambda m, x: _saved_const(m, x, lambda w: w.copy_(m.ones(3, 4))),
    "constant_operand_zero_": lambda m, x: _saved_const(m, x, lambda w: w.zero_()),
}


def _saved(m, x, f, modify):
    h = x * 2
    z = f(h)
    modify(h)
    z.sum().backward()


def _saved_out(m, x, f, modify):
    h = x * 2
    z = f(h)
    modify(z)
    z.sum().backward()


def _saved_const(m, x, modify):
    w = m.tensor(B.copy())  # no grad, but saved by the product for x's gradient
    z = (x * w).sum()
    modify(w)
    z.backward()


@pytest.mark.parametrize("name", sorted(SAVED_MODIFICATIONS))
def test_modifying_saved_tensor_raises(name):
    # PyTorch raises at backward; raising already at the in-place op is also fine.
    for m in (torch, tc):
        x = m.tensor(A.copy(), requires_grad=True)
        with pytest.raises(RuntimeError):
            SAVED_MODIFICATIONS[name](m, x)


def test_modifying_an_op_output_in_place_is_recorded_with_the_saved_value_intact():
    # PyTorch raises here (exp and sigmoid saved their output). tinygrad_conv records the
    # in-place op as a new node and keeps the old array for the op that saved it, so the
    # gradient is the one of the out-of-place program (README, "Coming from PyTorch").
    def in_place(x):
        h = x * 2
        z = h.exp()
        z.mul_(2.0)
        w = h.sigmoid()
        w[0] = 0.0
        return z.sum() + (w * w).sum()

    def out_of_place(x):
        h = x * 2
        w = h.sigmoid()
        w0 = torch.cat([torch.zeros_like(w[:1]), w[1:]])
        return (h.exp() * 2.0).sum() + (w0 * w0).sum()

    x = tc.tensor(A.copy(), requires_grad=True)
    in_place(x).backward()
    xt = torch.tensor(A.copy(), requires_grad=True)
    out_of_place(xt).backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-5)


def test_out_plus_equals_identity_keeps_working():
    def fn(m, x, w):
        identity = x
        out = x * 2
        out = out @ w
        out += identity  # residual block
        out = out.relu()
        return out
    compare(fn, (A, np.eye(4, dtype=np.float32) * 0.5), grad=True)


def test_iadd_on_plain_tensors_matches():
    def fn(m, x, y):
        x += y
        x *= 2
        x -= 1.0
        x /= 4
        return x
    compare(fn, (A, B))


def test_manual_sgd_loop_matches():
    rng = np.random.default_rng(11)
    X = rng.standard_normal((16, 3)).astype(np.float32)
    Y = (X @ np.array([1.0, -2.0, 0.5], np.float32) + 0.3).astype(np.float32)

    def train(m, use_data):
        w = m.zeros(3, requires_grad=True)
        b = m.zeros(1, requires_grad=True)
        x, y = m.tensor(X), m.tensor(Y)
        for _ in range(5):
            loss = ((x @ w + b - y) ** 2).mean()
            loss.backward()
            if use_data:
                w.data.add_(-0.1 * w.grad)
                b.data.sub_(0.1 * b.grad.data)
                w.grad.zero_()
                b.grad = None
            else:
                with m.no_grad():
                    w -= 0.1 * w.grad
                    b -= 0.1 * b.grad
                w.grad.zero_()
                b.grad.zero_()
        assert w.requires_grad and b.requires_grad
        return w, b, loss
    both(lambda m: train(m, False))
    both(lambda m: train(m, True))


# ----- top-level functions ------------------------------------------------------------

TOP_CASES = [
    case("flatten", lambda m, x: m.flatten(x), C3, grad=True),
    case("flatten_start", lambda m, x: m.flatten(x, 1), C3, grad=True),
    case("flatten_kw", lambda m, x: m.flatten(x, start_dim=0, end_dim=1), C3),
    case("reshape", lambda m, x: m.reshape(x, (4, -1)), A, grad=True),
    case("transpose", lambda m, x: m.transpose(x, 0, 1), A, grad=True),
    case("permute", lambda m, x: m.permute(x, (1, 0, 2)), C3, grad=True),
    case("squeeze", lambda m, x: m.squeeze(x), S1, grad=True),
    case("squeeze_dim", lambda m, x: m.squeeze(x, 1), S1),
    case("unsqueeze", lambda m, x: m.unsqueeze(x, 0), A, grad=True),
    case("unsqueeze_kw", lambda m, x: m.unsqueeze(x, dim=-1), A),
    case("cat", lambda m, x, y: m.cat([x, y]), A, B, grad=True),
    case("cat_dim", lambda m, x, y: m.cat((x, y), dim=1), A, B, grad=True),
    case("cat_int", lambda m, x, y: m.cat([x, y], 0), I2, J2),
    case("concat", lambda m, x, y: m.concat([x, y], dim=-1), A, B, grad=True),
    case("stack", lambda m, x, y: m.stack([x, y]), A, B, grad=True),
    case("stack_dim", lambda m, x, y: m.stack((x, y), dim=2), A, B, grad=True),
    case("split", lambda m, x: m.split(x, 2), FIVE, grad=True),
    case("split_list", lambda m, x: m.split(x, [1, 3], dim=1), A, grad=True),
    case("chunk", lambda m, x: m.chunk(x, 2, 1), A, grad=True),
    case("chunk_kw", lambda m, x: m.chunk(x, chunks=3, dim=0), FIVE),
    case("where", lambda m, c, x, y: m.where(c, x, y), MASK, A, B, grad=True),
    case("where_cond_expr", lambda m, x: m.where(x > 0, x, x * 0.1), A, grad=True),
    case("where_int", lambda m, c, x, y: m.where(c, x, y), MASK, I2, J2),
    case("maximum", lambda m, x, y: m.maximum(x, y), A, B, grad=True),
    case("minimum", lambda m, x, y: m.minimum(x, y), A, B, grad=True),
    case("maximum_int", lambda m, x, y: m.maximum(x, y), I2, J2),
    case("clamp", lambda m, x: m.clamp(x, -0.5, 0.5), A, grad=True),
    case("clamp_kw_min", lambda m, x: m.clamp(x, min=0.0), A, grad=True),
    case("clamp_kw_max", lambda m, x: m.clamp(x, max=0.2), A, grad=True),
    case("clamp_int", lambda m, x: m.clamp(x, 0, 3), I2),
    case("clamp_method", lambda m, x: x.clamp(min=-0.1, max=0.1), A, grad=True),
    case("abs", lambda m, x: m.abs(x), A, grad=True),
    case("abs_int", lambda m, x: m.abs(x), I2),
    case("sqrt", lambda m, x: m.sqrt(x), POS, grad=True),
    case("exp", lambda m, x: m.exp(x), A, grad=True),
    case("log", lambda m, x: m.log(x), POS, grad=True),
    case("log_f64", lambda m, x: m.log(x), POS.astype(np.float64), grad=True),
    case("sigmoid", lambda m, x: m.sigmoid(x), A, grad=True),
    case("tanh", lambda m, x: m.tanh(x), A, grad=True),
    case("relu", lambda m, x: m.relu(x), A, grad=True),
    case("relu_int", lambda m, x: m.relu(x), I2),
    case("exp_method", lambda m, x: x.exp(), A, grad=True),
    case("log_method", lambda m, x: x.log(), POS, grad=True),
    case("sigmoid_method", lambda m, x: x.sigmoid(), A, grad=True),
    case("relu_method", lambda m, x: x.relu(), A, grad=True),
    case("abs_method", lambda m, x: x.abs(), A, grad=True),
    case("sqrt_method", lambda m, x: x.sqrt(), POS, grad=True),
    case("softmax", lambda m, x: m.softmax(x, dim=1), A, grad=True),
    case("softmax_pos", lambda m, x: m.softmax(x, 0), A, grad=True),
    case("log_softmax", lambda m, x: m.log_softmax(x, dim=-1), A, grad=True),
    case("log_softmax_f64", lambda m, x: m.log_softmax(x, 1), A64, grad=True),
    case("sum", lambda m, x: m.sum(x), A, grad=True),
    case("sum_dim", lambda m, x: m.sum(x, dim=1), A, grad=True),
    case("sum_pos_keepdim", lambda m, x: m.sum(x, 0, keepdim=True), A, grad=True),
    case("sum_int", lambda m, x: m.sum(x), I2),
    case("sum_bool", lambda m, x: m.sum(x), MASK),
    case("mean", lambda m, x: m.mean(x), A, grad=True),
    case("mean_dim", lambda m, x: m.mean(x, dim=0, keepdim=True), A, grad=True),
    case("mean_dims", lambda m, x: m.mean(x, (1, 2)), C3, grad=True),
    case("max", lambda m, x: m.max(x), A, grad=True),
    case("max_dim", lambda m, x: m.max(x, 1), A, grad=True),
    case("max_dim_kw", lambda m, x: m.max(x, dim=0, keepdim=True), A, grad=True),
    case("max_other", lambda m, x, y: m.max(x, y), A, B, grad=True),
    case("min", lambda m, x: m.min(x), A, grad=True),
    case("min_dim", lambda m, x: m.min(x, dim=1), A, grad=True),
    case("min_other", lambda m, x, y: m.min(x, y), A, B, grad=True),
    case("amax", lambda m, x: m.amax(x, dim=1), A, grad=True),
    case("amax_tuple", lambda m, x: m.amax(x, (0, 2)), C3, grad=True),
    case("amin", lambda m, x: m.amin(x, 0), A, grad=True),
    case("amin_keepdim", lambda m, x: m.amin(x, dim=1, keepdim=True), A, grad=True),
    case("argmax", lambda m, x: m.argmax(x), A),
    case("argmax_dim", lambda m, x: m.argmax(x, dim=1), A),
    case("argmax_keepdim", lambda m, x: m.argmax(x, 1, keepdim=True), A),
    case("argmin", lambda m, x: m.argmin(x, dim=0), A),
    case("argmin_all", lambda m, x: m.argmin(x), A),
    case("std", lambda m, x: m.std(x), A, grad=True),
    case("std_dim", lambda m, x: m.std(x, dim=0), A, grad=True),
    case("std_keepdim", lambda m, x: m.std(x, 1, keepdim=True), A, grad=True),
    case("var", lambda m, x: m.var(x), A, grad=True),
    case("var_dim", lambda m, x: m.var(x, dim=1), A, grad=True),
    case("var_keepdim", lambda m, x: m.var(x, 0, keepdim=True), A, grad=True),
    case("var_unbiased_false", lambda m, x: m.var(x, unbiased=False), A, grad=True),
    case("var_f64", lambda m, x: m.var(x, dim=0), A64, grad=True),
    case("matmul", lambda m, x, y: m.matmul(x, y), A, M45, grad=True),
    case("matmul_batched_bcast", lambda m, x, y: m.matmul(x, y), BATCH, M45, grad=True),
    case("matmul_1d_2d", lambda m, v, y: m.matmul(v, y), V4, M45, grad=True),
    case("matmul_2d_1d", lambda m, x, v: m.matmul(x, v), A, V4, grad=True),
    case("matmul_1d_1d", lambda m, v, w: m.matmul(v, w), V4, V4 * 2, grad=True),
    case("matmul_op", lambda m, x, y: x @ y, BATCH, BATCH2, grad=True),
    case("matmul_f64", lambda m, x, y: x @ y, A64, B64.T.copy(), grad=True),
    case("mm", lambda m, x, y: m.mm(x, y), A, M45, grad=True),
    case("bmm", lambda m, x, y: m.bmm(x, y), BATCH, BATCH2, grad=True),
    case("isnan", lambda m, x: m.isnan(x), NANINF),
    case("isinf", lambda m, x: m.isinf(x), NANINF),
    case("isfinite", lambda m, x: m.isfinite(x), NANINF),
    case("isnan_int", lambda m, x: m.isnan(x), I2),
    case("allclose_true", lambda m, x: m.allclose(x, x + 1e-9), A64),
    case("allclose_false", lambda m, x, y: m.allclose(x, y), A, B),
    case("allclose_tol", lambda m, x: m.allclose(x, x + 0.01, atol=0.1), A),
    case("allclose_nan", lambda m, x: m.allclose(x, x, equal_nan=True), NANINF),
    case("all", lambda m, x: m.all(x), MASK),
    case("all_dim", lambda m, x: m.all(x, dim=1), MASK),
    case("all_true", lambda m, x: m.all(x > -10), A),
    case("any", lambda m, x: m.any(x), MASK),
    case("any_dim", lambda m, x: m.any(x, 0), MASK),
    case("any_false", lambda m, x: m.any(x > 100), A),
]


@pytest.mark.parametrize("fn,arrays,grad", TOP_CASES)
def test_top_level_functions(fn, arrays, grad):
    compare(fn, arrays, grad)


TOP_NAMES = ["flatten", "reshape", "transpose", "permute", "squeeze", "unsqueeze", "cat", "concat",
             "stack", "split", "chunk", "where", "maximum", "minimum", "clamp", "abs", "sqrt",
             "exp", "log", "sigmoid", "tanh", "relu", "softmax", "log_softmax", "sum", "mean",
             "max", "min", "amax", "amin", "argmax", "argmin", "std", "var", "matmul", "mm",
             "bmm", "isnan", "isinf", "isfinite", "allclose", "all", "any", "no_grad",
             "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode",
             "manual_seed", "device", "save", "load"]


@pytest.mark.parametrize("name", TOP_NAMES)
def test_top_level_name_exists(name):
    assert callable(getattr(torch, name))
    assert callable(getattr(tc, name, None)), f"tc.{name} missing"


# ----- grad modes ---------------------------------------------------------------------

def _grad_modes(m):
    x = m.ones(2, requires_grad=True)
    res = {"default": m.is_grad_enabled(), "rg": (x * 2).requires_grad}
    try:
        with m.no_grad():
            res["no_grad_enabled"] = m.is_grad_enabled()
            res["no_grad_rg"] = (x * 2).requires_grad
            with m.enable_grad():
                res["enable_inside_no_grad"] = (x * 2).requires_grad
                res["enable_enabled"] = m.is_grad_enabled()
            res["after_enable"] = (x * 2).requires_grad
        res["after_no_grad"] = (x * 2).requires_grad
        with m.set_grad_enabled(False):
            res["sge_false"] = (x * 2).requires_grad
            with m.set_grad_enabled(True):
                res["sge_true_inside"] = (x * 2).requires_grad
        res["after_sge"] = m.is_grad_enabled()
        m.set_grad_enabled(False)
        res["fn_off"] = m.is_grad_enabled()
        res["fn_off_rg"] = (x * 2).requires_grad
        m.set_grad_enabled(True)
        res["fn_on"] = m.is_grad_enabled()
        with m.inference_mode():
            res["inference_enabled"] = m.is_grad_enabled()
            res["inference_rg"] = (x * 2).requires_grad
        with m.inference_mode(False):
            res["inference_false_rg"] = (x * 2).requires_grad

        @m.no_grad()
        def deco():
            return (x * 2).requires_grad

        @m.inference_mode()
        def deco_inf():
            return (x * 2).requires_grad

        @m.enable_grad()
        def deco_enable():
            return (x * 2).requires_grad

        res["deco"] = deco()
        res["deco_inf"] = deco_inf()
        with m.no_grad():
            res["deco_enable"] = deco_enable()
        res["after_all"] = (x * 2).requires_grad
    finally:
        m.set_grad_enabled(True)
    return res


def test_grad_modes_match():
    want = _grad_modes(torch)
    got = _grad_modes(tc)
    assert got == want


def test_no_grad_result_and_exception_restores():
    for m in (torch, tc):
        x = m.ones(2, requires_grad=True)
        with pytest.raises(ZeroDivisionError):
            with m.no_grad():
                1 / 0
        assert m.is_grad_enabled()
        assert (x * 2).requires_grad


# ----- device, save / load --------------------------------------------------------------

def test_device():
    for m in (torch, tc):
        d = m.device("cpu")
        assert str(d) == "cpu" and d.type == "cpu", m.__name__
        assert d == m.device("cpu")
        t = m.zeros(2, device=d)
        assert tuple(t.to(d).shape) == (2,)
    check_same(tc.ones(2, device=tc.device("cpu")).to(tc.device("cpu")), torch.ones(2))


def test_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(2)
    w = rng.standard_normal((3, 2)).astype(np.float32)
    idx = np.array([1, 2, 3], np.int64)
    path = str(tmp_path / "ckpt.pt")
    tc.save({"w": tc.tensor(w), "idx": tc.tensor(idx), "epoch": 3, "lr": 0.5}, path)
    for kwargs in ({}, {"map_location": "cpu"}, {"weights_only": True},
                   {"map_location": "cpu", "weights_only": True}):
        obj = tc.load(path, **kwargs)
        np.testing.assert_array_equal(np.asarray(obj["w"]), w)
        assert np.asarray(obj["w"]).dtype == np.float32
        np.testing.assert_array_equal(np.asarray(obj["idx"]), idx)
        assert np.asarray(obj["idx"]).dtype == np.int64
        assert obj["epoch"] == 3 and obj["lr"] == 0.5
        t = tc.as_tensor(obj["w"])
        check_same(t, torch.tensor(w))


def test_save_load_file_object():
    buf = io.BytesIO()
    tc.save({"a": tc.tensor(A)}, buf)
    buf.seek(0)
    obj = tc.load(buf)
    np.testing.assert_array_equal(np.asarray(obj["a"]), A)


def test_save_load_model_state_dict(tmp_path):
    tc.manual_seed(0)
    model = tc.nn.Linear(4, 2)
    path = str(tmp_path / "m.pt")
    tc.save(model.state_dict(), path)
    other = tc.nn.Linear(4, 2)
    other.load_state_dict(tc.load(path))
    x = tc.tensor(A)
    np.testing.assert_array_equal(to_np(model(x)), to_np(other(x)))


# ----- backward signature -------------------------------------------------------------

def test_backward_gradient_keyword_and_positional():
    g = np.random.default_rng(4).standard_normal((3, 4)).astype(np.float32)
    for how in ("kw", "pos"):
        res = {}
        for m in (torch, tc):
            x = m.tensor(A.copy(), requires_grad=True)
            y = x * x * 3
            if how == "kw":
                y.backward(gradient=m.tensor(g))
            else:
                y.backward(m.tensor(g))
            res[m] = x.grad
        check_same(res[tc], res[torch])


def test_backward_retain_graph_accumulates():
    res = {}
    for m in (torch, tc):
        x = m.tensor(A.copy(), requires_grad=True)
        z = (x * x).sum() + m.exp(x).sum()
        z.backward(retain_graph=True)
        first = x.grad.clone()
        z.backward()
        res[m] = (first, x.grad)
    check_same(res[tc], res[torch])
    np.testing.assert_allclose(to_np(res[tc][1]), 2 * to_np(res[tc][0]), rtol=1e-6)


def test_backward_retain_graph_none_and_create_graph_false_keywords():
    res = {}
    for m in (torch, tc):
        x = m.tensor(A.copy(), requires_grad=True)
        (x.sigmoid() * x).sum().backward(gradient=None, retain_graph=None, create_graph=False,
                                         inputs=None)
        res[m] = x.grad
    check_same(res[tc], res[torch])


@pytest.mark.parametrize("as_list", [True, False])
def test_backward_inputs_restricts_leaves(as_list):
    res = {}
    for m in (torch, tc):
        a = m.tensor(A.copy(), requires_grad=True)
        b = m.tensor(B.copy(), requires_grad=True)
        z = (a * b).sum() + (b ** 2).sum()
        z.backward(inputs=[a] if as_list else a)
        assert b.grad is None, m.__name__
        res[m] = a.grad
    check_same(res[tc], res[torch])


def test_backward_inputs_two_of_three():
    res = {}
    for m in (torch, tc):
        a = m.tensor(A.copy(), requires_grad=True)
        b = m.tensor(B.copy(), requires_grad=True)
        c = m.tensor(POS.copy(), requires_grad=True)
        (a * b * c).sum().backward(inputs=[a, c])
        res[m] = (a.grad, b.grad, c.grad)
    check_same(res[tc], res[torch])


def test_backward_accumulates_across_graphs():
    res = {}
    for m in (torch, tc):
        x = m.tensor(A.copy(), requires_grad=True)
        (x * 2).sum().backward()
        (x ** 2).sum().backward()
        res[m] = x.grad
    check_same(res[tc], res[torch])
