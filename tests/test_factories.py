"""Tensor factories (tinygrad_conv/factories.py): shapes, dtypes and values as PyTorch's.

The first part runs on NumPy alone (shapes, default dtypes, values, memory sharing,
errors, random draws: range, seeding, statistics); the comparisons with PyTorch at
the end skip when torch is not installed.
"""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import backend, dtypes as D, factories as F
from tinygrad_conv.tensor import Tensor

shapes = st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple)

FILLED = [F.zeros, F.ones, F.empty, F.rand, F.randn]  # f(*size) -> float32
LIKE = [F.zeros_like, F.ones_like, F.empty_like, F.rand_like, F.randn_like]


def values(t):
    return t.numpy()


# ----- sizes: ints or one tuple, the same rule everywhere -----------------------------------
@given(shape=shapes)
def test_sizes_as_ints_tuple_or_list(shape):
    for make in FILLED:
        for t in (make(shape), make(list(shape))) + ((make(*shape),) if shape else ()):
            assert t.shape == shape and t.dtype == np.float32, make.__name__
    assert F.full(shape, 2.5).shape == shape
    assert F.randint(5, shape).shape == shape


def test_size_accepts_numpy_ints_and_integer_tensors():
    assert F.zeros(np.int64(2), 3).shape == (2, 3)
    assert F.ones(F.tensor(2), F.tensor([3])[0]).shape == (2, 3)


@pytest.mark.parametrize("make", FILLED)
def test_bad_sizes(make):
    with pytest.raises(TypeError, match=make.__name__):
        make(2.0)
    with pytest.raises(TypeError, match="int"):
        make((2, "3"))
    with pytest.raises(TypeError, match="int"):
        make(True)
    with pytest.raises(TypeError, match="missing size"):
        make()
    with pytest.raises(ValueError, match="non-negative"):
        make(2, -1)


def test_bad_sizes_of_the_other_factories():
    for call in (lambda: F.full((2.5,), 1), lambda: F.eye(2.0), lambda: F.linspace(0, 1, 2.0),
                 lambda: F.randperm(3.0), lambda: F.randint(0, 5, (1.5,))):
        with pytest.raises(TypeError):
            call()
    for call in (lambda: F.full((-1,), 1), lambda: F.eye(-1), lambda: F.eye(2, -1),
                 lambda: F.linspace(0, 1, -1), lambda: F.randperm(-1)):
        with pytest.raises(ValueError, match="non-negative"):
            call()


# ----- dtypes, devices, requires_grad ------------------------------------------------------------
@pytest.mark.parametrize(
    "make, dtype",
    [
        (lambda: F.zeros(2), np.float32),
        (lambda: F.empty(2), np.float32),
        (lambda: F.full((2,), True), np.bool_),
        (lambda: F.full((2,), 3), np.int64),
        (lambda: F.full((2,), np.int32(3)), np.int64),
        (lambda: F.full((2,), 3.5), np.float32),
        (lambda: F.arange(3), np.int64),
        (lambda: F.arange(np.int64(3)), np.int64),
        (lambda: F.arange(0, 3, 0.5), np.float32),
        (lambda: F.arange(3.0), np.float32),
        (lambda: F.linspace(0, 3, 4), np.float32),
        (lambda: F.eye(2), np.float32),
        (lambda: F.rand(2), np.float32),
        (lambda: F.randn(2), np.float32),
        (lambda: F.randint(3, (2,)), np.int64),
        (lambda: F.randperm(3), np.int64),
        (lambda: F.tensor(1.5), np.float32),
        (lambda: F.tensor([1, 2]), np.int64),
        (lambda: F.tensor([True, False]), np.bool_),
        (lambda: F.tensor([True, 2]), np.int64),
        (lambda: F.tensor([1, 2.5]), np.float32),
        (lambda: F.tensor([]), np.float32),
        (lambda: F.tensor(np.arange(3, dtype=np.int32)), np.int32),
        (lambda: F.tensor(np.zeros(2)), np.float64),
        (lambda: F.tensor(np.float64(2.0)), np.float64),
        (lambda: F.as_tensor([1, 2]), np.int64),
        (lambda: F.from_numpy(np.zeros(2, np.int32)), np.int32),
    ],
)
def test_default_dtypes(make, dtype):
    t = make()
    assert isinstance(t, Tensor) and t.dtype == dtype
    assert t.requires_grad is False and t.grad is None and t.is_leaf


@pytest.mark.parametrize("dtype", [D.float32, D.float64, D.int64, D.int32, D.bool])
def test_dtype_argument(dtype):
    made = [F.zeros(2, dtype=dtype), F.ones((2,), dtype=dtype), F.empty(2, dtype=dtype), F.full((2,), 1, dtype=dtype),
            F.eye(2, dtype=dtype), F.tensor([1, 0], dtype=dtype), F.as_tensor(np.ones(2), dtype=dtype),
            F.zeros_like(F.rand(2), dtype=dtype), F.full_like(F.rand(2), 1, dtype=dtype)]
    if dtype != D.bool:
        made += [F.arange(3, dtype=dtype), F.linspace(0, 4, 3, dtype=dtype), F.randint(0, 2, (2,), dtype=dtype),
                 F.randperm(3, dtype=dtype)]
    for t in made:
        assert t.dtype == dtype


def test_dtype_spellings():
    assert F.zeros(2, dtype=np.float64).dtype == np.float64
    assert F.zeros(2, dtype="float64").dtype == np.float64
    assert F.zeros(2, dtype=float).dtype == np.float64  # as torch.zeros(2, dtype=float)
    assert F.zeros(2, dtype=int).dtype == np.int64
    for bad in (3, "banana", np.complex64):
        with pytest.raises(TypeError, match="dtype"):
            F.zeros(2, dtype=bad)


def test_requires_grad():
    for t in (F.zeros(2, requires_grad=True), F.rand(2, dtype=D.float64, requires_grad=True),
              F.tensor([1.0], requires_grad=True), F.arange(0.0, 2.0, requires_grad=True),
              F.ones_like(F.zeros(2), requires_grad=True)):
        assert t.requires_grad and t.is_leaf
    x = F.ones(3, requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(values(x.grad), [2, 2, 2])


@pytest.mark.parametrize(
    "make",
    [lambda: F.zeros(2, dtype=D.int64, requires_grad=True), lambda: F.arange(3, requires_grad=True),
     lambda: F.tensor([1, 2], requires_grad=True), lambda: F.randint(3, (2,), requires_grad=True),
     lambda: F.randperm(3, requires_grad=True), lambda: F.full((1,), True, requires_grad=True),
     lambda: F.zeros_like(F.arange(3), requires_grad=True)],
)
def test_only_floats_require_grad(make):
    with pytest.raises(RuntimeError, match="Only Tensors of floating point dtype can require gradients"):
        make()


def test_requires_grad_must_be_a_bool():
    with pytest.raises(TypeError, match="requires_grad"):
        F.zeros(2, requires_grad=1)


def test_device_argument(device):
    tc.manual_seed(0)
    cpu = F.rand(2, 3)
    tc.manual_seed(0)
    on = F.rand(2, 3, device=device)
    assert on.device == backend.device(device)
    np.testing.assert_array_equal(on.numpy(), cpu.numpy())  # drawn on the CPU, then moved
    for t in (F.zeros(2, device=device), F.arange(3, device=device), F.eye(2, device=device),
              F.tensor([1.0, 2.0], device=device), F.randint(3, (2,), device=device)):
        assert t.device == on.device
    for make in LIKE:
        like = make(on)
        assert like.device == on.device and like.shape == on.shape and like.dtype == on.dtype
        assert make(on, device="cpu").device == "cpu"


def test_bad_device():
    with pytest.raises(ValueError, match="unknown device"):
        F.zeros(2, device="tpu")
    with pytest.raises(TypeError, match="device"):
        F.zeros(2, device=0.5)


# ----- from data ------------------------------------------------------------------------------
def test_tensor_copies():
    a = np.arange(4.0)
    t = F.tensor(a)
    a[0] = 100.0
    assert values(t)[0] == 0.0
    src = F.ones(2, requires_grad=True)
    c = F.tensor(src)  # a copy outside the graph, as torch.tensor(t) is
    assert c.requires_grad is False and c.dtype == src.dtype
    assert not np.shares_memory(values(c), values(src))
    assert F.tensor(src, requires_grad=True).requires_grad
    assert F.tensor(F.arange(3), dtype=D.float64).dtype == np.float64


def test_tensor_bad_data():
    for bad in ("abc", None, {"a": 1}, [1 + 2j], object()):
        with pytest.raises(TypeError, match="tensor"):
            F.tensor(bad)
    with pytest.raises(ValueError, match="rectangular"):
        F.tensor([[1], [1, 2]])
    with pytest.raises(TypeError, match="not supported"):
        F.tensor(np.zeros(2, np.uint32))


def test_as_tensor_shares_when_it_can():
    a = np.arange(3.0)
    t = F.as_tensor(a)
    assert t.dtype == np.float64 and np.shares_memory(values(t), a)
    assert np.shares_memory(values(F.as_tensor(a, dtype=D.float64, device="cpu")), a)
    c = F.as_tensor(a, dtype=D.float32)
    assert c.dtype == np.float32 and not np.shares_memory(values(c), a)
    x = F.ones(2, requires_grad=True)
    assert F.as_tensor(x) is x and F.as_tensor(x, dtype=D.float32) is x
    y = F.as_tensor(x, dtype=D.float64)  # converted in the graph, as torch does
    assert y.dtype == np.float64
    y.sum().backward()
    np.testing.assert_array_equal(values(x.grad), [1, 1])
    assert F.as_tensor(1.5).dtype == np.float32


def test_from_numpy_shares_memory():
    a = np.zeros((2, 3), np.float32)
    t = F.from_numpy(a)
    assert t.shape == (2, 3) and t.dtype == np.float32
    a[0, 0] = 5.0
    assert values(t)[0, 0] == 5.0
    t.array[1, 1] = 7.0
    assert a[1, 1] == 7.0
    for bad in ([1, 2], np.float64(1.0), F.zeros(2)):
        with pytest.raises(TypeError, match="np.ndarray"):
            F.from_numpy(bad)


# ----- filled, ranges -------------------------------------------------------------------------
@given(shape=shapes, fill=st.one_of(st.booleans(), st.integers(-5, 5), st.floats(-5, 5, width=32)))
def test_filled_values(shape, fill):
    np.testing.assert_array_equal(values(F.zeros(shape)), np.zeros(shape))
    np.testing.assert_array_equal(values(F.ones(shape)), np.ones(shape))
    np.testing.assert_array_equal(values(F.full(shape, fill)), np.full(shape, fill))


def test_full_fill_value():
    assert F.full((2,), F.tensor(1.5)).dtype == np.float32  # a 0-d tensor counts as its number
    np.testing.assert_array_equal(values(F.full((2,), 1.9, dtype=D.int64)), [1, 1])
    for bad in ("1", None, 1 + 2j):
        with pytest.raises(TypeError, match="fill_value"):
            F.full((2,), bad)


def test_eye():
    np.testing.assert_array_equal(values(F.eye(3)), np.eye(3))
    np.testing.assert_array_equal(values(F.eye(2, 4)), np.eye(2, 4))
    assert F.eye(0).shape == (0, 0) and F.eye(2, dtype=D.bool).dtype == np.bool_


@given(start=st.integers(-20, 20), length=st.integers(0, 20), step=st.integers(1, 5), down=st.booleans())
def test_arange_integers(start, length, step, down):
    step = -step if down else step
    end = start + length * (-1 if down else 1)
    t = F.arange(start, end, step)
    assert t.dtype == np.int64
    np.testing.assert_array_equal(values(t), list(range(start, end, step)))


def test_arange_forms():
    np.testing.assert_array_equal(values(F.arange(4)), [0, 1, 2, 3])
    np.testing.assert_allclose(values(F.arange(1, 2.5, 0.5)), [1.0, 1.5, 2.0])
    np.testing.assert_allclose(values(F.arange(0, 1, 0.1)), np.arange(0, 1, 0.1).astype(np.float32))
    assert F.arange(0.5, 5.5, 1.5, dtype=D.int64).tolist() == [0, 1, 2, 3, 4]  # ints first, as torch
    assert F.arange(5, 5).shape == (0,)
    assert F.arange(F.tensor(3)).tolist() == [0, 1, 2]


def test_arange_errors():
    with pytest.raises(ValueError, match="nonzero"):
        F.arange(0, 5, 0)
    with pytest.raises(ValueError, match="nonzero"):
        F.arange(0, 1, 0.1, dtype=D.int64)  # the step truncates to 0, as in torch
    with pytest.raises(ValueError, match="cannot be reached"):
        F.arange(0, 5, -1)
    with pytest.raises(ValueError, match="finite"):
        F.arange(0, float("inf"))
    with pytest.raises(TypeError, match="end"):
        F.arange(0, "5")


def test_linspace():
    np.testing.assert_allclose(values(F.linspace(0, 1, 5)), [0, 0.25, 0.5, 0.75, 1])
    assert F.linspace(0, 1, 0).shape == (0,)
    assert F.linspace(2, 5, 1).tolist() == [2.0]
    assert F.linspace(0, 10, 5, dtype=D.int64).tolist() == [0, 2, 5, 7, 10]
    t = F.linspace(-3.0, 7.0, 11, dtype=D.float64)
    assert t.dtype == np.float64 and t.tolist()[0] == -3.0 and t.tolist()[-1] == 7.0


# ----- random ---------------------------------------------------------------------------------
RANDOM = [
    lambda **kw: F.rand(3, 4, **kw),
    lambda **kw: F.randn(3, 4, **kw),
    lambda **kw: F.randint(-3, 7, (3, 4), **kw),
    lambda **kw: F.randperm(12, **kw),
    lambda **kw: F.rand_like(F.zeros(3, 4), **kw),
    lambda **kw: F.randn_like(F.zeros(3, 4, dtype=D.float64), **kw),
]


@pytest.mark.parametrize("draw", RANDOM)
def test_random_is_seeded(draw):
    tc.manual_seed(3)
    a = values(draw())
    tc.manual_seed(3)
    b = values(draw())
    c = values(draw())
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)  # the generator moves on
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    np.testing.assert_array_equal(values(draw(generator=g1)), values(draw(generator=g2)))


@pytest.mark.parametrize("draw", RANDOM)
def test_random_generator_must_be_a_generator(draw):
    with pytest.raises(TypeError, match="generator"):
        draw(generator=5)


def test_random_ranges_and_statistics():
    tc.manual_seed(0)
    n = 200_000
    u = values(F.rand(n))
    assert u.dtype == np.float32 and u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    z = values(F.randn(n, dtype=D.float64))
    assert z.dtype == np.float64
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs(np.mean(np.abs(z) < 1) - 0.6827) < 0.005  # the normal's one-sigma mass
    k = values(F.randint(-3, 7, (n,)))
    assert k.min() == -3 and k.max() == 6
    assert np.all(np.abs(np.bincount(k + 3) / n - 0.1) < 0.005)
    assert sorted(values(F.randperm(50)).tolist()) == list(range(50))
    assert F.randperm(0).shape == (0,)


def test_random_dtypes():
    assert F.rand(2, dtype=D.float64).dtype == np.float64
    assert F.rand(2, dtype=D.float16).dtype == np.float16
    assert F.rand_like(F.zeros(2, dtype=D.float64)).dtype == np.float64
    assert F.randn_like(F.arange(3), dtype=D.float32).dtype == np.float32
    for call in (lambda: F.rand(2, dtype=D.int64), lambda: F.randn(2, dtype=D.bool),
                 lambda: F.rand_like(F.arange(3))):
        with pytest.raises(TypeError, match="floating"):
            call()


def test_randint_signatures():
    tc.manual_seed(1)
    assert F.randint(10, (3,)).shape == (3,)
    assert F.randint(10, size=(3,)).shape == (3,)
    assert F.randint(high=10, size=(3,)).shape == (3,)
    assert values(F.randint(5, 6, size=(4,))).tolist() == [5, 5, 5, 5]
    assert values(F.randint(0, 2 ** 40, (3,))).max() < 2 ** 40
    with pytest.raises(ValueError, match="less than high"):
        F.randint(5, 5, (3,))
    with pytest.raises(TypeError, match="high"):
        F.randint(0, 10.5, (3,))


# ----- shaped like another tensor ----------------------------------------------------------------
@pytest.mark.parametrize("make", LIKE)
def test_like_keeps_shape_and_dtype_but_not_the_graph(make):
    x = F.rand(2, 3, dtype=D.float64, requires_grad=True)
    t = make(x)
    assert t.shape == (2, 3) and t.dtype == np.float64
    assert t.requires_grad is False and t.is_leaf
    assert make(x, dtype=D.float32).dtype == np.float32
    assert make(x, requires_grad=True).requires_grad
    with pytest.raises(TypeError, match="Tensor"):
        make(np.zeros(2))


def test_like_values():
    x = F.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(values(F.zeros_like(x)), np.zeros((2, 3), np.int64))
    np.testing.assert_array_equal(values(F.ones_like(x)), np.ones((2, 3), np.int64))
    assert F.full_like(x, 2.5).tolist() == [[2, 2, 2], [2, 2, 2]]  # cast to input's dtype
    assert F.full_like(x, 2.5, dtype=D.float32).tolist() == [[2.5] * 3] * 2
    assert F.zeros_like(F.tensor(3.0)).shape == ()


# ----- compared with PyTorch -------------------------------------------------------------------
def _torch():
    return pytest.importorskip("torch")


def _same(ours, theirs, exact=True):
    """``ours`` (a Tensor) has ``theirs``'s (a torch.Tensor) shape, dtype and values."""
    expected = theirs.numpy()
    assert ours.shape == tuple(theirs.shape) and ours.dtype == expected.dtype
    if exact:
        np.testing.assert_array_equal(values(ours), expected)
    else:
        scale = max(1.0, float(np.abs(expected).max(initial=0)))
        np.testing.assert_allclose(values(ours), expected, rtol=0, atol=4 * np.finfo(expected.dtype).eps * scale)


DATA = [1.5, 3, True, [1, 2], [1, 2.5], [True, False], [True, 2], [], [[1.0, 2.0], [3.0, 4.0]],
        np.arange(3, dtype=np.int32), np.zeros((2, 2)), np.float64(2.0), np.array([True])]


@pytest.mark.parametrize("data", DATA, ids=repr)
def test_tensor_matches_torch(data):
    torch = _torch()
    _same(F.tensor(data), torch.tensor(data))
    _same(F.as_tensor(data), torch.as_tensor(data))


@given(shape=shapes, fill=st.one_of(st.booleans(), st.integers(-5, 5), st.floats(-5, 5, width=32)))
def test_filled_match_torch(shape, fill):
    torch = _torch()
    _same(F.zeros(shape), torch.zeros(shape))
    _same(F.ones(shape, dtype=D.int64), torch.ones(shape, dtype=torch.int64))
    _same(F.full(shape, fill), torch.full(shape, fill))
    assert F.empty(shape).shape == tuple(torch.empty(shape).shape)
    x = F.full(shape, fill, dtype=D.float64)
    _same(F.full_like(x, 2), torch.full_like(torch.full(shape, fill, dtype=torch.float64), 2))


@given(n=st.integers(0, 5), m=st.one_of(st.none(), st.integers(0, 5)))
def test_eye_matches_torch(n, m):
    torch = _torch()
    _same(F.eye(n, m), torch.eye(n) if m is None else torch.eye(n, m))


@given(start=st.integers(-20, 20), end=st.integers(-20, 20), step=st.integers(-4, 4).filter(bool))
def test_arange_integers_match_torch(start, end, step):
    torch = _torch()
    if (end - start) * step < 0:
        return
    _same(F.arange(start, end, step), torch.arange(start, end, step))
    _same(F.arange(start, end, step, dtype=D.float64), torch.arange(start, end, step, dtype=torch.float64))


@given(start=st.floats(-50, 50), length=st.floats(0, 50), step=st.floats(0.1, 5), down=st.booleans(),
       dtype=st.sampled_from([None, "float64", "int64"]))
def test_arange_floats_match_torch(start, length, step, down, dtype):
    torch = _torch()
    assume(dtype != "int64" or int(step) != 0)  # an int64 arange truncates the step first
    sign = -1 if down else 1
    end, step = start + sign * length, sign * step
    theirs = torch.arange(start, end, step, dtype=None if dtype is None else getattr(torch, dtype))
    _same(F.arange(start, end, step, dtype=dtype), theirs, exact=dtype == "int64")


ends = st.one_of(st.integers(-50, 50), st.floats(-50, 50))


@given(start=ends, end=ends, steps=st.integers(0, 40), dtype=st.sampled_from([None, "float64"]))
def test_linspace_matches_torch(start, end, steps, dtype):
    """PyTorch computes in the output dtype (vectorised), we in float64: equal to a few ulps."""
    torch = _torch()
    theirs = torch.linspace(start, end, steps, dtype=None if dtype is None else getattr(torch, dtype))
    _same(F.linspace(start, end, steps, dtype=dtype), theirs, exact=False)


@given(start=st.integers(-30, 30), steps_between=st.integers(1, 10), per_step=st.integers(-5, 5))
def test_integer_linspace_matches_torch(start, steps_between, per_step):
    """Integer linspace where every value is exact (the step divides the range)."""
    torch = _torch()
    end = start + steps_between * per_step
    _same(F.linspace(start, end, steps_between + 1, dtype=D.int64),
          torch.linspace(start, end, steps_between + 1, dtype=torch.int64))


def test_random_factories_match_torch_in_shape_and_dtype():
    torch = _torch()
    pairs = [
        (F.rand(2, 3), torch.rand(2, 3)),
        (F.randn((2, 3), dtype=D.float64), torch.randn((2, 3), dtype=torch.float64)),
        (F.randint(10, (4,)), torch.randint(10, (4,))),
        (F.randint(2, 10, size=(4, 1)), torch.randint(2, 10, size=(4, 1))),
        (F.randperm(5), torch.randperm(5)),
        (F.rand_like(F.zeros(3, dtype=D.float64)), torch.rand_like(torch.zeros(3, dtype=torch.float64))),
        (F.randn_like(F.zeros(())), torch.randn_like(torch.zeros(()))),
    ]
    for ours, theirs in pairs:
        assert ours.shape == tuple(theirs.shape) and ours.dtype == theirs.numpy().dtype
